// The cost of handing one pool kernel to the wasm-simd threads: a relu of
// 1024 values on the calling thread only, and on all threads. A nano training
// step dispatches about 90 kernels to the pool (count them with a proxy on
// WasmSimdRuntime.run); before the pool's threads spun between jobs (worker.ts,
// WORKER_SPIN_MS) each dispatch cost about 47 us here (2-core AMD EPYC VM, 2026-11-29),
// since then about 1 us.
// Run: deno bench -A bench/dispatch_bench.ts
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";

const rt = await createWasmSimdRuntime({ threads: navigator.hardwareConcurrency });
const x = rt.put(new Float32Array(1024).map((_, i) => i - 512));
const y = rt.allocF32(1024);

Deno.bench({
  name: "calling thread only",
  group: "pool dispatch, relu of 1024 values",
  baseline: true,
  fn() {
    rt.run("relu", [x, y, 1024], { threads: 1 });
  },
});

Deno.bench({
  name: `all ${rt.threads} threads`,
  group: "pool dispatch, relu of 1024 values",
  fn() {
    rt.run("relu", [x, y, 1024], { threads: rt.threads });
  },
});

globalThis.addEventListener("unload", () => rt.dispose());
