import assert from "node:assert/strict";
import fc from "fast-check";
import {
  areaUnderCurve,
  calculateRoc,
  distance,
  equalErrorRate,
  evaluate,
  type EvaluationReport,
  formatReport,
  interpolateFarThreshold,
  kFoldSplits,
  ROC_THRESHOLDS,
  splitConsecutivePairs,
  VAL_THRESHOLDS,
} from "../core/pure/evaluation.ts";
import { createRng, normal, uniform } from "../core/pure/rng.ts";
import type { Matrix, RngState } from "../core/types.ts";

function column(values: number[]): Matrix {
  return { rows: values.length, cols: 1, data: new Float32Array(values) };
}

Deno.test("evaluate() matches a hand-computed two-fold case", () => {
  // Squared distances (float32 inputs): 0.1^2, 1, 0.3^2, 0.5^2; labels same, diff, same, diff.
  const e1 = column([0, 0, 0, 0]);
  const e2 = column([0.1, 1, 0.3, 0.5]);
  const r = evaluate(e1, e2, [true, false, true, false], { nrofFolds: 2, farTarget: 0.5 });
  // Fold 0 trains on pairs 2,3 (0.0900000072 same, 0.25 diff): first perfect threshold 0.10;
  // its test pairs (0.0100000003 same, 1 diff) are both right.
  // Fold 1 trains on pairs 0,1: first perfect threshold 0.02; test 0.09 same is missed.
  assert.deepEqual(r.thresholdsChosen, [0.1, 0.02]);
  assert.deepEqual(r.accuracy, [1, 0.5]);
  assert.equal(r.accuracyMean, 0.75);
  assert.equal(r.accuracyStd, 0.25);
  assert.equal(r.tpr[5], 0.5); // t = 0.05: fold 0 accepts its same pair, fold 1 not yet
  assert.equal(r.tpr[10], 1);
  assert.equal(r.fpr[26], 0.5); // t = 0.26 > 0.25
  assert.equal(r.fpr[100], 0.5); // t = 1.00 is not > 1
  assert.equal(r.fpr[101], 1);
  assert.equal(r.auc, 1);
  assert.equal(r.eer, 0);
  // VAL: fold 0's training FAR jumps 0 -> 1 at t = 0.251, so FAR 0.5 sits at 0.1255;
  // fold 1's jumps at 1.001, giving 0.5005, which also accepts the 0.25 different pair.
  assert.ok(Math.abs((r.valThresholds[0] as number) - 0.1255) < 1e-12);
  assert.ok(Math.abs((r.valThresholds[1] as number) - 0.5005) < 1e-12);
  assert.equal(r.val, 1);
  assert.equal(r.valStd, 0);
  assert.equal(r.far, 0.5);
});

/** Pairs with alternating labels: same pairs nearly coincide, different pairs are well apart. */
const separableArb = fc.record({
  folds: fc.integer({ min: 2, max: 6 }),
  extra: fc.nat({ max: 10 }),
  seed: fc.nat({ max: 1_000_000 }),
}).map(({ folds, extra, seed }) => {
  const n = 2 * folds + extra;
  let rng: RngState = createRng(seed);
  const e1 = new Float32Array(2 * n);
  const e2 = new Float32Array(2 * n);
  const same: boolean[] = [];
  for (let i = 0; i < n; i++) {
    let u: number;
    let v: number;
    [u, rng] = uniform(rng);
    [v, rng] = uniform(rng);
    const theta = 2 * Math.PI * u;
    // Same: rotate by <= 0.05 rad (squared distance <= 0.0025 < 0.01).
    // Different: rotate by pi/6 .. 2pi/3 (squared distance 0.27 .. 3).
    const isSame = i % 2 === 0;
    const delta = isSame ? 0.05 * v : Math.PI / 6 + v * (Math.PI / 2);
    e1.set([Math.cos(theta), Math.sin(theta)], 2 * i);
    e2.set([Math.cos(theta + delta), Math.sin(theta + delta)], 2 * i);
    same.push(isSame);
  }
  return {
    e1: { rows: n, cols: 2, data: e1 },
    e2: { rows: n, cols: 2, data: e2 },
    same,
    folds,
  };
});

Deno.test("evaluate() scores a perfectly separable set with accuracy 1, AUC 1 and EER 0", () => {
  fc.assert(
    fc.property(separableArb, ({ e1, e2, same, folds }) => {
      const r = evaluate(e1, e2, same, { nrofFolds: folds });
      assert.ok(r.accuracy.every((a) => a === 1));
      assert.equal(r.accuracyStd, 0);
      assert.equal(r.auc, 1);
      assert.equal(r.eer, 0);
      // VAL depends on how the few training FAR steps interpolate; FAR cannot exceed 0 here.
      assert.equal(r.far, 0);
    }),
    { numRuns: 30 },
  );
});

/** Random unit embeddings where same pairs are noisier copies. */
function randomPairs(n: number, cols: number, noise: number, rng: RngState) {
  const e1 = new Float32Array(n * cols);
  const e2 = new Float32Array(n * cols);
  const same: boolean[] = [];
  let s = rng;
  const unit = (v: number[]) => {
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  for (let i = 0; i < n; i++) {
    const a: number[] = [];
    const b: number[] = [];
    const isSame = i % 2 === 0;
    for (let k = 0; k < cols; k++) {
      let z: number;
      let w: number;
      [z, s] = normal(s);
      [w, s] = normal(s);
      a.push(z);
      b.push(isSame ? z + noise * w : w);
    }
    e1.set(unit(a), i * cols);
    e2.set(unit(b), i * cols);
    same.push(isSame);
  }
  return {
    e1: { rows: n, cols, data: e1 } as Matrix,
    e2: { rows: n, cols, data: e2 } as Matrix,
    same,
  };
}

const randomArb = fc.record({
  n: fc.integer({ min: 4, max: 40 }),
  cols: fc.integer({ min: 1, max: 4 }),
  noise: fc.double({ min: 0.1, max: 2, noNaN: true }),
  seed: fc.nat({ max: 1_000_000 }),
  foldFraction: fc.double({ min: 0, max: 1, noNaN: true }),
}).map(({ n, cols, noise, seed, foldFraction }) => ({
  ...randomPairs(n, cols, noise, createRng(seed)),
  folds: 2 + Math.floor(foldFraction * (Math.min(n, 10) - 2)),
}));

Deno.test("evaluate() mirrors TPR and FPR when every label is swapped", () => {
  fc.assert(
    fc.property(
      randomArb,
      fc.constantFrom("euclidean", "cosine") as fc.Arbitrary<"euclidean" | "cosine">,
      (c, metric) => {
        const options = { nrofFolds: c.folds, distanceMetric: metric };
        const a = calculateRoc(ROC_THRESHOLDS, c.e1, c.e2, c.same, options);
        const b = calculateRoc(ROC_THRESHOLDS, c.e1, c.e2, c.same.map((x) => !x), options);
        assert.deepEqual(b.tpr, a.fpr);
        assert.deepEqual(b.fpr, a.tpr);
      },
    ),
    { numRuns: 50 },
  );
});

function permuteWithinFolds(
  c: { e1: Matrix; e2: Matrix; same: boolean[]; folds: number },
  seed: number,
) {
  const order: number[] = [];
  let rng = createRng(seed);
  for (const { testStart, testEnd } of kFoldSplits(c.same.length, c.folds)) {
    const block = Array.from({ length: testEnd - testStart }, (_, k) => testStart + k);
    for (let i = block.length - 1; i > 0; i--) {
      let u: number;
      [u, rng] = uniform(rng);
      const j = Math.floor(u * (i + 1));
      [block[i], block[j]] = [block[j] as number, block[i] as number];
    }
    order.push(...block);
  }
  const pick = (m: Matrix): Matrix => {
    const data = new Float32Array(m.data.length);
    order.forEach((src, dst) =>
      data.set(m.data.subarray(src * m.cols, (src + 1) * m.cols), dst * m.cols)
    );
    return { rows: m.rows, cols: m.cols, data };
  };
  return { e1: pick(c.e1), e2: pick(c.e2), same: order.map((i) => c.same[i] as boolean) };
}

Deno.test("evaluate() does not change when pairs are permuted inside their folds", () => {
  fc.assert(
    fc.property(randomArb, fc.nat({ max: 1000 }), (c, seed) => {
      const p = permuteWithinFolds(c, seed);
      const options = { nrofFolds: c.folds, farTarget: 0.1 };
      assert.deepEqual(
        evaluate(p.e1, p.e2, p.same, options),
        evaluate(c.e1, c.e2, c.same, options),
      );
    }),
    { numRuns: 30 },
  );
});

Deno.test("evaluate() keeps VAL@FAR's FAR near its target on a large random set", () => {
  // 20,000 pairs, 10 folds: each test fold holds 1,000 different pairs.
  const c = randomPairs(20000, 8, 1, createRng(7));
  const r = evaluate(c.e1, c.e2, c.same, { farTarget: 0.01 });
  // FA per test fold ~ Binomial(1000, 0.01): the mean of 10 folds has sd 0.001; 5 sd bound.
  assert.ok(Math.abs(r.far - 0.01) < 0.005, `far ${r.far}`);
  assert.ok(r.val > 0 && r.val <= 1);
  const d = evaluate(c.e1, c.e2, c.same);
  // Target 1e-3: ~1 FA per fold; sd of the mean ~3.2e-4; 5 sd bound.
  assert.ok(Math.abs(d.far - 1e-3) < 1.6e-3, `far ${d.far}`);
  assert.ok(d.val <= r.val, "a smaller FAR target cannot accept more");
});

Deno.test("evaluate() with subtractMean ignores a constant shift of every embedding (cosine)", () => {
  const c = randomPairs(40, 3, 0.7, createRng(3));
  const shift = (m: Matrix): Matrix => ({
    rows: m.rows,
    cols: m.cols,
    data: m.data.map((v, i) => v + [5, -3, 2][i % 3]!),
  });
  const options = { nrofFolds: 4, distanceMetric: "cosine" as const, subtractMean: true };
  const a = evaluate(c.e1, c.e2, c.same, options);
  const b = evaluate(shift(c.e1), shift(c.e2), c.same, options);
  assert.deepEqual(b.accuracy, a.accuracy);
  assert.deepEqual(b.thresholdsChosen, a.thresholdsChosen);
  for (let t = 0; t < a.tpr.length; t++) {
    assert.ok(Math.abs((a.tpr[t] as number) - (b.tpr[t] as number)) < 1e-12);
  }
  // Without mean subtraction the shift makes every cosine distance small.
  const s = evaluate(shift(c.e1), shift(c.e2), c.same, { ...options, subtractMean: false });
  assert.notDeepEqual(s.tpr, a.tpr);
});

Deno.test("distance() computes squared euclidean and angular distances", () => {
  const e1 = { rows: 3, cols: 2, data: new Float32Array([1, 0, 1, 0, 0.6, 0.8]) };
  const e2 = { rows: 3, cols: 2, data: new Float32Array([0, 1, -1, 0, 0.6, 0.8]) };
  assert.deepEqual([...distance(e1, e2)], [2, 4, 0]);
  const angular = distance(e1, e2, "cosine");
  assert.deepEqual([...angular.subarray(0, 2)], [0.5, 1]);
  // (0.6, 0.8) in float32 is not exactly unit: arccos near 1 amplifies the rounding to ~1e-8.
  assert.ok((angular[2] as number) < 1e-7);
  // Rounding can push the cosine similarity of identical rows above 1: clamped, not NaN.
  const x = { rows: 1, cols: 3, data: new Float32Array([0.1, 0.7, 0.3]) };
  assert.deepEqual([...distance(x, x, "cosine")], [0]);
});

Deno.test("kFoldSplits() gives sklearn's contiguous folds", () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 200 }), fc.integer({ min: 2, max: 200 }), (n, k) => {
      fc.pre(k <= n);
      const folds = kFoldSplits(n, k);
      assert.equal(folds.length, k);
      assert.equal(folds[0]?.testStart, 0);
      assert.equal(folds[k - 1]?.testEnd, n);
      folds.forEach((f, i) => {
        assert.equal(f.testEnd - f.testStart, Math.floor(n / k) + (i < n % k ? 1 : 0));
        if (i > 0) assert.equal(f.testStart, folds[i - 1]?.testEnd);
      });
    }),
    { numRuns: 100 },
  );
  assert.deepEqual(kFoldSplits(6000, 10)[3], { testStart: 1800, testEnd: 2400 });
});

Deno.test("interpolateFarThreshold() keeps the first threshold of each FAR value", () => {
  const thresholds = new Float64Array([0, 0.1, 0.2, 0.3, 0.4]);
  const far = new Float64Array([0, 0, 0.2, 0.2, 0.6]);
  // Points (0, 0), (0.2, 0.2), (0.6, 0.4): FAR 0.4 lies halfway on the second segment.
  assert.ok(Math.abs(interpolateFarThreshold(thresholds, far, 0.4) - 0.3) < 1e-15);
  assert.equal(interpolateFarThreshold(thresholds, far, 0.2), 0.2);
  assert.equal(interpolateFarThreshold(thresholds, far, 0.7), 0, "target above the maximum FAR");
  assert.equal(VAL_THRESHOLDS.length, 4000);
  assert.equal(VAL_THRESHOLDS[3999], 3999 * 0.001);
  assert.equal(ROC_THRESHOLDS.length, 400);
});

Deno.test("areaUnderCurve() and equalErrorRate() match hand-computed curves", () => {
  const f = new Float64Array([0, 0.5, 1]);
  assert.equal(areaUnderCurve(f, new Float64Array([0, 0.5, 1])), 0.5);
  assert.equal(equalErrorRate(f, new Float64Array([0, 0.5, 1])), 0.5);
  assert.equal(areaUnderCurve(new Float64Array([1, 0.5, 0]), new Float64Array([1, 0.5, 0])), 0.5);
  // Crossing inside a segment: (0, 0.5) -> (0.5, 1): x + 0.5 + x = 1 at x = 0.25.
  assert.equal(equalErrorRate(new Float64Array([0, 0.5]), new Float64Array([0.5, 1])), 0.25);
  // A curve stopping short of (1, 1) is closed with it: (0.2, 0.2) -> (1, 1) crosses at 0.5.
  assert.equal(equalErrorRate(new Float64Array([0, 0.2]), new Float64Array([0, 0.2])), 0.5);
  assert.throws(
    () => areaUnderCurve(new Float64Array([0, 1, 0.5]), new Float64Array(3)),
    /monotonic/,
  );
});

Deno.test("formatReport() prints the reference implementation's lines with Python's rounding", () => {
  const report = {
    accuracyMean: 0.99650,
    accuracyStd: 0.015625, // an exact binary tie at 5 decimals: Python prints 0.01562
    val: 0.98367,
    valStd: 0.00948,
    far: 0.001,
    auc: 0.0625, // tie at 3 decimals: 0.062
    eer: 0.9375, // tie at 3 decimals: 0.938
  } as EvaluationReport;
  assert.equal(
    formatReport(report),
    [
      "Accuracy: 0.99650+-0.01562",
      "Validation rate: 0.98367+-0.00948 @ FAR=0.00100",
      "Area Under Curve (AUC): 0.062",
      "Equal Error Rate (EER): 0.938",
    ].join("\n"),
  );
});

Deno.test("splitConsecutivePairs() pairs rows 0::2 with 1::2", () => {
  const [a, b] = splitConsecutivePairs({
    rows: 4,
    cols: 2,
    data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]),
  });
  assert.deepEqual([...a.data], [1, 2, 5, 6]);
  assert.deepEqual([...b.data], [3, 4, 7, 8]);
  assert.throws(() => splitConsecutivePairs(column([1, 2, 3])), /even number of rows, got 3/);
});

Deno.test("evaluate() rejects bad input with errors that name the problem", () => {
  const e = column([0, 1, 2]);
  const same = [true, false, true];
  assert.throws(() => evaluate(e, e, same), /Cannot split 3 pairs into 10 folds/);
  assert.throws(
    () => evaluate(e, e, same, { nrofFolds: 1 }),
    /Number of folds must be an integer >= 2, got 1/,
  );
  assert.throws(
    () => evaluate(e, e, [true], { nrofFolds: 2 }),
    /actualIsSame has 1 labels but there are 3 pairs/,
  );
  assert.throws(
    () => evaluate(e, column([0, 1]), same, { nrofFolds: 2 }),
    /Embeddings1 is 3x1 but embeddings2 is 2x1/,
  );
  assert.throws(
    () => evaluate(column([0, NaN, 1]), e, same, { nrofFolds: 2 }),
    /Embeddings1 contain NaN at row 1/,
  );
  assert.throws(
    () => evaluate(e, e, same, { nrofFolds: 2, farTarget: 0 }),
    /FAR target must be in \(0, 1\], got 0/,
  );
  assert.throws(
    () => evaluate(e, e, same, { nrofFolds: 2, distanceMetric: "manhattan" as "cosine" }),
    /Distance metric must be "euclidean" or "cosine", got "manhattan"/,
  );
});
