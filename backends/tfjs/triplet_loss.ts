/**
 * The triplet loss as tf ops, equal to core/pure/losses.ts `tripletLoss`:
 * rows are consecutive triplets `[a0, p0, n0, a1, ...]`; the hinge loss is
 * `mean(max(d(a,p) - d(a,n) + alpha, 0))`, the soft margin
 * `mean(softplus(d(a,p) - d(a,n)))`, with squared euclidean distances.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";

/**
 * The triplet loss of consecutive triplet rows, differentiable by tfjs
 * autodiff. Call inside `tf.tidy` (or a gradient function).
 *
 * @param embeddings `[3k, d]` rows.
 * @param alpha The margin (ignored by the soft margin).
 * @param softMargin Use `softplus(d(a,p) - d(a,n))`.
 * @returns The scalar mean loss.
 * @throws {RangeError} When the row count is not a positive multiple of 3.
 * @example
 * ```ts
 * import { tripletLossTensor } from "./triplet_loss.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const loss = tf.tidy(() =>
 *   tripletLossTensor(tf.tensor2d([[0, 0], [1, 0], [0, 2]]), 0.2, false).dataSync()[0]
 * );
 * assert.ok(Math.abs(loss! - 0) < 1e-7); // 1 - 4 + 0.2 < 0
 * ```
 */
export function tripletLossTensor(
  embeddings: tf.Tensor2D,
  alpha: number,
  softMargin: boolean,
): tf.Scalar {
  const [rows, cols] = embeddings.shape;
  if (rows === 0 || rows % 3 !== 0) {
    throw new RangeError(
      `Triplet loss needs a positive multiple of 3 rows (consecutive a, p, n), got ${rows}`,
    );
  }
  const t = tf.reshape(embeddings, [rows / 3, 3, cols]);
  const [a, p, n] = tf.unstack(t, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const dp = tf.sum(tf.square(tf.sub(a, p)), 1);
  const dn = tf.sum(tf.square(tf.sub(a, n)), 1);
  const z = tf.sub(dp, dn);
  const per = softMargin ? tf.softplus(z) : tf.relu(tf.add(z, tf.scalar(alpha)));
  return tf.mean(per);
}
