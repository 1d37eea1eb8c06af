import assert from "node:assert/strict";
import fc from "fast-check";
import {
  MAX_TRIPLETS,
  selectTriplets,
  selectTripletsFromDistances,
} from "../core/pure/select_triplets.ts";
import { pairwiseSquaredDistances } from "../core/pure/distances.ts";
import { createRng, shuffle, uniformAt, uniforms } from "../core/pure/rng.ts";
import type { Matrix, SelectionStrategy } from "../core/types.ts";

interface Case {
  embeddings: Matrix;
  numPerClass: number[];
  alpha: number;
  anchorClasses: number;
  seed: number;
}

/** Float64 squared distance computed independently of the implementation. */
function dist64(x: Matrix, i: number, j: number): number {
  let s = 0;
  for (let k = 0; k < x.cols; k++) {
    s += ((x.data[i * x.cols + k] as number) - (x.data[j * x.cols + k] as number)) ** 2;
  }
  return s;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  numPerClass: fc.array(fc.nat({ max: 5 }), { minLength: 1, maxLength: 4 }),
  cols: fc.integer({ min: 1, max: 4 }),
  alpha: fc.double({ min: 0.05, max: 1.5, noNaN: true }),
  seed: fc.nat({ max: 1_000_000 }),
  anchorFraction: fc.double({ min: 0, max: 1, noNaN: true }),
}).chain(({ numPerClass, cols, alpha, seed, anchorFraction }) => {
  const rows = numPerClass.reduce((a, b) => a + b, 0);
  return fc.array(fc.float({ min: -1, max: 1, noNaN: true }), {
    minLength: rows * cols,
    maxLength: rows * cols,
  }).map((values) => ({
    embeddings: { rows, cols, data: new Float32Array(values) },
    numPerClass,
    alpha,
    anchorClasses: Math.round(anchorFraction * numPerClass.length),
    seed,
  }));
});

/** Class index of every row. */
function classOf(numPerClass: readonly number[]): number[] {
  const out: number[] = [];
  numPerClass.forEach((n, c) => {
    for (let k = 0; k < n; k++) out.push(c);
  });
  return out;
}

/** All anchor/positive pairs in canonical order, with brute-force candidates. */
function bruteForcePairs(c: Case, strategy: SelectionStrategy) {
  const cls = classOf(c.numPerClass);
  const pairs: { a: number; p: number; candidates: number[] }[] = [];
  for (let a = 0; a < cls.length; a++) {
    if ((cls[a] as number) >= c.anchorClasses) continue;
    for (let p = a + 1; p < cls.length; p++) {
      if (cls[p] !== cls[a]) continue;
      const dp = dist64(c.embeddings, a, p);
      const candidates: number[] = [];
      for (let r = 0; r < cls.length; r++) {
        if (cls[r] === cls[a]) continue;
        const dn = dist64(c.embeddings, a, r);
        if (dn - dp < c.alpha && (strategy !== "facenet" || dp < dn)) candidates.push(r);
      }
      pairs.push({ a, p, candidates });
    }
  }
  return pairs;
}

/**
 * Rejects cases whose decisions sit within 1e-4 of a tie: float32 distances
 * differ from the float64 reference by ~1e-7 relative, far below that gap.
 */
function awayFromTies(c: Case): boolean {
  const cls = classOf(c.numPerClass);
  for (let a = 0; a < cls.length; a++) {
    for (let p = a + 1; p < cls.length; p++) {
      if (cls[p] !== cls[a]) continue;
      const dp = dist64(c.embeddings, a, p);
      for (let r = 0; r < cls.length; r++) {
        if (cls[r] === cls[a]) continue;
        const dn = dist64(c.embeddings, a, r);
        if (Math.abs(dn - dp - c.alpha) < 1e-4 || Math.abs(dn - dp) < 1e-4) return false;
        for (let r2 = r + 1; r2 < cls.length; r2++) {
          if (cls[r2] !== cls[a] && Math.abs(dist64(c.embeddings, a, r2) - dn) < 1e-4) {
            return false;
          }
        }
      }
    }
  }
  return true;
}

function run(c: Case, strategy: SelectionStrategy, shuffleTriplets = false) {
  return selectTriplets(c.embeddings, c.numPerClass, {
    alpha: c.alpha,
    strategy,
    anchorClasses: c.anchorClasses,
    rng: createRng(c.seed),
    shuffle: shuffleTriplets,
  });
}

const STRATEGIES: SelectionStrategy[] = ["vggface", "facenet", "hard", "all"];

Deno.test("selectTriplets() never pairs an anchor with a negative of its own class, and meets each strategy's condition", () => {
  fc.assert(
    fc.property(caseArb, fc.constantFrom(...STRATEGIES), (c, strategy) => {
      fc.pre(awayFromTies(c));
      const cls = classOf(c.numPerClass);
      const result = run(c, strategy, true);
      for (const [a, p, n] of result.triplets) {
        assert.equal(cls[a], cls[p]);
        assert.notEqual(cls[a], cls[n]);
        assert.ok(a < p);
        assert.ok((cls[a] as number) < c.anchorClasses, "anchor from an anchor class");
        const dp = dist64(c.embeddings, a, p);
        const dn = dist64(c.embeddings, a, n);
        assert.ok(dn - dp < c.alpha);
        if (strategy === "facenet") assert.ok(dp < dn);
      }
    }),
    { numRuns: 150 },
  );
});

Deno.test("selectTriplets() counts every anchor/positive pair of the anchor classes", () => {
  fc.assert(
    fc.property(caseArb, fc.constantFrom(...STRATEGIES), (c, strategy) => {
      const result = run(c, strategy);
      const expected = c.numPerClass.slice(0, c.anchorClasses).reduce(
        (s, n) => s + (n * (n - 1)) / 2,
        0,
      );
      assert.equal(result.pairs, expected);
    }),
    { numRuns: 100 },
  );
});

Deno.test("selectTriplets() vggface/facenet yield one triplet per pair with a candidate, the floor(u * count)-th", () => {
  fc.assert(
    fc.property(
      caseArb,
      fc.constantFrom<SelectionStrategy>("vggface", "facenet"),
      (c, strategy) => {
        fc.pre(awayFromTies(c));
        const result = run(c, strategy);
        const rng = createRng(c.seed);
        const pairs = bruteForcePairs(c, strategy);
        const expected: [number, number, number][] = [];
        pairs.forEach(({ a, p, candidates }, k) => {
          if (candidates.length === 0) return;
          const u = uniformAt(rng, k);
          expected.push([a, p, candidates[Math.floor(u * candidates.length)] as number]);
        });
        assert.deepEqual(result.triplets, expected);
        const without = pairs.filter((q) => q.candidates.length === 0).length;
        assert.equal(result.noCandidateFraction, pairs.length > 0 ? without / pairs.length : 0);
        // One uniform (two words) per pair, drawn even for pairs without candidates.
        assert.deepEqual(result.rng, uniforms(rng, pairs.length)[1]);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test('selectTriplets() "all" equals a brute-force enumeration of margin violators', () => {
  fc.assert(
    fc.property(caseArb, (c) => {
      fc.pre(awayFromTies(c));
      const expected = bruteForcePairs(c, "all").flatMap(({ a, p, candidates }) =>
        candidates.map((n) => [a, p, n])
      );
      const result = run(c, "all");
      assert.deepEqual(result.triplets, expected);
      assert.deepEqual(result.rng, createRng(c.seed), "no draws without shuffle");
    }),
    { numRuns: 150 },
  );
});

Deno.test('selectTriplets() "hard" picks the minimum-distance candidate of each pair', () => {
  fc.assert(
    fc.property(caseArb, (c) => {
      fc.pre(awayFromTies(c));
      const pairs = bruteForcePairs(c, "hard").filter((q) => q.candidates.length > 0);
      const result = run(c, "hard");
      assert.equal(result.triplets.length, pairs.length);
      pairs.forEach(({ a, p, candidates }, k) => {
        const best = Math.min(...candidates.map((r) => dist64(c.embeddings, a, r)));
        const t = result.triplets[k];
        assert.deepEqual(t?.slice(0, 2), [a, p]);
        assert.equal(dist64(c.embeddings, a, t?.[2] as number), best);
      });
    }),
    { numRuns: 150 },
  );
});

Deno.test('selectTriplets() "hard" breaks distance ties by the lowest row', () => {
  // Row 0 (class 0) is equally far from rows 2 and 3 (class 1).
  const x = { rows: 4, cols: 1, data: new Float32Array([0, 0.25, 0.5, -0.5]) };
  const result = selectTriplets(x, [2, 2], { alpha: 1, strategy: "hard", shuffle: false });
  assert.deepEqual(result.triplets[0], [0, 1, 2]);
});

Deno.test("selectTriplets() shuffles the unshuffled triplets with the RNG that follows the pair draws", () => {
  fc.assert(
    fc.property(caseArb, fc.constantFrom(...STRATEGIES), (c, strategy) => {
      const plain = run(c, strategy, false);
      const shuffled = run(c, strategy, true);
      const start = plain.rng ?? createRng(c.seed);
      const [expected, end] = shuffle(plain.triplets, start);
      assert.deepEqual(shuffled.triplets, expected);
      assert.deepEqual(shuffled.rng, end);
    }),
    { numRuns: 100 },
  );
});

Deno.test("selectTriplets() reports the mean positive and negative distances", () => {
  fc.assert(
    fc.property(caseArb, (c) => {
      const cls = classOf(c.numPerClass);
      const pairs = bruteForcePairs(c, "all");
      const result = run(c, "all");
      const pos = pairs.map(({ a, p }) => dist64(c.embeddings, a, p));
      const meanPos = pos.length > 0 ? pos.reduce((s, v) => s + v, 0) / pos.length : 0;
      const anchors = [...new Set(pairs.map((q) => q.a))];
      const neg = anchors.flatMap((a) =>
        cls.flatMap((cr, r) => (cr !== cls[a] ? [dist64(c.embeddings, a, r)] : []))
      );
      const meanNeg = neg.length > 0 ? neg.reduce((s, v) => s + v, 0) / neg.length : 0;
      // float32 distances: relative error ~1e-7.
      assert.ok(Math.abs(result.meanPosDist - meanPos) <= 1e-6 * (1 + meanPos));
      assert.ok(Math.abs(result.meanNegDist - meanNeg) <= 1e-6 * (1 + meanNeg));
    }),
    { numRuns: 100 },
  );
});

Deno.test("selectTriplets() matches a hand-computed vggface case", () => {
  // Class 0: rows 0 (at 0) and 1 (at 0.3); class 1: rows 2 (at 0.4), 3 (at 0.5), 4 (at 3).
  // Pair (0,1): d(a,p) = 0.09; d(0,2) = 0.16, d(0,3) = 0.25 pass (< 0.29), d(0,4) = 9 fails.
  // Pairs (2,3), (2,4), (3,4) of class 1 come next in canonical order.
  const x = { rows: 5, cols: 1, data: new Float32Array([0, 0.3, 0.4, 0.5, 3]) };
  const rng = createRng(666);
  const result = selectTriplets(x, [2, 3], { alpha: 0.2, rng, shuffle: false });
  const u0 = uniformAt(rng, 0);
  assert.equal(result.pairs, 4);
  assert.deepEqual(result.triplets[0], [0, 1, u0 < 0.5 ? 2 : 3]);
  // (2,3): d = 0.01; d(2,0) = 0.16, d(2,1) = 0.01 -> 0.01 - 0.01 < 0.2 and 0.15 < 0.2: both.
  const u1 = uniformAt(rng, 1);
  assert.deepEqual(result.triplets[1], [2, 3, u1 < 0.5 ? 0 : 1]);
  // (2,4): d = 6.76: both rows of class 0 are candidates; (3,4): d = 6.25: both too.
  assert.equal(result.triplets.length, 4);
  assert.equal(result.noCandidateFraction, 0);
  assert.deepEqual(result.rng, uniforms(rng, 4)[1]);
});

Deno.test("selectTriplets() takes anchors only from the first anchorClasses classes", () => {
  const x = { rows: 4, cols: 1, data: new Float32Array([0, 0.1, 0.2, 0.3]) };
  const result = selectTriplets(x, [2, 2], {
    alpha: 1,
    strategy: "all",
    anchorClasses: 1,
    shuffle: false,
  });
  assert.deepEqual(result.triplets, [[0, 1, 2], [0, 1, 3]]);
  assert.equal(result.pairs, 1);
});

Deno.test("selectTripletsFromDistances() agrees with selectTriplets() on the same distances", () => {
  fc.assert(
    fc.property(caseArb, fc.constantFrom(...STRATEGIES), (c, strategy) => {
      const options = {
        alpha: c.alpha,
        strategy,
        anchorClasses: c.anchorClasses,
        rng: createRng(c.seed),
      };
      assert.deepEqual(
        selectTripletsFromDistances(pairwiseSquaredDistances(c.embeddings), c.numPerClass, options),
        selectTriplets(c.embeddings, c.numPerClass, options),
      );
    }),
    { numRuns: 50 },
  );
});

Deno.test("selectTriplets() rejects bad input with errors that name the problem", () => {
  const x = { rows: 2, cols: 1, data: new Float32Array([0, 1]) };
  const rng = createRng(0);
  assert.throws(
    () =>
      selectTriplets({ rows: 2, cols: 1, data: new Float32Array([0, NaN]) }, [2], {
        alpha: 0.2,
        rng,
      }),
    /Embeddings contain NaN at row 1, column 0/,
  );
  assert.throws(
    () =>
      selectTriplets({ rows: 2, cols: 1, data: new Float32Array([Infinity, 0]) }, [2], {
        alpha: 0.2,
        rng,
      }),
    /Embeddings contain Infinity at row 0/,
  );
  assert.throws(
    () => selectTriplets(x, [2], { alpha: 0, rng }),
    /Alpha must be a positive finite number, got 0/,
  );
  assert.throws(() => selectTriplets(x, [2], { alpha: -1, rng }), RangeError);
  assert.throws(
    () => selectTriplets(x, [1, 2], { alpha: 0.2, rng }),
    /numPerClass sums to 3 but the embeddings have 2 rows/,
  );
  assert.throws(() => selectTriplets(x, [2, -0.5], { alpha: 0.2, rng }), /numPerClass\[1\]/);
  assert.throws(
    () => selectTriplets(x, [2], { alpha: 0.2 }),
    (e: unknown) => e instanceof TypeError && /needs an rng/.test(e.message),
  );
  assert.throws(
    () => selectTriplets(x, [2], { alpha: 0.2, strategy: "all" }),
    /Shuffling the triplets needs an rng/,
  );
  assert.throws(
    () => selectTriplets(x, [2], { alpha: 0.2, rng, anchorClasses: 2 }),
    /anchorClasses must be an integer in \[0, 1\], got 2/,
  );
  assert.throws(
    () => selectTriplets(x, [2], { alpha: 0.2, rng, strategy: "batchhard" as SelectionStrategy }),
    /Unknown triplet selection strategy "batchhard"/,
  );
  assert.throws(
    () =>
      selectTripletsFromDistances({ rows: 2, cols: 3, data: new Float32Array(6) }, [2], {
        alpha: 0.2,
        rng,
      }),
    /square/,
  );
});

Deno.test("selectTriplets() handles a batch without pairs: no triplets, zero diagnostics, unchanged RNG", () => {
  const x = { rows: 2, cols: 1, data: new Float32Array([0, 1]) };
  const rng = createRng(3);
  const result = selectTriplets(x, [1, 1], { alpha: 0.2, rng });
  assert.deepEqual(result, {
    triplets: [],
    pairs: 0,
    meanPosDist: 0,
    meanNegDist: 0,
    noCandidateFraction: 0,
    rng,
  });
});

Deno.test("selectTriplets() lets a class with one image serve only as a negative", () => {
  const x = { rows: 4, cols: 1, data: new Float32Array([0, 0.1, 0.2, 0.3]) };
  const result = selectTriplets(x, [1, 3], { alpha: 1, strategy: "all", shuffle: false });
  assert.equal(result.pairs, 3);
  assert.ok(result.triplets.every(([a]) => a !== 0));
  assert.ok(result.triplets.some(([, , n]) => n === 0));
});

Deno.test("selectTriplets() refuses a batch-all selection above maxTriplets instead of exhausting memory", () => {
  // All rows coincide: every other-class row is a candidate of every pair (3 pairs x 3 rows).
  const x = { rows: 6, cols: 1, data: new Float32Array(6) };
  const options = { alpha: 0.2, strategy: "all" as const, shuffle: false };
  assert.equal(selectTriplets(x, [3, 3], { ...options, maxTriplets: 18 }).triplets.length, 18);
  assert.throws(
    () => selectTriplets(x, [3, 3], { ...options, maxTriplets: 17 }),
    /Batch-all selection exceeds 17 triplets/,
  );
  assert.equal(MAX_TRIPLETS, 4_000_000);
});
