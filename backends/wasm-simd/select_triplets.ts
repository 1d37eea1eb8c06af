/**
 * Triplet selection on the wasm-simd kernels, equal to the specification
 * (core/pure/select_triplets.ts): the same triplets in the same order, the
 * same RNG draws, margin ties included.
 *
 * The work of a seed-size batch (1800 rows of 128-d) is a distance matrix and
 * ~63 million margin comparisons. Here the distances come from the GEMM kernel
 * (`|a|^2 + |r|^2 - 2 a.r` in float32) and a SIMD scan counts, per
 * (anchor, positive) pair, the negatives that are surely candidates and those
 * that may be. The GEMM's distances differ from the specification's (float64
 * sums of squared differences, rounded to float32) by at most
 * {@link selectionBand}'s bound, so a comparison farther than that from its
 * decision boundary has the specification's outcome; a pair with any
 * comparison inside the band is resolved again with the specification's
 * exact distances of the few rows inside the band (by the kernel; for
 * batch-all, here).
 *
 * @module
 */

import type { Matrix, TripletSelection } from "../../core/types.ts";
import { squaredDistanceRows } from "../../core/pure/distances.ts";
import { uniforms } from "../../core/pure/rng.ts";
import {
  checkSelectionInputs,
  selectionResult,
  selectTriplets,
  type SelectTripletsLimitOptions,
} from "../../core/pure/select_triplets.ts";
import type { WasmSimdRuntime } from "./runtime.ts";

const STRATEGY_CODES = { vggface: 0, facenet: 1, hard: 2, all: 3 } as const;

/** Float32's unit roundoff, 2^-24. */
const U = 2 ** -24;

/**
 * The half-width of the band around a decision boundary inside which the
 * wasm-simd scan defers to the specification's exact distances. For rows of
 * squared norm at most `m`, the GEMM's `|a|^2 + |r|^2 - 2 a.r` (float32 norms,
 * a float32 dot product of `cols` terms) and the specification's float32
 * distance each lie within `(2 cols + 12) u m` of the real distance (`u` =
 * 2^-24), so a margin `d(a,r) - d(a,p)` moves by at most twice that; the
 * thresholds are rounded to float32 once more (`u (4m + alpha)`). The band is
 * twice the sum.
 *
 * @param cols The embedding width.
 * @param maxSquaredNorm The largest squared row norm.
 * @param alpha The margin.
 * @returns The band, in squared-distance units.
 * @throws {RangeError} When an argument is negative or not finite.
 * @example
 * ```ts
 * import { selectionBand } from "./select_triplets.ts";
 * import assert from "node:assert/strict";
 *
 * // Unit rows of 128 dimensions: about 7e-5.
 * const band = selectionBand(128, 1, 0.2);
 * assert.ok(band > 6e-5 && band < 8e-5);
 * ```
 */
export function selectionBand(cols: number, maxSquaredNorm: number, alpha: number): number {
  for (const [name, v] of [["cols", cols], ["maxSquaredNorm", maxSquaredNorm], ["alpha", alpha]]) {
    if (!(Number(v) >= 0) || !Number.isFinite(v)) {
      throw new RangeError(`${name} must be a non-negative finite number, got ${v}`);
    }
  }
  const distanceError = (2 * cols + 12) * U * maxSquaredNorm;
  return 2 * (2 * distanceError + U * (4 * maxSquaredNorm + alpha)) + 1e-30;
}

/**
 * Selects triplets with the wasm-simd kernels; the result equals the
 * specification's `selectTriplets` (same triplets, same order, same RNG
 * state), the mean distances agree to float32 rounding.
 *
 * @param rt The runtime whose kernels and threads to use.
 * @param embeddings The batch, `n x d`, rows grouped by class.
 * @param numPerClass Consecutive rows per class; sums to `n`.
 * @param options As for the specification's `selectTriplets`, `maxTriplets` included.
 * @returns The triplets, pair count, diagnostics and the advanced RNG.
 * @throws {RangeError} As the specification does: non-finite embeddings, bad
 *   alpha, class counts or anchorClasses, an unknown strategy, a batch-all
 *   selection of more than `maxTriplets` triplets.
 * @throws {TypeError} When an RNG is needed but missing.
 * @example
 * ```ts
 * import { selectTripletsWasm } from "./select_triplets.ts";
 * import { createWasmSimdRuntime } from "@facenet-deno/facenet/wasm-simd";
 * import assert from "node:assert/strict";
 *
 * const rt = await createWasmSimdRuntime({ threads: 1 });
 * const embeddings = { rows: 4, cols: 1, data: new Float32Array([0, 0.1, 0.2, 5]) };
 * const result = selectTripletsWasm(rt, embeddings, [2, 2], {
 *   alpha: 0.2,
 *   strategy: "all",
 *   shuffle: false,
 * });
 * assert.deepEqual(result.triplets, [[0, 1, 2], [2, 3, 0], [2, 3, 1]]);
 * rt.dispose();
 * ```
 */
export function selectTripletsWasm(
  rt: WasmSimdRuntime,
  embeddings: Matrix,
  numPerClass: readonly number[],
  options: SelectTripletsLimitOptions,
): TripletSelection {
  const { strategy, anchorClasses, maxTriplets } = checkSelectionInputs(
    embeddings,
    numPerClass,
    options,
  );
  const { rows: n, cols, data: x } = embeddings;
  const alpha = options.alpha;

  const norms = new Float32Array(n);
  let maxNorm = 0;
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let k = 0; k < cols; k++) s += (x[r * cols + k] as number) ** 2;
    norms[r] = s;
    maxNorm = Math.max(maxNorm, s);
  }
  // Outside this range float32 products could overflow or lose everything to
  // underflow, and the band's bound would not hold: run the specification.
  if (!(maxNorm >= 1e-18 && maxNorm <= 1e18)) {
    return selectTriplets(embeddings, numPerClass, options);
  }
  const band = selectionBand(cols, maxNorm, alpha);

  // Anchors (row, class start, class end, first pair) in canonical order.
  const anchorTable: number[] = [];
  let pairs = 0;
  {
    let start = 0;
    for (let c = 0; c < anchorClasses; c++) {
      const size = numPerClass[c] as number;
      for (let a = start; a < start + size - 1; a++) {
        anchorTable.push(a, start, start + size, pairs);
        pairs += start + size - a - 1;
      }
      start += size;
    }
  }
  const numAnchors = anchorTable.length / 4;
  const draws = strategy === "vggface" || strategy === "facenet";
  let rng = options.rng;
  let us: Float64Array = new Float64Array(0);
  if (draws && rng !== undefined) [us, rng] = uniforms(rng, pairs);

  if (pairs === 0) {
    const none = { pairs, posSum: 0, negSum: 0, negCount: 0, noCandidate: 0 };
    return selectionResult([], none, options, rng);
  }

  // Gram matrix by the GEMM kernel (upper strips only: it is symmetric), then the scan.
  const n4 = Math.ceil(n / 4) * 4;
  const part = Math.ceil(((n4 + 4) * 4) / 64) * 64;
  const strip = 240;
  const addresses: number[] = [];
  const allocate = (bytes: number) => {
    const address = rt.alloc(bytes);
    addresses.push(address);
    return address;
  };
  const xAddress = allocate(x.length * 4);
  try {
    rt.f32(xAddress, x.length).set(x);
    const gAddress = allocate(n * n * 4);
    const normsAddress = allocate(n4 * 4);
    const anchorsAddress = allocate(anchorTable.length * 4);
    const usAddress = allocate(Math.max(1, us.length) * 8);
    const chosenAddress = allocate(pairs * 4);
    const countsAddress = allocate(pairs * 4);
    const posAddress = allocate(pairs * 4);
    const negAddress = allocate(numAnchors * 8);
    const scratchAddress = allocate(4 * part * rt.threads);
    rt.f32(normsAddress, n).set(norms);
    new Int32Array(rt.memory.buffer, anchorsAddress, anchorTable.length).set(anchorTable);
    new Float64Array(rt.memory.buffer, usAddress, us.length).set(us);
    for (let i0 = 0; i0 < n; i0 += strip) {
      const m = Math.min(strip, n - i0);
      const work = 2 * m * (n - i0) * cols;
      rt.gemm({
        m,
        n: n - i0,
        k: cols,
        a: xAddress + i0 * cols * 4,
        b: xAddress + i0 * cols * 4,
        c: gAddress + (i0 * n + i0) * 4,
      }, { transB: true, ldc: n, threads: work < 1 << 18 ? 1 : rt.threads });
    }
    rt.run("selectTripletsScan", [
      xAddress,
      cols,
      gAddress,
      normsAddress,
      n,
      strip,
      anchorsAddress,
      numAnchors,
      alpha,
      band,
      STRATEGY_CODES[strategy],
      usAddress,
      chosenAddress,
      countsAddress,
      posAddress,
      negAddress,
      scratchAddress,
      4 * part,
    ], { threads: numAnchors * n < 1 << 14 ? 1 : rt.threads });
    // No allocation from here on: the views stay valid.
    const buffer = rt.memory.buffer;
    return finish(
      new Int32Array(buffer, chosenAddress, pairs),
      new Int32Array(buffer, countsAddress, pairs),
      new Float32Array(buffer, posAddress, pairs),
      new Float64Array(buffer, negAddress, numAnchors),
      new Float32Array(buffer, gAddress, n * n),
    );
  } finally {
    for (const address of addresses) rt.free(address);
  }

  function finish(
    chosen: Int32Array,
    counts: Int32Array,
    pos: Float32Array,
    negSums: Float64Array,
    gram: Float32Array,
  ): TripletSelection {
    // The approximate distance row of anchor `a`, exactly as the kernel computes it.
    // Pairs are resolved anchor by anchor: keep the last anchor's row.
    let cachedAnchor = -1;
    const cachedRow = new Float32Array(n);
    const approxRow = (a: number): Float32Array => {
      const row = cachedRow;
      if (cachedAnchor === a) return row;
      cachedAnchor = a;
      const g = gram;
      const na = norms[a] as number;
      // Row `a` of the Gram matrix is valid from its strip on; the column left of it.
      const own = Math.floor(a / strip) * strip;
      for (let r = 0; r < n; r++) {
        const gar = (r < own ? g[r * n + a] : g[a * n + r]) as number;
        row[r] = Math.fround(na + (norms[r] as number)) - 2 * gar;
      }
      return row;
    };
    const exactCache = new Map<number, Float32Array>();
    // The specification's float32 distance d(a, r), computed once per entry.
    const exact = (a: number, r: number): number => {
      let row = exactCache.get(a);
      if (row === undefined) {
        row = new Float32Array(n).fill(NaN);
        exactCache.set(a, row);
      }
      let v = row[r] as number;
      if (Number.isNaN(v)) {
        v = Math.fround(squaredDistanceRows(embeddings, a, embeddings, r));
        row[r] = v;
      }
      return v;
    };
    // The specification's candidates of a pair, in row order: the sure ones from
    // the approximate row, the ones inside the band from the exact distances.
    const exactCandidates = (a: number, p: number, s: number, e: number): number[] => {
      const row = approxRow(a);
      const dp = exact(a, p);
      const ap = row[p] as number;
      const loSure = Math.fround(ap + alpha - band);
      const hiMaybe = Math.fround(ap + alpha + band);
      const lowSure = strategy === "facenet" ? Math.fround(ap + band) : -Infinity;
      const lowMaybe = strategy === "facenet" ? Math.fround(ap - band) : -Infinity;
      const out: number[] = [];
      for (let r = 0; r < n; r++) {
        if (r >= s && r < e) continue;
        const v = row[r] as number;
        if (!(v < hiMaybe && v > lowMaybe)) continue;
        if (v < loSure && v > lowSure) {
          out.push(r);
          continue;
        }
        const dn = exact(a, r);
        if (dn - dp < alpha && (strategy !== "facenet" || dp < dn)) out.push(r);
      }
      return out;
    };

    const triplets: [number, number, number][] = [];
    let noCandidate = 0;
    let posSum = 0;
    for (let k = 0; k < pairs; k++) posSum += pos[k] as number;
    let negSum = 0;
    let negCount = 0;
    for (let t = 0; t < numAnchors; t++) {
      negSum += negSums[t] as number;
      negCount += n - ((anchorTable[4 * t + 2] as number) - (anchorTable[4 * t + 1] as number));
    }
    for (let t = 0; t < numAnchors; t++) {
      const a = anchorTable[4 * t] as number;
      const s = anchorTable[4 * t + 1] as number;
      const e = anchorTable[4 * t + 2] as number;
      const k0 = anchorTable[4 * t + 3] as number;
      for (let p = a + 1; p < e; p++) {
        const k = k0 + p - a - 1;
        let count = counts[k] as number;
        let list: number[] | undefined;
        if (count === -1) {
          list = exactCandidates(a, p, s, e);
          count = list.length;
        }
        if (count === 0) {
          noCandidate++;
          continue;
        }
        if (strategy === "all") {
          if (triplets.length + count > maxTriplets) {
            throw new RangeError(
              `Batch-all selection exceeds ${maxTriplets} triplets at pair ${k} of ` +
                `${pairs}; use smaller batches (fewer people or images per person) or another ` +
                `strategy`,
            );
          }
          if (list === undefined) {
            const row = approxRow(a);
            const loSure = Math.fround((row[p] as number) + alpha - band);
            list = [];
            for (let r = 0; r < n; r++) {
              if ((r < s || r >= e) && (row[r] as number) < loSure) list.push(r);
            }
          }
          for (const r of list) triplets.push([a, p, r]);
        } else if (list === undefined) {
          triplets.push([a, p, chosen[k] as number]);
        } else if (strategy === "hard") {
          let best = list[0] as number;
          for (const r of list) if (exact(a, r) < exact(a, best)) best = r;
          triplets.push([a, p, best]);
        } else {
          const u = us[k] as number;
          triplets.push([a, p, list[Math.min(Math.floor(u * count), count - 1)] as number]);
        }
      }
    }

    return selectionResult(
      triplets,
      { pairs, posSum, negSum, negCount, noCandidate },
      options,
      rng,
    );
  }
}
