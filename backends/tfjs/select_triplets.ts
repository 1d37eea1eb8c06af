/**
 * Triplet selection on the tfjs device, equal to the core's specification
 * (core/pure/select_triplets.ts): distances, candidate masks, candidate
 * counts, the k-th candidate (by a cumulative sum) and the hardest candidate
 * are computed on the device, pairs in chunks; the core supplies the random
 * draws (one uniform per anchor/positive pair in canonical order, chosen
 * negative = the `floor(u * count)`-th candidate in row order) and the final
 * shuffle, so the triplets equal the specification's.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { Matrix, SelectTripletsOptions, TripletSelection } from "../../core/types.ts";
import { shuffle, uniforms } from "../../core/pure/rng.ts";
import { squaredDistanceMatrix } from "./distances.ts";

const STRATEGIES = ["vggface", "facenet", "hard", "all"] as const;

/** Upper bound of `pairs x rows` mask entries computed at once. */
const CHUNK_ENTRIES = 1 << 22;

function validate(
  embeddings: Matrix,
  numPerClass: readonly number[],
  options: SelectTripletsOptions,
) {
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
    if (!Number.isFinite(data[i]!)) {
      throw new RangeError(
        `Embeddings contain ${data[i]} at row ${Math.floor(i / cols)}, column ${i % cols}`,
      );
    }
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
  let total = 0;
  for (let i = 0; i < numPerClass.length; i++) {
    const n = numPerClass[i]!;
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`numPerClass[${i}] must be a non-negative integer, got ${n}`);
    }
    total += n;
  }
  if (total !== rows) {
    throw new RangeError(`numPerClass sums to ${total} but the embeddings have ${rows} rows`);
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
        : "Shuffling the triplets needs an rng; pass one or set shuffle: false",
    );
  }
  return { strategy, anchorClasses };
}

/**
 * Selects triplets on the active tfjs device; the result equals
 * `selectTriplets` of core/pure/select_triplets.ts (up to float32 rounding of
 * the distances, which matters only at margin ties).
 *
 * @param embeddings The batch, `n x d`, rows grouped by class.
 * @param numPerClass Consecutive rows per class; sums to `n`.
 * @param options As for the core's `selectTriplets`.
 * @returns The triplets, pair count, diagnostics and the advanced RNG.
 * @throws {RangeError} On non-finite embeddings, bad alpha, class counts or
 *   anchorClasses, or an unknown strategy.
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
  options: SelectTripletsOptions,
): Promise<TripletSelection> {
  const { strategy, anchorClasses } = validate(embeddings, numPerClass, options);
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
      for (let first = 0; first < pairs; first += chunk) {
        const last = Math.min(pairs, first + chunk);
        const a = tf.tensor1d(Int32Array.from(pairA.slice(first, last)), "int32");
        const p = tf.tensor1d(Int32Array.from(pairP.slice(first, last)), "int32");
        const [mask, pos] = tf.tidy(() => {
          const dA = tf.gather(dist, a); // [c, n]
          const pos = tf.reshape(tf.gatherND(dist, tf.stack([a, p], 1)), [-1, 1]); // [c, 1]
          const other = tf.notEqual(
            tf.reshape(tf.gather(classes, a), [-1, 1]),
            tf.reshape(classes, [1, n]),
          );
          let cand = tf.logicalAnd(other, tf.less(tf.sub(dA, pos), tf.scalar(options.alpha)));
          if (strategy === "facenet") cand = tf.logicalAnd(cand, tf.less(pos, dA));
          return [cand, pos];
        });
        try {
          const posData = await pos.data();
          for (const v of posData) posSum += v;
          if (strategy === "all") {
            const where = await tf.whereAsync(mask);
            const idx = await where.data();
            where.dispose();
            const counts = new Int32Array(last - first);
            for (let i = 0; i < idx.length; i += 2) {
              const k = idx[i]!;
              counts[k]!++;
              triplets.push([pairA[first + k]!, pairP[first + k]!, idx[i + 1]!]);
            }
            for (const c of counts) if (c === 0) noCandidate++;
            continue;
          }
          const countsT = tf.tidy(() => tf.sum(tf.cast(mask, "int32"), 1));
          const counts = await countsT.data();
          countsT.dispose();
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
            const ks = new Int32Array(last - first);
            for (let i = 0; i < ks.length; i++) {
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
          for (let i = 0; i < last - first; i++) {
            if (counts[i] === 0) noCandidate++;
            else triplets.push([pairA[first + i]!, pairP[first + i]!, chosen[i]!]);
          }
        } finally {
          a.dispose();
          p.dispose();
          mask.dispose();
          pos.dispose();
        }
      }
    } finally {
      dist.dispose();
      classes.dispose();
    }
  }

  let result: readonly (readonly [number, number, number])[] = triplets;
  if (options.shuffle !== false && rng !== undefined) [result, rng] = shuffle(triplets, rng);
  return {
    triplets: result,
    pairs,
    meanPosDist: pairs > 0 ? posSum / pairs : 0,
    meanNegDist: negCount > 0 ? negSum / negCount : 0,
    noCandidateFraction: pairs > 0 ? noCandidate / pairs : 0,
    rng,
  };
}
