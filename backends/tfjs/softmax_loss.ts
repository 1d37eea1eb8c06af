/**
 * The classifier head of softmax training as tf ops, equal to the core's
 * `softmaxHead` (core/softmax_head.ts): logits `prelogits @ W + b` (or
 * ArcFace's `scale * cos(theta + m)` on normalized features and class
 * weights), mean cross-entropy, optional center loss and prelogits norm
 * penalty. Differentiable by tfjs autodiff; the center update (the reference implementation's
 * `scatter_sub`) is a separate function applied after the gradients.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import type { LossSpec } from "../../core/backend.ts";
import { CENTERS, LOGITS } from "../../core/model_state.ts";

/** The softmax loss spec. */
export type SoftmaxLossSpec = Extract<LossSpec, { kind: "softmax" }>;

/** Loss parts of the head, scalars. */
export interface SoftmaxHeadLoss {
  /** Mean cross-entropy. */
  readonly crossEntropy: tf.Scalar;
  /** Center loss and norm penalty, times their factors. */
  readonly regularization: tf.Scalar;
}

const MIN_SINE = 1e-6;
const L2_EPSILON = 1e-10;

function normalizeAlong(x: tf.Tensor, axis: number): tf.Tensor {
  const sq = tf.sum(tf.square(x), axis, true);
  return tf.mul(x, tf.rsqrt(tf.maximum(sq, tf.scalar(L2_EPSILON))));
}

/**
 * ArcFace's target logit before scaling, with the core's derivative: for
 * `c > cos(pi - m)`, `c cos m - sin(theta) sin m` with derivative
 * `cos m + sin m * c / max(sin(theta), 1e-6)`; else `c - m sin m`. The
 * cosine is clamped to [-1, 1] (zero gradient outside).
 */
function arcTarget(raw: tf.Tensor1D, margin: number): tf.Tensor1D {
  const cosM = Math.cos(margin);
  const sinM = Math.sin(margin);
  const threshold = Math.cos(Math.PI - margin);
  const c = tf.clipByValue(raw, -1, 1) as tf.Tensor1D;
  const main = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const sine = tf.sqrt(tf.maximum(tf.sub(tf.scalar(1), tf.square(x)), tf.scalar(0)));
    save([x, sine]);
    return {
      value: tf.sub(tf.mul(x, tf.scalar(cosM)), tf.mul(sine, tf.scalar(sinM))),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, s] = saved as [tf.Tensor, tf.Tensor];
        const slope = tf.add(
          tf.scalar(cosM),
          tf.div(tf.mul(tf.scalar(sinM), xs), tf.maximum(s, tf.scalar(MIN_SINE))),
        );
        return tf.mul(dy, slope);
      },
    };
  });
  const fallback = tf.sub(c, tf.scalar(margin * sinM));
  // A 0/1 selector with a zero gradient (tfjs cannot differentiate `greater`).
  const useMain = tf.step(tf.sub(c, tf.scalar(threshold)));
  return tf.add(
    tf.mul(useMain, main(c)),
    tf.mul(tf.sub(tf.scalar(1), useMain), fallback),
  ) as tf.Tensor1D;
}

/**
 * The head's loss: cross-entropy and regularization (center loss, norm
 * penalty). Call inside a gradient function / `tf.tidy`.
 *
 * @param prelogits `[B, E]` features.
 * @param labels `[B]` int32 class labels.
 * @param params Trainable parameters (with `Logits/weights`, `Logits/biases`).
 * @param stats Statistics (with `centers` when center loss is on).
 * @param loss The softmax loss spec.
 * @returns Cross-entropy and regularization scalars.
 * @throws {RangeError} When the head's parameters or centers are missing or mis-shaped.
 * @example
 * ```ts
 * import { softmaxHeadLoss } from "./softmax_loss.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const ce = tf.tidy(() =>
 *   softmaxHeadLoss(tf.tensor2d([[1, 0]]), tf.tensor1d([0], "int32"), {
 *     "Logits/weights": tf.zeros([2, 2]),
 *     "Logits/biases": tf.zeros([2]),
 *   }, {}, { kind: "softmax", numClasses: 2 }).crossEntropy.dataSync()[0]!
 * );
 * assert.ok(Math.abs(ce - Math.log(2)) < 1e-6);
 * ```
 */
export function softmaxHeadLoss(
  prelogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  params: Readonly<Record<string, tf.Tensor>>,
  stats: Readonly<Record<string, tf.Tensor>>,
  loss: SoftmaxLossSpec,
): SoftmaxHeadLoss {
  const [b, e] = prelogits.shape;
  const w = params[`${LOGITS}/weights`];
  if (w === undefined || w.rank !== 2 || w.shape[0] !== e) {
    throw new RangeError(
      `Parameter "${LOGITS}/weights" must be [${e}, classes], got ${
        w === undefined ? "nothing" : `[${w.shape.join(", ")}]`
      }`,
    );
  }
  const classes = w.shape[1]!;
  const onehot = tf.oneHot(labels, classes);
  if (loss.arcface === undefined) {
    const bias = params[`${LOGITS}/biases`];
    if (bias === undefined || bias.size !== classes) {
      throw new RangeError(`Parameter "${LOGITS}/biases" must be [${classes}]`);
    }
  }
  // Logits, or for ArcFace the cosines (as Model.outputs returns them).
  let logits = headLogitsTensor(prelogits, params, loss);
  if (loss.arcface !== undefined) {
    const { margin, scale } = loss.arcface;
    const cosines = logits;
    const raw = tf.sum(tf.mul(cosines, onehot), 1) as tf.Tensor1D;
    const target = tf.reshape(arcTarget(raw, margin), [b, 1]);
    logits = tf.mul(
      tf.scalar(scale),
      tf.add(tf.mul(cosines, tf.sub(tf.scalar(1), onehot)), tf.mul(onehot, target)),
    );
  }
  const lse = tf.logSumExp(logits, 1);
  const crossEntropy = tf.mean(tf.sub(lse, tf.sum(tf.mul(logits, onehot), 1))) as tf.Scalar;
  let regularization: tf.Scalar = tf.scalar(0);
  const centerFactor = loss.centerLossFactor ?? 0;
  if (centerFactor > 0) {
    const centers = stats[CENTERS];
    if (centers === undefined || centers.rank !== 2 || centers.shape[1] !== e) {
      throw new RangeError(`Center loss needs the statistic "${CENTERS}" of shape [classes, ${e}]`);
    }
    const diff = tf.sub(prelogits, tf.gather(centers, labels));
    regularization = tf.add(
      regularization,
      tf.mul(tf.scalar(centerFactor), tf.mean(tf.square(diff))),
    );
  }
  const normFactor = loss.prelogitsNormLossFactor ?? 0;
  if (normFactor > 0) {
    const p = loss.prelogitsNormP ?? 1;
    const powered = tf.pow(tf.add(tf.abs(prelogits), tf.scalar(1e-4)), tf.scalar(p));
    const norms = tf.pow(tf.sum(powered, 1), tf.scalar(1 / p));
    regularization = tf.add(regularization, tf.mul(tf.scalar(normFactor), tf.mean(norms)));
  }
  return { crossEntropy, regularization };
}

/**
 * The reference implementation's center update: every row moves its class center by
 * `(1 - alfa) * (feature - center)`, all rows from the old centers (rows of
 * one class add up). Call inside `tf.tidy`.
 *
 * @param centers `[C, E]` current centers.
 * @param prelogits `[B, E]` features of the step.
 * @param labels `[B]` int32 labels.
 * @param alfa The center-loss alfa (0.95 in the reference implementation).
 * @returns The new centers.
 * @example
 * ```ts
 * import { updatedCenters } from "./softmax_loss.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const c = tf.tidy(() =>
 *   updatedCenters(tf.zeros([2, 1]), tf.tensor2d([[1], [1]]), tf.tensor1d([1, 1], "int32"), 0.5)
 *     .arraySync()
 * );
 * assert.deepEqual(c, [[0], [1]]);
 * ```
 */
export function updatedCenters(
  centers: tf.Tensor,
  prelogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  alfa: number,
): tf.Tensor {
  const delta = tf.mul(tf.scalar(1 - alfa), tf.sub(prelogits, tf.gather(centers, labels)));
  // Per-class sums as onehot^T @ delta (tfjs's wasm backend has no UnsortedSegmentSum).
  const onehot = tf.oneHot(labels, centers.shape[0]!);
  return tf.add(centers, tf.matMul(onehot, delta as tf.Tensor2D, true, false));
}

/**
 * The head's class scores on the device, as the core's `headLogits`:
 * `prelogits @ W + b`, or for ArcFace the cosines between the normalized
 * prelogits and class weights (no margin). Call inside `tf.tidy`.
 *
 * @param prelogits `[B, E]` features.
 * @param params Parameters with `Logits/weights` (and `Logits/biases` unless ArcFace).
 * @param loss The softmax loss spec.
 * @returns `[B, C]` scores.
 * @throws {RangeError} When the head's parameters are missing.
 * @example
 * ```ts
 * import { headLogitsTensor } from "./softmax_loss.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const s = tf.tidy(() =>
 *   headLogitsTensor(tf.tensor2d([[3, 4]]), {
 *     "Logits/weights": tf.tensor2d([[1, 0], [0, 2]]),
 *     "Logits/biases": tf.tensor1d([0, 1]),
 *   }, { kind: "softmax", numClasses: 2 }).arraySync()
 * );
 * assert.deepEqual(s, [[3, 9]]);
 * ```
 */
export function headLogitsTensor(
  prelogits: tf.Tensor2D,
  params: Readonly<Record<string, tf.Tensor>>,
  loss: SoftmaxLossSpec,
): tf.Tensor2D {
  const w = params[`${LOGITS}/weights`];
  if (w === undefined || w.rank !== 2) {
    throw new RangeError(`Parameter "${LOGITS}/weights" is missing`);
  }
  if (loss.arcface !== undefined) {
    return tf.matMul(
      normalizeAlong(prelogits, 1) as tf.Tensor2D,
      normalizeAlong(w, 0) as tf.Tensor2D,
    );
  }
  const bias = params[`${LOGITS}/biases`];
  if (bias === undefined) throw new RangeError(`Parameter "${LOGITS}/biases" is missing`);
  return tf.add(tf.matMul(prelogits, w as tf.Tensor2D), bias);
}
