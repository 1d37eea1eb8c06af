/**
 * Training losses with their gradients: triplet loss (hinge or soft margin),
 * center loss with the reference implementation's center update, softmax cross-entropy, the
 * ArcFace additive angular margin, and the prelogits norm penalty. Losses are
 * accumulated in float64; gradients are returned as float32 matrices.
 *
 * @module
 */

import type { Matrix } from "../types.ts";
import { checkMatrix } from "./_matrix.ts";

function checkLabels(labels: Int32Array, rows: number, classes: number, name: string): void {
  if (!(labels instanceof Int32Array)) {
    throw new TypeError("Labels must be an Int32Array");
  }
  if (labels.length !== rows) {
    throw new RangeError(`Labels length ${labels.length} does not match ${rows} ${name} rows`);
  }
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as number;
    if (l < 0 || l >= classes) {
      throw new RangeError(`Label ${l} at index ${i} is outside [0, ${classes})`);
    }
  }
}

/**
 * A scalar loss and its gradient with respect to one input.
 *
 * @category Losses
 */
export interface LossAndGradient {
  /** The loss value (float64). */
  readonly loss: number;
  /** The gradient of the loss with respect to the input, same shape. */
  readonly gradient: Matrix;
}

/**
 * Options of {@link tripletLoss}.
 *
 * @category Losses
 */
export interface TripletLossOptions {
  /** The margin alpha (> 0 for the hinge; ignored by the soft margin). */
  readonly alpha: number;
  /**
   * Use the margin-free soft version of Hermans et al., "In Defense of the
   * Triplet Loss": `softplus(d(a,p) - d(a,n))` instead of the hinge.
   */
  readonly softMargin?: boolean;
}

/**
 * The triplet loss over consecutive triplets `[a0, p0, n0, a1, p1, n1, ...]`
 * and its gradient with respect to every row. With squared euclidean `d`
 * and `z = d(a,p) - d(a,n) + alpha`, the loss is the mean over triplets of
 * `max(z, 0)`; with `softMargin`, of `softplus(d(a,p) - d(a,n))` (no alpha).
 * Per triplet, `dz/da = 2(n - p)`, `dz/dp = 2(p - a)`, `dz/dn = 2(a - n)`,
 * times `1/T` and times the hinge's subgradient (1 when `z >= 0`, as TF's
 * `maximum` passes the gradient on ties, else 0) or the soft margin's
 * `sigmoid(d(a,p) - d(a,n))`.
 *
 * @param embeddings The `3T x d` batch of consecutive triplets.
 * @param options `alpha`, `softMargin` (default false).
 * @returns The loss and its gradient with respect to `embeddings`.
 * @throws {RangeError} When the row count is not a positive multiple of 3,
 *   a value is not finite, or alpha is not a positive finite number (hinge).
 * @throws {TypeError} When `embeddings` is not a Matrix.
 * @example
 * ```ts
 * import { tripletLoss } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * // a = 0, p = 1, n = 1.5 on a line: z = 1 - 2.25 + 2 = 0.75.
 * const x = { rows: 3, cols: 1, data: new Float32Array([0, 1, 1.5]) };
 * const { loss, gradient } = tripletLoss(x, { alpha: 2 });
 * assert.equal(loss, 0.75);
 * assert.deepEqual([...gradient.data], [1, 2, -3]);
 * ```
 *
 * @category Losses
 */
export function tripletLoss(embeddings: Matrix, options: TripletLossOptions): LossAndGradient {
  checkMatrix(embeddings, "Embeddings");
  const { rows, cols, data } = embeddings;
  if (rows === 0 || rows % 3 !== 0) {
    throw new RangeError(
      `Triplet loss needs a positive multiple of 3 rows (consecutive a, p, n), got ${rows}`,
    );
  }
  const soft = options.softMargin === true;
  const alpha = options.alpha;
  if (!soft && (!(alpha > 0) || !Number.isFinite(alpha))) {
    throw new RangeError(`Alpha must be a positive finite number, got ${alpha}`);
  }
  checkFinite(data, "Embeddings", cols);
  const triplets = rows / 3;
  const grad = new Float32Array(data.length);
  let total = 0;
  for (let t = 0; t < triplets; t++) {
    const a = 3 * t * cols;
    const p = a + cols;
    const n = p + cols;
    let dp = 0;
    let dn = 0;
    for (let k = 0; k < cols; k++) {
      const av = data[a + k] as number;
      dp += (av - (data[p + k] as number)) ** 2;
      dn += (av - (data[n + k] as number)) ** 2;
    }
    let weight: number;
    if (soft) {
      const z = dp - dn;
      total += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
      weight = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    } else {
      const z = dp - dn + alpha;
      total += Math.max(z, 0);
      weight = z >= 0 ? 1 : 0;
    }
    if (weight === 0) continue;
    const s = (2 * weight) / triplets;
    for (let k = 0; k < cols; k++) {
      const av = data[a + k] as number;
      const pv = data[p + k] as number;
      const nv = data[n + k] as number;
      grad[a + k] = s * (nv - pv);
      grad[p + k] = s * (pv - av);
      grad[n + k] = s * (av - nv);
    }
  }
  return { loss: total / triplets, gradient: { rows, cols, data: grad } };
}

function checkFinite(data: Float32Array, name: string, cols: number): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!Number.isFinite(v)) {
      throw new RangeError(
        `${name} contain ${v} at row ${Math.floor(i / cols)}, column ${i % cols}`,
      );
    }
  }
}

/**
 * The outcome of {@link centerLoss}.
 *
 * @category Losses
 */
export interface CenterLossResult extends LossAndGradient {
  /** The updated centers (the reference implementation's `scatter_sub`). */
  readonly centers: Matrix;
}

/**
 * The reference implementation's center loss (Wen et al.): `mean((features - centers[label])^2)`
 * over all `B x D` elements, its gradient with respect to the features
 * (`2 (features - centers[label]) / (B D)`; the centers get no gradient),
 * and the updated centers. The loss and the update use the centers as they
 * were before the update. The update is TF's `scatter_sub` of
 * `(1 - alfa) * (centers[label] - features)`: when a label repeats in the
 * batch, ALL its rows' differences (each from the old center) are summed and
 * subtracted, so a center can move by more than `1 - alfa` times one
 * difference.
 *
 * @param features The `B x D` features (prelogits).
 * @param labels The class of each row, in `[0, C)`.
 * @param centers The `C x D` centers.
 * @param alfa The center update rate (the reference implementation's `center_loss_alfa`, 0.95).
 * @returns The loss, the gradient with respect to `features`, the new centers.
 * @throws {RangeError} On mismatched shapes, labels out of range, no rows, or
 *   a non-finite `alfa`.
 * @throws {TypeError} When an argument has the wrong type.
 * @example
 * ```ts
 * import { centerLoss } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const features = { rows: 2, cols: 1, data: new Float32Array([1, 3]) };
 * const centers = { rows: 1, cols: 1, data: new Float32Array([0]) };
 * const out = centerLoss(features, new Int32Array([0, 0]), centers, 0.5);
 * assert.equal(out.loss, 5); // (1 + 9) / 2
 * assert.deepEqual([...out.gradient.data], [1, 3]);
 * assert.deepEqual([...out.centers.data], [2]); // 0 - 0.5 (0 - 1) - 0.5 (0 - 3)
 * ```
 *
 * @category Losses
 */
export function centerLoss(
  features: Matrix,
  labels: Int32Array,
  centers: Matrix,
  alfa: number,
): CenterLossResult {
  checkMatrix(features, "Features");
  checkMatrix(centers, "Centers");
  if (features.cols !== centers.cols) {
    throw new RangeError(
      `Features have ${features.cols} columns but centers have ${centers.cols}`,
    );
  }
  if (features.rows === 0) {
    throw new RangeError("Center loss needs at least one feature row");
  }
  checkLabels(labels, features.rows, centers.rows, "feature");
  if (!Number.isFinite(alfa)) {
    throw new RangeError(`Center loss alfa must be a finite number, got ${alfa}`);
  }
  const { rows, cols } = features;
  const count = rows * cols;
  const grad = new Float32Array(count);
  const next = Float64Array.from(centers.data);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const c = (labels[i] as number) * cols;
    for (let k = 0; k < cols; k++) {
      const f = features.data[i * cols + k] as number;
      const old = centers.data[c + k] as number;
      const diff = f - old;
      total += diff * diff;
      grad[i * cols + k] = (2 * diff) / count;
      next[c + k] = (next[c + k] as number) - (1 - alfa) * (old - f);
    }
  }
  return {
    loss: total / count,
    gradient: { rows, cols, data: grad },
    centers: { rows: centers.rows, cols, data: Float32Array.from(next) },
  };
}

/**
 * Softmax cross-entropy with integer labels, averaged over rows, computed
 * with a stable log-sum-exp; the gradient is `(softmax(logits) - onehot) / B`.
 *
 * @param logits The `B x C` logits.
 * @param labels The class of each row, in `[0, C)`.
 * @returns The mean loss and its gradient with respect to `logits`.
 * @throws {RangeError} On mismatched lengths, labels out of range, no rows,
 *   or non-finite logits.
 * @throws {TypeError} When an argument has the wrong type.
 * @example
 * ```ts
 * import { softmaxCrossEntropy } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const logits = { rows: 1, cols: 2, data: new Float32Array([0, 0]) };
 * const { loss, gradient } = softmaxCrossEntropy(logits, new Int32Array([1]));
 * assert.equal(loss, Math.LN2);
 * assert.deepEqual([...gradient.data], [0.5, -0.5]);
 * ```
 *
 * @category Losses
 */
export function softmaxCrossEntropy(logits: Matrix, labels: Int32Array): LossAndGradient {
  checkMatrix(logits, "Logits");
  if (logits.rows === 0) {
    throw new RangeError("Softmax cross-entropy needs at least one row");
  }
  checkLabels(labels, logits.rows, logits.cols, "logit");
  checkFinite(logits.data, "Logits", logits.cols);
  const { rows, cols, data } = logits;
  const grad = new Float32Array(data.length);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    let max = -Infinity;
    for (let k = 0; k < cols; k++) max = Math.max(max, data[off + k] as number);
    let sum = 0;
    for (let k = 0; k < cols; k++) sum += Math.exp((data[off + k] as number) - max);
    const logSum = max + Math.log(sum);
    const y = labels[i] as number;
    total += logSum - (data[off + y] as number);
    for (let k = 0; k < cols; k++) {
      const prob = Math.exp((data[off + k] as number) - logSum);
      grad[off + k] = (prob - (k === y ? 1 : 0)) / rows;
    }
  }
  return { loss: total / rows, gradient: { rows, cols, data: grad } };
}

/**
 * Options of {@link arcfaceLogits}.
 *
 * @category Losses
 */
export interface ArcfaceOptions {
  /** The additive angular margin m in radians (InsightFace uses 0.5), in [0, pi/2]. */
  readonly margin: number;
  /** The scale s applied to all logits (InsightFace uses 64), > 0. */
  readonly scale: number;
}

/**
 * The outcome of {@link arcfaceLogits}.
 *
 * @category Losses
 */
export interface ArcfaceResult {
  /** The scaled logits, `B x C`. */
  readonly logits: Matrix;
  /** Maps the gradient with respect to `logits` to the gradient with respect to the cosines. */
  vjp(dLogits: Matrix): Matrix;
}

/** Floor on sin(theta) in the derivative, so cos = +-1 gives a finite gradient. */
const MIN_SINE = 1e-6;

/**
 * ArcFace logits (Deng et al., additive angular margin) from the cosines
 * between normalized features and normalized class weights. The target class
 * of each row gets `scale * cos(theta + m)` with `cos(theta) = c` clamped to
 * [-1, 1], computed as `c cos m - sin(theta) sin m`, `sin(theta) =
 * sqrt(1 - c^2)`; every other class gets `scale * c`. When `theta + m > pi`
 * (that is `c <= cos(pi - m)`), `cos(theta + m)` would stop decreasing in
 * theta, so the standard fallback `c - m sin(m)` (InsightFace's
 * `easy_margin = false`) is used instead. In the derivative of the main
 * branch, `d cos(theta + m)/dc = cos m + sin m * c / sin(theta)`,
 * `sin(theta)` is floored at 1e-6 so that `c = +-1` stays finite; cosines
 * outside [-1, 1] pass no gradient through the target entry (the clamp).
 *
 * @param cosines The `B x C` cosines.
 * @param labels The target class of each row, in `[0, C)`.
 * @param options `margin` (radians, in [0, pi/2]) and `scale` (> 0).
 * @returns The logits and their vector-Jacobian product.
 * @throws {RangeError} On bad margin or scale, mismatched labels, or
 *   non-finite cosines.
 * @throws {TypeError} When an argument has the wrong type.
 * @example
 * ```ts
 * import { arcfaceLogits } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const cosines = { rows: 1, cols: 2, data: new Float32Array([0, 0.5]) };
 * const { logits } = arcfaceLogits(cosines, new Int32Array([0]), {
 *   margin: Math.PI / 6,
 *   scale: 2,
 * });
 * // target: theta = pi/2, cos(pi/2 + pi/6) = -0.5; other class: 2 * 0.5.
 * assert.ok(Math.abs(logits.data[0]! + 1) < 1e-6);
 * assert.equal(logits.data[1], 1);
 * ```
 *
 * @category Losses
 */
export function arcfaceLogits(
  cosines: Matrix,
  labels: Int32Array,
  options: ArcfaceOptions,
): ArcfaceResult {
  checkMatrix(cosines, "Cosines");
  checkLabels(labels, cosines.rows, cosines.cols, "cosine");
  checkFinite(cosines.data, "Cosines", cosines.cols);
  const { margin, scale } = options;
  if (!(margin >= 0 && margin <= Math.PI / 2)) {
    throw new RangeError(`ArcFace margin must be in [0, pi/2] radians, got ${margin}`);
  }
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(`ArcFace scale must be a positive finite number, got ${scale}`);
  }
  const { rows, cols, data } = cosines;
  const cosM = Math.cos(margin);
  const sinM = Math.sin(margin);
  const threshold = Math.cos(Math.PI - margin);
  const fallback = margin * sinM;
  const out = new Float32Array(data.length);
  const slope = new Float64Array(rows); // d logit_target / d cosine, divided by scale
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    for (let k = 0; k < cols; k++) out[off + k] = scale * (data[off + k] as number);
    const y = labels[i] as number;
    const raw = data[off + y] as number;
    const c = Math.min(1, Math.max(-1, raw));
    const inside = raw >= -1 && raw <= 1;
    if (c > threshold) {
      const sine = Math.sqrt(Math.max(0, 1 - c * c));
      out[off + y] = scale * (c * cosM - sine * sinM);
      slope[i] = inside ? cosM + (sinM * c) / Math.max(sine, MIN_SINE) : 0;
    } else {
      out[off + y] = scale * (c - fallback);
      slope[i] = inside ? 1 : 0;
    }
  }
  return {
    logits: { rows, cols, data: out },
    vjp(dLogits: Matrix): Matrix {
      checkMatrix(dLogits, "Logit gradient");
      if (dLogits.rows !== rows || dLogits.cols !== cols) {
        throw new RangeError(
          `Logit gradient shape ${dLogits.rows}x${dLogits.cols} does not match ${rows}x${cols}`,
        );
      }
      const dx = new Float32Array(data.length);
      for (let i = 0; i < rows; i++) {
        const off = i * cols;
        for (let k = 0; k < cols; k++) dx[off + k] = scale * (dLogits.data[off + k] as number);
        const y = labels[i] as number;
        dx[off + y] = scale * (slope[i] as number) * (dLogits.data[off + y] as number);
      }
      return { rows, cols, data: dx };
    },
  };
}

/**
 * The reference implementation's prelogits norm penalty: the mean over rows of
 * `|| abs(x) + 1e-4 ||_p`, and its gradient
 * `sign(x) (|x| + 1e-4)^(p-1) / ||.||_p^(p-1) / B` (with `sign(0) = 0`, as
 * TF's `abs` gradient).
 *
 * @param prelogits The `B x D` prelogits.
 * @param p The norm order, a finite number >= 1 (the reference implementation uses 1.0).
 * @returns The loss and its gradient with respect to `prelogits`.
 * @throws {RangeError} When `p < 1`, there are no rows or columns, or a value is not finite.
 * @throws {TypeError} When `prelogits` is not a Matrix.
 * @example
 * ```ts
 * import { prelogitsNormLoss } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const x = { rows: 1, cols: 2, data: new Float32Array([3, -4]) };
 * const { loss } = prelogitsNormLoss(x, 2);
 * assert.ok(Math.abs(loss - Math.hypot(3.0001, 4.0001)) < 1e-12);
 * ```
 *
 * @category Losses
 */
export function prelogitsNormLoss(prelogits: Matrix, p: number): LossAndGradient {
  checkMatrix(prelogits, "Prelogits");
  if (!(p >= 1) || !Number.isFinite(p)) {
    throw new RangeError(`Norm order p must be a finite number >= 1, got ${p}`);
  }
  const { rows, cols, data } = prelogits;
  if (rows === 0 || cols === 0) {
    throw new RangeError(`Prelogits norm loss needs a non-empty matrix, got ${rows}x${cols}`);
  }
  checkFinite(data, "Prelogits", cols);
  const eps = 1e-4;
  const grad = new Float32Array(data.length);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    let sum = 0;
    for (let k = 0; k < cols; k++) sum += (Math.abs(data[off + k] as number) + eps) ** p;
    const norm = sum ** (1 / p);
    total += norm;
    for (let k = 0; k < cols; k++) {
      const v = data[off + k] as number;
      grad[off + k] = (Math.sign(v) * ((Math.abs(v) + eps) / norm) ** (p - 1)) / rows;
    }
  }
  return { loss: total / rows, gradient: { rows, cols, data: grad } };
}
