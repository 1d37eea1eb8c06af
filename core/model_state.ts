/**
 * The initial {@link ModelState} of a spec and its training options:
 * parameters and batch-norm statistics (core/init.ts), the softmax head when
 * the loss needs one, optimizer slots, and the moving average of the parameters.
 *
 * @module
 */

import type { ModelSpec } from "./model_spec.ts";
import type { ModelState, TrainingOptions } from "./backend.ts";
import type { NamedTensors, RngState, Tensor } from "./types.ts";
import { initParameters } from "./init.ts";
import { inferShapes } from "./shapes.ts";
import { initOptimizerState } from "./pure/optimizers.ts";
import { uniforms } from "./pure/rng.ts";

/**
 * Name of the softmax head's node: parameters `Logits/weights` `[E, C]` and `Logits/biases` `[C]`.
 *
 * @example
 * ```ts
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { LOGITS } from "./model_state.ts";
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const state = initModelState(modelSpec("nano", { embeddingSize: 16 }), {
 *   loss: { kind: "softmax", numClasses: 3, centerLossFactor: 0.01 },
 *   optimizer: { name: "SGD" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * }, createRng(1));
 * assert.deepEqual(state.params[`${LOGITS}/weights`]?.shape, [16, 3]);
 * assert.deepEqual(state.params[`${LOGITS}/biases`]?.shape, [3]);
 * ```
 */
export const LOGITS = "Logits";

/**
 * Name of the center-loss centers statistic, `[C, E]`.
 *
 * @example
 * ```ts
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { CENTERS } from "./model_state.ts";
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const state = initModelState(modelSpec("nano", { embeddingSize: 16 }), {
 *   loss: { kind: "softmax", numClasses: 3, centerLossFactor: 0.01 },
 *   optimizer: { name: "SGD" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * }, createRng(1));
 * assert.deepEqual(state.stats[CENTERS]?.shape, [3, 16]);
 * assert.ok(state.stats[CENTERS]?.data.every((v) => v === 0));
 * ```
 */
export const CENTERS = "centers";

function copy(t: Tensor): Tensor {
  return { shape: [...t.shape], data: Float32Array.from(t.data) };
}

/**
 * Copies named tensors (fresh arrays).
 *
 * @param tensors The tensors.
 * @returns Deep copies under the same names.
 * @example
 * ```ts
 * import { copyTensors } from "./model_state.ts";
 * import assert from "node:assert/strict";
 *
 * const a = { w: { shape: [1], data: new Float32Array([1]) } };
 * const b = copyTensors(a);
 * assert.notEqual(a["w"]!.data, b["w"]!.data);
 * assert.deepEqual(b, a);
 * ```
 */
export function copyTensors(tensors: NamedTensors): NamedTensors {
  const out: NamedTensors = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = copy(t);
  return out;
}

/**
 * Creates the initial state of a model: Glorot-initialized weights (spec
 * parameters first, then the softmax head `Logits/weights` for softmax
 * losses, `Logits/biases` unless ArcFace), zero biases and beta, unit gamma,
 * moving mean 0 and variance 1, zero `centers` when center loss is on, the
 * optimizer's initial slots, and the moving average (a copy of the
 * parameters) unless disabled.
 *
 * @param spec The model spec.
 * @param options The training options (loss, optimizer, moving-average decay).
 * @param rng The RNG of the initialization; the same state gives the same model.
 * @returns The state at step 0.
 * @throws {RangeError} When the spec or the options are invalid.
 * @example
 * ```ts
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const state = initModelState(modelSpec("nano"), {
 *   loss: { kind: "triplet", alpha: 0.2 },
 *   optimizer: { name: "ADAGRAD" },
 *   weightDecay: 0,
 *   movingAverageDecay: 0.9999,
 * }, createRng(666));
 * assert.equal(state.step, 0);
 * assert.ok("Bottleneck/weights" in state.params);
 * assert.ok("Bottleneck/weights" in state.optimizer.slots["accumulator"]!);
 * assert.ok(state.ema !== null);
 * ```
 *
 * @category Training
 */
export function initModelState(
  spec: ModelSpec,
  options: TrainingOptions,
  rng: RngState,
): ModelState {
  const init = initParameters(spec, rng);
  const params: NamedTensors = { ...init.params };
  const stats: NamedTensors = { ...init.stats };
  const loss = options.loss;
  if (loss.kind === "softmax") {
    const c = loss.numClasses;
    if (!Number.isInteger(c) || c < 2) {
      throw new RangeError(`Softmax needs at least 2 classes, got ${c}`);
    }
    const e = inferShapes(spec).nodes.get(spec.prelogits)![0]!;
    const limit = Math.sqrt(6 / (e + c));
    const [u] = uniforms(init.rng, e * c);
    const w = new Float32Array(e * c);
    for (let i = 0; i < w.length; i++) w[i] = (2 * u[i]! - 1) * limit;
    params[`${LOGITS}/weights`] = { shape: [e, c], data: w };
    if (loss.arcface === undefined) {
      params[`${LOGITS}/biases`] = { shape: [c], data: new Float32Array(c) };
    }
    if ((loss.centerLossFactor ?? 0) > 0) {
      stats[CENTERS] = { shape: [c, e], data: new Float32Array(c * e) };
    }
  } else if (loss.kind !== "triplet") {
    throw new RangeError(`Unknown loss kind "${String((loss as { kind: unknown }).kind)}"`);
  }
  const decay = options.movingAverageDecay;
  if (decay !== null && !(decay >= 0 && decay <= 1)) {
    throw new RangeError(`Moving average decay must be in [0, 1] or null, got ${decay}`);
  }
  return {
    params,
    stats,
    optimizer: initOptimizerState(options.optimizer, params),
    ema: decay === null ? null : copyTensors(params),
    step: 0,
  };
}
