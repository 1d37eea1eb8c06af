/**
 * The reference implementation's two input standardizations, as pure functions on flat image
 * values (one image, any layout): fixed standardization `(x - 127.5) / 128`
 * and per-image prewhitening `(x - mean) / max(std, 1 / sqrt(n))`.
 *
 * @module
 */

import type { ImageBatch } from "../types.ts";

function checkValues(x: unknown): void {
  if (!(x instanceof Float32Array)) {
    const got = x === null ? "null" : Array.isArray(x) ? "an array" : typeof x;
    throw new TypeError(`Image values must be a Float32Array, got ${got}`);
  }
}

/**
 * Fixed image standardization, `(x - 127.5) / 128`: maps 0..255 to about -1..1.
 *
 * @param x The values (0..255).
 * @returns A new array of standardized values.
 * @throws {TypeError} When `x` is not a Float32Array.
 *
 * @example
 * ```ts
 * import { fixedImageStandardization } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   Array.from(fixedImageStandardization(new Float32Array([0, 127.5, 255]))),
 *   [-127.5 / 128, 0, 127.5 / 128],
 * );
 * ```
 *
 * @category Images
 */
export function fixedImageStandardization(x: Float32Array): Float32Array {
  checkValues(x);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = ((x[i] as number) - 127.5) / 128;
  return out;
}

/**
 * Per-image prewhitening (the reference implementation's `prewhiten`): `(x - mean(x)) /
 * max(std(x), 1 / sqrt(n))` with the population standard deviation, mean and
 * deviation accumulated in float64. The floor on the deviation keeps a
 * constant image finite (it maps to zeros).
 *
 * @param x The values of one image (any layout), at least one.
 * @returns A new array with mean 0 and standard deviation 1 (unless the floor applies).
 * @throws {RangeError} When `x` is empty.
 * @throws {TypeError} When `x` is not a Float32Array.
 *
 * @example
 * ```ts
 * import { prewhiten } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(Array.from(prewhiten(new Float32Array([1, 3]))), [-1, 1]);
 * assert.deepEqual(Array.from(prewhiten(new Float32Array([5, 5, 5, 5]))), [0, 0, 0, 0]);
 * ```
 *
 * @category Images
 */
export function prewhiten(x: Float32Array): Float32Array {
  checkValues(x);
  const n = x.length;
  if (n === 0) throw new RangeError("Cannot prewhiten an empty image (0 values)");
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i] as number;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - mean;
    sq += d * d;
  }
  const std = Math.max(Math.sqrt(sq / n), 1 / Math.sqrt(n));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((x[i] as number) - mean) / std;
  return out;
}

/**
 * Applies {@link prewhiten} to every image of a batch separately.
 *
 * @param batch An NHWC batch.
 * @returns A new batch of the same shape, each image prewhitened.
 * @throws {RangeError} When the batch's data length does not match its shape or an image is empty.
 *
 * @example
 * ```ts
 * import { prewhitenBatch } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const batch = { n: 2, height: 1, width: 1, channels: 2, data: new Float32Array([1, 3, 10, 30]) };
 * assert.deepEqual(Array.from(prewhitenBatch(batch).data), [-1, 1, -1, 1]);
 * ```
 *
 * @category Images
 */
export function prewhitenBatch(batch: ImageBatch): ImageBatch {
  const per = batch.height * batch.width * batch.channels;
  if (batch.data.length !== batch.n * per) {
    throw new RangeError(
      `Batch data has ${batch.data.length} values, expected ${batch.n} x ${batch.height} x ${batch.width} x ${batch.channels}`,
    );
  }
  const data = new Float32Array(batch.data.length);
  for (let i = 0; i < batch.n; i++) {
    data.set(prewhiten(batch.data.subarray(i * per, (i + 1) * per)), i * per);
  }
  return { n: batch.n, height: batch.height, width: batch.width, channels: batch.channels, data };
}
