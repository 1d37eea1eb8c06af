import assert from "node:assert/strict";
import fc from "fast-check";
import {
  l2Normalize,
  l2NormalizeVjp,
  pairwiseSquaredDistances,
  squaredDistanceRows,
} from "../core/pure/distances.ts";
import type { Matrix } from "../core/types.ts";

function matrixArb(
  maxRows: number,
  maxCols: number,
  minRows = 0,
  minCols = 1,
): fc.Arbitrary<Matrix> {
  return fc.tuple(
    fc.integer({ min: minRows, max: maxRows }),
    fc.integer({ min: minCols, max: maxCols }),
  )
    .chain(([rows, cols]) =>
      fc.array(fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }), {
        minLength: rows * cols,
        maxLength: rows * cols,
      }).map((values) => ({ rows, cols, data: new Float32Array(values) }))
    );
}

Deno.test("pairwiseSquaredDistances() matches a hand-computed case", () => {
  const x = { rows: 3, cols: 2, data: new Float32Array([0, 0, 3, 4, 1, 1]) };
  assert.deepEqual([...pairwiseSquaredDistances(x).data], [0, 25, 2, 25, 0, 13, 2, 13, 0]);
});

Deno.test("pairwiseSquaredDistances() is symmetric, non-negative, exactly 0 on the diagonal", () => {
  fc.assert(
    fc.property(matrixArb(8, 6), (x) => {
      const d = pairwiseSquaredDistances(x);
      assert.equal(d.rows, x.rows);
      assert.equal(d.cols, x.rows);
      for (let i = 0; i < x.rows; i++) {
        assert.equal(d.data[i * x.rows + i], 0);
        for (let j = 0; j < x.rows; j++) {
          const v = d.data[i * x.rows + j] as number;
          assert.ok(v >= 0);
          assert.equal(v, d.data[j * x.rows + i]);
          assert.equal(v, Math.fround(squaredDistanceRows(x, i, x, j)));
        }
      }
    }),
    { numRuns: 100 },
  );
});

Deno.test("pairwiseSquaredDistances() accumulates in float64 and rounds once", () => {
  // 1e4 columns of (1 + 2^-12)^2 differences: float32 accumulation would drift.
  const cols = 10000;
  const data = new Float32Array(2 * cols);
  data.fill(1 + 2 ** -12, cols);
  const d = pairwiseSquaredDistances({ rows: 2, cols, data });
  assert.equal(d.data[1], Math.fround(cols * (1 + 2 ** -12) ** 2));
});

Deno.test("pairwiseSquaredDistances() rejects data that does not match the shape", () => {
  assert.throws(
    () => pairwiseSquaredDistances({ rows: 2, cols: 2, data: new Float32Array(3) }),
    /data length 3 does not match 2x2/,
  );
  assert.throws(
    () => pairwiseSquaredDistances({ rows: 1, cols: 2, data: [1, 2] as unknown as Float32Array }),
    TypeError,
  );
});

Deno.test("l2Normalize() gives unit-norm rows pointing the same way", () => {
  fc.assert(
    fc.property(matrixArb(6, 8, 1), (x) => {
      const y = l2Normalize(x);
      for (let i = 0; i < x.rows; i++) {
        let s = 0;
        let dot = 0;
        for (let k = 0; k < x.cols; k++) {
          const v = y.data[i * x.cols + k] as number;
          s += v * v;
          dot += v * (x.data[i * x.cols + k] as number);
        }
        let xs = 0;
        for (let k = 0; k < x.cols; k++) xs += (x.data[i * x.cols + k] as number) ** 2;
        if (xs >= 1e-10) {
          // float32 storage: each entry has relative error <= 2^-24.
          assert.ok(Math.abs(s - 1) < 1e-6, `row norm^2 ${s}`);
          assert.ok(Math.abs(dot - Math.sqrt(xs)) <= 1e-6 * Math.sqrt(xs) + 1e-12);
        } else {
          assert.ok(s <= 1 + 1e-6);
        }
      }
    }),
    { numRuns: 100 },
  );
});

Deno.test("l2Normalize() divides tiny rows by sqrt(epsilon) like tf.nn.l2_normalize", () => {
  const x = { rows: 2, cols: 2, data: new Float32Array([0, 0, 3e-6, 4e-6]) };
  const y = l2Normalize(x);
  // sum(x^2) = 2.5e-11 < 1e-10, so row 1 becomes x / 1e-5.
  assert.deepEqual([...y.data], [
    0,
    0,
    Math.fround(Math.fround(3e-6) / 1e-5),
    Math.fround(Math.fround(4e-6) / 1e-5),
  ]);
  assert.throws(() => l2Normalize(x, 0), /Epsilon must be a positive finite number, got 0/);
});

/** Central finite differences of sum(dy * l2Normalize(x)) in float64. */
function numericVjp(x: Float64Array, cols: number, dy: Float64Array, eps: number, h: number) {
  const f = (v: Float64Array) => {
    let total = 0;
    for (let r = 0; r < v.length / cols; r++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += (v[r * cols + k] as number) ** 2;
      const inv = 1 / Math.sqrt(Math.max(s, eps));
      for (let k = 0; k < cols; k++) {
        total += (dy[r * cols + k] as number) * (v[r * cols + k] as number) * inv;
      }
    }
    return total;
  };
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

Deno.test("l2NormalizeVjp() equals central finite differences of the float64 forward pass", () => {
  const rowArb = fc.integer({ min: 1, max: 4 }).chain((rows) =>
    fc.integer({ min: 1, max: 5 }).chain((cols) =>
      fc.tuple(
        fc.array(fc.float({ min: -2, max: 2, noNaN: true }), {
          minLength: rows * cols,
          maxLength: rows * cols,
        }),
        fc.array(fc.float({ min: -2, max: 2, noNaN: true }), {
          minLength: rows * cols,
          maxLength: rows * cols,
        }),
      ).map(([xs, dys]) => ({ rows, cols, xs, dys }))
    )
  );
  fc.assert(
    fc.property(rowArb, ({ rows, cols, xs, dys }) => {
      const x = { rows, cols, data: new Float32Array(xs) };
      // Keep rows well away from the epsilon kink: norm >= 0.1.
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let k = 0; k < cols; k++) s += (x.data[r * cols + k] as number) ** 2;
        fc.pre(s >= 0.01);
      }
      const dy = { rows, cols, data: new Float32Array(dys) };
      const got = l2NormalizeVjp(x, dy);
      const want = numericVjp(
        Float64Array.from(x.data),
        cols,
        Float64Array.from(dy.data),
        1e-10,
        1e-5,
      );
      // Truncation error O(h^2 / |x|^3) ~ 1e-7 and float32 rounding of the result
      // (relative 6e-8 of values <= ~60) stay below 1e-4 relative + 1e-5 absolute.
      for (let i = 0; i < want.length; i++) {
        const g = got.data[i] as number;
        const w = want[i] as number;
        assert.ok(Math.abs(g - w) <= 1e-5 + 1e-4 * Math.abs(w), `entry ${i}: ${g} vs ${w}`);
      }
    }),
    { numRuns: 100 },
  );
});

Deno.test("l2NormalizeVjp() passes dy / sqrt(epsilon) through rows below epsilon", () => {
  const x = { rows: 1, cols: 2, data: new Float32Array([1e-6, 0]) };
  const dy = { rows: 1, cols: 2, data: new Float32Array([1e-5, 2e-5]) };
  const dx = l2NormalizeVjp(x, dy);
  assert.deepEqual([...dx.data], [
    Math.fround(Math.fround(1e-5) / 1e-5),
    Math.fround(Math.fround(2e-5) / 1e-5),
  ]);
  assert.throws(
    () => l2NormalizeVjp(x, { rows: 2, cols: 1, data: new Float32Array(2) }),
    /Upstream gradient shape 2x1 does not match input 1x2/,
  );
});
