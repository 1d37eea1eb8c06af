import assert from "node:assert/strict";
import fc from "fast-check";
import { pca } from "../core/pure/pca.ts";
import type { Matrix } from "../core/types.ts";

/** Variance (denominator n - 1) of the rows of `x` along the unit direction `w`. */
function varianceAlong(x: Matrix, w: readonly number[]): number {
  const proj: number[] = [];
  for (let r = 0; r < x.rows; r++) {
    let s = 0;
    for (let c = 0; c < x.cols; c++) s += x.data[r * x.cols + c]! * w[c]!;
    proj.push(s);
  }
  const mean = proj.reduce((a, b) => a + b, 0) / proj.length;
  return proj.reduce((a, b) => a + (b - mean) ** 2, 0) / (proj.length - 1);
}

const data = fc.integer({ min: 1, max: 7 }).chain((cols) =>
  fc.integer({ min: 2, max: 25 }).chain((rows) =>
    fc.array(fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }), {
      minLength: rows * cols,
      maxLength: rows * cols,
    }).map((values) => ({ rows, cols, data: Float32Array.from(values) }))
  )
);

Deno.test("pca() axes are orthonormal, variances descend, and the projection is the centred rows on the axes", () => {
  fc.assert(
    fc.property(data, (x) => {
      const k = Math.min(2, x.cols);
      const result = pca(x, { components: k });
      const { components: axes, projection } = result;
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          let s = 0;
          for (let c = 0; c < x.cols; c++) {
            s += axes.data[a * x.cols + c]! * axes.data[b * x.cols + c]!;
          }
          assert.ok(Math.abs(s - (a === b ? 1 : 0)) < 1e-5, `<axis ${a}, axis ${b}> = ${s}`);
        }
      }
      for (let j = 1; j < k; j++) {
        assert.ok(result.explainedVariance[j]! <= result.explainedVariance[j - 1]! * (1 + 1e-9));
      }
      const sum = result.explainedVariance.reduce((a, b) => a + b, 0);
      assert.ok(sum <= result.totalVariance * (1 + 1e-9) + 1e-12);
      for (let r = 0; r < x.rows; r++) {
        for (let j = 0; j < k; j++) {
          let s = 0;
          for (let c = 0; c < x.cols; c++) {
            s += (x.data[r * x.cols + c]! - result.mean[c]!) * axes.data[j * x.cols + c]!;
          }
          assert.ok(Math.abs(projection.data[r * k + j]! - s) < 1e-4 * (1 + Math.abs(s)));
        }
      }
    }),
  );
});

Deno.test("pca() finds the direction of greatest variance: no unit direction has more", () => {
  fc.assert(
    fc.property(
      data,
      fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 7, maxLength: 7 }),
      (x, raw) => {
        const w = raw.slice(0, x.cols);
        const norm = Math.hypot(...w);
        fc.pre(norm > 1e-3);
        const unit = w.map((v) => v / norm);
        const { explainedVariance, components } = pca(x, { components: 1 });
        const top = explainedVariance[0]!;
        assert.ok(varianceAlong(x, unit) <= top * (1 + 1e-6) + 1e-9);
        // The reported variance is the variance along the reported axis.
        const axis = [...components.data].map(Number);
        assert.ok(Math.abs(varianceAlong(x, axis) - top) <= 1e-4 * (1 + top));
      },
    ),
  );
});

Deno.test("pca() recovers a plane hidden in 16 dimensions, with its variances and a fixed sign", () => {
  // Rows = a_i * u + b_i * v + offset with var(a) = 9 var(b); u, v orthonormal in R^16.
  const d = 16;
  const u = Array.from({ length: d }, (_, i) => (i < 4 ? 0.5 : 0));
  const v = Array.from({ length: d }, (_, i) => (i === 4 ? -0.6 : i === 9 ? 0.8 : 0));
  const n = 200;
  const data = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const a = 3 * Math.sin(r * 0.37);
    const b = Math.cos(r * 1.91);
    for (let c = 0; c < d; c++) data[r * d + c] = a * u[c]! + b * v[c]! + 5;
  }
  const x = { rows: n, cols: d, data };
  const result = pca(x);
  const first = [...result.components.data.subarray(0, d)];
  const second = [...result.components.data.subarray(d, 2 * d)];
  const cosine = (p: number[], q: number[]) => p.reduce((s, pi, i) => s + pi * q[i]!, 0);
  assert.ok(Math.abs(cosine(first, u) - 1) < 1e-5, `first axis ${first}`);
  // v's largest entry is +0.8, so the sign convention keeps v as it is.
  assert.ok(Math.abs(cosine(second, v) - 1) < 1e-5, `second axis ${second}`);
  assert.ok(Math.abs(result.explainedVariance[0]! - varianceAlong(x, u)) < 1e-4);
  assert.ok(Math.abs(result.explainedVariance[1]! - varianceAlong(x, v)) < 1e-4);
  assert.ok(Math.abs(result.totalVariance - varianceAlong(x, u) - varianceAlong(x, v)) < 1e-4);
});

Deno.test("pca() rejects too few rows, a bad component count and non-finite values", () => {
  const x = { rows: 2, cols: 2, data: new Float32Array([1, 2, 3, 4]) };
  assert.throws(() => pca({ rows: 1, cols: 2, data: new Float32Array(2) }), RangeError);
  assert.throws(() => pca(x, { components: 3 }), /\[1, 2\], got 3/);
  assert.throws(() => pca(x, { components: 0 }), RangeError);
  assert.throws(() => pca({ rows: 2, cols: 1, data: new Float32Array([1, NaN]) }), /NaN/);
  assert.throws(() => pca({ rows: 1, cols: 1, data: [1] } as unknown as Matrix), TypeError);
});
