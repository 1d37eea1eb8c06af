/**
 * Online triplet mining: which (anchor, positive, negative) rows of a batch of
 * embeddings to train on. The reference implementation's VGG-Face style selection is the default;
 * FaceNet's semi-hard rule, the hardest negative and batch-all (Hermans et
 * al., "In Defense of the Triplet Loss") are alternatives.
 *
 * Definitions shared by every backend:
 * - Rows are grouped by class in order: class `i` owns `numPerClass[i]`
 *   consecutive rows. Only the first `anchorClasses` classes supply anchors.
 * - Canonical pair order: classes in order; in a class with `n` rows starting
 *   at `s`, anchors `a = s + j` for `j = 0 .. n-2`, and for each anchor the
 *   positives `p = a+1 .. s+n-1`. Pair `k` is the k-th pair in that order.
 * - Distances are the float32 values of {@link pairwiseSquaredDistances};
 *   comparisons are done in float64 on those values.
 * - A row `r` of another class is a candidate negative of pair `(a, p)` when
 *   `d(a,r) - d(a,p) < alpha`; "facenet" also requires `d(a,p) < d(a,r)`.
 * - "vggface"/"facenet" draw ONE uniform per pair, in canonical order, for
 *   every pair, including pairs without candidates: pair `k` uses
 *   `uniformAt(rng, k)`. The negative is the `floor(u * count)`-th candidate
 *   in ascending row order. "hard" takes the candidate with the smallest
 *   `d(a,r)` (ties: lowest row); "all" takes every candidate in row order.
 *   Neither draws.
 * - The triplets are then shuffled (Fisher–Yates, {@link shuffle}) with the
 *   RNG state that follows the pair draws, unless `shuffle` is false.
 * - Diagnostics: `meanPosDist` is the mean `d(a,p)` over all pairs;
 *   `meanNegDist` the mean `d(a,r)` over every row `a` that starts a pair
 *   (`j = 0 .. n-2` of an anchor class) and every row `r` of another class;
 *   `noCandidateFraction` the fraction of pairs without a candidate under the
 *   strategy's rule. All three are 0 when there are no pairs.
 *
 * @module
 */

import type {
  Matrix,
  RngState,
  SelectionStrategy,
  SelectTripletsOptions,
  TripletSelection,
} from "../types.ts";
import { pairwiseSquaredDistances } from "./distances.ts";
import { shuffle, uniforms } from "./rng.ts";

const STRATEGIES = ["vggface", "facenet", "hard", "all"] as const;

/**
 * The most triplets one selection may return (4,000,000, a few hundred MB of
 * row-index tuples). Only "all" can approach it: batch-all on the reference implementation's
 * 45 x 40 batches of collapsed embeddings would list ~60 million triplets.
 * Hermans et al. use batch-all on small batches (18 people x 4 images).
 *
 * @example
 * ```ts
 * import { MAX_TRIPLETS, selectTriplets } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.equal(MAX_TRIPLETS, 4_000_000);
 * // Batch-all over these two classes lists 3 triplets: a lower limit refuses them.
 * const embeddings = { rows: 4, cols: 1, data: new Float32Array([0, 0.1, 0.2, 5]) };
 * const options = { alpha: 0.2, strategy: "all", shuffle: false } as const;
 * assert.equal(selectTriplets(embeddings, [2, 2], options).triplets.length, 3);
 * assert.throws(() => selectTriplets(embeddings, [2, 2], { ...options, maxTriplets: 2 }), RangeError);
 * ```
 *
 * @category Triplet loss
 */
export const MAX_TRIPLETS = 4_000_000;

/**
 * {@link SelectTripletsOptions} plus the cap on the number of triplets.
 *
 * @category Triplet loss
 */
export interface SelectTripletsLimitOptions extends SelectTripletsOptions {
  /** The most triplets to return before throwing (default {@link MAX_TRIPLETS}). */
  readonly maxTriplets?: number;
}

/**
 * Selects training triplets from a batch of embeddings (see the module
 * documentation for the exact rules and the RNG use).
 *
 * @param embeddings The batch, `n x d`, rows grouped by class.
 * @param numPerClass The number of consecutive rows of each class; must sum to `n`.
 * @param options `alpha` (> 0), `strategy` (default "vggface"), `anchorClasses`
 *   (default all), `rng` (needed by "vggface", "facenet" and by the shuffle),
 *   `shuffle` (default true), `maxTriplets` (default {@link MAX_TRIPLETS}).
 * @returns The triplets as row indices, the number of pairs, diagnostics, and
 *   the advanced RNG.
 * @throws {RangeError} On NaN or infinite embeddings, `alpha <= 0`, class
 *   counts that are not non-negative integers or do not sum to the row count,
 *   an `anchorClasses` out of range, an unknown strategy, or a batch-all
 *   selection of more than `maxTriplets` triplets.
 * @throws {TypeError} When an RNG is needed but missing.
 * @example
 * ```ts
 * import { selectTriplets } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * // Two classes on a line: rows 0,1 (class 0) at 0 and 0.1, rows 2,3 at 0.2 and 5.
 * const embeddings = { rows: 4, cols: 1, data: new Float32Array([0, 0.1, 0.2, 5]) };
 * const result = selectTriplets(embeddings, [2, 2], {
 *   alpha: 0.2,
 *   strategy: "all",
 *   shuffle: false,
 * });
 * assert.deepEqual(result.triplets, [[0, 1, 2], [2, 3, 0], [2, 3, 1]]);
 * assert.equal(result.pairs, 2);
 * ```
 *
 * @category Triplet loss
 */
export function selectTriplets(
  embeddings: Matrix,
  numPerClass: readonly number[],
  options: SelectTripletsLimitOptions,
): TripletSelection {
  checkSelectionInputs(embeddings, numPerClass, options);
  return selectTripletsFromDistances(pairwiseSquaredDistances(embeddings), numPerClass, options);
}

/**
 * Checks the inputs of {@link selectTriplets} as the specification does, so
 * that every backend rejects bad input with the same messages.
 *
 * @param embeddings The embeddings, rows grouped by class.
 * @param numPerClass Rows per class.
 * @param options Selection options.
 * @returns The resolved strategy, number of anchor classes and triplet limit.
 * @throws {TypeError} For a malformed matrix or options, or a missing rng.
 * @throws {RangeError} For a non-finite embedding, a bad alpha, strategy or class sizes.
 * @example
 * ```ts
 * import { checkSelectionInputs } from "./select_triplets.ts";
 * import assert from "node:assert/strict";
 *
 * const e = { rows: 2, cols: 1, data: new Float32Array([0, NaN]) };
 * assert.throws(() => checkSelectionInputs(e, [2], { alpha: 0.2, shuffle: false, strategy: "all" }), RangeError);
 * ```
 */
export function checkSelectionInputs(
  embeddings: Matrix,
  numPerClass: readonly number[],
  options: SelectTripletsLimitOptions,
): { strategy: SelectionStrategy; anchorClasses: number; maxTriplets: number } {
  if (
    typeof embeddings !== "object" || embeddings === null ||
    !(embeddings.data instanceof Float32Array)
  ) {
    throw new TypeError("Embeddings must be a Matrix with Float32Array data");
  }
  const { rows, cols, data } = embeddings;
  if (data.length !== rows * cols) {
    throw new RangeError(`Embeddings data length ${data.length} does not match ${rows}x${cols}`);
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!Number.isFinite(v)) {
      throw new RangeError(
        `Embeddings contain ${v} at row ${Math.floor(i / cols)}, column ${i % cols}`,
      );
    }
  }
  return checkOptions(rows, numPerClass, options);
}

function checkOptions(
  rows: number,
  numPerClass: readonly number[],
  options: SelectTripletsLimitOptions,
): { strategy: SelectionStrategy; anchorClasses: number; maxTriplets: number } {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Options must be an object with at least alpha");
  }
  if (!(options.alpha > 0) || !Number.isFinite(options.alpha)) {
    throw new RangeError(`Alpha must be a positive finite number, got ${options.alpha}`);
  }
  const strategy = options.strategy ?? "vggface";
  if (!STRATEGIES.includes(strategy)) {
    throw new RangeError(
      `Unknown triplet selection strategy "${strategy}"; expected one of ${STRATEGIES.join(", ")}`,
    );
  }
  if (!Array.isArray(numPerClass)) {
    throw new TypeError("numPerClass must be an array of class sizes");
  }
  let total = 0;
  for (let i = 0; i < numPerClass.length; i++) {
    const n = numPerClass[i] as number;
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`numPerClass[${i}] must be a non-negative integer, got ${n}`);
    }
    total += n;
  }
  if (total !== rows) {
    throw new RangeError(
      `numPerClass sums to ${total} but the embeddings have ${rows} rows`,
    );
  }
  const anchorClasses = options.anchorClasses ?? numPerClass.length;
  if (
    !Number.isSafeInteger(anchorClasses) || anchorClasses < 0 ||
    anchorClasses > numPerClass.length
  ) {
    throw new RangeError(
      `anchorClasses must be an integer in [0, ${numPerClass.length}], got ${anchorClasses}`,
    );
  }
  const needsDraws = strategy === "vggface" || strategy === "facenet";
  if ((needsDraws || options.shuffle !== false) && options.rng === undefined) {
    throw new TypeError(
      needsDraws
        ? `Strategy "${strategy}" needs an rng for its negative draws`
        : `Shuffling the triplets needs an rng; pass one or set shuffle: false`,
    );
  }
  const maxTriplets = options.maxTriplets ?? MAX_TRIPLETS;
  if (!Number.isSafeInteger(maxTriplets) || maxTriplets < 0) {
    throw new RangeError(`maxTriplets must be a non-negative integer, got ${maxTriplets}`);
  }
  return { strategy, anchorClasses, maxTriplets };
}

/** Sums a selection's diagnostics are made of (see {@link selectionResult}). */
export interface SelectionSums {
  /** (anchor, positive) pairs. */
  readonly pairs: number;
  /** Sum of the pairs' anchor-positive distances. */
  readonly posSum: number;
  /** Sum of the candidate negatives' anchor-negative distances. */
  readonly negSum: number;
  /** Number of candidate negatives summed in `negSum`. */
  readonly negCount: number;
  /** Pairs without any candidate negative. */
  readonly noCandidate: number;
}

/**
 * A selection's result, as every implementation returns it: the triplets,
 * shuffled by the rng unless `options.shuffle` is false, and the diagnostics
 * (mean distances, the fraction of pairs without a candidate; 0 where there
 * is nothing to average).
 *
 * @param triplets The triplets in canonical order.
 * @param sums The diagnostics' sums.
 * @param options The selection's options (`shuffle`).
 * @param rng The rng after the negative draws, if any.
 * @returns The selection.
 * @example
 * ```ts
 * import { selectionResult } from "./select_triplets.ts";
 * import assert from "node:assert/strict";
 *
 * const sums = { pairs: 2, posSum: 1, negSum: 3, negCount: 2, noCandidate: 1 };
 * const r = selectionResult([[0, 1, 2]], sums, { alpha: 0.2, shuffle: false }, undefined);
 * assert.deepEqual(r.triplets, [[0, 1, 2]]);
 * assert.equal(r.meanPosDist, 0.5);
 * assert.equal(r.meanNegDist, 1.5);
 * assert.equal(r.noCandidateFraction, 0.5);
 * ```
 */
export function selectionResult(
  triplets: readonly (readonly [number, number, number])[],
  sums: SelectionSums,
  options: SelectTripletsOptions,
  rng: RngState | undefined,
): TripletSelection {
  let result = triplets;
  if (options.shuffle !== false && rng !== undefined) [result, rng] = shuffle(triplets, rng);
  const { pairs, posSum, negSum, negCount, noCandidate } = sums;
  return {
    triplets: result,
    pairs,
    meanPosDist: pairs > 0 ? posSum / pairs : 0,
    meanNegDist: negCount > 0 ? negSum / negCount : 0,
    noCandidateFraction: pairs > 0 ? noCandidate / pairs : 0,
    rng,
  };
}

/**
 * Triplet selection from a precomputed squared-distance matrix: the same
 * rules as {@link selectTriplets}, for backends that compute distances
 * themselves. Distances must be finite; the diagonal is never read.
 *
 * @param distances The `n x n` squared distances between the batch rows.
 * @param numPerClass The number of consecutive rows of each class; must sum to `n`.
 * @param options As for {@link selectTriplets}.
 * @returns As for {@link selectTriplets}.
 * @throws {RangeError} As for {@link selectTriplets}, and when `distances` is
 *   not square or contains a non-finite value.
 * @throws {TypeError} When an RNG is needed but missing.
 * @example
 * ```ts
 * import { selectTripletsFromDistances } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const d = { rows: 3, cols: 3, data: new Float32Array([0, 1, 1.1, 1, 0, 4, 1.1, 4, 0]) };
 * const result = selectTripletsFromDistances(d, [2, 1], { alpha: 0.2, rng: createRng(1) });
 * assert.deepEqual(result.triplets, [[0, 1, 2]]);
 * assert.deepEqual(result.rng?.counter, 2); // one uniform for the pair, no swap draws
 * ```
 *
 * @category Triplet loss
 */
export function selectTripletsFromDistances(
  distances: Matrix,
  numPerClass: readonly number[],
  options: SelectTripletsLimitOptions,
): TripletSelection {
  if (
    typeof distances !== "object" || distances === null ||
    !(distances.data instanceof Float32Array)
  ) {
    throw new TypeError("Distances must be a Matrix with Float32Array data");
  }
  const n = distances.rows;
  if (distances.cols !== n || distances.data.length !== n * n) {
    throw new RangeError(
      `Distances must be a square ${n}x${n} matrix, got ${distances.rows}x${distances.cols} ` +
        `with ${distances.data.length} values`,
    );
  }
  const d = distances.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i] as number)) {
      throw new RangeError(
        `Distances contain ${d[i]} at row ${Math.floor(i / n)}, column ${i % n}`,
      );
    }
  }
  const { strategy, anchorClasses, maxTriplets } = checkOptions(n, numPerClass, options);
  const alpha = options.alpha;
  const draws = strategy === "vggface" || strategy === "facenet";

  let pairs = 0;
  for (let c = 0; c < anchorClasses; c++) {
    const size = numPerClass[c] as number;
    pairs += (size * (size - 1)) / 2;
  }
  let rng = options.rng;
  let us: Float64Array = new Float64Array(0);
  if (draws && rng !== undefined) {
    [us, rng] = uniforms(rng, pairs);
  }

  const triplets: [number, number, number][] = [];
  const candidates: number[] = [];
  let pairIndex = 0;
  let posSum = 0;
  let negSum = 0;
  let negCount = 0;
  let noCandidate = 0;
  let start = 0;
  for (let c = 0; c < anchorClasses; c++) {
    const size = numPerClass[c] as number;
    const end = start + size;
    for (let a = start; a < end - 1; a++) {
      const row = a * n;
      for (let r = 0; r < n; r++) {
        if (r < start || r >= end) {
          negSum += d[row + r] as number;
          negCount++;
        }
      }
      for (let p = a + 1; p < end; p++) {
        const pos = d[row + p] as number;
        posSum += pos;
        candidates.length = 0;
        for (let r = 0; r < n; r++) {
          if (r >= start && r < end) continue;
          const neg = d[row + r] as number;
          if (neg - pos < alpha && (strategy !== "facenet" || pos < neg)) {
            candidates.push(r);
          }
        }
        const count = candidates.length;
        if (count === 0) {
          noCandidate++;
        } else if (draws) {
          const u = us[pairIndex] as number;
          // u < 1 so u * count < count; the min guards the invariant, it never binds.
          triplets.push([a, p, candidates[Math.min(Math.floor(u * count), count - 1)] as number]);
        } else if (strategy === "hard") {
          let best = candidates[0] as number;
          for (let k = 1; k < count; k++) {
            const r = candidates[k] as number;
            if ((d[row + r] as number) < (d[row + best] as number)) best = r;
          }
          triplets.push([a, p, best]);
        } else {
          if (triplets.length + count > maxTriplets) {
            throw new RangeError(
              `Batch-all selection exceeds ${maxTriplets} triplets at pair ${pairIndex} of ` +
                `${pairs}; use smaller batches (fewer people or images per person) or another ` +
                `strategy`,
            );
          }
          for (let k = 0; k < count; k++) triplets.push([a, p, candidates[k] as number]);
        }
        pairIndex++;
      }
    }
    start = end;
  }

  return selectionResult(triplets, { pairs, posSum, negSum, negCount, noCandidate }, options, rng);
}
