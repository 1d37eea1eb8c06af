/**
 * The wasm-simd kernels against the pure kernels (core/pure/kernels.ts, the
 * specification): every op forward and backward on random small shapes
 * (fast-check), on 1 and 3 threads; ops whose arithmetic does not depend on the
 * thread split (GEMM-based, pooling, elementwise, row-wise) are also
 * bit-identical between 1 and 3 threads. Tolerance: |wasm - pure| <= 1e-4 + 1e-5 *
 * |pure| per element (float32 storage both sides; the pure kernels
 * accumulate in float64, the wasm GEMM in float32 over at most a few hundred
 * unit-scale terms).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import type { Kernels } from "../core/kernels.ts";
import type { Padding } from "../core/model_spec.ts";
import type { Tensor } from "../core/types.ts";
import { createPureKernels } from "../core/pure/kernels.ts";
import { createWasmSimdKernels } from "../backends/wasm-simd/kernels.ts";
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";

const TOL_ABS = 1e-4;
const TOL_REL = 1e-5;
const NUM_RUNS = 12;

function tensor(shape: number[], seed: number, scale = 1): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  let s = (seed >>> 0) || 1;
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = ((s >>> 0) / 4294967296 * 2 - 1) * scale;
  }
  return { shape, data };
}

type Op = <T>(k: Kernels<T>, xs: T[]) => T | T[];

function runOn<T>(k: Kernels<T>, inputs: Tensor[], op: Op): Tensor[] {
  const handles = inputs.map((t) => k.upload(t));
  const out = op(k, handles);
  const outs = Array.isArray(out) ? out : [out];
  const result = outs.map((h) => k.download(h));
  for (const h of outs) k.dispose(h);
  for (const h of handles) k.dispose(h);
  return result;
}

function assertClose(actual: Tensor[], expected: Tensor[], what: string): void {
  assert.equal(actual.length, expected.length);
  for (let t = 0; t < actual.length; t++) {
    assert.deepEqual(actual[t]!.shape, expected[t]!.shape, `${what}: shape of output ${t}`);
    const a = actual[t]!.data;
    const e = expected[t]!.data;
    for (let i = 0; i < a.length; i++) {
      const tol = TOL_ABS + TOL_REL * Math.abs(e[i]!);
      assert.ok(
        Math.abs(a[i]! - e[i]!) <= tol,
        `${what}: output ${t} element ${i}: ${a[i]} vs ${e[i]}`,
      );
    }
  }
}

const pure = createPureKernels();
const rt1 = await createWasmSimdRuntime({ threads: 1 });
const rt2 = await createWasmSimdRuntime({ threads: 3 });
const wasm1 = createWasmSimdKernels(rt1);
// Threshold 0: every kernel runs on the pool, even the tiny ones.
const wasm2 = createWasmSimdKernels(rt2, { parallelThreshold: 0 });

function check(what: string, inputs: Tensor[], op: Op): void {
  const expected = runOn(pure, inputs, op);
  assertClose(runOn(wasm1, inputs, op), expected, `${what} (1 thread)`);
  assertClose(runOn(wasm2, inputs, op), expected, `${what} (3 threads)`);
}

/** Ops whose per-element arithmetic does not depend on the thread split. */
function checkThreadInvariant(what: string, inputs: Tensor[], op: Op): void {
  const one = runOn(wasm1, inputs, op);
  const three = runOn(wasm2, inputs, op);
  for (let t = 0; t < one.length; t++) {
    assert.deepEqual(
      three[t]!.data,
      one[t]!.data,
      `${what}: output ${t} differs between 1 and 3 threads`,
    );
  }
}

function property<A>(arb: fc.Arbitrary<A>, body: (a: A) => void): void {
  fc.assert(fc.property(arb, body), { numRuns: NUM_RUNS });
}

const seed = fc.integer({ min: 1, max: 1 << 30 });
const padding = fc.constantFrom<Padding>("same", "valid");
const dim = (max: number) => fc.integer({ min: 1, max });

Deno.test("wasm-simd conv2d and both backward passes equal the pure kernels", () => {
  property(
    fc.record({
      n: dim(3),
      h: dim(9),
      w: dim(9),
      cin: dim(6),
      cout: dim(9),
      kernel: dim(3),
      stride: dim(2),
      padding,
      seed,
    }).filter((c) => c.padding === "same" || (c.h >= c.kernel && c.w >= c.kernel)),
    (c) => {
      const x = tensor([c.n, c.h, c.w, c.cin], c.seed);
      const f = tensor([c.kernel, c.kernel, c.cin, c.cout], c.seed + 1);
      const o = { stride: c.stride, padding: c.padding };
      const [y] = runOn(pure, [x, f], (k, [a, b]) => k.conv2d(a!, b!, o));
      const dy = tensor([...y!.shape], c.seed + 2);
      check("conv2d", [x, f], (k, [a, b]) => k.conv2d(a!, b!, o));
      check(
        "conv2dBackpropInput",
        [dy, f],
        (k, [g, b]) => k.conv2dBackpropInput(g!, b!, { ...o, inputShape: x.shape }),
      );
      check(
        "conv2dBackpropFilter",
        [x, dy],
        (k, [a, g]) => k.conv2dBackpropFilter(a!, g!, { ...o, filterShape: f.shape }),
      );
    },
  );
});

Deno.test("wasm-simd convolutions are bit-identical on 1 and 3 threads, however the work is split", () => {
  // Output pixels in many blocks that the threads claim dynamically, and filter
  // gradients whose GEMM splits rows (3-channel input, gathered) or columns.
  for (const [cin, cout, stride] of [[3, 16, 2], [32, 8, 1], [8, 40, 1]] as const) {
    const x = tensor([3, 20, 20, cin], cin + cout);
    const f = tensor([3, 3, cin, cout], cin + cout + 1);
    const o = { stride, padding: "same" as const };
    const [y] = runOn(pure, [x, f], (k, [a, b]) => k.conv2d(a!, b!, o));
    const dy = tensor([...y!.shape], cin + cout + 2);
    const what = `${cin} -> ${cout}, stride ${stride}`;
    checkThreadInvariant(`conv2d ${what}`, [x, f], (k, [a, b]) => k.conv2d(a!, b!, o));
    checkThreadInvariant(
      `conv2dBackpropInput ${what}`,
      [dy, f],
      (k, [g, b]) => k.conv2dBackpropInput(g!, b!, { ...o, inputShape: x.shape }),
    );
    checkThreadInvariant(
      `conv2dBackpropFilter ${what}`,
      [x, dy],
      (k, [a, g]) => k.conv2dBackpropFilter(a!, g!, { ...o, filterShape: f.shape }),
    );
  }
});

Deno.test("wasm-simd batch norm (training, inference, backward) equals the pure kernels", () => {
  property(
    fc.record({
      rows: dim(40),
      c: dim(11),
      offset: fc.double({ min: -3, max: 3, noNaN: true }),
      seed,
      gamma: fc.boolean(),
    }),
    (c) => {
      const x = tensor([c.rows, 1, 1, c.c], c.seed);
      for (let i = 0; i < x.data.length; i++) x.data[i]! += c.offset;
      const gamma = tensor([c.c], c.seed + 1);
      const beta = tensor([c.c], c.seed + 2);
      const dy = tensor(x.shape as number[], c.seed + 3);
      const eps = 1e-3;
      check("batchNormTrain", [x, gamma, beta], (k, [a, g, b]) => {
        const r = k.batchNormTrain(a!, c.gamma ? g! : null, b!, eps);
        return [r.y, r.mean, r.variance];
      });
      const mean = tensor([c.c], c.seed + 4);
      const variance = tensor([c.c], c.seed + 5, 0.5);
      for (let i = 0; i < c.c; i++) variance.data[i] = Math.abs(variance.data[i]!) + 0.1;
      check(
        "batchNormInference",
        [x, gamma, beta, mean, variance],
        (k, [a, g, b, m, v]) =>
          k.batchNormInference(a!, c.gamma ? g! : null, b!, {
            mean: m!,
            variance: v!,
            epsilon: eps,
          }),
      );
      check("batchNormTrainBackward", [dy, x, gamma, beta], (k, [d, a, g, b]) => {
        const fwd = k.batchNormTrain(a!, c.gamma ? g! : null, b!, eps);
        const r = k.batchNormTrainBackward(d!, a!, c.gamma ? g! : null, {
          mean: fwd.mean,
          variance: fwd.variance,
          epsilon: eps,
        });
        k.dispose(fwd.y);
        k.dispose(fwd.mean);
        k.dispose(fwd.variance);
        return r.dGamma === null ? [r.dx, r.dBeta] : [r.dx, r.dGamma, r.dBeta];
      });
    },
  );
});

Deno.test("wasm-simd pooling forward and backward equals the pure kernels", () => {
  property(
    fc.record({
      n: dim(2),
      h: dim(8),
      w: dim(8),
      c: dim(6),
      size: dim(3),
      stride: dim(3),
      padding,
      seed,
    })
      .filter((c) => c.padding === "same" || (c.h >= c.size && c.w >= c.size)),
    (c) => {
      const x = tensor([c.n, c.h, c.w, c.c], c.seed);
      const o = { size: c.size, stride: c.stride, padding: c.padding };
      const [y] = runOn(pure, [x], (k, [a]) => k.maxPool(a!, o));
      const dy = tensor([...y!.shape], c.seed + 1);
      check("maxPool", [x], (k, [a]) => k.maxPool(a!, o));
      check("avgPool", [x], (k, [a]) => k.avgPool(a!, o));
      check("maxPoolBackward", [dy, x], (k, [g, a]) => k.maxPoolBackward(g!, a!, o));
      check(
        "avgPoolBackward",
        [dy],
        (k, [g]) => k.avgPoolBackward(g!, { ...o, inputShape: x.shape }),
      );
      const dg = tensor([c.n, c.c], c.seed + 2);
      check("globalAvgPool", [x], (k, [a]) => k.globalAvgPool(a!));
      check("globalAvgPoolBackward", [dg], (k, [g]) => k.globalAvgPoolBackward(g!, x.shape));
      checkThreadInvariant("maxPoolBackward", [dy, x], (k, [g, a]) => k.maxPoolBackward(g!, a!, o));
      checkThreadInvariant("avgPool", [x], (k, [a]) => k.avgPool(a!, o));
    },
  );
});

Deno.test("wasm-simd elementwise, structure, dense and row kernels equal the pure kernels", () => {
  property(
    fc.record({
      rows: dim(30),
      d: dim(20),
      d2: dim(7),
      units: dim(12),
      scale: fc.double({ min: -2, max: 2, noNaN: true }),
      seed,
    }),
    (c) => {
      const a = tensor([c.rows, c.d], c.seed);
      const b = tensor([c.rows, c.d], c.seed + 1);
      const b2 = tensor([c.rows, c.d2], c.seed + 2);
      const w = tensor([c.d, c.units], c.seed + 3);
      const dy = tensor([c.rows, c.units], c.seed + 4);
      const bias = tensor([c.d], c.seed + 5);
      check("add", [a, b], (k, [x, y]) => k.add(x!, y!, c.scale));
      check("scale", [a], (k, [x]) => k.scale(x!, c.scale));
      check("multiply", [a, b], (k, [x, y]) => k.multiply(x!, y!));
      check("relu", [a], (k, [x]) => k.relu(x!));
      check("reluBackward", [b, a], (k, [g, y]) => k.reluBackward(g!, y!));
      check("biasAdd", [a, bias], (k, [x, v]) => k.biasAdd(x!, v!));
      check("sumToChannels", [a], (k, [x]) => k.sumToChannels(x!));
      check("concat", [a, b2, b], (k, xs) => k.concat(xs));
      check("split", [a], (k, [x]) => k.split(x!, [1, c.d - 1].filter((s) => s > 0)));
      check("reshape", [a], (k, [x]) => k.reshape(x!, [c.rows * c.d]));
      check("matMul", [a, w], (k, [x, y]) => k.matMul(x!, y!));
      check("matMul transposeB", [dy, w], (k, [g, y]) => k.matMul(g!, y!, { transposeB: true }));
      check("matMul transposeA", [a, dy], (k, [x, g]) => k.matMul(x!, g!, { transposeA: true }));
      check("l2Normalize", [a], (k, [x]) => k.l2Normalize(x!, 1e-10));
      check("l2NormalizeBackward", [b, a], (k, [g, x]) => k.l2NormalizeBackward(g!, x!, 1e-10));
      checkThreadInvariant(
        "matMul transposeA",
        [a, dy],
        (k, [x, g]) => k.matMul(x!, g!, { transposeA: true }),
      );
      checkThreadInvariant("l2Normalize", [a], (k, [x]) => k.l2Normalize(x!, 1e-10));
      checkThreadInvariant("add", [a, b], (k, [x, y]) => k.add(x!, y!, c.scale));
      const tiny = tensor([c.rows, c.d], c.seed, 1e-7);
      check(
        "l2NormalizeBackward (clamped)",
        [b, tiny],
        (k, [g, x]) => k.l2NormalizeBackward(g!, x!, 1e-10),
      );
    },
  );
});

Deno.test("wasm-simd kernels reject mismatched shapes with a RangeError", () => {
  const a = wasm1.upload(tensor([2, 3], 1));
  const b = wasm1.upload(tensor([3, 2], 2));
  try {
    assert.throws(() => wasm1.add(a, b, 1), RangeError);
    assert.throws(() => wasm1.matMul(a, a), RangeError);
    assert.throws(() => wasm1.reshape(a, [5]), RangeError);
  } finally {
    wasm1.dispose(a);
    wasm1.dispose(b);
  }
});

Deno.test("wasm-simd kernels free what they allocate", () => {
  const before = rt2.allocatedBytes;
  runOn(
    wasm2,
    [tensor([2, 6, 6, 3], 1), tensor([3, 3, 3, 4], 2)],
    (k, [x, f]) => k.conv2d(x!, f!, { stride: 2, padding: "same" }),
  );
  assert.equal(rt2.allocatedBytes, before);
});

globalThis.addEventListener("unload", () => {
  rt1.dispose();
  rt2.dispose();
});

Deno.test("wasm-simd depthwise conv2d and both backward passes equal the pure kernels", () => {
  property(
    fc.record({
      n: dim(3),
      h: dim(9),
      w: dim(9),
      c: dim(11),
      kh: dim(3),
      kw: dim(3),
      stride: dim(2),
      padding,
      seed,
    }).filter((c) => c.padding === "same" || (c.h >= c.kh && c.w >= c.kw)),
    (c) => {
      const x = tensor([c.n, c.h, c.w, c.c], c.seed);
      const f = tensor([c.kh, c.kw, c.c, 1], c.seed + 1);
      const o = { stride: c.stride, padding: c.padding };
      const [y] = runOn(pure, [x, f], (k, [a, b]) => k.depthwiseConv2d(a!, b!, o));
      const dy = tensor([...y!.shape], c.seed + 2);
      check("depthwiseConv2d", [x, f], (k, [a, b]) => k.depthwiseConv2d(a!, b!, o));
      check(
        "depthwiseConv2dBackpropInput",
        [dy, f],
        (k, [g, b]) => k.depthwiseConv2dBackpropInput(g!, b!, { ...o, inputShape: x.shape }),
      );
      check(
        "depthwiseConv2dBackpropFilter",
        [x, dy],
        (k, [a, g]) => k.depthwiseConv2dBackpropFilter(a!, g!, { ...o, filterShape: f.shape }),
      );
    },
  );
});

Deno.test("wasm-simd prelu and its backward pass (input and alpha) equal the pure kernels", () => {
  property(
    fc.record({ rows: dim(40), c: dim(11), seed }),
    (c) => {
      const x = tensor([c.rows, c.c], c.seed);
      const alpha = tensor([c.c], c.seed + 1);
      const dy = tensor([c.rows, c.c], c.seed + 2);
      check("prelu", [x, alpha], (k, [a, b]) => k.prelu(a!, b!));
      check("preluBackward", [dy, x, alpha], (k, [g, a, b]) => {
        const r = k.preluBackward(g!, a!, b!);
        return [r.dx, r.dAlpha];
      });
      checkThreadInvariant("prelu", [x, alpha], (k, [a, b]) => k.prelu(a!, b!));
    },
  );
});

Deno.test("wasm-simd softmax and its backward pass equal the pure kernels", () => {
  property(
    fc.record({ rows: dim(12), c: dim(7), seed }),
    (c) => {
      const x = tensor([c.rows, c.c], c.seed);
      const dy = tensor([c.rows, c.c], c.seed + 1);
      const [y] = runOn(pure, [x], (k, [a]) => k.softmax(a!));
      check("softmax", [x], (k, [a]) => k.softmax(a!));
      check("softmaxBackward", [dy, y!], (k, [g, b]) => k.softmaxBackward(g!, b!));
    },
  );
});
