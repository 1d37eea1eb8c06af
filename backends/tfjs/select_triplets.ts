/**
 * Triplet selection on the tfjs devices, equal to the core's specification
 * (core/pure/select_triplets.ts): the same triplets in the same order, the
 * same RNG draws, margin ties included.
 *
 * - On a GPU ({@link selectTripletsOnDevice}): distances, candidate masks,
 *   candidate counts, the k-th candidate (by a cumulative sum) and the
 *   hardest candidate are computed on the device, pairs in chunks; the core
 *   supplies the random draws (one uniform per anchor/positive pair in
 *   canonical order, chosen negative = the `floor(u * count)`-th candidate in
 *   row order) and the final shuffle. The device's float32 distances
 *   (`|x|^2 + |y|^2 - 2xy`) differ from the specification's (summed squared
 *   differences) by a few ulps, so the comparisons within a proven band of a
 *   decision boundary are flagged on the device and their pairs resolved
 *   again on the CPU with the specification's exact distances.
 * - On tfjs's `cpu` and `wasm` devices ({@link selectTripletsOnCpuDevice}),
 *   where the "device" is this CPU and tfjs's mask and cumulative-sum kernels
 *   are slower than plain loops: the core's `selectTripletsFast` (per-pair
 *   counts over typed arrays, the same exact re-resolution in a band), with
 *   the Gram matrix from tfjs's wasm GEMM on the `wasm` device.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import type { Matrix, TripletSelection } from "../../core/types.ts";
import { uniforms } from "../../core/pure/rng.ts";
import { squaredDistanceMatrix } from "./distances.ts";
import { squaredDistanceRows } from "../../core/pure/distances.ts";
import {
  checkSelectionInputs,
  selectionResult,
  type SelectTripletsLimitOptions,
} from "../../core/pure/select_triplets.ts";
import { gramSelectionBand, selectTripletsFast } from "../../core/select_triplets_fast.ts";

/**
 * Selects triplets on tfjs's `cpu` or `wasm` device (the active tfjs
 * backend); the result equals `selectTriplets` of
 * core/pure/select_triplets.ts, margin ties included; the diagnostics (mean
 * distances) agree to within the Gram matrix's rounding (see the core's
 * `gramSelectionBand`). On `wasm` the Gram matrix comes from
 * tfjs's matrix product (float32, XNNPACK); on `cpu`, whose matrix product
 * is slower than a JavaScript loop, from the core's `gramMatrix`.
 *
 * @param embeddings The batch, `n x d`, rows grouped by class.
 * @param numPerClass Consecutive rows per class; sums to `n`.
 * @param options As for the core's `selectTriplets`, `maxTriplets` included.
 * @returns The triplets, pair count, diagnostics and the advanced RNG.
 * @throws {RangeError} As the specification does: non-finite embeddings, bad
 *   alpha, class counts or anchorClasses, an unknown strategy, or a batch-all
 *   selection of more than `maxTriplets` (default `MAX_TRIPLETS`) triplets.
 * @throws {TypeError} When an RNG is needed but missing.
 * @example
 * ```ts
 * import { selectTripletsOnCpuDevice } from "./select_triplets.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const embeddings = { rows: 4, cols: 1, data: new Float32Array([0, 0.1, 0.2, 5]) };
 * const result = await selectTripletsOnCpuDevice(embeddings, [2, 2], {
 *   alpha: 0.2,
 *   strategy: "all",
 *   shuffle: false,
 * });
 * assert.deepEqual(result.triplets, [[0, 1, 2], [2, 3, 0], [2, 3, 1]]);
 * ```
 */
export async function selectTripletsOnCpuDevice(
  embeddings: Matrix,
  numPerClass: readonly number[],
  options: SelectTripletsLimitOptions,
): Promise<TripletSelection> {
  checkSelectionInputs(embeddings, numPerClass, options);
  if (tf.getBackend() !== "wasm" || embeddings.rows < 2) {
    return selectTripletsFast(embeddings, numPerClass, options);
  }
  const { rows: n, cols } = embeddings;
  // X X^T as X times its transpose: tfjs's wasm matMul with transposeB is ~10x slower.
  const gram = tf.tidy(() => {
    const x = tf.tensor2d(embeddings.data, [n, cols]);
    return tf.matMul(x, tf.transpose(x));
  });
  try {
    const data = await gram.data();
    if (!(data instanceof Float32Array)) {
      throw new TypeError("tfjs returned a non-float32 Gram matrix");
    }
    return selectTripletsFast(embeddings, numPerClass, {
      ...options,
      gram: { data, accumulation: "float32" },
    });
  } finally {
    gram.dispose();
  }
}

/** Upper bound of `pairs x rows` mask entries computed at once. */
const CHUNK_ENTRIES = 1 << 22;

/**
 * Selects triplets on the active tfjs device; the result equals
 * `selectTriplets` of core/pure/select_triplets.ts, margin ties included; the
 * diagnostics (mean distances) agree to float32 rounding.
 *
 * @param embeddings The batch, `n x d`, rows grouped by class.
 * @param numPerClass Consecutive rows per class; sums to `n`.
 * @param options As for the core's `selectTriplets`, `maxTriplets` included.
 * @returns The triplets, pair count, diagnostics and the advanced RNG.
 * @throws {RangeError} On non-finite embeddings, bad alpha, class counts or
 *   anchorClasses, an unknown strategy, or a batch-all selection of more than
 *   `maxTriplets` (default `MAX_TRIPLETS`) triplets: the counts are checked
 *   before any triplet is listed.
 * @throws {TypeError} When an RNG is needed but missing.
 * @example
 * ```ts
 * import { selectTripletsOnDevice } from "./select_triplets.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const embeddings = { rows: 4, cols: 1, data: new Float32Array([0, 0.1, 0.2, 5]) };
 * const result = await selectTripletsOnDevice(embeddings, [2, 2], {
 *   alpha: 0.2,
 *   strategy: "all",
 *   shuffle: false,
 * });
 * assert.deepEqual(result.triplets, [[0, 1, 2], [2, 3, 0], [2, 3, 1]]);
 * ```
 */
export async function selectTripletsOnDevice(
  embeddings: Matrix,
  numPerClass: readonly number[],
  options: SelectTripletsLimitOptions,
): Promise<TripletSelection> {
  const { strategy, anchorClasses, maxTriplets } = checkSelectionInputs(
    embeddings,
    numPerClass,
    options,
  );
  const n = embeddings.rows;
  const draws = strategy === "vggface" || strategy === "facenet";

  // Canonical pairs and the rows that start a pair (for meanNegDist).
  const pairA: number[] = [];
  const pairP: number[] = [];
  const classOf = new Int32Array(n);
  const anchorRows: number[] = [];
  {
    let start = 0;
    for (let c = 0; c < numPerClass.length; c++) {
      const size = numPerClass[c]!;
      for (let r = start; r < start + size; r++) classOf[r] = c;
      if (c < anchorClasses) {
        for (let a = start; a < start + size - 1; a++) {
          anchorRows.push(a);
          for (let p = a + 1; p < start + size; p++) {
            pairA.push(a);
            pairP.push(p);
          }
        }
      }
      start += size;
    }
  }
  const pairs = pairA.length;
  let rng = options.rng;
  let us: Float64Array = new Float64Array(0);
  if (draws && rng !== undefined) [us, rng] = uniforms(rng, pairs);

  const triplets: [number, number, number][] = [];
  let posSum = 0;
  let negSum = 0;
  let negCount = 0;
  let noCandidate = 0;

  // The device computes distances as |x|^2 + |y|^2 - 2xy in float32; the
  // specification sums squared differences. Comparisons closer than `band`
  // to a boundary are resolved again on the CPU with the specification's
  // exact float32 distances, so the selection equals the specification's.
  // The band is the core's proven bound for a float32 Gram matrix, with the
  // float32 norms counted as twice the terms (each norm and the dot product
  // err by at most `cols u / (1 - cols u)` times the largest squared norm
  // `m`) plus the device's float32 margin arithmetic, `4u (4m + alpha)`.
  let maxSqNorm = 0;
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let k = 0; k < embeddings.cols; k++) s += embeddings.data[r * embeddings.cols + k]! ** 2;
    maxSqNorm = Math.max(maxSqNorm, s);
  }
  const band = gramSelectionBand(2 * embeddings.cols, maxSqNorm, options.alpha, "float32") +
    2 ** -22 * (4 * maxSqNorm + options.alpha);
  const rowCache = new Map<number, Float32Array>();
  const exactRow = (a: number): Float32Array => {
    let row = rowCache.get(a);
    if (row === undefined) {
      row = new Float32Array(n);
      for (let r = 0; r < n; r++) {
        if (r !== a) row[r] = squaredDistanceRows(embeddings, a, embeddings, r);
      }
      rowCache.set(a, row);
    }
    return row;
  };
  const exactCandidates = (k: number): number[] => {
    const a = pairA[k]!;
    const row = exactRow(a);
    const pos = row[pairP[k]!]!;
    const out: number[] = [];
    for (let r = 0; r < n; r++) {
      if (classOf[r] === classOf[a]) continue;
      const neg = row[r]!;
      if (neg - pos < options.alpha && (strategy !== "facenet" || pos < neg)) out.push(r);
    }
    return out;
  };

  if (pairs > 0) {
    const dist = tf.tidy(() =>
      squaredDistanceMatrix(tf.tensor2d(embeddings.data, [n, embeddings.cols]))
    );
    const classes = tf.tensor1d(classOf, "int32");
    try {
      // meanNegDist: anchor-start rows against other-class rows.
      const negStats = tf.tidy(() => {
        const rows = tf.tensor1d(Int32Array.from(anchorRows), "int32");
        const d = tf.gather(dist, rows);
        const other = tf.notEqual(
          tf.reshape(tf.gather(classes, rows), [-1, 1]),
          tf.reshape(classes, [1, n]),
        );
        return tf.stack([
          tf.sum(tf.where(other, d, tf.zerosLike(d))),
          tf.sum(tf.cast(other, "float32")),
        ]);
      });
      const negData = await negStats.data();
      negStats.dispose();
      negSum = negData[0]!;
      negCount = negData[1]!;

      const chunk = Math.max(1, Math.floor(CHUNK_ENTRIES / Math.max(1, n)));
      const alpha = tf.scalar(options.alpha);
      const bandT = tf.scalar(band);
      try {
        for (let first = 0; first < pairs; first += chunk) {
          const last = Math.min(pairs, first + chunk);
          const size = last - first;
          const a = tf.tensor1d(Int32Array.from(pairA.slice(first, last)), "int32");
          const p = tf.tensor1d(Int32Array.from(pairP.slice(first, last)), "int32");
          const [mask, pos, flags] = tf.tidy(() => {
            const dA = tf.gather(dist, a); // [c, n]
            const pos = tf.reshape(tf.gatherND(dist, tf.stack([a, p], 1)), [-1, 1]); // [c, 1]
            const other = tf.notEqual(
              tf.reshape(tf.gather(classes, a), [-1, 1]),
              tf.reshape(classes, [1, n]),
            );
            const margin = tf.sub(tf.sub(dA, pos), alpha);
            let cand = tf.logicalAnd(other, tf.less(margin, tf.scalar(0)));
            // Comparisons within the band of a boundary may differ from the
            // specification's exact float32 distances: flag their pairs.
            let unsure = tf.logicalAnd(other, tf.less(tf.abs(margin), bandT));
            if (strategy === "facenet") {
              const semi = tf.sub(dA, pos);
              cand = tf.logicalAnd(cand, tf.greater(semi, tf.scalar(0)));
              unsure = tf.logicalOr(unsure, tf.logicalAnd(other, tf.less(tf.abs(semi), bandT)));
            }
            if (strategy === "hard") {
              const masked = tf.where(cand, dA, tf.fill(dA.shape, Infinity));
              const nearMin = tf.less(masked, tf.add(tf.min(masked, 1, true), bandT));
              const ties = tf.greater(
                tf.sum(tf.cast(nearMin, "int32"), 1, true),
                tf.scalar(1, "int32"),
              );
              unsure = tf.logicalOr(unsure, ties);
            }
            const flags = tf.any(unsure, 1);
            return [cand, pos, flags];
          });
          try {
            const posData = await pos.data();
            for (const v of posData) posSum += v;
            const flagData = await flags.data();
            const lists: (number[] | null)[] = new Array(size).fill(null);
            for (let i = 0; i < size; i++) {
              if (flagData[i]) lists[i] = exactCandidates(first + i);
            }
            const countsT = tf.tidy(() => tf.sum(tf.cast(mask, "int32"), 1));
            const counts = await countsT.data();
            countsT.dispose();
            if (strategy === "all") {
              // The specification's cap, checked on the counts before listing.
              let total = triplets.length;
              for (let i = 0; i < size; i++) {
                const count = lists[i]?.length ?? counts[i]!;
                if (count > 0 && total + count > maxTriplets) {
                  throw new RangeError(
                    `Batch-all selection exceeds ${maxTriplets} triplets at pair ${first + i} of ` +
                      `${pairs}; use smaller batches (fewer people or images per person) or ` +
                      `another strategy`,
                  );
                }
                total += count;
              }
              const where = await tf.whereAsync(mask);
              const idx = await where.data();
              where.dispose();
              const found: number[][] = Array.from({ length: size }, () => []);
              for (let i = 0; i < idx.length; i += 2) found[idx[i]!]!.push(idx[i + 1]!);
              for (let i = 0; i < size; i++) {
                const list = lists[i] ?? found[i]!;
                if (list.length === 0) noCandidate++;
                for (const r of list) triplets.push([pairA[first + i]!, pairP[first + i]!, r]);
              }
              continue;
            }
            let chosen: Int32Array | Float32Array | Uint8Array;
            if (strategy === "hard") {
              const t = tf.tidy(() => {
                const dA = tf.gather(dist, a);
                return tf.argMin(tf.where(mask, dA, tf.fill(dA.shape, Infinity)), 1);
              });
              chosen = await t.data();
              t.dispose();
            } else {
              // k-th candidate (0-based) in row order: the first column whose
              // cumulative candidate count reaches k + 1.
              const ks = new Int32Array(size);
              for (let i = 0; i < size; i++) {
                ks[i] = Math.floor(us[first + i]! * counts[i]!) + 1;
              }
              const t = tf.tidy(() => {
                const cum = tf.cumsum(tf.cast(mask, "float32"), 1);
                const hit = tf.logicalAnd(
                  mask,
                  tf.equal(cum, tf.reshape(tf.tensor1d(Float32Array.from(ks)), [-1, 1])),
                );
                return tf.argMax(tf.cast(hit, "int32"), 1);
              });
              chosen = await t.data();
              t.dispose();
            }
            for (let i = 0; i < size; i++) {
              const k = first + i;
              const list = lists[i];
              if (list !== null && list !== undefined) {
                // Resolved exactly on the CPU, as the specification does.
                if (list.length === 0) {
                  noCandidate++;
                } else if (strategy === "hard") {
                  const row = exactRow(pairA[k]!);
                  let best = list[0]!;
                  for (const r of list) if (row[r]! < row[best]!) best = r;
                  triplets.push([pairA[k]!, pairP[k]!, best]);
                } else {
                  triplets.push([pairA[k]!, pairP[k]!, list[Math.floor(us[k]! * list.length)]!]);
                }
              } else if (counts[i] === 0) {
                noCandidate++;
              } else {
                triplets.push([pairA[k]!, pairP[k]!, chosen[i]!]);
              }
            }
          } finally {
            a.dispose();
            p.dispose();
            mask.dispose();
            pos.dispose();
            flags.dispose();
          }
        }
      } finally {
        alpha.dispose();
        bandT.dispose();
      }
    } finally {
      dist.dispose();
      classes.dispose();
    }
  }

  return selectionResult(triplets, { pairs, posSum, negSum, negCount, noCandidate }, options, rng);
}
