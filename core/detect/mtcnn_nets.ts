/**
 * MTCNN's networks as {@link MtcnnNets}, run from their model specs
 * (core/models/mtcnn.ts) by any backend through a {@link SpecRunner}: the
 * reverse-mode executor's forward pass on a {@link Kernels} implementation
 * (pure, wasm-simd: {@link kernelSpecRunner}), or a backend's own compiled
 * graph (tfjs: `createTfjsSpecRunner` in backends/tfjs/infer.ts).
 *
 * @module
 */

import type { Kernels } from "../kernels.ts";
import type { ModelSpec } from "../model_spec.ts";
import type { NamedTensors, Tensor } from "../types.ts";
import { forward } from "../executor.ts";
import { MTCNN_OUTPUTS, onetSpec, paramsOf, pnetSpec, rnetSpec } from "../models/mtcnn.ts";
import type { MtcnnNets } from "./mtcnn.ts";

/**
 * Runs a spec forward in inference mode on a batch and returns the values of
 * the named nodes (batch axis first).
 *
 * @category Face detection
 */
export type SpecRunner = (
  spec: ModelSpec,
  params: NamedTensors,
  input: Tensor,
  outputs: readonly string[],
) => Promise<NamedTensors>;

/**
 * A {@link SpecRunner} on a kernel implementation, through the executor.
 *
 * @param kernels The kernels (e.g. the pure ones, or wasm-simd's).
 * @returns The runner.
 * @example
 * ```ts
 * import { kernelSpecRunner } from "@facenet-deno/facenet/pure";
 * import { createPureKernels } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const run = kernelSpecRunner(createPureKernels());
 * const spec = {
 *   name: "id",
 *   nodes: [{ op: "input", name: "x", shape: [1, 1, 2] }, { op: "flatten", name: "f", input: "x" }],
 *   prelogits: "f",
 *   output: "f",
 * } as const;
 * const out = await run(spec, {}, { shape: [1, 1, 1, 2], data: new Float32Array([3, 4]) }, ["f"]);
 * assert.deepEqual([...out.f!.data], [3, 4]);
 * ```
 *
 * @category Face detection
 */
export function kernelSpecRunner<T>(kernels: Kernels<T>): SpecRunner {
  return (spec, params, input, outputs) =>
    Promise.resolve().then(() =>
      forward(kernels, spec, { params, stats: {} }, input, { training: false, outputs }).outputs
    );
}

/**
 * The three nets from their specs and parameters, on a runner.
 *
 * @param run The runner.
 * @param params All MTCNN parameters (`mtcnnParams` of the TFLite constants).
 * @returns The nets.
 * @example
 * ```ts
 * import { createMtcnnNets, kernelSpecRunner } from "@facenet-deno/facenet/pure";
 * import { createPureKernels } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const nets = createMtcnnNets(kernelSpecRunner(createPureKernels()), {});
 * await assert.rejects(nets.rnet({ shape: [1, 24, 24, 3], data: new Float32Array(1728) }), /missing/);
 * ```
 *
 * @category Face detection
 */
export function createMtcnnNets(run: SpecRunner, params: NamedTensors): MtcnnNets {
  const r = rnetSpec(), o = onetSpec();
  const rParams = paramsOf(r, params), oParams = paramsOf(o, params);
  const pParams = paramsOf(pnetSpec(12, 12), params);
  const pSpecs = new Map<string, ModelSpec>();
  return {
    async pnet(input) {
      const [, h, w] = input.shape as [number, number, number, number];
      const key = `${h}x${w}`;
      let spec = pSpecs.get(key);
      if (spec === undefined) {
        spec = pnetSpec(h, w);
        if (pSpecs.size > 64) pSpecs.clear();
        pSpecs.set(key, spec);
      }
      const n = MTCNN_OUTPUTS.pnet;
      const out = await run(spec, pParams, input, [n.prob, n.reg]);
      return { prob: out[n.prob]!, reg: out[n.reg]! };
    },
    async rnet(input) {
      const n = MTCNN_OUTPUTS.rnet;
      const out = await run(r, rParams, input, [n.prob, n.reg]);
      return { prob: out[n.prob]!, reg: out[n.reg]! };
    },
    async onet(input) {
      const n = MTCNN_OUTPUTS.onet;
      const out = await run(o, oParams, input, [n.prob, n.reg, n.landmarks]);
      return { prob: out[n.prob]!, reg: out[n.reg]!, landmarks: out[n.landmarks]! };
    },
  };
}
