/**
 * Grouping faces by identity, as the reference implementation's cluster tools do: DBSCAN on a
 * precomputed distance matrix (scikit-learn's semantics) and Chinese Whispers
 * on a similarity graph (the reference implementation's contributed clustering: an edge between
 * two faces whose similarity exceeds a threshold, weighted by that
 * similarity, 20 iterations in a random order).
 *
 * Labels are integers per point: `0, 1, ...` for clusters and `-1` for
 * DBSCAN's noise.
 *
 * @module
 */

import type { Matrix, RngState } from "../types.ts";
import { shuffle } from "./rng.ts";

/**
 * The label of points that belong to no cluster (DBSCAN noise).
 *
 * @example
 * ```ts
 * import { dbscan, NOISE } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * // Points on a line at 0, 1 and 10: the lone point at 10 is noise.
 * const xs = [0, 1, 10];
 * const data = new Float32Array(xs.flatMap((a) => xs.map((b) => Math.abs(a - b))));
 * const labels = dbscan({ rows: 3, cols: 3, data }, { eps: 1, minSamples: 2 });
 * assert.deepEqual([...labels], [0, 0, NOISE]);
 * ```
 *
 * @category Classifier and clustering
 */
export const NOISE: number = -1;

function checkSquare(m: Matrix, name: string): void {
  if (typeof m !== "object" || m === null || !(m.data instanceof Float32Array)) {
    throw new TypeError(`${name} must be a Matrix with Float32Array data`);
  }
  if (m.rows !== m.cols || m.data.length !== m.rows * m.cols) {
    throw new RangeError(
      `${name} must be a square n x n matrix, got ${m.rows}x${m.cols} with ${m.data.length} values`,
    );
  }
}

/**
 * Options of {@link dbscan}.
 *
 * @category Classifier and clustering
 */
export interface DbscanOptions {
  /** Neighbourhood radius: `j` is a neighbour of `i` when `d(i, j) <= eps` (`i` itself included). */
  readonly eps: number;
  /** A core point has at least this many neighbours, itself included (scikit-learn's `min_samples`). */
  readonly minSamples: number;
}

/**
 * DBSCAN on a precomputed distance matrix, as scikit-learn's
 * `DBSCAN(eps, min_samples, metric="precomputed")`: clusters are numbered in
 * the order of their lowest-index core point; a border point (a non-core
 * point within `eps` of a core point) joins the first cluster that reaches
 * it; other points are noise (`-1`).
 *
 * @param distances An `n x n` distance matrix (symmetric; the diagonal is ignored).
 * @param options `eps` and `minSamples`.
 * @returns The label of each point.
 * @throws {TypeError} When `distances` is not a Matrix.
 * @throws {RangeError} When it is not square, `eps` is negative or not finite,
 *   or `minSamples` is not a positive integer.
 * @example
 * ```ts
 * import { dbscan } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * // Points on a line at 0, 1, 2 and 10.
 * const xs = [0, 1, 2, 10];
 * const data = new Float32Array(xs.flatMap((a) => xs.map((b) => Math.abs(a - b))));
 * const labels = dbscan({ rows: 4, cols: 4, data }, { eps: 1, minSamples: 2 });
 * assert.deepEqual([...labels], [0, 0, 0, -1]);
 * ```
 *
 * @category Classifier and clustering
 */
export function dbscan(distances: Matrix, options: DbscanOptions): Int32Array {
  checkSquare(distances, "Distances");
  const { eps, minSamples } = options;
  if (!(eps >= 0) || !Number.isFinite(eps)) {
    throw new RangeError(`eps must be a non-negative finite number, got ${eps}`);
  }
  if (!Number.isInteger(minSamples) || minSamples < 1) {
    throw new RangeError(`minSamples must be a positive integer, got ${minSamples}`);
  }
  const n = distances.rows;
  const neighbours: number[][] = [];
  for (let i = 0; i < n; i++) {
    const list: number[] = [];
    for (let j = 0; j < n; j++) {
      if (j === i || (distances.data[i * n + j] as number) <= eps) list.push(j);
    }
    neighbours.push(list);
  }
  const core = neighbours.map((list) => list.length >= minSamples);
  const labels = new Int32Array(n).fill(NOISE);
  let next = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] !== NOISE || !core[i]) continue;
    const label = next++;
    labels[i] = label;
    const stack = [i];
    while (stack.length > 0) {
      const p = stack.pop() as number;
      if (!core[p]) continue;
      for (const q of neighbours[p] as number[]) {
        if (labels[q] === NOISE) {
          labels[q] = label;
          stack.push(q);
        }
      }
    }
  }
  return labels;
}

/**
 * Options of {@link chineseWhispers}.
 *
 * @category Classifier and clustering
 */
export interface ChineseWhispersOptions {
  /** An edge joins `i != j` when `similarities[i, j] > threshold` (the reference implementation uses 0.55 on dot products). */
  readonly threshold: number;
  /** Passes over all nodes (default 20, the reference implementation's). */
  readonly iterations?: number;
  /** Randomness for the visiting order of each pass. */
  readonly rng: RngState;
}

/**
 * The outcome of {@link chineseWhispers}.
 *
 * @category Classifier and clustering
 */
export interface ChineseWhispersResult {
  /** Cluster of each point, numbered by decreasing cluster size (ties: lowest first member). */
  readonly labels: Int32Array;
  /** The advanced RNG state. */
  readonly rng: RngState;
}

/**
 * Chinese Whispers graph clustering (Biemann 2006) as the reference implementation's clustering
 * tool runs it: every node starts in its own cluster; each pass visits the
 * nodes in a fresh random order (one {@link shuffle} per pass) and moves each
 * node, in place, to the cluster with the largest total edge weight among its
 * neighbours (the lowest cluster id on ties); a node without edges stays
 * alone. Every point gets a cluster (singletons included).
 *
 * @param similarities An `n x n` similarity matrix (e.g. dot products of
 *   L2-normalized embeddings, i.e. cosine similarities); the diagonal is ignored.
 * @param options Threshold, number of passes and the RNG.
 * @returns Labels renumbered by decreasing cluster size, and the advanced RNG.
 * @throws {TypeError} When `similarities` is not a Matrix.
 * @throws {RangeError} When it is not square, the threshold is NaN or
 *   `iterations` is not a non-negative integer.
 * @example
 * ```ts
 * import { chineseWhispers } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * // Two pairs of similar points.
 * const data = new Float32Array([1, 0.9, 0, 0, 0.9, 1, 0, 0, 0, 0, 1, 0.8, 0, 0, 0.8, 1]);
 * const { labels } = chineseWhispers({ rows: 4, cols: 4, data }, {
 *   threshold: 0.5,
 *   rng: createRng(0),
 * });
 * assert.deepEqual([...labels], [0, 0, 1, 1]);
 * ```
 *
 * @category Classifier and clustering
 */
export function chineseWhispers(
  similarities: Matrix,
  options: ChineseWhispersOptions,
): ChineseWhispersResult {
  checkSquare(similarities, "Similarities");
  const { threshold } = options;
  const iterations = options.iterations ?? 20;
  if (Number.isNaN(threshold)) throw new RangeError("Threshold must be a number, got NaN");
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new RangeError(`Iterations must be a non-negative integer, got ${iterations}`);
  }
  const n = similarities.rows;
  const edges: { to: number; weight: number }[][] = [];
  for (let i = 0; i < n; i++) {
    const list = [];
    for (let j = 0; j < n; j++) {
      const w = similarities.data[i * n + j] as number;
      if (j !== i && w > threshold) list.push({ to: j, weight: w });
    }
    edges.push(list);
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i;
  const order = Array.from({ length: n }, (_, i) => i);
  let rng = options.rng;
  const totals = new Map<number, number>();
  for (let pass = 0; pass < iterations; pass++) {
    let visit: number[];
    [visit, rng] = shuffle(order, rng);
    for (const node of visit) {
      const list = edges[node] as { to: number; weight: number }[];
      if (list.length === 0) continue;
      totals.clear();
      for (const { to, weight } of list) {
        const label = labels[to] as number;
        totals.set(label, (totals.get(label) ?? 0) + weight);
      }
      let best = -1;
      let bestWeight = -Infinity;
      for (const [label, weight] of totals) {
        if (weight > bestWeight || (weight === bestWeight && label < best)) {
          best = label;
          bestWeight = weight;
        }
      }
      labels[node] = best;
    }
  }
  return { labels: renumberBySize(labels), rng };
}

/**
 * Renumbers cluster labels `0, 1, ...` by decreasing cluster size (ties: the
 * cluster whose first member comes first); noise (`-1`) stays `-1`.
 *
 * @param labels Cluster labels (any non-negative integers, or -1).
 * @returns The renumbered labels.
 * @example
 * ```ts
 * import { renumberBySize } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...renumberBySize(new Int32Array([7, 3, 3, -1, 7, 3]))], [1, 0, 0, -1, 1, 0]);
 * ```
 *
 * @category Classifier and clustering
 */
export function renumberBySize(labels: Int32Array): Int32Array {
  const groups = clusterMembers(labels);
  const out = new Int32Array(labels.length).fill(NOISE);
  groups.forEach((members, k) => {
    for (const i of members) out[i] = k;
  });
  return out;
}

/**
 * The members of each cluster, largest cluster first (ties: the cluster
 * whose first member comes first); noise points are left out.
 *
 * @param labels Cluster labels (-1 for noise).
 * @returns Point indices per cluster, each list in increasing order.
 * @example
 * ```ts
 * import { clusterMembers } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(clusterMembers(new Int32Array([0, 1, 1, -1])), [[1, 2], [0]]);
 * ```
 *
 * @category Classifier and clustering
 */
export function clusterMembers(labels: ArrayLike<number>): number[][] {
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    if (label === NOISE) continue;
    let list = byLabel.get(label);
    if (list === undefined) byLabel.set(label, list = []);
    list.push(i);
  }
  return [...byLabel.values()].sort((a, b) =>
    b.length - a.length || (a[0] as number) - (b[0] as number)
  );
}

/**
 * Agreement of a clustering with known identities.
 *
 * @category Classifier and clustering
 */
export interface ClusterPurity {
  /**
   * Purity over the clustered (non-noise) points: the fraction of them whose
   * identity is their cluster's most common identity. 0 when nothing is clustered.
   */
  readonly purity: number;
  /** The fraction of points that are in some cluster (not noise). */
  readonly coverage: number;
  /** The number of clusters. */
  readonly clusters: number;
  /**
   * The purity a clustering into a single cluster would have: the largest
   * identity's share of the clustered points — the chance level to beat.
   */
  readonly baseline: number;
}

/**
 * The purity of a clustering against known identities.
 *
 * @param labels Cluster labels (-1 for noise).
 * @param truth The true identity of each point.
 * @returns Purity, coverage, cluster count and the single-cluster baseline.
 * @throws {RangeError} When the lengths differ.
 * @example
 * ```ts
 * import { clusterPurity } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const r = clusterPurity(new Int32Array([0, 0, 1, 1, -1]), [5, 5, 5, 6, 6]);
 * assert.equal(r.purity, 0.75);
 * assert.equal(r.coverage, 0.8);
 * assert.equal(r.baseline, 0.75);
 * ```
 *
 * @category Classifier and clustering
 */
export function clusterPurity(labels: ArrayLike<number>, truth: ArrayLike<number>): ClusterPurity {
  if (labels.length !== truth.length) {
    throw new RangeError(`Got ${labels.length} labels and ${truth.length} identities`);
  }
  const groups = clusterMembers(labels);
  let clustered = 0;
  let majority = 0;
  const overall = new Map<number, number>();
  for (const members of groups) {
    const counts = new Map<number, number>();
    for (const i of members) {
      const t = truth[i] as number;
      counts.set(t, (counts.get(t) ?? 0) + 1);
      overall.set(t, (overall.get(t) ?? 0) + 1);
    }
    majority += Math.max(...counts.values());
    clustered += members.length;
  }
  const largest = overall.size > 0 ? Math.max(...overall.values()) : 0;
  return {
    purity: clustered > 0 ? majority / clustered : 0,
    coverage: labels.length > 0 ? clustered / labels.length : 0,
    clusters: groups.length,
    baseline: clustered > 0 ? largest / clustered : 0,
  };
}

function pairsOf(k: number): number {
  return (k * (k - 1)) / 2;
}

/**
 * The adjusted Rand index of a clustering against known identities (Hubert
 * and Arabie 1985): 1 for identical partitions, about 0 for a random
 * clustering with the same cluster sizes (the chance level), negative below
 * chance. Noise points (-1) count as singleton clusters. When both partitions
 * are trivial (the index's denominator is 0) the result is 1, as
 * scikit-learn's `adjusted_rand_score` returns.
 *
 * @param labels Cluster labels (-1 for noise).
 * @param truth The true identity of each point.
 * @returns The adjusted Rand index.
 * @throws {RangeError} When the lengths differ.
 * @example
 * ```ts
 * import { adjustedRandIndex } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.equal(adjustedRandIndex([1, 1, 0, 0], [0, 0, 1, 1]), 1);
 * assert.ok(Math.abs(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1]) + 0.5) < 1e-12);
 * ```
 *
 * @category Classifier and clustering
 */
export function adjustedRandIndex(labels: ArrayLike<number>, truth: ArrayLike<number>): number {
  if (labels.length !== truth.length) {
    throw new RangeError(`Got ${labels.length} labels and ${truth.length} identities`);
  }
  const n = labels.length;
  const cell = new Map<string, number>();
  const rows = new Map<string, number>();
  const cols = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const l = labels[i] as number;
    const c = l === NOISE ? `noise:${i}` : `c:${l}`;
    const t = truth[i] as number;
    cell.set(`${c}|${t}`, (cell.get(`${c}|${t}`) ?? 0) + 1);
    rows.set(c, (rows.get(c) ?? 0) + 1);
    cols.set(t, (cols.get(t) ?? 0) + 1);
  }
  let index = 0;
  for (const v of cell.values()) index += pairsOf(v);
  let sumRows = 0;
  for (const v of rows.values()) sumRows += pairsOf(v);
  let sumCols = 0;
  for (const v of cols.values()) sumCols += pairsOf(v);
  const total = pairsOf(n);
  const expected = total > 0 ? (sumRows * sumCols) / total : 0;
  const max = (sumRows + sumCols) / 2;
  if (max === expected) return 1;
  return (index - expected) / (max - expected);
}
