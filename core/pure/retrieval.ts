/**
 * Retrieval metrics over labelled embeddings, as pytorch-metric-learning's
 * `AccuracyCalculator` reports them when the queries are the references
 * (each query is left out of its own ranking) with its defaults (`k` = all
 * references, global average, not `avg_of_avgs`):
 *
 * - precision@1: the fraction of queries whose nearest neighbour has the
 *   query's label;
 * - R-precision: with `R` the number of other points of the query's label,
 *   the fraction of the `R` nearest neighbours that share it;
 * - MAP@R: `(1/R) sum_{i=1..R} P(i) * rel(i)` over the `R` nearest
 *   neighbours, where `rel(i)` is 1 when the i-th neighbour shares the label
 *   and `P(i)` is the precision among the first `i` (Musgrave et al., "A
 *   Metric Learning Reality Check", 2020).
 *
 * Queries whose label has no other point (R = 0) are left out of all three
 * averages, as the library does with its "lone query labels"; every average
 * is 0 when no query remains. Neighbours are ranked by euclidean distance
 * (the same ranking as cosine on L2-normalized rows); ties go to the lower
 * index so results are deterministic. Each query keeps only its `R` nearest
 * neighbours (a bounded heap), so the cost is `O(n^2 d + n^2 log R)` time
 * and `O(n)` memory.
 *
 * @module
 */

import type { Matrix } from "../types.ts";

/**
 * The metrics of {@link retrievalMetrics}.
 *
 * @category Evaluation
 */
export interface RetrievalMetrics {
  /** Mean precision@1 over the counted queries. */
  readonly precisionAt1: number;
  /** Mean R-precision over the counted queries. */
  readonly rPrecision: number;
  /** Mean MAP@R over the counted queries. */
  readonly mapAtR: number;
  /** Queries counted (those whose label has at least one other point). */
  readonly queries: number;
  /** Queries left out because their label has no other point. */
  readonly loneQueries: number;
}

/**
 * Precision@1, R-precision and MAP@R of labelled embeddings, each point
 * querying all the others.
 *
 * @param embeddings The `n x d` embeddings.
 * @param labels The label of each row.
 * @returns The three metrics averaged over the queries, and the query counts.
 * @throws {TypeError} When `embeddings` is not a Matrix.
 * @throws {RangeError} When the label count differs from the row count, or a value is NaN or infinite.
 * @example
 * ```ts
 * import { retrievalMetrics } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * // Points on a line: 0 and 1 are "a", 2.5 is "b", 5 and 6 are "c".
 * const x = { rows: 5, cols: 1, data: new Float32Array([0, 1, 2.5, 5, 6]) };
 * const m = retrievalMetrics(x, ["a", "a", "b", "c", "c"]);
 * assert.equal(m.precisionAt1, 1);
 * assert.equal(m.mapAtR, 1);
 * assert.equal(m.queries, 4);
 * assert.equal(m.loneQueries, 1);
 * ```
 *
 * @category Evaluation
 */
export function retrievalMetrics(
  embeddings: Matrix,
  labels: ArrayLike<number | string>,
): RetrievalMetrics {
  if (
    typeof embeddings !== "object" || embeddings === null ||
    !(embeddings.data instanceof Float32Array)
  ) {
    throw new TypeError("Embeddings must be a Matrix with Float32Array data");
  }
  const n = embeddings.rows;
  const d = embeddings.cols;
  if (embeddings.data.length !== n * d) {
    throw new RangeError(
      `Embeddings data length ${embeddings.data.length} does not match ${n}x${d}`,
    );
  }
  if (labels.length !== n) {
    throw new RangeError(`Got ${labels.length} labels for ${n} embeddings`);
  }
  const bad = embeddings.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new RangeError(
      `Embeddings must be finite, got ${embeddings.data[bad]} at row ${
        Math.floor(bad / d)
      }, column ${bad % d}`,
    );
  }
  const counts = new Map<number | string, number>();
  for (let i = 0; i < n; i++) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
  const x = embeddings.data;
  const dist = new Float64Array(n);
  let p1 = 0;
  let rp = 0;
  let map = 0;
  let queries = 0;
  for (let q = 0; q < n; q++) {
    const label = labels[q]!;
    const r = (counts.get(label) as number) - 1;
    if (r === 0) continue;
    queries++;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const diff = (x[q * d + k] as number) - (x[j * d + k] as number);
        s += diff * diff;
      }
      dist[j] = s;
    }
    const order = nearest(dist, q, r);
    let hits = 0;
    let precisionSum = 0;
    for (let i = 0; i < r; i++) {
      if (labels[order[i] as number] === label) {
        hits++;
        precisionSum += hits / (i + 1);
      }
    }
    if (labels[order[0] as number] === label) p1++;
    rp += hits / r;
    map += precisionSum / r;
  }
  return {
    precisionAt1: queries > 0 ? p1 / queries : 0,
    rPrecision: queries > 0 ? rp / queries : 0,
    mapAtR: queries > 0 ? map / queries : 0,
    queries,
    loneQueries: n - queries,
  };
}

/** Whether neighbour `a` ranks after neighbour `b`: farther, or as far with a higher index. */
function after(dist: Float64Array, a: number, b: number): boolean {
  const da = dist[a] as number;
  const db = dist[b] as number;
  return da > db || (da === db && a > b);
}

/**
 * The `k` nearest rows to `q` (excluding `q`), nearest first, ties by index:
 * a bounded max-heap, O(n log k) instead of sorting all n.
 */
function nearest(dist: Float64Array, q: number, k: number): Int32Array {
  const heap = new Int32Array(k);
  let size = 0;
  const siftDown = (start: number) => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < size && after(dist, heap[l] as number, heap[top] as number)) top = l;
      if (r < size && after(dist, heap[r] as number, heap[top] as number)) top = r;
      if (top === i) return;
      const t = heap[i] as number;
      heap[i] = heap[top] as number;
      heap[top] = t;
      i = top;
    }
  };
  for (let j = 0; j < dist.length; j++) {
    if (j === q) continue;
    if (size < k) {
      let i = size++;
      heap[i] = j;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!after(dist, heap[i] as number, heap[parent] as number)) break;
        const t = heap[i] as number;
        heap[i] = heap[parent] as number;
        heap[parent] = t;
        i = parent;
      }
    } else if (after(dist, heap[0] as number, j)) {
      heap[0] = j;
      siftDown(0);
    }
  }
  // Pop the farthest first to get the nearest-first order.
  const out = new Int32Array(size);
  for (let i = size - 1; i >= 0; i--) {
    out[i] = heap[0] as number;
    heap[0] = heap[--size] as number;
    siftDown(0);
  }
  return out;
}
