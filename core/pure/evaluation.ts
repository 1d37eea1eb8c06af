/**
 * The LFW verification protocol of the reference implementation (`lfw.evaluate`,
 * `validate_on_lfw`), pure: pair distances, k-fold accuracy with the
 * threshold chosen on the training folds, the averaged ROC, VAL@FAR, AUC and
 * EER, and the reference implementation's report lines.
 *
 * Differences from the reference implementation, each deliberate:
 * - Distances are accumulated in float64 from the float32 embeddings (the
 *   reference implementation sums in float32).
 * - Zero denominators give 0: TPR/FPR as in the reference implementation, and also VAL and FAR
 *   (the reference implementation divided by zero there when a fold lacked a kind of pair).
 * - VAL@FAR interpolation keeps, for each distinct training FAR value, the
 *   first (smallest) threshold reaching it before interpolating threshold
 *   against FAR linearly; the reference implementation's `interp1d` call fails on the repeated
 *   FAR values in current SciPy.
 * - The angular metric clamps the cosine similarity to [-1, 1] (the reference implementation
 *   produced NaN for rounding just above 1).
 * - EER is found exactly on the ROC polyline (see {@link equalErrorRate}).
 *
 * @module
 */

import type { Matrix } from "../types.ts";
import { checkMatrix } from "./_matrix.ts";

/**
 * Pair distance metrics: squared euclidean (the reference implementation's 0) or angular `arccos(cos)/pi` (1).
 *
 * @category Evaluation
 */
export type DistanceMetric = "euclidean" | "cosine";

/**
 * Options of {@link evaluate}.
 *
 * @category Evaluation
 */
export interface EvaluateOptions {
  /** Number of contiguous folds (default 10), at least 2 and at most the pair count. */
  readonly nrofFolds?: number;
  /** "euclidean" (squared, the default) or "cosine" (angular distance `arccos(sim) / pi`). */
  readonly distanceMetric?: DistanceMetric;
  /** Subtract the mean of each training fold's embeddings (both sides) first. Default false. */
  readonly subtractMean?: boolean;
  /** The FAR at which VAL is reported (default 1e-3). */
  readonly farTarget?: number;
}

/**
 * The outcome of {@link evaluate}.
 *
 * @category Evaluation
 */
export interface EvaluationReport {
  /** Test-fold accuracy of each fold. */
  readonly accuracy: number[];
  /** Mean of `accuracy`. */
  readonly accuracyMean: number;
  /** Population standard deviation of `accuracy` (numpy's default). */
  readonly accuracyStd: number;
  /** The accuracy threshold chosen on each fold's training set. */
  readonly thresholdsChosen: number[];
  /** The ROC thresholds (0 to 3.99 in steps of 0.01). */
  readonly thresholds: Float64Array;
  /** True positive rate per ROC threshold, averaged over the test folds. */
  readonly tpr: Float64Array;
  /** False positive rate per ROC threshold, averaged over the test folds. */
  readonly fpr: Float64Array;
  /** Mean validation rate (TA / same pairs) at the interpolated FAR threshold. */
  readonly val: number;
  /** Population standard deviation of the per-fold validation rates. */
  readonly valStd: number;
  /** Mean false accept rate at those thresholds. */
  readonly far: number;
  /** The VAL threshold interpolated on each fold's training set. */
  readonly valThresholds: number[];
  /** The FAR target used. */
  readonly farTarget: number;
  /** Area under the averaged ROC (trapezoids over its points, as sklearn's `auc`). */
  readonly auc: number;
  /** Equal error rate on the averaged ROC. */
  readonly eer: number;
}

/**
 * The reference implementation's accuracy/ROC thresholds: `i * 0.01` for `i = 0 .. 399` (numpy's
 * `arange(0, 4, 0.01)`).
 *
 * @example
 * ```ts
 * import { ROC_THRESHOLDS } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.equal(ROC_THRESHOLDS.length, 400);
 * assert.equal(ROC_THRESHOLDS[0], 0);
 * assert.ok(Math.abs(ROC_THRESHOLDS[399]! - 3.99) < 1e-12);
 * ```
 *
 * @category Evaluation
 */
export const ROC_THRESHOLDS: Float64Array = Float64Array.from({ length: 400 }, (_, i) => i * 0.01);

/**
 * The reference implementation's VAL thresholds: `i * 0.001` for `i = 0 .. 3999`.
 *
 * @example
 * ```ts
 * import { VAL_THRESHOLDS } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.equal(VAL_THRESHOLDS.length, 4000);
 * assert.ok(Math.abs(VAL_THRESHOLDS[1000]! - 1) < 1e-12);
 * assert.ok(VAL_THRESHOLDS.every((t, i) => i === 0 || t > VAL_THRESHOLDS[i - 1]!));
 * ```
 *
 * @category Evaluation
 */
export const VAL_THRESHOLDS: Float64Array = Float64Array.from(
  { length: 4000 },
  (_, i) => i * 0.001,
);

function checkFiniteMatrix(x: Matrix, name: string): void {
  checkMatrix(x, name);
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i] as number;
    if (!Number.isFinite(v)) {
      throw new RangeError(
        `${name} contain ${v} at row ${Math.floor(i / x.cols)}, column ${i % x.cols}`,
      );
    }
  }
}

function checkPairs(e1: Matrix, e2: Matrix): void {
  checkFiniteMatrix(e1, "Embeddings1");
  checkFiniteMatrix(e2, "Embeddings2");
  if (e1.rows !== e2.rows || e1.cols !== e2.cols) {
    throw new RangeError(
      `Embeddings1 is ${e1.rows}x${e1.cols} but embeddings2 is ${e2.rows}x${e2.cols}`,
    );
  }
}

function pairDistances(
  e1: Matrix,
  e2: Matrix,
  metric: DistanceMetric,
  mean: Float64Array | null,
): Float64Array {
  const { rows, cols } = e1;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    if (metric === "euclidean") {
      let s = 0;
      for (let k = 0; k < cols; k++) {
        // The mean cancels mathematically; it is subtracted anyway, in the reference
        // implementation's order.
        const a = (e1.data[off + k] as number) - (mean === null ? 0 : mean[k] as number);
        const b = (e2.data[off + k] as number) - (mean === null ? 0 : mean[k] as number);
        s += (a - b) * (a - b);
      }
      out[i] = s;
    } else {
      let dot = 0;
      let n1 = 0;
      let n2 = 0;
      for (let k = 0; k < cols; k++) {
        const a = (e1.data[off + k] as number) - (mean === null ? 0 : mean[k] as number);
        const b = (e2.data[off + k] as number) - (mean === null ? 0 : mean[k] as number);
        dot += a * b;
        n1 += a * a;
        n2 += b * b;
      }
      const norm = Math.sqrt(n1) * Math.sqrt(n2);
      const sim = norm > 0 ? Math.min(1, Math.max(-1, dot / norm)) : 0;
      out[i] = Math.acos(sim) / Math.PI;
    }
  }
  return out;
}

/**
 * Distance of each pair of rows: squared euclidean `sum((e1 - e2)^2)` or
 * angular `arccos(cos_sim) / pi` (cosine similarity clamped to [-1, 1]; a
 * zero row gives similarity 0, distance 0.5). Accumulated in float64.
 *
 * @param embeddings1 The first embedding of each pair, `n x d`.
 * @param embeddings2 The second embedding of each pair, `n x d`.
 * @param metric "euclidean" (default) or "cosine".
 * @returns The `n` distances.
 * @throws {RangeError} On mismatched shapes or non-finite values.
 * @throws {TypeError} When an argument is not a Matrix.
 * @example
 * ```ts
 * import { distance } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const e1 = { rows: 1, cols: 2, data: new Float32Array([1, 0]) };
 * const e2 = { rows: 1, cols: 2, data: new Float32Array([0, 1]) };
 * assert.deepEqual([...distance(e1, e2)], [2]);
 * assert.deepEqual([...distance(e1, e2, "cosine")], [0.5]);
 * ```
 *
 * @category Evaluation
 */
export function distance(
  embeddings1: Matrix,
  embeddings2: Matrix,
  metric: DistanceMetric = "euclidean",
): Float64Array {
  checkPairs(embeddings1, embeddings2);
  checkMetric(metric);
  return pairDistances(embeddings1, embeddings2, metric, null);
}

function checkMetric(metric: string): void {
  if (metric !== "euclidean" && metric !== "cosine") {
    throw new RangeError(`Distance metric must be "euclidean" or "cosine", got "${metric}"`);
  }
}

/**
 * One fold: the pair indices of its test block `[testStart, testEnd)`; the rest train.
 *
 * @category Evaluation
 */
export interface Fold {
  /** First test pair. */
  readonly testStart: number;
  /** One past the last test pair. */
  readonly testEnd: number;
}

/**
 * Contiguous folds like sklearn's `KFold(n_splits, shuffle=False)`: the first
 * `n % k` folds get `floor(n / k) + 1` pairs, the others `floor(n / k)`.
 *
 * @param n The number of pairs.
 * @param k The number of folds, an integer in [2, n].
 * @returns The `k` test blocks in order.
 * @throws {RangeError} When `k` is not an integer in [2, n].
 * @example
 * ```ts
 * import { kFoldSplits } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(kFoldSplits(7, 3), [
 *   { testStart: 0, testEnd: 3 },
 *   { testStart: 3, testEnd: 5 },
 *   { testStart: 5, testEnd: 7 },
 * ]);
 * ```
 *
 * @category Evaluation
 */
export function kFoldSplits(n: number, k: number): Fold[] {
  if (!Number.isSafeInteger(k) || k < 2) {
    throw new RangeError(`Number of folds must be an integer >= 2, got ${k}`);
  }
  if (!Number.isSafeInteger(n) || k > n) {
    throw new RangeError(`Cannot split ${n} pairs into ${k} folds: more folds than pairs`);
  }
  const base = Math.floor(n / k);
  const extra = n % k;
  const folds: Fold[] = [];
  let start = 0;
  for (let f = 0; f < k; f++) {
    const size = base + (f < extra ? 1 : 0);
    folds.push({ testStart: start, testEnd: start + size });
    start += size;
  }
  return folds;
}

/** Sorted distances of the same and of the different pairs of a set of pair indices. */
interface SplitDistances {
  readonly same: Float64Array;
  readonly diff: Float64Array;
}

function splitSorted(
  dist: Float64Array,
  actualIsSame: readonly boolean[],
  include: (i: number) => boolean,
): SplitDistances {
  const same: number[] = [];
  const diff: number[] = [];
  for (let i = 0; i < dist.length; i++) {
    if (!include(i)) continue;
    (actualIsSame[i] ? same : diff).push(dist[i] as number);
  }
  return {
    same: Float64Array.from(same).sort(),
    diff: Float64Array.from(diff).sort(),
  };
}

/** For ascending thresholds, how many sorted values are strictly below each. */
function countsBelow(sorted: Float64Array, thresholds: Float64Array): Int32Array {
  const out = new Int32Array(thresholds.length);
  let j = 0;
  for (let t = 0; t < thresholds.length; t++) {
    const th = thresholds[t] as number;
    while (j < sorted.length && (sorted[j] as number) < th) j++;
    out[t] = j;
  }
  return out;
}

function countBelow(sorted: Float64Array, threshold: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < threshold) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

function meanOf(xs: readonly number[]): number {
  return xs.reduce((s, v) => s + v, 0) / xs.length;
}

function populationStd(xs: readonly number[]): number {
  const m = meanOf(xs);
  return Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / xs.length);
}

function checkEvaluateInput(
  e1: Matrix,
  e2: Matrix,
  actualIsSame: readonly boolean[],
  options: EvaluateOptions,
): { folds: Fold[]; metric: DistanceMetric } {
  checkPairs(e1, e2);
  if (!Array.isArray(actualIsSame)) {
    throw new TypeError("actualIsSame must be an array of booleans");
  }
  if (actualIsSame.length !== e1.rows) {
    throw new RangeError(
      `actualIsSame has ${actualIsSame.length} labels but there are ${e1.rows} pairs`,
    );
  }
  const metric = options.distanceMetric ?? "euclidean";
  checkMetric(metric);
  const folds = kFoldSplits(e1.rows, options.nrofFolds ?? 10);
  return { folds, metric };
}

function foldDistances(
  e1: Matrix,
  e2: Matrix,
  fold: Fold,
  metric: DistanceMetric,
  subtractMean: boolean,
  cache: { dist: Float64Array | null },
): Float64Array {
  if (!subtractMean) {
    cache.dist ??= pairDistances(e1, e2, metric, null);
    return cache.dist;
  }
  const mean = new Float64Array(e1.cols);
  let count = 0;
  for (let i = 0; i < e1.rows; i++) {
    if (i >= fold.testStart && i < fold.testEnd) continue;
    for (let k = 0; k < e1.cols; k++) {
      mean[k] = (mean[k] as number) + (e1.data[i * e1.cols + k] as number) +
        (e2.data[i * e2.cols + k] as number);
    }
    count += 2;
  }
  for (let k = 0; k < e1.cols; k++) mean[k] = (mean[k] as number) / count;
  return pairDistances(e1, e2, metric, mean);
}

/**
 * The ROC part of the protocol (the reference implementation's `calculate_roc`).
 *
 * @category Evaluation
 */
export interface RocResult {
  /** Averaged TPR per threshold. */
  readonly tpr: Float64Array;
  /** Averaged FPR per threshold. */
  readonly fpr: Float64Array;
  /** Test-fold accuracy per fold. */
  readonly accuracy: number[];
  /** Threshold chosen on each training set (first best on ties). */
  readonly thresholdsChosen: number[];
}

/**
 * The reference implementation's `calculate_roc`: for each fold, pick the threshold with the best
 * training accuracy (the first on ties; "same" is predicted when
 * `dist < threshold`), report its test accuracy, and compute TPR/FPR per
 * threshold on the test fold (0 where a denominator is 0); TPR/FPR are
 * averaged over folds.
 *
 * @param thresholds Ascending thresholds.
 * @param embeddings1 First embeddings of the pairs.
 * @param embeddings2 Second embeddings of the pairs.
 * @param actualIsSame Whether each pair is of one identity.
 * @param options `nrofFolds`, `distanceMetric`, `subtractMean`.
 * @returns Averaged TPR/FPR, per-fold accuracy and chosen thresholds.
 * @throws {RangeError} On mismatched lengths, bad fold counts, non-finite
 *   values, or thresholds that are not ascending.
 * @throws {TypeError} When an argument has the wrong type.
 * @example
 * ```ts
 * import { calculateRoc } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const e1 = { rows: 2, cols: 1, data: new Float32Array([0, 0]) };
 * const e2 = { rows: 2, cols: 1, data: new Float32Array([0.1, 1]) };
 * const roc = calculateRoc(new Float64Array([0, 0.5]), e1, e2, [true, false], { nrofFolds: 2 });
 * assert.deepEqual([...roc.tpr], [0, 0.5]);
 * ```
 *
 * @category Evaluation
 */
export function calculateRoc(
  thresholds: Float64Array,
  embeddings1: Matrix,
  embeddings2: Matrix,
  actualIsSame: readonly boolean[],
  options: Omit<EvaluateOptions, "farTarget"> = {},
): RocResult {
  const { folds, metric } = checkEvaluateInput(embeddings1, embeddings2, actualIsSame, options);
  checkThresholds(thresholds);
  const nt = thresholds.length;
  const tpr = new Float64Array(nt);
  const fpr = new Float64Array(nt);
  const accuracy: number[] = [];
  const thresholdsChosen: number[] = [];
  const cache = { dist: null as Float64Array | null };
  for (const fold of folds) {
    const dist = foldDistances(
      embeddings1,
      embeddings2,
      fold,
      metric,
      options.subtractMean === true,
      cache,
    );
    const inTest = (i: number) => i >= fold.testStart && i < fold.testEnd;
    const train = splitSorted(dist, actualIsSame, (i) => !inTest(i));
    const test = splitSorted(dist, actualIsSame, inTest);
    const trainTp = countsBelow(train.same, thresholds);
    const trainFp = countsBelow(train.diff, thresholds);
    let best = 0;
    let bestCorrect = -1;
    for (let t = 0; t < nt; t++) {
      // correct = tp + tn = tp + (diff - fp); the first maximum wins.
      const correct = (trainTp[t] as number) + train.diff.length - (trainFp[t] as number);
      if (correct > bestCorrect) {
        bestCorrect = correct;
        best = t;
      }
    }
    const testTp = countsBelow(test.same, thresholds);
    const testFp = countsBelow(test.diff, thresholds);
    for (let t = 0; t < nt; t++) {
      tpr[t] = (tpr[t] as number) + ratio(testTp[t] as number, test.same.length);
      fpr[t] = (fpr[t] as number) + ratio(testFp[t] as number, test.diff.length);
    }
    const testSize = test.same.length + test.diff.length;
    accuracy.push(
      ((testTp[best] as number) + test.diff.length - (testFp[best] as number)) / testSize,
    );
    thresholdsChosen.push(thresholds[best] as number);
  }
  for (let t = 0; t < nt; t++) {
    tpr[t] = (tpr[t] as number) / folds.length;
    fpr[t] = (fpr[t] as number) / folds.length;
  }
  return { tpr, fpr, accuracy, thresholdsChosen };
}

function checkThresholds(thresholds: Float64Array): void {
  if (!(thresholds instanceof Float64Array) || thresholds.length === 0) {
    throw new TypeError("Thresholds must be a non-empty Float64Array");
  }
  for (let i = 0; i < thresholds.length; i++) {
    const t = thresholds[i] as number;
    if (!Number.isFinite(t) || (i > 0 && t < (thresholds[i - 1] as number))) {
      throw new RangeError(`Thresholds must be finite and ascending; entry ${i} is ${t}`);
    }
  }
}

/**
 * The VAL@FAR part of the protocol (the reference implementation's `calculate_val`).
 *
 * @category Evaluation
 */
export interface ValResult {
  /** Mean validation rate over folds. */
  readonly val: number;
  /** Population standard deviation of the per-fold validation rates. */
  readonly valStd: number;
  /** Mean false accept rate over folds. */
  readonly far: number;
  /** The interpolated threshold of each fold. */
  readonly thresholds: number[];
}

/**
 * The threshold at which a training set reaches `farTarget`: FAR is computed
 * for every threshold; if its maximum is below the target the threshold is 0
 * (the reference implementation's rule). Otherwise, for each distinct FAR value only the first
 * (smallest) threshold reaching it is kept, and the threshold is the linear
 * interpolation of threshold against FAR at `farTarget`.
 *
 * @param thresholds Ascending thresholds.
 * @param far The training FAR at each threshold (non-decreasing).
 * @param farTarget The target FAR.
 * @returns The interpolated threshold.
 * @throws {RangeError} When the lengths differ or are zero.
 * @example
 * ```ts
 * import { interpolateFarThreshold } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * // FAR 0 at 0 and 0.1, 0.5 from 0.2 on: keep (0, 0) and (0.5, 0.2).
 * const t = interpolateFarThreshold(
 *   new Float64Array([0, 0.1, 0.2, 0.3]),
 *   new Float64Array([0, 0, 0.5, 0.5]),
 *   0.25,
 * );
 * assert.equal(t, 0.1);
 * ```
 *
 * @category Evaluation
 */
export function interpolateFarThreshold(
  thresholds: Float64Array,
  far: Float64Array,
  farTarget: number,
): number {
  if (thresholds.length !== far.length || far.length === 0) {
    throw new RangeError(
      `Expected as many FAR values as thresholds (>0), got ${far.length} and ${thresholds.length}`,
    );
  }
  let max = -Infinity;
  for (const f of far) max = Math.max(max, f);
  if (!(max >= farTarget)) return 0;
  // Distinct FAR values with their first threshold, in ascending FAR order.
  const order = Array.from(far.keys()).sort((a, b) =>
    (far[a] as number) - (far[b] as number) || a - b
  );
  const xs: number[] = [];
  const ys: number[] = [];
  for (const i of order) {
    const f = far[i] as number;
    if (xs.length > 0 && xs[xs.length - 1] === f) continue;
    xs.push(f);
    ys.push(thresholds[i] as number);
  }
  if (farTarget <= (xs[0] as number)) {
    // Below the smallest FAR: interp1d would refuse; the reference implementation only asks within
    // range.
    return ys[0] as number;
  }
  for (let j = 1; j < xs.length; j++) {
    const x1 = xs[j] as number;
    if (farTarget === x1) return ys[j] as number;
    if (farTarget < x1) {
      const x0 = xs[j - 1] as number;
      const y0 = ys[j - 1] as number;
      const y1 = ys[j] as number;
      return y0 + ((y1 - y0) * (farTarget - x0)) / (x1 - x0);
    }
  }
  return ys[ys.length - 1] as number;
}

/**
 * The reference implementation's `calculate_val`: per fold, the threshold reaching `farTarget` on
 * the training set ({@link interpolateFarThreshold}), then VAL = TA / same
 * pairs and FAR = FA / different pairs on the test fold (0 when a
 * denominator is 0); mean VAL, its population std, mean FAR.
 *
 * @param thresholds Ascending thresholds (the reference implementation: {@link VAL_THRESHOLDS}).
 * @param embeddings1 First embeddings of the pairs.
 * @param embeddings2 Second embeddings of the pairs.
 * @param actualIsSame Whether each pair is of one identity.
 * @param farTarget The target FAR, a number in (0, 1].
 * @param options `nrofFolds`, `distanceMetric`, `subtractMean`.
 * @returns VAL mean and std, FAR mean, and the per-fold thresholds.
 * @throws {RangeError} On mismatched lengths, bad fold counts, non-finite
 *   values, or a FAR target outside (0, 1].
 * @throws {TypeError} When an argument has the wrong type.
 * @example
 * ```ts
 * import { calculateVal } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const e1 = { rows: 4, cols: 1, data: new Float32Array([0, 0, 0, 0]) };
 * const e2 = { rows: 4, cols: 1, data: new Float32Array([0.1, 1, 0.1, 1]) };
 * const r = calculateVal(new Float64Array([0, 0.5, 1.5]), e1, e2, [true, false, true, false], 0.5, {
 *   nrofFolds: 2,
 * });
 * assert.equal(r.val, 1);
 * ```
 *
 * @category Evaluation
 */
export function calculateVal(
  thresholds: Float64Array,
  embeddings1: Matrix,
  embeddings2: Matrix,
  actualIsSame: readonly boolean[],
  farTarget: number,
  options: Omit<EvaluateOptions, "farTarget"> = {},
): ValResult {
  const { folds, metric } = checkEvaluateInput(embeddings1, embeddings2, actualIsSame, options);
  checkThresholds(thresholds);
  if (!(farTarget > 0 && farTarget <= 1)) {
    throw new RangeError(`FAR target must be in (0, 1], got ${farTarget}`);
  }
  const vals: number[] = [];
  const fars: number[] = [];
  const chosen: number[] = [];
  const cache = { dist: null as Float64Array | null };
  for (const fold of folds) {
    const dist = foldDistances(
      embeddings1,
      embeddings2,
      fold,
      metric,
      options.subtractMean === true,
      cache,
    );
    const inTest = (i: number) => i >= fold.testStart && i < fold.testEnd;
    const train = splitSorted(dist, actualIsSame, (i) => !inTest(i));
    const test = splitSorted(dist, actualIsSame, inTest);
    const fa = countsBelow(train.diff, thresholds);
    const farTrain = Float64Array.from(fa, (c) => ratio(c, train.diff.length));
    const threshold = interpolateFarThreshold(thresholds, farTrain, farTarget);
    chosen.push(threshold);
    vals.push(ratio(countBelow(test.same, threshold), test.same.length));
    fars.push(ratio(countBelow(test.diff, threshold), test.diff.length));
  }
  return { val: meanOf(vals), valStd: populationStd(vals), far: meanOf(fars), thresholds: chosen };
}

/**
 * Area under a curve by trapezoids over its points in the given order, as
 * sklearn's `metrics.auc` (the reference implementation's AUC): no end points are added.
 *
 * @param fpr The x values (monotonic).
 * @param tpr The y values.
 * @returns The area (negated direction is corrected for decreasing x).
 * @throws {RangeError} When the lengths differ or x is not monotonic.
 * @example
 * ```ts
 * import { areaUnderCurve } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.equal(areaUnderCurve(new Float64Array([0, 0, 1]), new Float64Array([0, 1, 1])), 1);
 * ```
 *
 * @category Evaluation
 */
export function areaUnderCurve(fpr: Float64Array, tpr: Float64Array): number {
  if (fpr.length !== tpr.length) {
    throw new RangeError(`FPR has ${fpr.length} points but TPR has ${tpr.length}`);
  }
  let increasing = true;
  let decreasing = true;
  for (let i = 1; i < fpr.length; i++) {
    const dx = (fpr[i] as number) - (fpr[i - 1] as number);
    if (dx < 0) increasing = false;
    if (dx > 0) decreasing = false;
  }
  if (!increasing && !decreasing) {
    throw new RangeError("FPR must be monotonic to integrate the curve");
  }
  let area = 0;
  for (let i = 1; i < fpr.length; i++) {
    area += ((fpr[i] as number) - (fpr[i - 1] as number)) *
      ((tpr[i] as number) + (tpr[i - 1] as number)) / 2;
  }
  return increasing ? area : -area;
}

/**
 * The equal error rate: the `x` with `1 - x = TPR(FPR = x)` on the ROC. The
 * ROC is taken as the polyline through its points in threshold order (FPR
 * and TPR non-decreasing), closed with (1, 1) if it does not end there; along
 * it `fpr + tpr - 1` never decreases, so the first segment where it reaches 0
 * holds the root, which is computed exactly by linear interpolation on that
 * segment (what the reference implementation's `brentq` on `interp1d` converges to, without its
 * failures on repeated FPR values). Returns the FPR at the crossing.
 *
 * @param fpr FPR per threshold, non-decreasing.
 * @param tpr TPR per threshold, non-decreasing.
 * @returns The EER.
 * @throws {RangeError} When the lengths differ or are zero.
 * @example
 * ```ts
 * import { equalErrorRate } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.equal(equalErrorRate(new Float64Array([0, 0.2, 1]), new Float64Array([0, 0.8, 1])), 0.2);
 * ```
 *
 * @category Evaluation
 */
export function equalErrorRate(fpr: Float64Array, tpr: Float64Array): number {
  if (fpr.length !== tpr.length || fpr.length === 0) {
    throw new RangeError(
      `FPR and TPR must have the same non-zero length, got ${fpr.length} and ${tpr.length}`,
    );
  }
  const xs = [0, ...fpr];
  const ys = [0, ...tpr];
  if (xs[xs.length - 1] !== 1 || ys[ys.length - 1] !== 1) {
    xs.push(1);
    ys.push(1);
  }
  for (let i = 1; i < xs.length; i++) {
    const x1 = xs[i] as number;
    const y1 = ys[i] as number;
    const h1 = x1 + y1 - 1;
    if (h1 >= 0) {
      const x0 = xs[i - 1] as number;
      const y0 = ys[i - 1] as number;
      const h0 = x0 + y0 - 1; // < 0: the previous point was below the anti-diagonal
      return x0 + ((x1 - x0) * (0 - h0)) / (h1 - h0);
    }
  }
  return 1;
}

/**
 * The full LFW protocol of the reference implementation: k-fold accuracy with the ROC thresholds
 * {@link ROC_THRESHOLDS}, VAL@FAR with {@link VAL_THRESHOLDS}, AUC and EER of
 * the averaged ROC. Pairs are rows of `embeddings1` against the same rows of
 * `embeddings2` (the reference implementation pairs consecutive embeddings 0::2 and 1::2; see
 * {@link splitConsecutivePairs}).
 *
 * @param embeddings1 First embeddings of the pairs, `n x d`.
 * @param embeddings2 Second embeddings of the pairs, `n x d`.
 * @param actualIsSame Whether each pair is of one identity (`n` entries).
 * @param options `nrofFolds` (10), `distanceMetric` ("euclidean"),
 *   `subtractMean` (false), `farTarget` (1e-3).
 * @returns The report.
 * @throws {RangeError} On mismatched lengths, more folds than pairs, fewer
 *   than 2 folds, non-finite values, or a FAR target outside (0, 1].
 * @throws {TypeError} When an argument has the wrong type.
 * @example
 * ```ts
 * import { evaluate } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * // Same pairs coincide, different pairs are orthogonal unit vectors.
 * const n = 20;
 * const e1 = new Float32Array(2 * n);
 * const e2 = new Float32Array(2 * n);
 * const same: boolean[] = [];
 * for (let i = 0; i < n; i++) {
 *   e1[2 * i] = 1;
 *   if (i % 2 === 0) e2[2 * i] = 1;
 *   else e2[2 * i + 1] = 1;
 *   same.push(i % 2 === 0);
 * }
 * const report = evaluate(
 *   { rows: n, cols: 2, data: e1 },
 *   { rows: n, cols: 2, data: e2 },
 *   same,
 * );
 * assert.equal(report.accuracyMean, 1);
 * assert.equal(report.auc, 1);
 * ```
 *
 * @category Evaluation
 */
export function evaluate(
  embeddings1: Matrix,
  embeddings2: Matrix,
  actualIsSame: readonly boolean[],
  options: EvaluateOptions = {},
): EvaluationReport {
  const farTarget = options.farTarget ?? 1e-3;
  const roc = calculateRoc(ROC_THRESHOLDS, embeddings1, embeddings2, actualIsSame, options);
  const val = calculateVal(
    VAL_THRESHOLDS,
    embeddings1,
    embeddings2,
    actualIsSame,
    farTarget,
    options,
  );
  return {
    accuracy: roc.accuracy,
    accuracyMean: meanOf(roc.accuracy),
    accuracyStd: populationStd(roc.accuracy),
    thresholdsChosen: roc.thresholdsChosen,
    thresholds: ROC_THRESHOLDS.slice(),
    tpr: roc.tpr,
    fpr: roc.fpr,
    val: val.val,
    valStd: val.valStd,
    far: val.far,
    valThresholds: val.thresholds,
    farTarget,
    auc: areaUnderCurve(roc.fpr, roc.tpr),
    eer: equalErrorRate(roc.fpr, roc.tpr),
  };
}

/**
 * Splits consecutive embeddings into pairs the reference implementation's way: rows `0, 2, 4,
 * ...` against rows `1, 3, 5, ...`.
 *
 * @param embeddings `2n x d` embeddings, pair `i` at rows `2i` and `2i + 1`.
 * @returns The two `n x d` sides.
 * @throws {RangeError} When the row count is odd or data does not match the shape.
 * @example
 * ```ts
 * import { splitConsecutivePairs } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = splitConsecutivePairs({ rows: 4, cols: 1, data: new Float32Array([1, 2, 3, 4]) });
 * assert.deepEqual([...a.data], [1, 3]);
 * assert.deepEqual([...b.data], [2, 4]);
 * ```
 *
 * @category Evaluation
 */
export function splitConsecutivePairs(embeddings: Matrix): [Matrix, Matrix] {
  const { rows, cols, data } = embeddings;
  if (data.length !== rows * cols) {
    throw new RangeError(`Embeddings data length ${data.length} does not match ${rows}x${cols}`);
  }
  if (rows % 2 !== 0) {
    throw new RangeError(`Consecutive pairs need an even number of rows, got ${rows}`);
  }
  const n = rows / 2;
  const a = new Float32Array(n * cols);
  const b = new Float32Array(n * cols);
  for (let i = 0; i < n; i++) {
    a.set(data.subarray(2 * i * cols, (2 * i + 1) * cols), i * cols);
    b.set(data.subarray((2 * i + 1) * cols, (2 * i + 2) * cols), i * cols);
  }
  return [{ rows: n, cols, data: a }, { rows: n, cols, data: b }];
}

/**
 * Formats `x` with `digits` decimals the way Python's `%.Nf` does: correctly
 * rounded from the exact binary value, ties to even (JavaScript's `toFixed`
 * rounds exact ties up).
 */
function formatFixed(x: number, digits: number): string {
  const fixed = x.toFixed(digits);
  const exact = Math.abs(x).toFixed(Math.min(100, digits + 40));
  const point = exact.indexOf(".");
  const tail = exact.slice(point + 1 + digits);
  if (!/^50*$/.test(tail)) return fixed;
  // An exact tie: round the truncated value half to even.
  const truncated = exact.slice(0, point + 1 + digits).replace(/\.$/, "");
  const lastDigit = Number(truncated[truncated.length - 1]);
  const down = (x < 0 ? "-" : "") + truncated;
  if (lastDigit % 2 === 0) return down;
  return fixed;
}

/**
 * The reference implementation's report lines for an evaluation:
 * `Accuracy: 0.99650+-0.00252`,
 * `Validation rate: 0.98367+-0.00948 @ FAR=0.00100`,
 * `Area Under Curve (AUC): 1.000`, `Equal Error Rate (EER): 0.004`
 * (Python `%.5f` / `%.3f` rounding).
 *
 * @param report An {@link EvaluationReport}.
 * @returns The four lines joined by newlines.
 * @example
 * ```ts
 * import { type EvaluationReport, formatReport } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const report = {
 *   accuracyMean: 0.9965, accuracyStd: 0.00252, val: 0.98367, valStd: 0.00948,
 *   far: 0.001, auc: 0.9999, eer: 0.004,
 * } as EvaluationReport;
 * assert.equal(
 *   formatReport(report),
 *   "Accuracy: 0.99650+-0.00252\n" +
 *     "Validation rate: 0.98367+-0.00948 @ FAR=0.00100\n" +
 *     "Area Under Curve (AUC): 1.000\n" +
 *     "Equal Error Rate (EER): 0.004",
 * );
 * ```
 *
 * @category Evaluation
 */
export function formatReport(report: EvaluationReport): string {
  return [
    `Accuracy: ${formatFixed(report.accuracyMean, 5)}+-${formatFixed(report.accuracyStd, 5)}`,
    `Validation rate: ${formatFixed(report.val, 5)}+-${formatFixed(report.valStd, 5)} @ FAR=${
      formatFixed(report.far, 5)
    }`,
    `Area Under Curve (AUC): ${formatFixed(report.auc, 3)}`,
    `Equal Error Rate (EER): ${formatFixed(report.eer, 3)}`,
  ].join("\n");
}
