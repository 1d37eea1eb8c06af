import assert from "node:assert/strict";
import fc from "fast-check";
import {
  adjustedRandIndex,
  chineseWhispers,
  clusterMembers,
  clusterPurity,
  dbscan,
  NOISE,
  renumberBySize,
} from "../core/pure/cluster.ts";
import { pairwiseSquaredDistances } from "../core/pure/distances.ts";
import { createRng } from "../core/pure/rng.ts";
import type { Matrix } from "../core/types.ts";
import { gaussianBlobs } from "./_blobs.ts";

function lineDistances(xs: readonly number[]): Matrix {
  const data = new Float32Array(xs.flatMap((a) => xs.map((b) => Math.abs(a - b))));
  return { rows: xs.length, cols: xs.length, data };
}

function euclidean(x: Matrix): Matrix {
  const d = pairwiseSquaredDistances(x);
  return { ...d, data: d.data.map(Math.sqrt) };
}

function similarities(x: Matrix): Matrix {
  // Dot products of L2-normalized rows.
  const n = x.rows;
  const norm = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < x.cols; k++) s += x.data[i * x.cols + k]! ** 2;
    norm[i] = Math.sqrt(s);
  }
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < x.cols; k++) s += x.data[i * x.cols + k]! * x.data[j * x.cols + k]!;
      data[i * n + j] = s / (norm[i]! * norm[j]!);
    }
  }
  return { rows: n, cols: n, data };
}

Deno.test("dbscan() labels core, border and noise points as scikit-learn does", () => {
  // 0, 1, 2 form a chain; 2.9 is a border point of the core point 2 only
  // (its own neighbourhood {2, 2.9} is below minSamples 3); 10 is noise;
  // 20, 20.5, 21 form a second cluster.
  const labels = dbscan(lineDistances([0, 1, 2, 2.9, 10, 20, 20.5, 21]), {
    eps: 1,
    minSamples: 3,
  });
  assert.deepEqual([...labels], [0, 0, 0, 0, NOISE, 1, 1, 1]);
});

Deno.test("dbscan() gives a border point to the first cluster that reaches it", () => {
  // 5 (index 4) is a border point of both clusters: its neighbourhood {4, 5, 6}
  // is below minSamples 4, while 4 and 6 are core points.
  const xs = [2.5, 3, 3.5, 4, 5, 6, 6.5, 7, 7.5];
  const labels = dbscan(lineDistances(xs), { eps: 1, minSamples: 4 });
  assert.deepEqual([...labels], [0, 0, 0, 0, 0, 1, 1, 1, 1]);
  // Listed in the other order, the right-hand cluster is found first and takes it.
  const reversed = dbscan(lineDistances([...xs].reverse()), { eps: 1, minSamples: 4 });
  assert.deepEqual([...reversed], [0, 0, 0, 0, 0, 1, 1, 1, 1]);
});

Deno.test("dbscan() with minSamples 1 finds the connected components of the eps-graph", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 0, max: 5 }),
      (xs, eps) => {
        const labels = dbscan(lineDistances(xs), { eps, minSamples: 1 });
        // On a line, two points are connected iff no gap > eps separates them.
        const sorted = [...xs].sort((a, b) => a - b);
        for (let i = 0; i < xs.length; i++) {
          for (let j = 0; j < xs.length; j++) {
            const lo = Math.min(xs[i]!, xs[j]!);
            const hi = Math.max(xs[i]!, xs[j]!);
            let connected = true;
            for (let k = 1; k < sorted.length; k++) {
              if (sorted[k - 1]! >= lo && sorted[k]! <= hi && sorted[k]! - sorted[k - 1]! > eps) {
                connected = false;
              }
            }
            assert.equal(labels[i] === labels[j], connected);
          }
        }
        assert.ok(!labels.includes(NOISE));
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("dbscan() recovers Gaussian blobs with high purity", () => {
  const { x, labels: truth } = gaussianBlobs({
    classes: 4,
    perClass: 15,
    dims: 8,
    spread: 0.05,
    separation: 1,
    seed: 2,
  });
  const labels = dbscan(euclidean(x), { eps: 0.4, minSamples: 3 });
  const r = clusterPurity(labels, truth);
  assert.equal(r.clusters, 4);
  assert.equal(r.purity, 1);
  assert.ok(r.coverage > 0.9, `coverage ${r.coverage}`);
});

Deno.test("dbscan() rejects non-square matrices and bad options", () => {
  assert.throws(
    () => dbscan({ rows: 1, cols: 2, data: new Float32Array(2) }, { eps: 1, minSamples: 1 }),
    /square/,
  );
  assert.throws(() => dbscan(lineDistances([0]), { eps: -1, minSamples: 1 }), /eps must be/);
  assert.throws(() => dbscan(lineDistances([0]), { eps: 1, minSamples: 0 }), /minSamples must be/);
});

Deno.test("chineseWhispers() recovers Gaussian blobs and is reproducible from its RNG", () => {
  const { x, labels: truth } = gaussianBlobs({
    classes: 5,
    perClass: 12,
    dims: 16,
    spread: 0.1,
    separation: 1,
    seed: 9,
  });
  const s = similarities(x);
  const a = chineseWhispers(s, { threshold: 0.55, rng: createRng(1) });
  const b = chineseWhispers(s, { threshold: 0.55, rng: createRng(1) });
  assert.deepEqual(a, b);
  assert.equal(a.rng.counter > 0, true);
  const r = clusterPurity(a.labels, truth);
  assert.equal(r.purity, 1);
  assert.equal(r.coverage, 1);
  assert.equal(r.clusters, 5);
});

Deno.test("chineseWhispers() leaves isolated nodes alone and joins a clique", () => {
  // Nodes 0-2 form a clique above the threshold; 3 and 4 have no edges.
  const n = 5;
  const data = new Float32Array(n * n);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) data[i * n + j] = 0.9;
  data[3 * n + 4] = 0.2; // below the threshold: no edge
  data[4 * n + 3] = 0.2;
  const { labels } = chineseWhispers({ rows: n, cols: n, data }, {
    threshold: 0.5,
    rng: createRng(4),
  });
  assert.deepEqual([...labels], [0, 0, 0, 1, 2]);
  const none = chineseWhispers({ rows: n, cols: n, data }, {
    threshold: 0.5,
    iterations: 0,
    rng: createRng(4),
  });
  assert.deepEqual([...none.labels], [0, 1, 2, 3, 4]);
});

Deno.test("clusterMembers() and renumberBySize() order clusters by size, then first member", () => {
  const labels = new Int32Array([4, 2, 2, NOISE, 4, 9, 2]);
  assert.deepEqual(clusterMembers(labels), [[1, 2, 6], [0, 4], [5]]);
  assert.deepEqual([...renumberBySize(labels)], [1, 0, 0, NOISE, 1, 2, 0]);
});

Deno.test("clusterPurity() counts the majority identity per cluster and ignores noise", () => {
  const r = clusterPurity([0, 0, 0, 1, 1, NOISE], [1, 1, 2, 2, 2, 3]);
  assert.equal(r.purity, 4 / 5);
  assert.equal(r.coverage, 5 / 6);
  assert.equal(r.clusters, 2);
  assert.equal(r.baseline, 3 / 5);
  assert.deepEqual(clusterPurity([NOISE], [0]), {
    purity: 0,
    coverage: 0,
    clusters: 0,
    baseline: 0,
  });
});

Deno.test("adjustedRandIndex() matches a hand-computed case and is 1 for relabelled partitions", () => {
  // Contingency of [0,0,0,1,1,1] vs [0,0,1,1,2,2]: cells 2,1,1,2 -> index 2;
  // rows 3,3 -> 6 pairs; columns 2,2,2 -> 3 pairs; 15 pairs in all;
  // expected 6 * 3 / 15 = 1.2, max 4.5: ARI = 0.8 / 3.3.
  const ari = adjustedRandIndex([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]);
  assert.ok(Math.abs(ari - 0.8 / 3.3) < 1e-12, String(ari));
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 30, maxLength: 30 }),
      (truth, other) => {
        const relabelled = truth.map((t) => 10 - 2 * t);
        assert.equal(adjustedRandIndex(relabelled, truth), 1);
        const b = other.slice(0, truth.length);
        assert.ok(Math.abs(adjustedRandIndex(b, truth) - adjustedRandIndex(truth, b)) < 1e-12);
        assert.ok(adjustedRandIndex(b, truth) <= 1 + 1e-12);
      },
    ),
    { numRuns: 100 },
  );
  // Noise points count as singletons: all-noise against all-distinct identities is perfect.
  assert.equal(adjustedRandIndex([NOISE, NOISE, NOISE], [0, 1, 2]), 1);
});
