/**
 * Distances between embedding rows and L2 normalization with its
 * vector-Jacobian product. All sums are accumulated in float64 and rounded to
 * float32 once, when stored.
 *
 * @module
 */

import type { Matrix } from "../types.ts";
import { checkMatrix } from "./_matrix.ts";

/**
 * Squared euclidean distance between row `i` of `a` and row `j` of `b`,
 * accumulated in float64.
 *
 * @param a The first matrix.
 * @param i A row of `a`.
 * @param b The second matrix (same number of columns).
 * @param j A row of `b`.
 * @returns `sum_k (a[i,k] - b[j,k])^2` as a float64.
 * @throws {RangeError} When the column counts differ or a row is out of range.
 * @example
 * ```ts
 * import { squaredDistanceRows } from "./distances.ts";
 * import assert from "node:assert/strict";
 *
 * const m = { rows: 2, cols: 2, data: new Float32Array([0, 0, 3, 4]) };
 * assert.equal(squaredDistanceRows(m, 0, m, 1), 25);
 * ```
 */
export function squaredDistanceRows(a: Matrix, i: number, b: Matrix, j: number): number {
  if (a.cols !== b.cols) {
    throw new RangeError(`Column counts differ: ${a.cols} and ${b.cols}`);
  }
  if (!Number.isInteger(i) || i < 0 || i >= a.rows) {
    throw new RangeError(`Row ${i} is out of range for ${a.rows} rows`);
  }
  if (!Number.isInteger(j) || j < 0 || j >= b.rows) {
    throw new RangeError(`Row ${j} is out of range for ${b.rows} rows`);
  }
  return rowDistance(a.data, i * a.cols, b.data, j * b.cols, a.cols);
}

function rowDistance(
  a: Float32Array,
  offA: number,
  b: Float32Array,
  offB: number,
  cols: number,
): number {
  let s = 0;
  for (let k = 0; k < cols; k++) {
    const d = (a[offA + k] as number) - (b[offB + k] as number);
    s += d * d;
  }
  return s;
}

/**
 * The matrix of squared euclidean distances between all rows of `x`,
 * computed from differences (not from `|a|^2 + |b|^2 - 2ab`), so it is
 * exactly symmetric, non-negative, and exactly 0 on the diagonal.
 *
 * @param x An `n x d` matrix.
 * @returns An `n x n` matrix with `out[i,j] = sum_k (x[i,k] - x[j,k])^2`.
 * @throws {TypeError} When `x` is not a Matrix.
 * @throws {RangeError} When `x.data` does not match its shape.
 * @example
 * ```ts
 * import { pairwiseSquaredDistances } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const x = { rows: 2, cols: 2, data: new Float32Array([0, 0, 3, 4]) };
 * assert.deepEqual([...pairwiseSquaredDistances(x).data], [0, 25, 25, 0]);
 * ```
 *
 * @category Triplet loss
 */
export function pairwiseSquaredDistances(x: Matrix): Matrix {
  checkMatrix(x, "Embeddings");
  const n = x.rows;
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = rowDistance(x.data, i * x.cols, x.data, j * x.cols, x.cols);
      out[i * n + j] = d;
      out[j * n + i] = d;
    }
  }
  return { rows: n, cols: n, data: out };
}

/**
 * Normalizes each row to unit L2 norm like `tf.nn.l2_normalize(x, axis=1,
 * epsilon)`: `x / sqrt(max(sum(x^2), epsilon))` (so rows with
 * `sum(x^2) < epsilon` are divided by `sqrt(epsilon)` instead).
 *
 * @param x An `n x d` matrix.
 * @param epsilon The lower bound on the squared norm (default 1e-10, the reference
 * implementation's).
 * @returns The normalized matrix.
 * @throws {TypeError} When `x` is not a Matrix.
 * @throws {RangeError} When `x.data` does not match its shape or `epsilon <= 0`.
 * @example
 * ```ts
 * import { l2Normalize } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const x = { rows: 1, cols: 2, data: new Float32Array([3, 4]) };
 * assert.deepEqual([...l2Normalize(x).data], [Math.fround(0.6), Math.fround(0.8)]);
 * ```
 *
 * @category Triplet loss
 */
export function l2Normalize(x: Matrix, epsilon = 1e-10): Matrix {
  checkMatrix(x, "Input");
  checkEpsilon(epsilon);
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < x.rows; i++) {
    const off = i * x.cols;
    const inv = 1 / Math.sqrt(Math.max(rowSquaredNorm(x.data, off, x.cols), epsilon));
    for (let k = 0; k < x.cols; k++) {
      out[off + k] = (x.data[off + k] as number) * inv;
    }
  }
  return { rows: x.rows, cols: x.cols, data: out };
}

/**
 * The vector-Jacobian product of {@link l2Normalize}: given upstream
 * gradients `dy` of `y = l2Normalize(x)`, returns `dx`. Per row with
 * `s = sum(x^2)`: when `s >= epsilon` (TF's `maximum` passes the gradient to
 * its first input on ties), `dx = (dy - y * (y . dy)) / sqrt(s)`; when
 * `s < epsilon` the norm is the constant `sqrt(epsilon)` and
 * `dx = dy / sqrt(epsilon)`.
 *
 * @param x The input of the normalization, `n x d`.
 * @param dy The upstream gradient, `n x d`.
 * @param epsilon The same epsilon as in the forward pass (default 1e-10).
 * @returns The gradient with respect to `x`.
 * @throws {TypeError} When an argument is not a Matrix.
 * @throws {RangeError} When the shapes differ or `epsilon <= 0`.
 * @example
 * ```ts
 * import { l2NormalizeVjp } from "./distances.ts";
 * import assert from "node:assert/strict";
 *
 * // A gradient along the row itself is annihilated.
 * const x = { rows: 1, cols: 2, data: new Float32Array([3, 4]) };
 * const dx = l2NormalizeVjp(x, x);
 * assert.ok(Math.abs(dx.data[0]!) < 1e-7 && Math.abs(dx.data[1]!) < 1e-7);
 * ```
 */
export function l2NormalizeVjp(x: Matrix, dy: Matrix, epsilon = 1e-10): Matrix {
  checkMatrix(x, "Input");
  checkMatrix(dy, "Upstream gradient");
  checkEpsilon(epsilon);
  if (x.rows !== dy.rows || x.cols !== dy.cols) {
    throw new RangeError(
      `Upstream gradient shape ${dy.rows}x${dy.cols} does not match input ${x.rows}x${x.cols}`,
    );
  }
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < x.rows; i++) {
    const off = i * x.cols;
    const s = rowSquaredNorm(x.data, off, x.cols);
    if (s >= epsilon) {
      const norm = Math.sqrt(s);
      let dot = 0;
      for (let k = 0; k < x.cols; k++) {
        dot += (x.data[off + k] as number) * (dy.data[off + k] as number);
      }
      // dx = dy / |x| - x (x . dy) / |x|^3
      const c = dot / (s * norm);
      for (let k = 0; k < x.cols; k++) {
        out[off + k] = (dy.data[off + k] as number) / norm - (x.data[off + k] as number) * c;
      }
    } else {
      const inv = 1 / Math.sqrt(epsilon);
      for (let k = 0; k < x.cols; k++) {
        out[off + k] = (dy.data[off + k] as number) * inv;
      }
    }
  }
  return { rows: x.rows, cols: x.cols, data: out };
}

function rowSquaredNorm(data: Float32Array, off: number, cols: number): number {
  let s = 0;
  for (let k = 0; k < cols; k++) {
    const v = data[off + k] as number;
    s += v * v;
  }
  return s;
}

function checkEpsilon(epsilon: number): void {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) {
    throw new RangeError(`Epsilon must be a positive finite number, got ${epsilon}`);
  }
}
