/**
 * The reference implementation's classifier head on the prelogits (train_softmax), pure: a dense
 * `Logits` layer over the identities (or ArcFace cosines on normalized
 * features and weights), softmax cross-entropy, optional center loss with the
 * reference implementation's center update, optional prelogits norm penalty. Gradients with
 * respect to the prelogits and the head's parameters.
 *
 * @module
 */

import type { LossSpec } from "./backend.ts";
import type { Matrix, NamedTensors } from "./types.ts";
import {
  arcfaceLogits,
  centerLoss,
  prelogitsNormLoss,
  softmaxCrossEntropy,
} from "./pure/losses.ts";
import { l2Normalize, l2NormalizeVjp } from "./pure/distances.ts";
import { CENTERS, LOGITS } from "./model_state.ts";

/** The outcome of {@link softmaxHead}. */
export interface SoftmaxHeadResult {
  /** Mean cross-entropy. */
  readonly loss: number;
  /** Center loss and norm penalty, times their factors. */
  readonly regularization: number;
  /** Gradient of loss + regularization with respect to the prelogits. */
  readonly gradient: Matrix;
  /** Gradients of `Logits/weights` (and `Logits/biases`). */
  readonly paramGradients: NamedTensors;
  /** Updated statistics (`centers` when center loss is on). */
  readonly stats: NamedTensors;
}

/** `op(a) @ op(b)` in float64 accumulation. */
function matMul(a: Matrix, b: Matrix, ta = false, tb = false): Matrix {
  const m = ta ? a.cols : a.rows;
  const k = ta ? a.rows : a.cols;
  const n = tb ? b.rows : b.cols;
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = ta ? a.data[p * a.cols + i]! : a.data[i * a.cols + p]!;
        const bv = tb ? b.data[j * b.cols + p]! : b.data[p * b.cols + j]!;
        s += av * bv;
      }
      out[i * n + j] = s;
    }
  }
  return { rows: m, cols: n, data: out };
}

function transpose(a: Matrix): Matrix {
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) out[j * a.rows + i] = a.data[i * a.cols + j]!;
  }
  return { rows: a.cols, cols: a.rows, data: out };
}

/** The center loss of `prelogits` against the head's centers statistic. */
function centerLossOf(
  prelogits: Matrix,
  labels: Int32Array,
  stats: NamedTensors,
  loss: Extract<LossSpec, { kind: "softmax" }>,
): ReturnType<typeof centerLoss> {
  const c = stats[CENTERS];
  if (c === undefined || c.shape.length !== 2) {
    throw new RangeError(`Center loss needs the statistic "${CENTERS}"`);
  }
  return centerLoss(
    prelogits,
    labels,
    { rows: c.shape[0]!, cols: c.shape[1]!, data: c.data },
    loss.centerLossAlfa ?? 0.95,
  );
}

function axpy(acc: Float32Array, g: Matrix, factor: number): void {
  for (let i = 0; i < acc.length; i++) acc[i]! += factor * g.data[i]!;
}

/**
 * Loss, gradients and center update of the softmax head.
 *
 * @param prelogits The `B x E` prelogits.
 * @param labels The class of each row.
 * @param params Parameters holding `Logits/weights` `[E, C]` (and `Logits/biases` `[C]` without ArcFace).
 * @param stats Statistics holding `centers` `[C, E]` when center loss is on.
 * @param loss The softmax loss spec.
 * @returns Loss, regularization, gradients and updated statistics.
 * @throws {RangeError} When a parameter is missing or shapes disagree.
 * @example
 * ```ts
 * import { softmaxHead } from "./softmax_head.ts";
 * import assert from "node:assert/strict";
 *
 * const r = softmaxHead(
 *   { rows: 1, cols: 1, data: new Float32Array([1]) },
 *   new Int32Array([0]),
 *   {
 *     "Logits/weights": { shape: [1, 2], data: new Float32Array([0, 0]) },
 *     "Logits/biases": { shape: [2], data: new Float32Array([0, 0]) },
 *   },
 *   {},
 *   { kind: "softmax", numClasses: 2 },
 * );
 * assert.equal(r.loss, Math.LN2);
 * assert.deepEqual(Array.from(r.paramGradients["Logits/weights"]!.data), [-0.5, 0.5]);
 * ```
 */
export function softmaxHead(
  prelogits: Matrix,
  labels: Int32Array,
  params: NamedTensors,
  stats: NamedTensors,
  loss: Extract<LossSpec, { kind: "softmax" }>,
): SoftmaxHeadResult {
  // headLogits checks the head's parameters and computes the class scores.
  const scores = headLogits(prelogits, params, loss);
  const w = params[`${LOGITS}/weights`]!;
  const wm: Matrix = { rows: w.shape[0]!, cols: w.shape[1]!, data: w.data };
  const paramGradients: NamedTensors = {};
  const dPre = new Float32Array(prelogits.data.length);
  let ce: number;
  if (loss.arcface === undefined) {
    const logits = scores;
    const r = softmaxCrossEntropy(logits, labels);
    ce = r.loss;
    const dW = matMul(prelogits, r.gradient, true, false);
    const db = new Float32Array(wm.cols);
    for (let i = 0; i < r.gradient.rows; i++) {
      for (let j = 0; j < wm.cols; j++) db[j]! += r.gradient.data[i * wm.cols + j]!;
    }
    paramGradients[`${LOGITS}/weights`] = { shape: [...w.shape], data: dW.data };
    paramGradients[`${LOGITS}/biases`] = { shape: [wm.cols], data: db };
    axpy(dPre, matMul(r.gradient, wm, false, true), 1);
  } else {
    // Cosines between normalized features and normalized class weight columns.
    const xn = l2Normalize(prelogits);
    const wt = transpose(wm); // [C, E]
    const wtn = l2Normalize(wt);
    const cosines = scores; // [B, C], = xn wtn^T
    const arc = arcfaceLogits(cosines, labels, loss.arcface);
    const r = softmaxCrossEntropy(arc.logits, labels);
    ce = r.loss;
    const dCos = arc.vjp(r.gradient);
    const dXn = matMul(dCos, wtn); // [B, E]
    const dWtn = matMul(dCos, xn, true, false); // [C, E]
    axpy(dPre, l2NormalizeVjp(prelogits, dXn), 1);
    const dWt = l2NormalizeVjp(wt, dWtn);
    paramGradients[`${LOGITS}/weights`] = { shape: [...w.shape], data: transpose(dWt).data };
  }
  let regularization = 0;
  const newStats: NamedTensors = {};
  const centerFactor = loss.centerLossFactor ?? 0;
  if (centerFactor > 0) {
    const r = centerLossOf(prelogits, labels, stats, loss);
    regularization += centerFactor * r.loss;
    axpy(dPre, r.gradient, centerFactor);
    newStats[CENTERS] = { shape: [r.centers.rows, r.centers.cols], data: r.centers.data };
  }
  const normFactor = loss.prelogitsNormLossFactor ?? 0;
  if (normFactor > 0) {
    const r = prelogitsNormLoss(prelogits, loss.prelogitsNormP ?? 1);
    regularization += normFactor * r.loss;
    axpy(dPre, r.gradient, normFactor);
  }
  return {
    loss: ce,
    regularization,
    gradient: { rows: prelogits.rows, cols: prelogits.cols, data: dPre },
    paramGradients,
    stats: newStats,
  };
}

/**
 * The head's class scores: `prelogits @ W + b`, or for ArcFace the cosines
 * between the normalized prelogits and the normalized class weights (no
 * margin, no scale). What `Model.outputs` returns under `"Logits"`.
 *
 * @param prelogits The `B x E` prelogits.
 * @param params Parameters with `Logits/weights` `[E, C]` (and `Logits/biases` `[C]` unless ArcFace).
 * @param loss The softmax loss spec.
 * @returns The `B x C` scores.
 * @throws {RangeError} When the head's parameters are missing or mis-shaped.
 * @example
 * ```ts
 * import { headLogits } from "./softmax_head.ts";
 * import assert from "node:assert/strict";
 * const params = {
 *   "Logits/weights": { shape: [2, 2], data: new Float32Array([1, 0, 0, 2]) },
 *   "Logits/biases": { shape: [2], data: new Float32Array([0, 1]) },
 * };
 * const s = headLogits({ rows: 1, cols: 2, data: new Float32Array([3, 4]) }, params, {
 *   kind: "softmax",
 *   numClasses: 2,
 * });
 * assert.deepEqual(Array.from(s.data), [3, 9]);
 * ```
 */
export function headLogits(
  prelogits: Matrix,
  params: NamedTensors,
  loss: Extract<LossSpec, { kind: "softmax" }>,
): Matrix {
  const w = params[`${LOGITS}/weights`];
  if (w === undefined || w.shape.length !== 2 || w.shape[0] !== prelogits.cols) {
    throw new RangeError(
      `Parameter "${LOGITS}/weights" must be [${prelogits.cols}, classes], got ${
        w === undefined ? "nothing" : `[${w.shape.join(", ")}]`
      }`,
    );
  }
  const wm: Matrix = { rows: w.shape[0]!, cols: w.shape[1]!, data: w.data };
  if (loss.arcface !== undefined) {
    return matMul(l2Normalize(prelogits), l2Normalize(transpose(wm)), false, true);
  }
  const b = params[`${LOGITS}/biases`];
  if (b === undefined || b.data.length !== wm.cols) {
    throw new RangeError(`Parameter "${LOGITS}/biases" must be [${wm.cols}]`);
  }
  const logits = matMul(prelogits, wm);
  for (let i = 0; i < logits.rows; i++) {
    for (let j = 0; j < logits.cols; j++) logits.data[i * logits.cols + j]! += b.data[j]!;
  }
  return logits;
}

/**
 * The head's loss from its class scores ({@link headLogits}, e.g. as a model
 * returned them) and the prelogits: the cross-entropy (with the ArcFace
 * margin applied to the cosines when on) and the regularization (center loss
 * against the current centers, not updated; norm penalty) — the values
 * {@link softmaxHead} reports, without gradients.
 *
 * @param logits The `B x C` scores.
 * @param prelogits The `B x E` prelogits.
 * @param labels `B` class labels.
 * @param stats Statistics (`centers` when center loss is on).
 * @param loss The softmax loss spec.
 * @returns The mean cross-entropy and the regularization.
 * @throws {RangeError} When the labels or centers do not fit.
 * @example
 * ```ts
 * import { headLossFromLogits } from "./softmax_head.ts";
 * import assert from "node:assert/strict";
 * const r = headLossFromLogits(
 *   { rows: 1, cols: 2, data: new Float32Array([0, 0]) },
 *   { rows: 1, cols: 1, data: new Float32Array([1]) },
 *   Int32Array.from([0]),
 *   {},
 *   { kind: "softmax", numClasses: 2 },
 * );
 * assert.ok(Math.abs(r.loss - Math.log(2)) < 1e-6);
 * assert.equal(r.regularization, 0);
 * ```
 */
export function headLossFromLogits(
  logits: Matrix,
  prelogits: Matrix,
  labels: Int32Array,
  stats: NamedTensors,
  loss: Extract<LossSpec, { kind: "softmax" }>,
): { readonly loss: number; readonly regularization: number } {
  const scores = loss.arcface === undefined
    ? logits
    : arcfaceLogits(logits, labels, loss.arcface).logits;
  const ce = softmaxCrossEntropy(scores, labels).loss;
  let regularization = 0;
  const centerFactor = loss.centerLossFactor ?? 0;
  if (centerFactor > 0) {
    const r = centerLossOf(prelogits, labels, stats, loss);
    regularization += centerFactor * r.loss;
  }
  const normFactor = loss.prelogitsNormLossFactor ?? 0;
  if (normFactor > 0) {
    regularization += normFactor * prelogitsNormLoss(prelogits, loss.prelogitsNormP ?? 1).loss;
  }
  return { loss: ce, regularization };
}
