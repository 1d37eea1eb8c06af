/**
 * Inference of any model spec on TensorFlow.js, returning the values of
 * named nodes: the {@link SpecRunner} the MTCNN detector (core/detect/) runs
 * its networks with. Compiled graphs and uploaded parameters are cached per
 * spec and per parameter set.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import type { ModelSpec } from "../../core/model_spec.ts";
import type { NamedTensors } from "../../core/types.ts";
import type { SpecRunner } from "../../core/detect/mtcnn_nets.ts";
import { activateDevice, chooseDevice, type DeviceChoice, type TfjsDevice } from "./device.ts";
import { type CompiledModel, compileModel } from "./compile.ts";

/**
 * A tfjs spec runner with its device and a way to free what it holds.
 *
 * @category Backends
 */
export interface TfjsSpecRunner {
  /** Runs a spec (see {@link SpecRunner}). */
  readonly run: SpecRunner;
  /** The device chosen. */
  readonly choice: DeviceChoice;
  /** Frees the cached parameter tensors. */
  dispose(): void;
}

/**
 * Creates a tfjs runner on the given (or automatically chosen) device.
 *
 * @param options The device (default: WebGPU on a hardware adapter, else `wasm`).
 * @returns The runner.
 * @example
 * ```ts
 * import { createTfjsSpecRunner } from "@facenet-deno/facenet/tfjs";
 * import assert from "node:assert/strict";
 *
 * const runner = await createTfjsSpecRunner({ device: "cpu" });
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
 * @category Backends
 */
export async function createTfjsSpecRunner(
  options: { readonly device?: TfjsDevice } = {},
): Promise<TfjsSpecRunner> {
  const choice = await chooseDevice({
    ...(options.device === undefined ? {} : { device: options.device }),
    purpose: "inference",
  });
  await activateDevice(choice.device);
  const compiled = new WeakMap<ModelSpec, CompiledModel>();
  const uploaded = new Map<NamedTensors, Record<string, tf.Tensor>>();
  const tensorsOf = (params: NamedTensors) => {
    let t = uploaded.get(params);
    if (t === undefined) {
      t = Object.fromEntries(
        Object.entries(params).map(([k, v]) => [k, tf.tensor(v.data, [...v.shape])]),
      );
      uploaded.set(params, t);
    }
    return t;
  };
  const run: SpecRunner = async (spec, params, input, outputs) => {
    await activateDevice(choice.device);
    let model = compiled.get(spec);
    if (model === undefined) {
      model = compileModel(spec);
      compiled.set(spec, model);
    }
    const m = model;
    const p = tensorsOf(params); // outside tf.tidy: the parameters stay cached
    const values = tf.tidy(() => {
      const x = tf.tensor(input.data, [...input.shape]);
      const r = m.forward({ x, params: p, stats: {}, training: false, outputs });
      return outputs.map((name) => r.values[name]!.clone());
    });
    const out: NamedTensors = {};
    for (const [i, name] of outputs.entries()) {
      const v = values[i]!;
      out[name] = { shape: v.shape, data: Float32Array.from(await v.data()) };
      v.dispose();
    }
    return out;
  };
  return {
    run,
    choice,
    dispose() {
      for (const t of uploaded.values()) for (const v of Object.values(t)) v.dispose();
      uploaded.clear();
    },
  };
}
