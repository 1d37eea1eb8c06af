/**
 * The optimizer updates and the parameter moving average of
 * core/pure/optimizers.ts and core/pure/moving_average.ts as f32x4 kernels
 * on the wasm-simd runtime (float32 arithmetic; the pure versions round
 * float64 arithmetic to float32, so results agree to float32 rounding).
 *
 * @module
 */

import type { NamedTensors, OptimizerConfig, OptimizerState, Tensor } from "../../core/types.ts";
import { type OptimizerUpdate, resolveOptimizerConfig } from "../../core/pure/optimizers.ts";
import { effectiveDecay } from "../../core/pure/moving_average.ts";
import type { WasmSimdRuntime } from "./runtime.ts";

/** Optimizer kinds of the `optimizerStep` kernel. */
const KIND = { SGD: 0, MOM: 1, ADAGRAD: 2, ADADELTA: 3, ADAM: 4, RMSPROP: 5 } as const;
/** Slot names per optimizer, in the kernel's s1, s2 order. */
const SLOTS = {
  SGD: [],
  MOM: ["momentum"],
  ADAGRAD: ["accumulator"],
  ADADELTA: ["accum", "accum_update"],
  ADAM: ["m", "v"],
  RMSPROP: ["rms", "momentum"],
} as const;

const threadsFor = (rt: WasmSimdRuntime, n: number) => (n < 32768 ? 1 : rt.threads);

/**
 * One optimizer step, equal (to float32 rounding) to core/pure/optimizers.ts's
 * `applyOptimizer`.
 *
 * @param rt The runtime to compute on.
 * @param config The optimizer and its hyper-parameters.
 * @param state The optimizer state (slots and iteration count).
 * @param params The parameters.
 * @param grads Gradients of (some of) the parameters.
 * @param learningRate The learning rate (> 0).
 * @returns The updated parameters and state (iterations + 1); inputs are not modified.
 * @throws {RangeError} On a state/config mismatch, a non-positive rate, a
 *   gradient without parameter or a missing or mis-shaped slot.
 * @example
 * ```ts
 * import { applyOptimizerWasm } from "./optimizers.ts";
 * import { createWasmSimdRuntime } from "@facenet-deno/facenet/wasm-simd";
 * import assert from "node:assert/strict";
 * const rt = await createWasmSimdRuntime({ threads: 1 });
 * const params = { w: { shape: [2], data: new Float32Array([1, 2]) } };
 * const grads = { w: { shape: [2], data: new Float32Array([0.5, -1]) } };
 * const state = { name: "SGD" as const, slots: {}, iterations: 0 };
 * const update = applyOptimizerWasm(rt, { name: "SGD" }, state, params, grads, 0.1);
 * assert.deepEqual(Array.from(update.params.w!.data), [Math.fround(0.95), Math.fround(2.1)]);
 * rt.dispose();
 * ```
 */
export function applyOptimizerWasm(
  rt: WasmSimdRuntime,
  config: OptimizerConfig,
  state: OptimizerState,
  params: NamedTensors,
  grads: NamedTensors,
  learningRate: number,
): OptimizerUpdate {
  const c = resolveOptimizerConfig(config);
  if (state.name !== c.name) {
    throw new RangeError(`Optimizer state is for ${state.name}, the configuration for ${c.name}`);
  }
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) {
    throw new RangeError(`Learning rate must be positive, got ${learningRate}`);
  }
  const t = state.iterations + 1;
  const lr = c.name === "ADAM"
    ? learningRate * Math.sqrt(1 - c.beta2 ** t) / (1 - c.beta1 ** t)
    : learningRate;
  const [h1, h2, h3] = c.name === "MOM"
    ? [c.momentum, c.nesterov ? 1 : 0, 0]
    : c.name === "ADADELTA"
    ? [c.rho, c.epsilon, 0]
    : c.name === "ADAM"
    ? [c.beta1, c.beta2, c.epsilon]
    : c.name === "RMSPROP"
    ? [c.decay, c.momentum, c.epsilon]
    : [0, 0, 0];
  const slotNames: readonly string[] = SLOTS[c.name];
  const newParams: NamedTensors = { ...params };
  const newSlots: Record<string, NamedTensors> = {};
  for (const [slot, tensors] of Object.entries(state.slots)) newSlots[slot] = { ...tensors };
  for (const [name, g] of Object.entries(grads)) {
    const p = params[name];
    if (p === undefined) throw new RangeError(`Gradient "${name}" has no parameter`);
    const n = p.data.length;
    if (g.data.length !== n) {
      throw new RangeError(`Gradient of "${name}" has ${g.data.length} values, the parameter ${n}`);
    }
    const slots: Tensor[] = slotNames.map((slot) => {
      const s = state.slots[slot]?.[name];
      if (s === undefined || s.data.length !== n) {
        throw new RangeError(`Optimizer slot "${slot}" of "${name}" is missing or mis-shaped`);
      }
      return s;
    });
    const pv = rt.put(p.data);
    const gv = rt.put(g.data);
    const sv = slots.map((s) => rt.put(s.data));
    try {
      rt.run("optimizerStep", [
        KIND[c.name],
        pv,
        gv,
        sv[0] ?? 0,
        sv[1] ?? 0,
        n,
        lr,
        h1,
        h2,
        h3,
        1 - h1,
        1 - h2,
      ], { threads: threadsFor(rt, n) });
      newParams[name] = { shape: p.shape, data: rt.read(pv, n) };
      slotNames.forEach((slot, i) => {
        newSlots[slot]![name] = { shape: p.shape, data: rt.read(sv[i]!, n) };
      });
    } finally {
      rt.free(pv);
      rt.free(gv);
      for (const s of sv) rt.free(s);
    }
  }
  return { params: newParams, state: { name: c.name, slots: newSlots, iterations: t } };
}

/**
 * The moving average of the parameters, equal (to float32 rounding) to
 * core/pure/moving_average.ts's `updateMovingAverage` (TF's num_updates rule).
 *
 * @param rt The runtime to compute on.
 * @param shadows The current averages.
 * @param values The current parameter values.
 * @param options The decay and the number of updates so far.
 * @returns The new averages; inputs are not modified.
 * @throws {RangeError} When a shadow has no matching value or the options are out of range.
 * @example
 * ```ts
 * import { updateMovingAverageWasm } from "./optimizers.ts";
 * import { createWasmSimdRuntime } from "@facenet-deno/facenet/wasm-simd";
 * import assert from "node:assert/strict";
 * const rt = await createWasmSimdRuntime({ threads: 1 });
 * const ema = updateMovingAverageWasm(
 *   rt,
 *   { w: { shape: [1], data: new Float32Array([0]) } },
 *   { w: { shape: [1], data: new Float32Array([1]) } },
 *   { decay: 0.5, numUpdates: 1000 },
 * );
 * assert.deepEqual(Array.from(ema.w!.data), [0.5]);
 * rt.dispose();
 * ```
 */
export function updateMovingAverageWasm(
  rt: WasmSimdRuntime,
  shadows: NamedTensors,
  values: NamedTensors,
  options: { readonly decay: number; readonly numUpdates: number },
): NamedTensors {
  const d = effectiveDecay(options.decay, options.numUpdates);
  const out: NamedTensors = {};
  for (const [name, s] of Object.entries(shadows)) {
    const v = values[name];
    if (v === undefined || v.data.length !== s.data.length) {
      throw new RangeError(`Moving average of "${name}" has no matching value`);
    }
    const n = s.data.length;
    const sp = rt.put(s.data);
    const vp = rt.put(v.data);
    try {
      rt.run("movingAverage", [sp, vp, n, d, 1 - d], { threads: threadsFor(rt, n) });
      out[name] = { shape: s.shape, data: rt.read(sp, n) };
    } finally {
      rt.free(sp);
      rt.free(vp);
    }
  }
  return out;
}
