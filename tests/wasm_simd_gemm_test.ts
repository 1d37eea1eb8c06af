import assert from "node:assert/strict";
import fc from "fast-check";
import { createWasmSimdRuntime, type WasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";

interface GemmCase {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly accumulate: boolean;
  readonly seed: number;
}

function values(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 4294967296 * 2 - 1;
  }
  return out;
}

/** Runs one case; returns the wasm result and the float64 reference with its error bound. */
function runCase(rt: WasmSimdRuntime, c: GemmCase, threads: number) {
  const { m, n, k } = c;
  const a = values(m * k, c.seed);
  const b = values(k * n, c.seed + 1);
  const c0 = values(m * n, c.seed + 2);
  const pa = rt.put(a);
  const pb = rt.put(b);
  const pc = rt.put(c0);
  rt.gemm({ m, n, k, a: pa, b: pb, c: pc }, {
    transA: c.transA,
    transB: c.transB,
    accumulate: c.accumulate,
    threads,
  });
  const got = rt.read(pc, m * n);
  rt.free(pa);
  rt.free(pb);
  rt.free(pc);
  const expected = new Float64Array(m * n);
  const bound = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = c.accumulate ? c0[i * n + j]! : 0;
      let magnitude = Math.abs(sum);
      for (let p = 0; p < k; p++) {
        const term = a[c.transA ? p * m + i : i * k + p]! * b[c.transB ? j * k + p : p * n + j]!;
        sum += term;
        magnitude += Math.abs(term);
      }
      expected[i * n + j] = sum;
      bound[i * n + j] = 1e-4 + 1e-5 * magnitude;
    }
  }
  return { got, expected, bound };
}

const gemmCase = fc.record({
  m: fc.integer({ min: 1, max: 40 }),
  n: fc.integer({ min: 1, max: 40 }),
  k: fc.integer({ min: 0, max: 300 }),
  transA: fc.boolean(),
  transB: fc.boolean(),
  accumulate: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

Deno.test("WasmSimdRuntime.gemm() matches a float64 reference for every transpose and accumulate variant", async () => {
  const rt = await createWasmSimdRuntime({ threads: 1 });
  try {
    fc.assert(
      fc.property(gemmCase, (c) => {
        const { got, expected, bound } = runCase(rt, c, 1);
        for (let i = 0; i < got.length; i++) {
          const error = Math.abs(got[i]! - expected[i]!);
          assert.ok(error <= bound[i]!, `element ${i}: |${got[i]} - ${expected[i]}| > ${bound[i]}`);
        }
      }),
      { numRuns: 60 },
    );
  } finally {
    rt.dispose();
  }
});

Deno.test("WasmSimdRuntime.gemm() gives bit-identical results on 1 and 3 threads", async () => {
  const rt = await createWasmSimdRuntime({ threads: 3 });
  try {
    fc.assert(
      fc.property(gemmCase, (c) => {
        const one = runCase(rt, c, 1).got;
        const three = runCase(rt, c, 3).got;
        assert.deepEqual(three, one);
      }),
      { numRuns: 30 },
    );
    // A block-sized case crossing the cache blocks (KC = 256, MC = 128, NC = 512).
    const big = { m: 200, n: 530, k: 300, transA: false, transB: true, accumulate: true, seed: 7 };
    const one = runCase(rt, big, 1);
    const three = runCase(rt, big, 3);
    assert.deepEqual(three.got, one.got);
    for (let i = 0; i < one.got.length; i++) {
      assert.ok(Math.abs(one.got[i]! - one.expected[i]!) <= one.bound[i]!);
    }
  } finally {
    rt.dispose();
  }
});

Deno.test("the relaxed-SIMD and plain SIMD builds agree within float32 rounding", async () => {
  const plain = await createWasmSimdRuntime({ threads: 1, flavor: "simd" });
  const auto = await createWasmSimdRuntime({ threads: 1 });
  try {
    assert.equal(plain.relaxed, false);
    const c = { m: 17, n: 23, k: 150, transA: true, transB: false, accumulate: false, seed: 3 };
    const x = runCase(plain, c, 1);
    const y = runCase(auto, c, 1);
    for (let i = 0; i < x.got.length; i++) {
      assert.ok(Math.abs(x.got[i]! - y.got[i]!) <= x.bound[i]!);
      assert.ok(Math.abs(x.got[i]! - x.expected[i]!) <= x.bound[i]!);
    }
  } finally {
    plain.dispose();
    auto.dispose();
  }
});

Deno.test("WasmSimdRuntime.run() rethrows an error raised in a pool worker and the pool survives", async () => {
  const rt = await createWasmSimdRuntime({ threads: 3 });
  try {
    assert.throws(() => rt.run("debugTrap", [2]), /worker 2: unreachable/);
    assert.throws(() => rt.run("debugTrap", [0]), WebAssembly.RuntimeError);
    rt.run("debugTrap", [5]);
    const c = { m: 64, n: 64, k: 64, transA: false, transB: false, accumulate: false, seed: 9 };
    const { got, expected, bound } = runCase(rt, c, 3);
    for (let i = 0; i < got.length; i++) {
      assert.ok(Math.abs(got[i]! - expected[i]!) <= bound[i]!);
    }
  } finally {
    rt.dispose();
  }
});

Deno.test("createWasmSimdRuntime() rejects a thread count that is not a positive integer", async () => {
  await assert.rejects(() => createWasmSimdRuntime({ threads: 0 }), RangeError);
  await assert.rejects(() => createWasmSimdRuntime({ threads: 1.5 }), RangeError);
});

Deno.test("createWasmSimdRuntime() pools that sleep at once or poll give the same GEMM, and a bad poll time is rejected", async () => {
  await assert.rejects(
    () => createWasmSimdRuntime({ threads: 2, pollMicroseconds: -1 }),
    /Poll time -1 us/,
  );
  await assert.rejects(
    () => createWasmSimdRuntime({ threads: 2, pollMicroseconds: NaN }),
    RangeError,
  );
  const c = { m: 37, n: 29, k: 41, transA: false, transB: true, accumulate: false, seed: 4 };
  const results: Float32Array[] = [];
  for (const pollMicroseconds of [0, 50, 5000]) {
    const rt = await createWasmSimdRuntime({ threads: 2, pollMicroseconds });
    try {
      // Many dispatches back to back, then one after the workers have gone to sleep.
      for (let i = 0; i < 50; i++) runCase(rt, c, 2);
      await new Promise((resolve) => setTimeout(resolve, 20));
      results.push(runCase(rt, c, 2).got);
    } finally {
      rt.dispose();
    }
  }
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
});
