/**
 * MTCNN's networks as {@link MtcnnNets}, run from their model specs
 * (core/models/mtcnn.ts) through a {@link SpecRunner}: any backend through
 * the {@link Backend} contract ({@link backendSpecRunner}: a model per spec,
 * `Model.outputs` for the named heads), or the reverse-mode executor's
 * forward pass directly on a {@link Kernels} implementation
 * ({@link kernelSpecRunner}).
 *
 * @module
 */

import type { Backend, Model, ModelState, TrainingOptions } from "../backend.ts";
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

/** Inference only: what a model needs to be created (no training happens). */
const INFERENCE: TrainingOptions = {
  loss: { kind: "triplet", alpha: 0.2 },
  optimizer: { name: "SGD" },
  weightDecay: 0,
  movingAverageDecay: null,
};

/**
 * A {@link SpecRunner} on any backend: one model per spec (created on first
 * use, the most recent 16 kept), asked for its named outputs in inference mode.
 *
 * @param backend The backend.
 * @returns The runner, and `dispose` to free its models (not the backend).
 * @example
 * ```ts
 * import { backendSpecRunner } from "./mtcnn_nets.ts";
 * import { createPureBackend } from "../pure_backend.ts";
 * import assert from "node:assert/strict";
 *
 * const runner = backendSpecRunner(createPureBackend());
 * const spec = {
 *   name: "id",
 *   nodes: [{ op: "input", name: "x", shape: [1, 1, 2] }, { op: "flatten", name: "f", input: "x" }],
 *   prelogits: "f",
 *   output: "f",
 * } as const;
 * const out = await runner.run(spec, {}, { shape: [1, 1, 1, 2], data: new Float32Array([3, 4]) }, ["f"]);
 * assert.deepEqual([...out.f!.data], [3, 4]);
 * runner.dispose();
 * ```
 *
 * @category Face detection
 */
export function backendSpecRunner(backend: Backend): { run: SpecRunner; dispose(): void } {
  const models = new Map<ModelSpec, Promise<Model>>();
  const run: SpecRunner = async (spec, params, input, outputs) => {
    let model = models.get(spec);
    if (model === undefined) {
      if (models.size >= 16) {
        const [oldest, m] = models.entries().next().value!;
        models.delete(oldest);
        (await m).dispose();
      }
      const state: ModelState = {
        params,
        stats: {},
        optimizer: { name: "SGD", slots: {}, iterations: 0 },
        ema: null,
        step: 0,
      };
      model = backend.createModel(spec, state, INFERENCE);
      models.set(spec, model);
    } else {
      models.delete(spec); // most recent last
      models.set(spec, model);
    }
    const [n, height, width, channels] = input.shape as [number, number, number, number];
    return (await model).outputs({ n, height, width, channels, data: input.data }, {
      training: false,
      outputs,
    });
  };
  return {
    run,
    dispose() {
      for (const m of models.values()) m.then((model) => model.dispose(), () => {});
      models.clear();
    },
  };
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
