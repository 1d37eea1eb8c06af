/**
 * The pure kernels: each op's backward equals central finite differences of
 * its forward, in float64 storage, on random small shapes (fast-check); plus
 * fixed cases of the TensorFlow semantics (padding, pooling, batch norm).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { createPureKernels, type PureTensor } from "../core/pure/kernels.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import type { Padding } from "../core/model_spec.ts";

const k64 = createPureKernels({ precision: "float64" });
const k32 = createPureKernels();

function randomTensor(shape: number[], seed: number, scale = 1): PureTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const [u] = uniforms(createRng(seed), size);
  const data = new Float64Array(size);
  for (let i = 0; i < size; i++) data[i] = (2 * u[i]! - 1) * scale;
  return { shape, data };
}

function dot(a: PureTensor, b: PureTensor): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

/**
 * Checks that `analytic` (the gradient of `sum(f(x) * r)` w.r.t. `x`) equals
 * central finite differences at every element of `x`.
 */
function checkGradient(
  f: (x: PureTensor) => PureTensor,
  x: PureTensor,
  r: PureTensor,
  analytic: PureTensor,
  h = 1e-5,
  tol = 1e-6,
): void {
  assert.deepEqual([...analytic.shape], [...x.shape]);
  for (let i = 0; i < x.data.length; i++) {
    const plus = Float64Array.from(x.data);
    const minus = Float64Array.from(x.data);
    plus[i]! += h;
    minus[i]! -= h;
    const fd = (dot(f({ shape: x.shape, data: plus }), r) -
      dot(f({ shape: x.shape, data: minus }), r)) / (2 * h);
    const a = analytic.data[i]!;
    assert.ok(
      Math.abs(fd - a) <= tol * (1 + Math.abs(fd)),
      `element ${i}: finite difference ${fd}, analytic ${a}`,
    );
  }
}

const convCase = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 6 }),
  w: fc.integer({ min: 1, max: 6 }),
  ci: fc.integer({ min: 1, max: 3 }),
  co: fc.integer({ min: 1, max: 3 }),
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 3 }),
  stride: fc.integer({ min: 1, max: 3 }),
  padding: fc.constantFrom<Padding>("same", "valid"),
  seed: fc.integer({ min: 0, max: 1_000_000 }),
}).filter((c) => c.padding === "same" || (c.kh <= c.h && c.kw <= c.w));

Deno.test("conv2d() backward (input and filter) equals central finite differences", () => {
  fc.assert(
    fc.property(convCase, (c) => {
      const x = randomTensor([c.n, c.h, c.w, c.ci], c.seed);
      const f = randomTensor([c.kh, c.kw, c.ci, c.co], c.seed + 1);
      const o = { stride: c.stride, padding: c.padding };
      const y = k64.conv2d(x, f, o);
      const r = randomTensor([...y.shape], c.seed + 2);
      const dx = k64.conv2dBackpropInput(r, f, { ...o, inputShape: x.shape });
      const df = k64.conv2dBackpropFilter(x, r, { ...o, filterShape: f.shape });
      checkGradient((v) => k64.conv2d(v, f, o), x, r, dx);
      checkGradient((v) => k64.conv2d(x, v, o), f, r, df);
    }),
    { numRuns: 25 },
  );
});

Deno.test("conv2d() follows TensorFlow's 'same' padding (smaller half before)", () => {
  // 4x4 input of ones, 2x2 kernel of ones, stride 1, "same": pad 0 before, 1 after.
  const x = { shape: [1, 4, 4, 1], data: new Float32Array(16).fill(1) };
  const f = { shape: [2, 2, 1, 1], data: new Float32Array(4).fill(1) };
  const y = k32.conv2d(k32.upload(x), k32.upload(f), { stride: 1, padding: "same" });
  assert.deepEqual([...y.shape], [1, 4, 4, 1]);
  assert.deepEqual(Array.from(y.data), [4, 4, 4, 2, 4, 4, 4, 2, 4, 4, 4, 2, 2, 2, 2, 1]);
});

const poolCase = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 6 }),
  w: fc.integer({ min: 1, max: 6 }),
  c: fc.integer({ min: 1, max: 3 }),
  size: fc.integer({ min: 1, max: 3 }),
  stride: fc.integer({ min: 1, max: 3 }),
  padding: fc.constantFrom<Padding>("same", "valid"),
  seed: fc.integer({ min: 0, max: 1_000_000 }),
}).filter((c) => c.padding === "same" || (c.size <= c.h && c.size <= c.w));

Deno.test("avgPool() and maxPool() backward equal central finite differences", () => {
  fc.assert(
    fc.property(poolCase, (c) => {
      // Distinct values keep max pooling away from ties (its kinks).
      const size = c.n * c.h * c.w * c.c;
      const [u] = uniforms(createRng(c.seed), size);
      const order = Array.from(u, (v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
      const data = new Float64Array(size);
      order.forEach(([, i], rank) => (data[i] = rank * 0.01));
      const x = { shape: [c.n, c.h, c.w, c.c], data };
      const o = { size: c.size, stride: c.stride, padding: c.padding };
      const ya = k64.avgPool(x, o);
      const r = randomTensor([...ya.shape], c.seed + 1);
      checkGradient(
        (v) => k64.avgPool(v, o),
        x,
        r,
        k64.avgPoolBackward(r, { ...o, inputShape: x.shape }),
      );
      checkGradient(
        (v) => k64.maxPool(v, o),
        x,
        r,
        k64.maxPoolBackward(r, x, o),
        1e-4,
      );
    }),
    { numRuns: 30 },
  );
});

Deno.test("avgPool() with 'same' padding excludes padded cells, as TensorFlow does", () => {
  const x = k32.upload({ shape: [1, 2, 2, 1], data: new Float32Array([1, 2, 3, 4]) });
  const y = k32.avgPool(x, { size: 3, stride: 1, padding: "same" });
  // Every 3x3 window centred on a cell of a 2x2 image covers all four cells.
  assert.deepEqual(Array.from(y.data), [2.5, 2.5, 2.5, 2.5]);
  const m = k32.maxPool(x, { size: 2, stride: 2, padding: "same" });
  assert.deepEqual(Array.from(m.data), [4]);
});

Deno.test("batchNormTrain() backward equals central finite differences (x, gamma, beta)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 6 }),
      fc.integer({ min: 1, max: 3 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 1_000_000 }),
      (m, c, scaled, seed) => {
        const x = randomTensor([m, c], seed, 2);
        const gamma = scaled ? randomTensor([c], seed + 1) : null;
        const beta = randomTensor([c], seed + 2);
        const eps = 0.001;
        const out = k64.batchNormTrain(x, gamma, beta, eps);
        const r = randomTensor([m, c], seed + 3);
        const g = k64.batchNormTrainBackward(r, x, gamma, {
          mean: out.mean,
          variance: out.variance,
          epsilon: eps,
        });
        checkGradient((v) => k64.batchNormTrain(v, gamma, beta, eps).y, x, r, g.dx, 1e-5, 1e-5);
        checkGradient((v) => k64.batchNormTrain(x, gamma, v, eps).y, beta, r, g.dBeta);
        if (gamma !== null) {
          checkGradient((v) => k64.batchNormTrain(x, v, beta, eps).y, gamma, r, g.dGamma!);
        } else {
          assert.equal(g.dGamma, null);
        }
      },
    ),
    { numRuns: 30 },
  );
});

Deno.test("batchNormTrain() normalizes each channel to mean 0 and variance v/(v+eps)", () => {
  const x = randomTensor([2, 3, 3, 4], 7, 5);
  const beta = { shape: [4], data: new Float64Array(4) };
  const out = k64.batchNormTrain(x, null, beta, 0.001);
  for (let j = 0; j < 4; j++) {
    let s = 0;
    let s2 = 0;
    for (let i = j; i < out.y.data.length; i += 4) {
      s += out.y.data[i]!;
      s2 += out.y.data[i]! ** 2;
    }
    const m = out.y.data.length / 4;
    const v = out.variance.data[j]!;
    assert.ok(Math.abs(s / m) < 1e-12);
    assert.ok(Math.abs(s2 / m - v / (v + 0.001)) < 1e-12);
  }
});

Deno.test("batchNormInference() applies the given statistics", () => {
  const x = k32.upload({ shape: [1, 2], data: new Float32Array([3, 5]) });
  const y = k32.batchNormInference(
    x,
    k32.upload({ shape: [2], data: new Float32Array([2, 1]) }),
    k32.upload({ shape: [2], data: new Float32Array([1, 0]) }),
    {
      mean: k32.upload({ shape: [2], data: new Float32Array([1, 1]) }),
      variance: k32.upload({ shape: [2], data: new Float32Array([4, 16]) }),
      epsilon: 0,
    },
  );
  assert.deepEqual(Array.from(y.data), [2 * (3 - 1) / 2 + 1, (5 - 1) / 4]);
});

Deno.test("relu, globalAvgPool, concat, matMul, biasAdd and l2Normalize backward equal finite differences", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 1_000_000 }),
      (n, d, u, seed) => {
        // relu away from its kink.
        const xr = randomTensor([n, d], seed);
        for (let i = 0; i < xr.data.length; i++) {
          if (Math.abs(xr.data[i]!) < 0.01) xr.data[i] = 0.5;
        }
        const r1 = randomTensor([n, d], seed + 1);
        checkGradient((v) => k64.relu(v), xr, r1, k64.reluBackward(r1, k64.relu(xr)));

        const img = randomTensor([n, 2, 3, d], seed + 2);
        checkGradient(
          (v) => k64.globalAvgPool(v),
          img,
          r1,
          k64.globalAvgPoolBackward(r1, img.shape),
        );

        const a = randomTensor([n, 2, d], seed + 3);
        const b = randomTensor([n, 2, u], seed + 4);
        const rc = randomTensor([n, 2, d + u], seed + 5);
        const [ga, gb] = k64.split(rc, [d, u]) as [PureTensor, PureTensor];
        checkGradient((v) => k64.concat([v, b]), a, rc, ga);
        checkGradient((v) => k64.concat([a, v]), b, rc, gb);

        const w = randomTensor([d, u], seed + 6);
        const bias = randomTensor([u], seed + 7);
        const rm = randomTensor([n, u], seed + 8);
        const dense = (x: PureTensor, ww: PureTensor, bb: PureTensor) =>
          k64.biasAdd(k64.matMul(x, ww), bb);
        checkGradient((v) => dense(v, w, bias), xr, rm, k64.matMul(rm, w, { transposeB: true }));
        checkGradient((v) => dense(xr, v, bias), w, rm, k64.matMul(xr, rm, { transposeA: true }));
        checkGradient((v) => dense(xr, w, v), bias, rm, k64.sumToChannels(rm));

        checkGradient(
          (v) => k64.l2Normalize(v, 1e-10),
          xr,
          r1,
          k64.l2NormalizeBackward(r1, xr, 1e-10),
        );
      },
    ),
    { numRuns: 30 },
  );
});

Deno.test("matMul() transposes each operand when asked", () => {
  const a = k32.upload({ shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
  const b = k32.upload({ shape: [2, 3], data: new Float32Array([1, 0, 1, 0, 1, 0]) });
  assert.deepEqual(Array.from(k32.matMul(a, b, { transposeB: true }).data), [4, 2, 10, 5]);
  assert.deepEqual(Array.from(k32.matMul(a, b, { transposeA: true }).data), [
    1,
    4,
    1,
    2,
    5,
    2,
    3,
    6,
    3,
  ]);
  assert.throws(() => k32.matMul(a, b), /inner sizes differ/);
});

Deno.test("kernels reject mismatched shapes with a RangeError naming them", () => {
  const x = k32.upload({ shape: [1, 2, 2, 1], data: new Float32Array(4) });
  const f = k32.upload({ shape: [3, 3, 2, 1], data: new Float32Array(18) });
  assert.throws(() => k32.conv2d(x, f, { stride: 1, padding: "same" }), /input channels/);
  const big = k32.upload({ shape: [3, 3, 1, 1], data: new Float32Array(9) });
  assert.throws(() => k32.conv2d(x, big, { stride: 1, padding: "valid" }), /exceeds input/);
  assert.throws(() => k32.add(x, f, 1), /\[1, 2, 2, 1\] and \[3, 3, 2, 1\]/);
});

Deno.test("prelu() backward (input and alpha) equals central finite differences", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 1_000_000 }),
      (n, hw, c, seed) => {
        const x = randomTensor([n, hw, c], seed);
        // Away from the kink at 0.
        for (let i = 0; i < x.data.length; i++) {
          if (Math.abs(x.data[i]!) < 0.05) x.data[i] = x.data[i]! < 0 ? -0.05 : 0.05;
        }
        const alpha = randomTensor([c], seed + 1);
        const y = k64.prelu(x, alpha);
        const r = randomTensor([...y.shape], seed + 2);
        const g = k64.preluBackward(r, x, alpha);
        checkGradient((v) => k64.prelu(v, alpha), x, r, g.dx);
        checkGradient((v) => k64.prelu(x, v), alpha, r, g.dAlpha);
      },
    ),
    { numRuns: 25 },
  );
});

Deno.test("prelu() keeps positives and scales negatives by their channel's alpha", () => {
  const x = k32.upload({ shape: [2, 2], data: new Float32Array([-1, 2, 3, -4]) });
  const alpha = k32.upload({ shape: [2], data: new Float32Array([0.5, 0.25]) });
  assert.deepEqual(Array.from(k32.prelu(x, alpha).data), [-0.5, 2, 3, -1]);
});

Deno.test("softmax() backward equals central finite differences", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 1_000_000 }),
      (n, c, seed) => {
        const x = randomTensor([n, 2, c], seed, 3);
        const y = k64.softmax(x);
        const r = randomTensor([...y.shape], seed + 1);
        checkGradient((v) => k64.softmax(v), x, r, k64.softmaxBackward(r, y));
      },
    ),
    { numRuns: 25 },
  );
});

Deno.test("softmax() rows sum to one and do not overflow on large logits", () => {
  const y = k32.softmax(
    k32.upload({ shape: [2, 2], data: new Float32Array([1000, 1000, 0, Math.log(3)]) }),
  );
  assert.deepEqual(Array.from(y.data), [0.5, 0.5, 0.25, 0.75]);
});

const depthwiseCase = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 6 }),
  w: fc.integer({ min: 1, max: 6 }),
  c: fc.integer({ min: 1, max: 3 }),
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 3 }),
  stride: fc.integer({ min: 1, max: 2 }),
  padding: fc.constantFrom<Padding>("same", "valid"),
  seed: fc.integer({ min: 0, max: 1_000_000 }),
}).filter((c) => c.padding === "same" || (c.kh <= c.h && c.kw <= c.w));

Deno.test("depthwiseConv2d() backward (input and filter) equals central finite differences", () => {
  fc.assert(
    fc.property(depthwiseCase, (c) => {
      const x = randomTensor([c.n, c.h, c.w, c.c], c.seed);
      const f = randomTensor([c.kh, c.kw, c.c, 1], c.seed + 1);
      const o = { stride: c.stride, padding: c.padding };
      const y = k64.depthwiseConv2d(x, f, o);
      const r = randomTensor([...y.shape], c.seed + 2);
      const dx = k64.depthwiseConv2dBackpropInput(r, f, { ...o, inputShape: x.shape });
      const df = k64.depthwiseConv2dBackpropFilter(x, r, { ...o, filterShape: f.shape });
      checkGradient((v) => k64.depthwiseConv2d(v, f, o), x, r, dx);
      checkGradient((v) => k64.depthwiseConv2d(x, v, o), f, r, df);
    }),
    { numRuns: 25 },
  );
});

Deno.test("depthwiseConv2d() equals conv2d() with a block-diagonal filter (TF 'same' padding)", () => {
  fc.assert(
    fc.property(depthwiseCase, (c) => {
      const x = randomTensor([c.n, c.h, c.w, c.c], c.seed);
      const f = randomTensor([c.kh, c.kw, c.c, 1], c.seed + 1);
      const full = new Float64Array(c.kh * c.kw * c.c * c.c);
      for (let t = 0; t < c.kh * c.kw; t++) {
        for (let ch = 0; ch < c.c; ch++) full[(t * c.c + ch) * c.c + ch] = f.data[t * c.c + ch]!;
      }
      const o = { stride: c.stride, padding: c.padding };
      const a = k64.depthwiseConv2d(x, f, o);
      const b = k64.conv2d(x, { shape: [c.kh, c.kw, c.c, c.c], data: full }, o);
      assert.deepEqual([...a.shape], [...b.shape]);
      a.data.forEach((v, i) => assert.ok(Math.abs(v - b.data[i]!) < 1e-12));
    }),
    { numRuns: 25 },
  );
});

Deno.test("maxPool() with 'same' padding never lets a padded cell win, also on negative maps", () => {
  // 3 wide, window 2, stride 2, "same": one padded column after; values all negative.
  const x = k32.upload({ shape: [1, 1, 3, 1], data: new Float32Array([-3, -1, -2]) });
  const o = { size: 2, stride: 2, padding: "same" } as const;
  assert.deepEqual(Array.from(k32.maxPool(x, o).data), [-1, -2]);
  const dy = k32.upload({ shape: [1, 1, 2, 1], data: new Float32Array([1, 1]) });
  assert.deepEqual(Array.from(k32.maxPoolBackward(dy, x, o).data), [0, 1, 1]);
});
