import assert from "node:assert/strict";
import fc from "fast-check";
import {
  arcfaceLogits,
  centerLoss,
  prelogitsNormLoss,
  softmaxCrossEntropy,
  tripletLoss,
} from "../core/pure/losses.ts";
import type { Matrix } from "../core/types.ts";

/**
 * Central finite differences of a float64 reference function `f` at `x`.
 * The references below are written independently of core/pure/losses.ts.
 */
function finiteDifferences(f: (x: Float64Array) => number, x: Float64Array, h = 1e-5) {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const p = x.slice();
    const m = x.slice();
    p[i] = (p[i] as number) + h;
    m[i] = (m[i] as number) - h;
    out[i] = (f(p) - f(m)) / (2 * h);
  }
  return out;
}

/**
 * The implementation works on float32 inputs in float64 and stores the
 * gradient as float32 (relative rounding 6e-8). Central differences with
 * h = 1e-5 have truncation error O(h^2 f''') ~ 1e-9 for these smooth pieces
 * and rounding error ~1e-16 |f| / h ~ 1e-10. So 1e-6 absolute plus 1e-5
 * relative is loose against both and still catches any wrong term.
 */
function assertGradientClose(got: Float32Array, want: Float64Array, label = "") {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i] as number;
    const w = want[i] as number;
    assert.ok(Math.abs(g - w) <= 1e-6 + 1e-5 * Math.abs(w), `${label} entry ${i}: ${g} vs ${w}`);
  }
}

function sqDist(x: Float64Array, cols: number, i: number, j: number): number {
  let s = 0;
  for (let k = 0; k < cols; k++) {
    s += ((x[i * cols + k] as number) - (x[j * cols + k] as number)) ** 2;
  }
  return s;
}

function tripletReference(x: Float64Array, cols: number, alpha: number, soft: boolean): number {
  const t = x.length / cols / 3;
  let total = 0;
  for (let k = 0; k < t; k++) {
    const z = sqDist(x, cols, 3 * k, 3 * k + 1) - sqDist(x, cols, 3 * k, 3 * k + 2);
    total += soft ? Math.log(1 + Math.exp(z)) : Math.max(z + alpha, 0);
  }
  return total / t;
}

const tripletArb = fc.record({
  triplets: fc.integer({ min: 1, max: 5 }),
  cols: fc.integer({ min: 1, max: 4 }),
  alpha: fc.double({ min: 0.05, max: 1, noNaN: true }),
}).chain(({ triplets, cols, alpha }) =>
  fc.array(fc.float({ min: -1, max: 1, noNaN: true }), {
    minLength: 3 * triplets * cols,
    maxLength: 3 * triplets * cols,
  }).map((values) => ({
    x: { rows: 3 * triplets, cols, data: new Float32Array(values) } as Matrix,
    alpha,
  }))
);

/** Whether every triplet's hinge argument is at least 1e-3 away from the kink. */
function awayFromKink(x: Matrix, alpha: number): boolean {
  const d = Float64Array.from(x.data);
  for (let t = 0; t < x.rows / 3; t++) {
    const z = sqDist(d, x.cols, 3 * t, 3 * t + 1) - sqDist(d, x.cols, 3 * t, 3 * t + 2) + alpha;
    if (Math.abs(z) < 1e-3) return false;
  }
  return true;
}

Deno.test("tripletLoss() is non-negative and equals the float64 reference", () => {
  fc.assert(
    fc.property(tripletArb, fc.boolean(), ({ x, alpha }, soft) => {
      const { loss } = tripletLoss(x, { alpha, softMargin: soft });
      assert.ok(loss >= 0);
      const ref = tripletReference(Float64Array.from(x.data), x.cols, alpha, soft);
      assert.ok(Math.abs(loss - ref) <= 1e-12 * (1 + ref), `${loss} vs ${ref}`);
    }),
    { numRuns: 200 },
  );
});

Deno.test("tripletLoss() is 0 with a zero gradient when every margin holds", () => {
  fc.assert(
    fc.property(tripletArb, ({ x, alpha }) => {
      // Push each negative far away: n = a + 10 along every axis.
      const data = Float32Array.from(x.data);
      for (let t = 0; t < x.rows / 3; t++) {
        for (let k = 0; k < x.cols; k++) {
          data[(3 * t + 2) * x.cols + k] = (data[3 * t * x.cols + k] as number) + 10;
        }
      }
      const { loss, gradient } = tripletLoss({ rows: x.rows, cols: x.cols, data }, { alpha });
      assert.equal(loss, 0);
      assert.ok(gradient.data.every((v) => v === 0));
    }),
    { numRuns: 100 },
  );
});

Deno.test("tripletLoss() gradient equals central finite differences (hinge and soft margin)", () => {
  fc.assert(
    fc.property(tripletArb, fc.boolean(), ({ x, alpha }, soft) => {
      if (!soft) fc.pre(awayFromKink(x, alpha));
      const { gradient } = tripletLoss(x, { alpha, softMargin: soft });
      const want = finiteDifferences(
        (v) => tripletReference(v, x.cols, alpha, soft),
        Float64Array.from(x.data),
      );
      assertGradientClose(gradient.data, want, soft ? "soft" : "hinge");
    }),
    { numRuns: 200 },
  );
});

Deno.test("tripletLoss() matches hand-computed values", () => {
  // Triplet 0: a=(0,0), p=(1,0), n=(0,1): z = 1 - 1 + 0.2 = 0.2.
  // Triplet 1: a=(0,0), p=(0,0.1), n=(2,0): z = 0.01 - 4 + 0.2 < 0.
  const x = { rows: 6, cols: 2, data: new Float32Array([0, 0, 1, 0, 0, 1, 0, 0, 0, 0.1, 2, 0]) };
  const { loss, gradient } = tripletLoss(x, { alpha: 0.2 });
  assert.ok(Math.abs(loss - 0.1) < 1e-9);
  // Triplet 0 gradients / 2 triplets: a: 2(n - p)/2 = (-1, 1), p: (1, 0), n: (0, -1).
  assert.deepEqual([...gradient.data], [-1, 1, 1, 0, 0, -1, 0, 0, 0, 0, 0, 0]);
  const soft = tripletLoss(x, { alpha: 0.2, softMargin: true });
  const z1 = Math.fround(0.1) ** 2 - 4;
  assert.ok(Math.abs(soft.loss - (Math.LN2 + Math.log1p(Math.exp(z1))) / 2) < 1e-12);
});

Deno.test("tripletLoss() rejects bad input with clear errors", () => {
  const bad = { rows: 4, cols: 1, data: new Float32Array(4) };
  assert.throws(() => tripletLoss(bad, { alpha: 0.2 }), /positive multiple of 3 rows/);
  const x = { rows: 3, cols: 1, data: new Float32Array([0, NaN, 1]) };
  assert.throws(() => tripletLoss(x, { alpha: 0.2 }), /Embeddings contain NaN at row 1/);
  const ok = { rows: 3, cols: 1, data: new Float32Array(3) };
  assert.throws(
    () => tripletLoss(ok, { alpha: 0 }),
    /Alpha must be a positive finite number, got 0/,
  );
  assert.equal(tripletLoss(ok, { alpha: 0, softMargin: true }).loss, Math.LN2);
});

Deno.test("centerLoss() gradient equals finite differences and the loss the reference", () => {
  const arb = fc.record({
    rows: fc.integer({ min: 1, max: 6 }),
    cols: fc.integer({ min: 1, max: 4 }),
    classes: fc.integer({ min: 1, max: 3 }),
  }).chain(({ rows, cols, classes }) =>
    fc.record({
      f: fc.array(fc.float({ min: -2, max: 2, noNaN: true }), {
        minLength: rows * cols,
        maxLength: rows * cols,
      }),
      c: fc.array(fc.float({ min: -2, max: 2, noNaN: true }), {
        minLength: classes * cols,
        maxLength: classes * cols,
      }),
      labels: fc.array(fc.nat({ max: classes - 1 }), { minLength: rows, maxLength: rows }),
      rows: fc.constant(rows),
      cols: fc.constant(cols),
      classes: fc.constant(classes),
    })
  );
  fc.assert(
    fc.property(arb, ({ f, c, labels, rows, cols, classes }) => {
      const features = { rows, cols, data: new Float32Array(f) };
      const centers = { rows: classes, cols, data: new Float32Array(c) };
      const lab = Int32Array.from(labels);
      const out = centerLoss(features, lab, centers, 0.95);
      const ref = (v: Float64Array) => {
        let s = 0;
        for (let i = 0; i < rows; i++) {
          for (let k = 0; k < cols; k++) {
            s += ((v[i * cols + k] as number) -
              (centers.data[(lab[i] as number) * cols + k] as number)) ** 2;
          }
        }
        return s / (rows * cols);
      };
      const x64 = Float64Array.from(features.data);
      assert.ok(Math.abs(out.loss - ref(x64)) <= 1e-12 * (1 + out.loss));
      assertGradientClose(out.gradient.data, finiteDifferences(ref, x64), "center");
    }),
    { numRuns: 100 },
  );
});

Deno.test("centerLoss() updates centers like scatter_sub, summing the diffs of a repeated label", () => {
  const features = { rows: 3, cols: 2, data: new Float32Array([1, 0, 3, 0, 0, 4]) };
  const centers = { rows: 3, cols: 2, data: new Float32Array([0, 0, 1, 1, 7, 7]) };
  const out = centerLoss(features, new Int32Array([0, 0, 1]), centers, 0.5);
  // Class 0: 0 - 0.5((0 - 1) + (0 - 3)) = 2; 0 - 0.5(0 + 0) = 0.
  // Class 1: 1 - 0.5(1 - 0) = 0.5; 1 - 0.5(1 - 4) = 2.5. Class 2 is untouched.
  assert.deepEqual([...out.centers.data], [2, 0, 0.5, 2.5, 7, 7]);
  // Loss from the old centers: (1 + 0 + 9 + 0 + 1 + 9) / 6.
  assert.equal(out.loss, 20 / 6);
  assert.deepEqual([...centers.data], [0, 0, 1, 1, 7, 7], "input centers untouched");
  assert.throws(
    () => centerLoss(features, new Int32Array([0, 3, 1]), centers, 0.5),
    /Label 3 at index 1 is outside \[0, 3\)/,
  );
  assert.throws(
    () => centerLoss(features, new Int32Array([0, 1]), centers, 0.5),
    /Labels length 2/,
  );
});

Deno.test("softmaxCrossEntropy() gradient equals finite differences and survives huge logits", () => {
  const arb = fc.record({
    rows: fc.integer({ min: 1, max: 4 }),
    cols: fc.integer({ min: 1, max: 5 }),
  })
    .chain(({ rows, cols }) =>
      fc.record({
        z: fc.array(fc.float({ min: -5, max: 5, noNaN: true }), {
          minLength: rows * cols,
          maxLength: rows * cols,
        }),
        labels: fc.array(fc.nat({ max: cols - 1 }), { minLength: rows, maxLength: rows }),
        rows: fc.constant(rows),
        cols: fc.constant(cols),
      })
    );
  fc.assert(
    fc.property(arb, ({ z, labels, rows, cols }) => {
      const logits = { rows, cols, data: new Float32Array(z) };
      const lab = Int32Array.from(labels);
      const ref = (v: Float64Array) => {
        let s = 0;
        for (let i = 0; i < rows; i++) {
          let sum = 0;
          for (let k = 0; k < cols; k++) sum += Math.exp(v[i * cols + k] as number);
          s += Math.log(sum) - (v[i * cols + (lab[i] as number)] as number);
        }
        return s / rows;
      };
      const out = softmaxCrossEntropy(logits, lab);
      const x64 = Float64Array.from(logits.data);
      assert.ok(Math.abs(out.loss - ref(x64)) <= 1e-12 * (1 + out.loss));
      assertGradientClose(out.gradient.data, finiteDifferences(ref, x64), "softmax");
    }),
    { numRuns: 100 },
  );
  const huge = softmaxCrossEntropy(
    { rows: 1, cols: 2, data: new Float32Array([1000, 0]) },
    new Int32Array([1]),
  );
  assert.equal(huge.loss, 1000);
  assert.deepEqual([...huge.gradient.data], [1, -1]);
});

Deno.test("arcfaceLogits() adds the angular margin on the target class only", () => {
  const m = 0.5;
  const cosines = { rows: 2, cols: 3, data: new Float32Array([0.8, 0.1, -0.3, -0.95, 0.2, 0.4]) };
  const { logits } = arcfaceLogits(cosines, new Int32Array([0, 0]), { margin: m, scale: 64 });
  const c0 = Math.fround(0.8);
  assert.equal(logits.data[0], Math.fround(64 * Math.cos(Math.acos(c0) + m)));
  assert.equal(logits.data[1], Math.fround(64 * Math.fround(0.1)));
  // Row 1: theta + m > pi (cos theta = -0.95 < cos(pi - 0.5) = -0.8776): fallback c - m sin m.
  const c1 = Math.fround(-0.95);
  assert.equal(logits.data[3], Math.fround(64 * (c1 - m * Math.sin(m))));
  assert.equal(logits.data[5], Math.fround(64 * Math.fround(0.4)));
});

Deno.test("arcfaceLogits() vjp equals finite differences of both branches", () => {
  const margin = 0.5;
  const scale = 4;
  const threshold = Math.cos(Math.PI - margin);
  const arb = fc.record({
    rows: fc.integer({ min: 1, max: 3 }),
    cols: fc.integer({ min: 1, max: 4 }),
  })
    .chain(({ rows, cols }) =>
      fc.record({
        c: fc.array(fc.float({ min: Math.fround(-0.99), max: Math.fround(0.99), noNaN: true }), {
          minLength: rows * cols,
          maxLength: rows * cols,
        }),
        dy: fc.array(fc.float({ min: -1, max: 1, noNaN: true }), {
          minLength: rows * cols,
          maxLength: rows * cols,
        }),
        labels: fc.array(fc.nat({ max: cols - 1 }), { minLength: rows, maxLength: rows }),
        rows: fc.constant(rows),
        cols: fc.constant(cols),
      })
    );
  fc.assert(
    fc.property(arb, ({ c, dy, labels, rows, cols }) => {
      const cosines = { rows, cols, data: new Float32Array(c) };
      const lab = Int32Array.from(labels);
      // Stay 1e-3 away from the branch switch (the function is continuous but kinked there).
      for (let i = 0; i < rows; i++) {
        fc.pre(
          Math.abs((cosines.data[i * cols + (lab[i] as number)] as number) - threshold) > 1e-3,
        );
      }
      const ref = (v: Float64Array) => {
        let s = 0;
        for (let i = 0; i < rows; i++) {
          for (let k = 0; k < cols; k++) {
            const x = v[i * cols + k] as number;
            let logit = scale * x;
            if (k === lab[i]) {
              logit = scale *
                (x > threshold ? Math.cos(Math.acos(x) + margin) : x - margin * Math.sin(margin));
            }
            s += (dy[i * cols + k] as number) * logit;
          }
        }
        return s;
      };
      const { vjp } = arcfaceLogits(cosines, lab, { margin, scale });
      const got = vjp({ rows, cols, data: new Float32Array(dy) });
      // Slopes reach cos m + sin m * 0.99 / sqrt(1 - 0.99^2) ~ 4.3; h = 1e-6 keeps the
      // truncation error (curvature ~ 1/sin^3 ~ 350) near 1e-10.
      assertGradientClose(
        got.data,
        finiteDifferences(ref, Float64Array.from(cosines.data), 1e-6),
        "arcface",
      );
    }),
    { numRuns: 100 },
  );
});

Deno.test("arcfaceLogits() keeps gradients finite at cos = 1 and rejects bad options", () => {
  const cosines = { rows: 1, cols: 1, data: new Float32Array([1]) };
  const { vjp } = arcfaceLogits(cosines, new Int32Array([0]), { margin: 0.5, scale: 1 });
  const g = vjp({ rows: 1, cols: 1, data: new Float32Array([1]) });
  assert.ok(Number.isFinite(g.data[0]));
  assert.throws(
    () => arcfaceLogits(cosines, new Int32Array([0]), { margin: 2, scale: 1 }),
    /margin/,
  );
  assert.throws(
    () => arcfaceLogits(cosines, new Int32Array([0]), { margin: 0.5, scale: 0 }),
    /scale/,
  );
});

Deno.test("prelogitsNormLoss() gradient equals finite differences for p = 1, 2, 3.5", () => {
  const arb = fc.record({
    rows: fc.integer({ min: 1, max: 4 }),
    cols: fc.integer({ min: 1, max: 4 }),
  })
    .chain(({ rows, cols }) =>
      fc.record({
        // abs() has a kink at 0, and near it the third derivative grows like
        // 1/|x|^2, so central differences with h = 1e-5 lose accuracy: at
        // [-0.001, -0.001], p = 3.5 their truncation error reached 1.6e-5
        // (CI, fast-check seed -651630784). Entries stay 1e-2 away from it.
        x: fc.array(
          fc.tuple(fc.boolean(), fc.float({ min: Math.fround(0.01), max: 3, noNaN: true }))
            .map(([negative, magnitude]) => negative ? -magnitude : magnitude),
          { minLength: rows * cols, maxLength: rows * cols },
        ),
        p: fc.constantFrom(1, 2, 3.5),
        rows: fc.constant(rows),
        cols: fc.constant(cols),
      })
    );
  fc.assert(
    fc.property(arb, ({ x, p, rows, cols }) => {
      const prelogits = { rows, cols, data: new Float32Array(x) };
      const ref = (v: Float64Array) => {
        let s = 0;
        for (let i = 0; i < rows; i++) {
          let sum = 0;
          for (let k = 0; k < cols; k++) sum += (Math.abs(v[i * cols + k] as number) + 1e-4) ** p;
          s += sum ** (1 / p);
        }
        return s / rows;
      };
      const out = prelogitsNormLoss(prelogits, p);
      const x64 = Float64Array.from(prelogits.data);
      assert.ok(Math.abs(out.loss - ref(x64)) <= 1e-12 * (1 + out.loss));
      assertGradientClose(out.gradient.data, finiteDifferences(ref, x64), `p=${p}`);
    }),
    { numRuns: 100 },
  );
  assert.throws(
    () => prelogitsNormLoss({ rows: 1, cols: 1, data: new Float32Array(1) }, 0.5),
    /p must be/,
  );
});
