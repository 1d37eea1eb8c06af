/**
 * Principal component analysis of embeddings, pure and deterministic: the
 * 2-D map of a validation set in the training report.
 *
 * The covariance is accumulated in float64 from the centred rows; its leading
 * eigenvectors come from orthogonal (subspace) iteration started from a fixed
 * basis, followed by a Rayleigh-Ritz step (cyclic Jacobi on the small
 * projected matrix), so the same input always gives the same components. Each
 * component's sign is fixed so that its largest-magnitude entry is positive
 * (scikit-learn's `svd_flip` convention does the same on the other factor).
 *
 * @module
 */

import type { Matrix } from "../types.ts";

/**
 * The outcome of {@link pca}.
 *
 * @category Classifier and clustering
 */
export interface PcaResult {
  /** The `k x d` principal axes, unit rows, in order of decreasing variance. */
  readonly components: Matrix;
  /** The `n x k` coordinates of the centred rows on the axes. */
  readonly projection: Matrix;
  /** The variance (denominator `n - 1`) along each axis. */
  readonly explainedVariance: number[];
  /** The total variance of the rows (the trace of the covariance). */
  readonly totalVariance: number;
  /** The `d` column means subtracted before projecting. */
  readonly mean: Float64Array;
}

/**
 * Options of {@link pca}.
 *
 * @category Classifier and clustering
 */
export interface PcaOptions {
  /** Components to keep (default 2, or 1 for one column), at most the column count. */
  readonly components?: number;
  /** Subspace iterations at most (default 500); iteration stops earlier once the axes settle. */
  readonly maxIterations?: number;
}

/**
 * The leading principal components of the rows of `x` and their projection.
 *
 * @param x The `n x d` data (n >= 2).
 * @param options Component count and iteration limit.
 * @returns The axes, the projected rows, and the variance along each axis.
 * @throws {TypeError} When `x` is not a Matrix with Float32Array data.
 * @throws {RangeError} When `x` has fewer than 2 rows, non-finite values, or
 *   the component count is not an integer in `[1, d]`.
 * @example Points spread along the first axis much more than along the second
 * ```ts
 * import { pca } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const x = { rows: 4, cols: 2, data: new Float32Array([-3, 1, 3, -1, -1, -1, 1, 1]) };
 * const { components, explainedVariance } = pca(x, { components: 1 });
 * assert.ok(Math.abs(components.data[0]!) > 0.9); // mostly the first column
 * assert.ok(explainedVariance[0]! > 6);
 * ```
 *
 * @category Classifier and clustering
 */
export function pca(x: Matrix, options: PcaOptions = {}): PcaResult {
  if (typeof x !== "object" || x === null || !(x.data instanceof Float32Array)) {
    throw new TypeError("The data must be a Matrix with Float32Array data");
  }
  const { rows: n, cols: d, data } = x;
  if (data.length !== n * d) {
    throw new RangeError(`Data length ${data.length} does not match ${n}x${d}`);
  }
  if (n < 2) throw new RangeError(`PCA needs at least 2 rows, got ${n}`);
  const k = options.components ?? Math.min(2, d);
  if (!Number.isInteger(k) || k < 1 || k > d) {
    throw new RangeError(`Component count must be an integer in [1, ${d}], got ${k}`);
  }
  const maxIterations = options.maxIterations ?? 500;
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new RangeError(`Max iterations must be a positive integer, got ${maxIterations}`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i] as number)) {
      throw new RangeError(`Data contain ${data[i]} at row ${Math.floor(i / d)}`);
    }
  }

  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) mean[c]! += data[r * d + c]!;
  for (let c = 0; c < d; c++) mean[c]! /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < d; c++) row[c] = data[r * d + c]! - mean[c]!;
    for (let a = 0; a < d; a++) {
      const va = row[a]!;
      if (va === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b]! += va * row[b]!;
    }
  }
  let totalVariance = 0;
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b]! / (n - 1);
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
    totalVariance += cov[a * d + a]!;
  }

  // Orthogonal iteration on p >= k vectors (a few extra speed up convergence).
  const p = Math.min(d, k + 4);
  let q: Float64Array[] = [];
  for (let j = 0; j < p; j++) {
    // A fixed, full-rank start: e_j plus a small deterministic spread over all coordinates.
    const v = new Float64Array(d);
    for (let i = 0; i < d; i++) v[i] = (i === j ? 1 : 0) + 0.01 * Math.cos(1 + i * 0.7 + j * 1.3);
    q.push(v);
  }
  orthonormalize(q);
  for (let it = 0; it < maxIterations; it++) {
    const next = q.map((v) => multiply(cov, v, d));
    orthonormalize(next);
    // Settled when the leading k vectors span the same space (|<q_j, next_j>| ~ 1 after ordering).
    let change = 0;
    for (let j = 0; j < k; j++) {
      let best = 0;
      for (let m = 0; m < p; m++) best = Math.max(best, Math.abs(dot(q[j]!, next[m]!)));
      change = Math.max(change, 1 - best);
    }
    q = next;
    if (change < 1e-13) break;
  }

  // Rayleigh-Ritz: eigen-decompose the p x p matrix Q^T C Q and rotate Q.
  const cq = q.map((v) => multiply(cov, v, d));
  const small = new Float64Array(p * p);
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) small[a * p + b] = dot(q[a]!, cq[b]!);
  }
  const { values, vectors } = jacobiEigen(small, p);
  const order = [...values.keys()].sort((a, b) => values[b]! - values[a]! || a - b);

  const components = new Float32Array(k * d);
  const axes: Float64Array[] = [];
  const explainedVariance: number[] = [];
  for (let j = 0; j < k; j++) {
    const e = order[j]!;
    const axis = new Float64Array(d);
    for (let m = 0; m < p; m++) {
      const w = vectors[m * p + e]!;
      const qm = q[m]!;
      for (let i = 0; i < d; i++) axis[i]! += w * qm[i]!;
    }
    const norm = Math.sqrt(dot(axis, axis));
    let largest = 0;
    for (let i = 0; i < d; i++) {
      axis[i]! /= norm;
      if (Math.abs(axis[i]!) > Math.abs(axis[largest]!)) largest = i;
    }
    if (axis[largest]! < 0) { for (let i = 0; i < d; i++) axis[i] = -axis[i]!; }
    axes.push(axis);
    components.set(axis, j * d);
    explainedVariance.push(Math.max(values[e]!, 0));
  }
  const projection = new Float32Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < k; j++) {
      const axis = axes[j]!;
      let s = 0;
      for (let c = 0; c < d; c++) s += (data[r * d + c]! - mean[c]!) * axis[c]!;
      projection[r * k + j] = s;
    }
  }
  return {
    components: { rows: k, cols: d, data: components },
    projection: { rows: n, cols: k, data: projection },
    explainedVariance,
    totalVariance,
    mean,
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function multiply(m: Float64Array, v: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d);
  for (let a = 0; a < d; a++) {
    let s = 0;
    const base = a * d;
    for (let b = 0; b < d; b++) s += m[base + b]! * v[b]!;
    out[a] = s;
  }
  return out;
}

/**
 * Modified Gram-Schmidt in place, two passes. A vector whose residual is lost in rounding
 * (a rank-deficient covariance) is replaced by the unit axis with the largest residual.
 */
function orthonormalize(vs: Float64Array[]): void {
  const d = vs[0]!.length;
  const project = (v: Float64Array, j: number) => {
    for (let pass = 0; pass < 2; pass++) {
      for (let m = 0; m < j; m++) {
        const u = vs[m]!;
        const s = dot(u, v);
        for (let i = 0; i < d; i++) v[i]! -= s * u[i]!;
      }
    }
  };
  for (let j = 0; j < vs.length; j++) {
    let v = vs[j]!;
    const before = Math.sqrt(dot(v, v));
    project(v, j);
    let norm = Math.sqrt(dot(v, v));
    if (!(norm > 1e-10 * before)) {
      let best: Float64Array | null = null;
      let bestNorm = -1;
      for (let axis = 0; axis < d; axis++) {
        const e = new Float64Array(d);
        e[axis] = 1;
        project(e, j);
        const en = Math.sqrt(dot(e, e));
        if (en > bestNorm) [best, bestNorm] = [e, en];
      }
      v = best as Float64Array;
      norm = bestNorm;
      vs[j] = v;
    }
    for (let i = 0; i < d; i++) v[i]! /= norm;
  }
}

/** Eigenvalues and eigenvectors (columns of `vectors`) of a small symmetric matrix, cyclic Jacobi. */
function jacobiEigen(m: Float64Array, p: number): { values: number[]; vectors: Float64Array } {
  const a = m.slice();
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) off += a[i * p + j]! ** 2;
    if (off < 1e-30) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = a[i * p + j]!;
        if (Math.abs(aij) < 1e-300) continue;
        const theta = (a[j * p + j]! - a[i * p + i]!) / (2 * aij);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < p; r++) {
          const ari = a[r * p + i]!;
          const arj = a[r * p + j]!;
          a[r * p + i] = c * ari - s * arj;
          a[r * p + j] = s * ari + c * arj;
        }
        for (let r = 0; r < p; r++) {
          const air = a[i * p + r]!;
          const ajr = a[j * p + r]!;
          a[i * p + r] = c * air - s * ajr;
          a[j * p + r] = s * air + c * ajr;
        }
        for (let r = 0; r < p; r++) {
          const vri = v[r * p + i]!;
          const vrj = v[r * p + j]!;
          v[r * p + i] = c * vri - s * vrj;
          v[r * p + j] = s * vri + c * vrj;
        }
      }
    }
  }
  const values: number[] = [];
  for (let i = 0; i < p; i++) values.push(a[i * p + i]!);
  return { values, vectors: v };
}
