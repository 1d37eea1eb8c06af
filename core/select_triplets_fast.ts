/**
 * Triplet selection from a Gram matrix, equal to the specification
 * (core/pure/select_triplets.ts): the same triplets in the same order, the
 * same RNG draws and state, margin ties and `maxTriplets` included. Plain
 * JavaScript over typed arrays, for backends whose device is this CPU (tfjs's
 * `cpu` and `wasm` devices): the caller may supply the Gram matrix `X X^T`
 * from a fast kernel, otherwise {@link gramMatrix} computes it here.
 *
 * How it stays exact: the approximate distance `|a|^2 + |r|^2 - 2 a.r` of the
 * Gram matrix differs from the specification's (float64 sums of squared
 * differences, rounded to float32) by at most a proven bound
 * ({@link gramSelectionBand}), so a comparison farther than that from its
 * decision boundary has the specification's outcome. Per anchor the
 * negatives are compacted once (those below the anchor's largest threshold,
 * in row order); per (anchor, positive) pair two counts, the negatives that
 * are surely candidates and those that may be, decide the pair when they
 * agree; otherwise the few negatives inside the band are decided with the
 * specification's own distances.
 *
 * How it is fast: per anchor the compacted distances are grouped into bins
 * (a counting sort) and the positives taken in ascending distance, so their
 * thresholds ascend; a count below a threshold reads one bin, whole bins
 * enter per-block candidate counts once per anchor, and the drawn candidate
 * (the `floor(u * count)`-th in row order) is found by skipping whole blocks
 * of 16. "hard" needs only the two nearest negatives.
 *
 * @module
 */

import type { Matrix, TripletSelection } from "./types.ts";
import { uniforms } from "./pure/rng.ts";
import {
  checkSelectionInputs,
  selectionResult,
  selectTriplets,
  type SelectTripletsLimitOptions,
} from "./pure/select_triplets.ts";

/** Float32's unit roundoff, 2^-24. */
const U32 = 2 ** -24;
/** Float64's unit roundoff, 2^-53. */
const U64 = 2 ** -53;

/**
 * How the entries of a Gram matrix were summed: `"float32"` in float32 (any
 * order, with or without fused multiply-adds: a float32 GEMM kernel),
 * `"float64"` in float64 and rounded to float32 once ({@link gramMatrix}).
 *
 * @category Triplet loss
 */
export type GramAccumulation = "float32" | "float64";

/**
 * A precomputed Gram matrix `X X^T` of the embeddings, row-major `n x n`.
 * Only the rows of anchors are read, each in full.
 *
 * @category Triplet loss
 */
export interface GramInput {
  /** The `n * n` dot products; entry `(a, r)` is row `a`'s dot product with row `r`. */
  readonly data: Float32Array;
  /** How the dot products were summed; it sets the width of the exactness band. */
  readonly accumulation: GramAccumulation;
}

/**
 * Options of {@link selectTripletsFast}: the specification's, plus an
 * optional precomputed Gram matrix.
 *
 * @category Triplet loss
 */
export interface SelectTripletsFastOptions extends SelectTripletsLimitOptions {
  /** The Gram matrix of the embeddings; computed with {@link gramMatrix} when absent. */
  readonly gram?: GramInput;
}

/**
 * The Gram matrix `X X^T` of the rows of `x`, each dot product summed in
 * float64 and rounded to float32 once (4 x 4 blocks of rows over the upper
 * triangle, then mirrored).
 *
 * @param x An `n x d` matrix.
 * @returns The `n * n` dot products, row-major.
 * @throws {TypeError} When `x` is not a Matrix with Float32Array data.
 * @throws {RangeError} When `x.data` does not match its shape.
 * @example
 * ```ts
 * import { gramMatrix } from "./select_triplets_fast.ts";
 * import assert from "node:assert/strict";
 *
 * const x = { rows: 2, cols: 2, data: new Float32Array([1, 2, 3, 4]) };
 * assert.deepEqual([...gramMatrix(x)], [5, 11, 11, 25]);
 * ```
 *
 * @category Triplet loss
 */
export function gramMatrix(x: Matrix): Float32Array {
  if (typeof x !== "object" || x === null || !(x.data instanceof Float32Array)) {
    throw new TypeError("Embeddings must be a Matrix with Float32Array data");
  }
  const { rows: n, cols: d, data } = x;
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(d) || data.length !== n * d) {
    throw new RangeError(`Embeddings data length ${data.length} does not match ${n}x${d}`);
  }
  const g = new Float32Array(n * n);
  const n4 = n - (n % 4);
  for (let i = 0; i < n4; i += 4) {
    gramRows4(data, d, n, i, g);
  }
  for (let i = n4; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += data[i * d + k]! * data[j * d + k]!;
      g[i * n + j] = s;
    }
  }
  // Row i holds the columns from its block's first row on; the rest is the mirror.
  for (let i = 0; i < n; i++) {
    const from = i < n4 ? i - (i % 4) : i;
    for (let j = 0; j < from; j++) g[i * n + j] = g[j * n + i]!;
  }
  return g;
}

/** Rows `i .. i+3` of the Gram matrix, columns `i ..`: 4 x 4 blocks, 16 float64 sums. */
function gramRows4(data: Float32Array, d: number, n: number, i: number, g: Float32Array): void {
  const n4 = n - (n % 4);
  const a0 = i * d, a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
  let j = i;
  for (; j < n4; j += 4) {
    const b0 = j * d, b1 = b0 + d, b2 = b1 + d, b3 = b2 + d;
    let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
    let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
    for (let k = 0; k < d; k++) {
      const x0 = data[a0 + k]!, x1 = data[a1 + k]!, x2 = data[a2 + k]!, x3 = data[a3 + k]!;
      const y0 = data[b0 + k]!, y1 = data[b1 + k]!, y2 = data[b2 + k]!, y3 = data[b3 + k]!;
      s00 += x0 * y0, s01 += x0 * y1, s02 += x0 * y2, s03 += x0 * y3;
      s10 += x1 * y0, s11 += x1 * y1, s12 += x1 * y2, s13 += x1 * y3;
      s20 += x2 * y0, s21 += x2 * y1, s22 += x2 * y2, s23 += x2 * y3;
      s30 += x3 * y0, s31 += x3 * y1, s32 += x3 * y2, s33 += x3 * y3;
    }
    let o = i * n + j;
    g[o] = s00, g[o + 1] = s01, g[o + 2] = s02, g[o + 3] = s03, o += n;
    g[o] = s10, g[o + 1] = s11, g[o + 2] = s12, g[o + 3] = s13, o += n;
    g[o] = s20, g[o + 1] = s21, g[o + 2] = s22, g[o + 3] = s23, o += n;
    g[o] = s30, g[o + 1] = s31, g[o + 2] = s32, g[o + 3] = s33;
  }
  for (; j < n; j++) {
    const b = j * d;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let k = 0; k < d; k++) {
      const y = data[b + k]!;
      s0 += data[a0 + k]! * y, s1 += data[a1 + k]! * y;
      s2 += data[a2 + k]! * y, s3 += data[a3 + k]! * y;
    }
    g[i * n + j] = s0, g[(i + 1) * n + j] = s1, g[(i + 2) * n + j] = s2, g[(i + 3) * n + j] = s3;
  }
}

/**
 * The half-width of the band around a decision boundary inside which
 * {@link selectTripletsFast} decides with the specification's exact
 * distances. For rows of squared norm at most `m` (so every squared distance
 * is at most `4m`), let `e m` bound the error of a Gram entry (`cols u32 /
 * (1 - cols u32)` for float32 sums, `u32 + cols u64` for float64 sums rounded
 * once; `u32 = 2^-24`, `u64 = 2^-53`). The approximate distance
 * `fround(|a|^2 + |r|^2 - 2 g)` (norms summed in float64) then lies within
 * `2 e m + 4 u32 m` of the real distance and the specification's within
 * `4 u32 m` (each plus float64 terms, bounded with room by
 * `8 (cols + 4) u64 m`), so the two differ by at most
 * `E = (2 e + 8 u32 + 8 (cols + 4) u64) m`. A difference of two distances (a
 * margin, or the order of two negatives) moves by at most `2E`; the band is
 * `2E` plus the float64 rounding of the thresholds and an allowance for
 * float32 underflow.
 *
 * @param cols The embedding width (the number of terms of each dot product).
 * @param maxSquaredNorm The largest squared row norm, `m`.
 * @param alpha The margin.
 * @param accumulation How the Gram matrix was summed.
 * @returns The band, in squared-distance units.
 * @throws {RangeError} When a number is negative or not finite, `cols` is too
 *   large for the float32 bound (`cols u32 >= 1/2`), or the accumulation is
 *   unknown.
 * @example
 * ```ts
 * import { gramSelectionBand } from "./select_triplets_fast.ts";
 * import assert from "node:assert/strict";
 *
 * // Unit rows of 128 dimensions: about 3e-5 after a float32 GEMM, 1.2e-6 after float64 sums.
 * assert.ok(gramSelectionBand(128, 1, 0.2, "float32") < 4e-5);
 * assert.ok(gramSelectionBand(128, 1, 0.2, "float64") < 2e-6);
 * ```
 *
 * @category Triplet loss
 */
export function gramSelectionBand(
  cols: number,
  maxSquaredNorm: number,
  alpha: number,
  accumulation: GramAccumulation,
): number {
  for (const [name, v] of [["cols", cols], ["maxSquaredNorm", maxSquaredNorm], ["alpha", alpha]]) {
    if (!(Number(v) >= 0) || !Number.isFinite(v)) {
      throw new RangeError(`${name} must be a non-negative finite number, got ${v}`);
    }
  }
  if (accumulation !== "float32" && accumulation !== "float64") {
    throw new RangeError(`Accumulation must be "float32" or "float64", got ${accumulation}`);
  }
  if (cols * U32 >= 0.5) {
    throw new RangeError(`cols ${cols} is too large for a float32 error bound`);
  }
  const m = maxSquaredNorm;
  const gramError = accumulation === "float32" ? (cols * U32) / (1 - cols * U32) : U32 + cols * U64;
  const distanceDifference = (2 * gramError + 8 * U32 + 8 * (cols + 4) * U64) * m;
  // Float32 subnormals: an absolute error per product, negligible once m >= 1e-18.
  const underflow = (cols + 8) * 2 ** -126;
  return 2 * (distanceDifference + underflow) + 16 * U64 * (4 * m + alpha);
}

/**
 * Selects triplets as the specification's `selectTriplets` does (same
 * triplets, same order, same RNG state, same errors), fast: distances from a
 * Gram matrix, per-pair candidate counts, and the specification's exact
 * distances only inside {@link gramSelectionBand} of a decision boundary.
 * The mean distances are the Gram matrix's: each distance within half of
 * {@link gramSelectionBand} of the specification's.
 * Rows whose largest squared norm lies outside `[1e-18, 1e18]` (float32
 * products could underflow or overflow) run the specification itself.
 *
 * @param embeddings The batch, `n x d`, rows grouped by class.
 * @param numPerClass Consecutive rows per class; sums to `n`.
 * @param options As for the specification's `selectTriplets`, plus `gram`
 *   (which must be the embeddings' Gram matrix, summed as it says).
 * @returns The triplets, pair count, diagnostics and the advanced RNG.
 * @throws {RangeError} As the specification does (non-finite embeddings, bad
 *   alpha, class counts or anchorClasses, an unknown strategy, a batch-all
 *   selection of more than `maxTriplets` triplets), and for a `gram` of the
 *   wrong size.
 * @throws {TypeError} When an RNG is needed but missing, or `gram.data` is not
 *   a Float32Array.
 * @example
 * ```ts
 * import { selectTripletsFast } from "./select_triplets_fast.ts";
 * import { selectTriplets } from "./pure/select_triplets.ts";
 * import { createRng } from "./pure/rng.ts";
 * import assert from "node:assert/strict";
 *
 * const embeddings = { rows: 4, cols: 1, data: new Float32Array([0, 0.1, 0.2, 5]) };
 * const options = { alpha: 0.2, rng: createRng(3) };
 * const fast = selectTripletsFast(embeddings, [2, 2], options);
 * const spec = selectTriplets(embeddings, [2, 2], options);
 * assert.deepEqual(fast.triplets, spec.triplets);
 * assert.deepEqual(fast.rng, spec.rng);
 * ```
 *
 * @category Triplet loss
 */
export function selectTripletsFast(
  embeddings: Matrix,
  numPerClass: readonly number[],
  options: SelectTripletsFastOptions,
): TripletSelection {
  const { strategy, anchorClasses, maxTriplets } = checkSelectionInputs(
    embeddings,
    numPerClass,
    options,
  );
  const { rows: n, cols, data: x } = embeddings;
  const alpha = options.alpha;
  if (options.gram !== undefined) {
    if (!(options.gram.data instanceof Float32Array)) {
      throw new TypeError("gram.data must be a Float32Array");
    }
    if (options.gram.data.length !== n * n) {
      throw new RangeError(
        `gram.data has ${options.gram.data.length} values, expected ${n * n} for ${n} rows`,
      );
    }
  }

  const norms = new Float64Array(n);
  let maxNorm = 0;
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let k = r * cols; k < (r + 1) * cols; k++) s += x[k]! * x[k]!;
    norms[r] = s;
    if (s > maxNorm) maxNorm = s;
  }
  if (!(maxNorm >= 1e-18 && maxNorm <= 1e18) || cols * U32 >= 0.5) {
    return selectTriplets(embeddings, numPerClass, options);
  }

  let pairs = 0;
  for (let c = 0; c < anchorClasses; c++) {
    const size = numPerClass[c]!;
    pairs += (size * (size - 1)) / 2;
  }
  let rng = options.rng;
  let us: Float64Array = new Float64Array(0);
  if ((strategy === "vggface" || strategy === "facenet") && rng !== undefined) {
    [us, rng] = uniforms(rng, pairs);
  }
  const triplets: [number, number, number][] = [];
  let posSum = 0;
  let negSum = 0;
  let negCount = 0;
  let noCandidate = 0;

  if (pairs > 0) {
    const gram = options.gram?.data ?? gramMatrix(embeddings);
    const band = gramSelectionBand(cols, maxNorm, alpha, options.gram?.accumulation ?? "float64");
    const scan = createScan(x, cols, alpha, band, strategy === "facenet");
    const cap = strategy === "all" ? maxTriplets : Infinity;
    let pairIndex = 0;
    let start = 0;
    for (let c = 0; c < anchorClasses; c++) {
      const size = numPerClass[c]!;
      const end = start + size;
      for (let a = start; a < end - 1; a++) {
        const sums = loadAnchor(scan, gram, norms, a, start, end);
        posSum += sums.pos;
        negSum += sums.neg;
        negCount += n - size;
        if (strategy !== "hard") countPairs(scan, end, us, pairIndex);
        for (let p = a + 1; p < end; p++, pairIndex++) {
          const before = triplets.length;
          if (!selectPair(scan, strategy, p, us[pairIndex] ?? 0, cap, triplets)) {
            throw new RangeError(
              `Batch-all selection exceeds ${maxTriplets} triplets at pair ${pairIndex} of ` +
                `${pairs}; use smaller batches (fewer people or images per person) or another ` +
                `strategy`,
            );
          }
          if (triplets.length === before) noCandidate++;
        }
      }
      start = end;
    }
  }

  return selectionResult(triplets, { pairs, posSum, negSum, negCount, noCandidate }, options, rng);
}

/** Positions per block of the compacted negatives in {@link AnchorScan.blockCount}. */
const BLOCK_SHIFT = 4;

/** The working state of one anchor's scan (typed arrays reused across anchors). */
interface AnchorScan {
  readonly x: Float32Array;
  readonly cols: number;
  readonly alpha: number;
  readonly band: number;
  readonly facenet: boolean;
  /** The anchor row being scanned. */
  anchor: number;
  /** Approximate d(anchor, p), indexed by the positive's row. */
  readonly positives: Float32Array;
  /** The compacted negatives: `len` approximate distances and their rows, in row order. */
  len: number;
  readonly vals: Float32Array;
  readonly idxs: Int32Array;
  /** Position in `vals` of the smallest distance, and the second smallest distance. */
  minAt: number;
  secondMin: number;
  /** The range `[low, high)` of the compacted distances. */
  low: number;
  high: number;
  /**
   * Positions in `vals` grouped into `bins` equal bins of distance (`scale`
   * bins per unit): bin `b` is `sorted[binStart[b] .. binStart[b + 1])`.
   */
  readonly sorted: Int32Array;
  readonly binStart: Int32Array;
  readonly binOfPosition: Int32Array;
  bins: number;
  scale: number;
  /** The anchor's positives in ascending order of distance. */
  readonly order: Int32Array;
  /** Per block of `2^BLOCK_SHIFT` positions in `vals`: how many are candidates of the current pair. */
  readonly blockCount: Int32Array;
  /**
   * Per positive row: its number of candidates, or -1 when a comparison lies
   * inside the band; and for drawing strategies the drawn negative's position.
   */
  readonly pairCount: Int32Array;
  readonly pairChoice: Int32Array;
  /** Scratch: positions in `vals` of one pair's exact candidates. */
  readonly list: Int32Array;
  /** Positions in `vals` admitted from the band for the current pair: `marks[q] === stamp`. */
  readonly marks: Int32Array;
  stamp: number;
  /** The specification's distances from the anchor, valid where `exactStamp` is the anchor. */
  readonly exactRow: Float32Array;
  readonly exactStamp: Int32Array;
}

function createScan(
  x: Float32Array,
  cols: number,
  alpha: number,
  band: number,
  facenet: boolean,
): AnchorScan {
  const n = x.length / cols;
  return {
    x,
    cols,
    alpha,
    band,
    facenet,
    anchor: -1,
    positives: new Float32Array(n),
    len: 0,
    vals: new Float32Array(n),
    idxs: new Int32Array(n),
    minAt: -1,
    secondMin: Infinity,
    low: 0,
    high: 0,
    sorted: new Int32Array(n),
    binStart: new Int32Array(n + 2),
    binOfPosition: new Int32Array(n),
    bins: 0,
    scale: 0,
    order: new Int32Array(n),
    blockCount: new Int32Array((n >> BLOCK_SHIFT) + 1),
    pairCount: new Int32Array(n),
    pairChoice: new Int32Array(n),
    list: new Int32Array(n),
    marks: new Int32Array(n),
    stamp: 1,
    exactRow: new Float32Array(n),
    exactStamp: new Int32Array(n).fill(-1),
  };
}

/**
 * Loads anchor `a` of the class `[start, end)`: the approximate distances of
 * its positives, and the negatives below its largest threshold (any pair's
 * candidate is among them), compacted in row order and sorted by distance.
 * Returns the sums of the approximate positive and negative distances.
 */
function loadAnchor(
  scan: AnchorScan,
  gram: Float32Array,
  norms: Float64Array,
  a: number,
  start: number,
  end: number,
): { pos: number; neg: number } {
  const n = norms.length;
  const { alpha, band, positives, vals, idxs } = scan;
  const base = a * n;
  const na = norms[a]!;
  scan.anchor = a;
  let pos = 0;
  let maxHi = -Infinity;
  for (let p = a + 1; p < end; p++) {
    const v = Math.fround(na + norms[p]! - 2 * gram[base + p]!);
    positives[p] = v;
    pos += v;
    if (v + alpha + band > maxHi) maxHi = v + alpha + band;
  }
  let neg = 0;
  let len = 0;
  let min = Infinity;
  let minAt = -1;
  let second = Infinity;
  // The rows before the anchor's class, then those after it.
  for (let segment = 0; segment < 2; segment++) {
    const to = segment === 0 ? start : n;
    for (let r = segment === 0 ? 0 : end; r < to; r++) {
      const v = Math.fround(na + norms[r]! - 2 * gram[base + r]!);
      neg += v;
      if (v < maxHi) {
        vals[len] = v;
        idxs[len] = r;
        if (v < second) {
          if (v < min) {
            second = min;
            min = v;
            minAt = len;
          } else {
            second = v;
          }
        }
        len++;
      }
    }
  }
  scan.len = len;
  scan.minAt = minAt;
  scan.secondMin = second;
  scan.low = min;
  scan.high = maxHi;
  return { pos, neg };
}

/**
 * Groups the positions of the compacted distances (all in `[low, high)`) by
 * distance into about `len / 4` equal bins (a counting sort): afterwards bin
 * `b` is `sorted[binStart[b] .. binStart[b + 1])`, and every distance of a
 * lower bin is lower.
 */
function groupByBin(scan: AnchorScan): void {
  const { vals, sorted, binOfPosition, binStart, len, low, high } = scan;
  const bins = Math.max(1, len >> 2);
  const scale = high > low ? bins / (high - low) : 0;
  scan.bins = bins;
  scan.scale = scale;
  binStart.fill(0, 0, bins + 2);
  for (let q = 0; q < len; q++) {
    const b = Math.min(bins - 1, Math.floor((vals[q]! - low) * scale));
    binOfPosition[q] = b;
    binStart[b + 2]!++;
  }
  for (let b = 2; b <= bins + 1; b++) binStart[b]! += binStart[b - 1]!;
  // binStart[b + 1] is where bin b starts; placing moves it to bin b + 1's start.
  for (let q = 0; q < len; q++) sorted[binStart[binOfPosition[q]! + 1]!++] = q;
}

/**
 * The bin that holds the threshold `t`: every distance of a lower bin is
 * below `t`, of a higher bin above it. `bins` when `t` is above them all.
 */
function binOf(scan: AnchorScan, t: number): number {
  if (t < scan.low) return 0;
  if (t >= scan.high) return scan.bins;
  return Math.min(scan.bins - 1, Math.floor((t - scan.low) * scan.scale));
}

/** The number of compacted distances below `t` (or at most `t` when `inclusive`). */
function countBelow(scan: AnchorScan, t: number, inclusive: boolean): number {
  const b = binOf(scan, t);
  const { vals, sorted, binStart } = scan;
  let count = binStart[b]!;
  if (b === scan.bins) return count;
  const end = binStart[b + 1]!;
  for (let i = count; i < end; i++) {
    const v = vals[sorted[i]!]!;
    count += (inclusive ? v <= t : v < t) ? 1 : 0;
  }
  return count;
}

/** Adds `sign` to the block counts of every distance of bin `b`. */
function addBinToBlocks(scan: AnchorScan, b: number, sign: number): void {
  const { sorted, binStart, blockCount } = scan;
  for (let i = binStart[b]!, end = binStart[b + 1]!; i < end; i++) {
    blockCount[sorted[i]! >> BLOCK_SHIFT]! += sign;
  }
}

/**
 * Adds `sign` to the block counts of the distances of bin `b` that are
 * below `t` (at most `t` when `inclusive`). Returns how many it counted.
 */
function addToBlocks(
  scan: AnchorScan,
  b: number,
  t: number,
  inclusive: boolean,
  sign: number,
): number {
  if (b >= scan.bins) return 0;
  const { vals, sorted, binStart, blockCount } = scan;
  let added = 0;
  for (let i = binStart[b]!, end = binStart[b + 1]!; i < end; i++) {
    const q = sorted[i]!;
    const v = vals[q]!;
    if (inclusive ? v <= t : v < t) {
      blockCount[q >> BLOCK_SHIFT]! += sign;
      added++;
    }
  }
  return added;
}

/**
 * The candidate counts of every pair of the loaded anchor (positives up to
 * `end`; `firstPair` is the first pair's index), and for drawing strategies
 * the drawn candidate. The positives in ascending distance give ascending
 * thresholds: whole bins of distances enter the per-block candidate counts
 * once, the bin holding a threshold for its pair only, and the drawn
 * candidate (in row order) is found by skipping whole blocks.
 */
function countPairs(scan: AnchorScan, end: number, us: Float64Array, firstPair: number): void {
  const { alpha, band, facenet, positives, order, blockCount, binStart, len } = scan;
  const a = scan.anchor;
  const size = end - a - 1;
  groupByBin(scan);
  for (let i = 0; i < size; i++) order[i] = a + 1 + i;
  order.subarray(0, size).sort((p, q) => positives[p]! - positives[q]!);
  blockCount.fill(0, 0, (len >> BLOCK_SHIFT) + 1);
  // Bins [0, entered) are in the block counts; facenet: bins [0, left) are out again.
  let entered = 0;
  let left = 0;
  for (let i = 0; i < size; i++) {
    const p = order[i]!;
    const ap = positives[p]!;
    const lo = ap + alpha - band;
    const hi = ap + alpha + band;
    const semiHi = facenet ? ap + band : -Infinity;
    const semiLo = facenet ? ap - band : -Infinity;
    // Candidates surely: semiHi < d < lo; maybe: semiLo < d < hi.
    const maybe = countBelow(scan, hi, false) - (facenet ? countBelow(scan, semiLo, true) : 0);
    const binLo = binOf(scan, lo);
    for (; entered < binLo; entered++) addBinToBlocks(scan, entered, 1);
    let sure: number = binStart[binLo]! + addToBlocks(scan, binLo, lo, false, 1);
    const binSemi = facenet ? binOf(scan, semiHi) : 0;
    if (facenet) {
      for (; left < binSemi; left++) addBinToBlocks(scan, left, -1);
      sure -= binStart[binSemi]! + addToBlocks(scan, binSemi, semiHi, true, -1);
    }
    let count = sure;
    let admitted = 0;
    if (sure !== maybe) {
      // A comparison inside the band. Drawing strategies decide those
      // negatives here, with the specification's distances (unless semiHi >=
      // lo, where the block counts do not hold the sure candidates); the rest
      // resolve the whole pair in selectPair.
      if (us.length === 0 || sure < 0) {
        scan.pairCount[p] = -1;
        addToBlocks(scan, binLo, lo, false, -1);
        if (facenet) addToBlocks(scan, binSemi, semiHi, true, 1);
        continue;
      }
      admitted = admitBand(scan, p, lo, hi, semiHi, semiLo);
      count = sure + admitted;
    }
    count = Math.max(0, count);
    scan.pairCount[p] = count;
    if (count > 0 && us.length > 0) {
      // u < 1 so u * count < count; the min guards the invariant, it never binds.
      const k = Math.min(Math.floor(us[firstPair + p - a - 1]! * count), count - 1);
      scan.pairChoice[p] = nthCandidate(scan, semiHi, lo, k, count);
    }
    // The admitted ones leave again, and their marks go stale.
    for (let j = 0; j < admitted; j++) blockCount[scan.list[j]! >> BLOCK_SHIFT]!--;
    if (admitted > 0) scan.stamp++;
    // The bins holding this pair's thresholds enter (or leave) for this pair only.
    addToBlocks(scan, binLo, lo, false, -1);
    if (facenet) addToBlocks(scan, binSemi, semiHi, true, 1);
  }
}

/**
 * Decides a pair's negatives inside the band (maybe but not surely
 * candidates) with the specification's distances: the admitted ones join the
 * block counts, are marked with the current stamp and listed in `list`. Only the
 * bins holding `[lo, hi)` and `(semiLo, semiHi]` are read. Returns how many
 * were admitted.
 */
function admitBand(
  scan: AnchorScan,
  p: number,
  lo: number,
  hi: number,
  semiHi: number,
  semiLo: number,
): number {
  const { alpha, facenet, vals, idxs, sorted, binStart, blockCount, marks, list, bins } = scan;
  const stamp = scan.stamp;
  const dp = exactDistance(scan, p);
  const marginFirst = binOf(scan, lo);
  const marginLast = Math.min(bins - 1, binOf(scan, hi));
  const semiFirst = facenet ? binOf(scan, semiLo) : bins;
  const semiLast = facenet ? Math.min(bins - 1, binOf(scan, semiHi)) : -1;
  let admitted = 0;
  for (let b = Math.min(marginFirst, semiFirst); b <= Math.max(marginLast, semiLast); b++) {
    if ((b < marginFirst || b > marginLast) && (b < semiFirst || b > semiLast)) continue;
    for (let i = binStart[b]!, end = binStart[b + 1]!; i < end; i++) {
      const q = sorted[i]!;
      const v = vals[q]!;
      if (!(v < hi && v > semiLo) || (v < lo && v > semiHi)) continue;
      const dn = exactDistance(scan, idxs[q]!);
      if (dn - dp < alpha && (!facenet || dp < dn)) {
        blockCount[q >> BLOCK_SHIFT]!++;
        marks[q] = stamp;
        list[admitted++] = q;
      }
    }
  }
  return admitted;
}

/**
 * The position in `vals` of the `k`-th (0-based, row order) of the `count`
 * current candidates (distances strictly between `low` and `high`, and the
 * band's admitted ones, marked with the current stamp; counted per block in
 * `blockCount`): whole blocks are skipped from the nearer end.
 */
function nthCandidate(
  scan: AnchorScan,
  low: number,
  high: number,
  k: number,
  count: number,
): number {
  const { vals, blockCount, len, marks, stamp } = scan;
  let b = 0;
  let before = 0;
  if (k < count - k) {
    while (before + blockCount[b]! <= k) before += blockCount[b++]!;
  } else {
    b = len >> BLOCK_SHIFT;
    before = count - blockCount[b]!;
    while (before > k) before -= blockCount[--b]!;
  }
  const to = Math.min(len, (b + 1) << BLOCK_SHIFT);
  for (let q = b << BLOCK_SHIFT; q < to; q++) {
    const v = vals[q]!;
    if (((v < high && v > low) || marks[q] === stamp) && before++ === k) return q;
  }
  return -1;
}

/**
 * Appends the specification's triplets of pair (anchor, p) (none when it has
 * no candidate). Returns false, appending nothing, when batch-all would
 * exceed `cap` triplets.
 */
function selectPair(
  scan: AnchorScan,
  strategy: "vggface" | "facenet" | "hard" | "all",
  p: number,
  u: number,
  cap: number,
  triplets: [number, number, number][],
): boolean {
  const { alpha, band, vals, idxs, len } = scan;
  const a = scan.anchor;
  const ap = scan.positives[p]!;
  // The margin rule d(a,r) - d(a,p) < alpha: surely met below lo, surely not at or above hi.
  const lo = ap + alpha - band;
  const hi = ap + alpha + band;
  // facenet's d(a,p) < d(a,r): surely met above semiHi, surely not at or below semiLo.
  const semiHi = scan.facenet ? ap + band : -Infinity;
  const semiLo = scan.facenet ? ap - band : -Infinity;

  if (strategy === "hard") {
    const min = scan.minAt >= 0 ? vals[scan.minAt]! : Infinity;
    if (!(min < hi)) return true;
    // The nearest negative is surely a candidate and surely nearer than any other.
    if (min < lo && scan.secondMin - min > band) {
      triplets.push([a, p, idxs[scan.minAt]!]);
      return true;
    }
    const count = exactCandidates(scan, p, lo, hi, semiHi, semiLo);
    if (count === 0) return true;
    // Only candidates within the band of the nearest one may be the exactly nearest.
    let near = Infinity;
    for (let i = 0; i < count; i++) near = Math.min(near, vals[scan.list[i]!]!);
    let best = -1;
    let bestDistance = Infinity;
    for (let i = 0; i < count; i++) {
      const q = scan.list[i]!;
      if (vals[q]! > near + band) continue;
      const d = exactDistance(scan, idxs[q]!);
      if (d < bestDistance) {
        bestDistance = d;
        best = idxs[q]!;
      }
    }
    triplets.push([a, p, best]);
    return true;
  }

  const resolved = scan.pairCount[p] === -1;
  const count = resolved ? exactCandidates(scan, p, lo, hi, semiHi, semiLo) : scan.pairCount[p]!;
  if (count === 0) return true;
  if (strategy === "all") {
    if (triplets.length + count > cap) return false;
    if (resolved) {
      for (let i = 0; i < count; i++) triplets.push([a, p, idxs[scan.list[i]!]!]);
    } else {
      for (let q = 0; q < len; q++) if (vals[q]! < lo) triplets.push([a, p, idxs[q]!]);
    }
    return true;
  }
  if (!resolved) {
    triplets.push([a, p, idxs[scan.pairChoice[p]!]!]);
    return true;
  }
  // u < 1 so u * count < count; the min guards the invariant, it never binds.
  const k = Math.min(Math.floor(u * count), count - 1);
  triplets.push([a, p, idxs[scan.list[k]!]!]);
  return true;
}

/**
 * The specification's candidates of pair (anchor, p) into `scan.list`
 * (positions in `vals`, row order): the sure ones by their approximate
 * distance, those inside the band by the exact distances. Returns their number.
 */
function exactCandidates(
  scan: AnchorScan,
  p: number,
  lo: number,
  hi: number,
  semiHi: number,
  semiLo: number,
): number {
  const { alpha, facenet, vals, idxs, list, len } = scan;
  const dp = exactDistance(scan, p);
  let count = 0;
  for (let q = 0; q < len; q++) {
    const v = vals[q]!;
    if (!(v < hi && v > semiLo)) continue;
    let take = v < lo && v > semiHi;
    if (!take) {
      const dn = exactDistance(scan, idxs[q]!);
      take = dn - dp < alpha && (!facenet || dp < dn);
    }
    if (take) list[count++] = q;
  }
  return count;
}

/** The specification's float32 distance between the anchor and row `r` (cached per anchor). */
function exactDistance(scan: AnchorScan, r: number): number {
  if (scan.exactStamp[r] !== scan.anchor) {
    const { x, cols } = scan;
    let s = 0;
    for (let k = 0, oa = scan.anchor * cols, or = r * cols; k < cols; k++) {
      const t = x[oa + k]! - x[or + k]!;
      s += t * t;
    }
    scan.exactRow[r] = s;
    scan.exactStamp[r] = scan.anchor;
  }
  return scan.exactRow[r]!;
}
