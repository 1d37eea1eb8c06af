/**
 * Squared euclidean distances between rows as tf ops, on the active device.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";

/**
 * All pairwise squared distances of the rows of `x [n, d]`:
 * `|x_i|^2 + |x_j|^2 - 2 x_i . x_j`, clamped at 0, with an exact-zero
 * diagonal. Call inside `tf.tidy`.
 *
 * @param x The rows.
 * @returns The `[n, n]` distances.
 * @example
 * ```ts
 * import { squaredDistanceMatrix } from "./distances.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const d = tf.tidy(() => squaredDistanceMatrix(tf.tensor2d([[0, 0], [3, 4]])).arraySync());
 * assert.deepEqual(d, [[0, 25], [25, 0]]);
 * ```
 */
export function squaredDistanceMatrix(x: tf.Tensor2D): tf.Tensor2D {
  const n = x.shape[0];
  const sq = tf.sum(tf.square(x), 1);
  // An explicit transpose: tfjs wasm's matMul with transposeB is ~10x slower (360 ms against
  // 30 ms for 1800x128).
  const gram = tf.matMul(x, tf.transpose(x));
  const d = tf.relu(
    tf.sub(tf.add(tf.reshape(sq, [n, 1]), tf.reshape(sq, [1, n])), tf.mul(gram, tf.scalar(2))),
  );
  return tf.mul(d, tf.sub(tf.scalar(1), tf.eye(n))) as tf.Tensor2D;
}
