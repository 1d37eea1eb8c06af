// GEMM 512x512x512: the wasm-simd kernels (1 thread and all threads) against
// tfjs's wasm backend (XNNPACK), side by side in one group. Each result is
// validated once against the others before timing.
// Run: deno bench -A bench/gemm_bench.ts
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import process from "node:process";
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";

const SIZE = 512;
const FLOPS = 2 * SIZE * SIZE * SIZE;
const threads = navigator.hardwareConcurrency;

function values(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

const a = values(SIZE * SIZE, 1);
const b = values(SIZE * SIZE, 2);

const rt = await createWasmSimdRuntime({ threads });
const pa = rt.put(a);
const pb = rt.put(b);
const pc = rt.allocF32(SIZE * SIZE);
const problem = { m: SIZE, n: SIZE, k: SIZE, a: pa, b: pb, c: pc };

// tfjs wasm: the .wasm binaries live next to the package entry in Deno's npm cache.
const entry = new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm"));
setWasmPaths(entry.protocol === "file:" ? decodeURIComponent(entry.pathname) : entry.href);
tf.env().set("PROD", true);
if (!(await tf.setBackend("wasm"))) throw new Error("tfjs wasm backend failed to initialize");
await tf.ready();
const ta = tf.tensor2d(a, [SIZE, SIZE]);
const tb = tf.tensor2d(b, [SIZE, SIZE]);

function tfjsMatMul(): Float32Array {
  const c = tf.matMul(ta, tb);
  const data = c.dataSync() as Float32Array;
  c.dispose();
  return data;
}

// Validate once: both wasm-simd settings and tfjs agree within float32 rounding.
rt.gemm(problem, { threads: 1 });
const one = rt.read(pc, SIZE * SIZE);
rt.gemm(problem, { threads });
const all = rt.read(pc, SIZE * SIZE);
const ref = tfjsMatMul();
for (let i = 0; i < ref.length; i++) {
  if (Math.abs(one[i]! - ref[i]!) > 1e-3 || Math.abs(all[i]! - ref[i]!) > 1e-3) {
    throw new Error(`GEMM results disagree at ${i}: ${one[i]} ${all[i]} ${ref[i]}`);
  }
}
console.log(
  `gemm ${SIZE}^3 = ${(FLOPS / 1e9).toFixed(3)} GFLOP per call; wasm-simd build: ${
    rt.relaxed ? "relaxed-simd (FMA)" : "simd"
  }; tfjs wasm threads: ${getThreadsCount()}; GFLOP/s = ${
    (FLOPS / 1e6).toFixed(0)
  } / (ms per iteration)`,
);

// On a shared machine wall time includes waiting for a core; the process's CPU
// time does not. For the single-threaded members, also print GFLOP/s per CPU
// second, interleaved so both see the same conditions.
function cpuRate(fn: () => unknown): number {
  const reps = 12;
  const t0 = process.cpuUsage().user;
  for (let i = 0; i < reps; i++) fn();
  return (FLOPS * reps) / ((process.cpuUsage().user - t0) * 1e3);
}
const rates = { wasm: 0, tfjs: 0, pool: 0 };
for (let round = 0; round < 3; round++) {
  // All threads: CPU time summed over the caller and the workers (pool overhead shows here).
  rates.pool = Math.max(
    rates.pool,
    cpuRate(() => rt.gemm(problem, { threads })),
  );
  rates.wasm = Math.max(
    rates.wasm,
    cpuRate(() => rt.gemm(problem, { threads: 1 })),
  );
  rates.tfjs = Math.max(rates.tfjs, cpuRate(tfjsMatMul));
}
console.log(
  `CPU-time GFLOP/s (best of 3 x 12 calls): wasm-simd 1 thread ${rates.wasm.toFixed(1)}, ` +
    `tfjs wasm ${rates.tfjs.toFixed(1)}, ratio ${(rates.wasm / rates.tfjs).toFixed(2)}x; ` +
    `wasm-simd ${threads} threads per CPU-second ${rates.pool.toFixed(1)} ` +
    `(on ${threads} free cores the wall rate is about ${threads} x that)`,
);

Deno.bench({
  name: "wasm-simd 1 thread",
  group: "gemm 512x512x512",
  baseline: true,
  fn() {
    rt.gemm(problem, { threads: 1 });
  },
});

Deno.bench({
  name: `wasm-simd ${threads} threads`,
  group: "gemm 512x512x512",
  fn() {
    rt.gemm(problem, { threads });
  },
});

Deno.bench({
  name: "tfjs wasm (XNNPACK)",
  group: "gemm 512x512x512",
  fn() {
    tfjsMatMul();
  },
});

globalThis.addEventListener("unload", () => rt.dispose());
