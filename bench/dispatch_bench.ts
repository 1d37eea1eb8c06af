// The cost of handing one pool kernel to the wasm-simd threads: a relu of
// 1024 values on the calling thread only, and on all threads with the pool's
// threads sleeping at once between jobs (pollMicroseconds 0: every dispatch
// wakes a sleeping worker) or polling first (the default 50 us). A nano
// training step hands the pool about 90 kernels back to back.
// Run: deno bench -A bench/dispatch_bench.ts
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";
import { DEFAULT_POLL_MICROSECONDS } from "../backends/wasm-simd/_control.ts";

const GROUP = "pool dispatch, relu of 1024 values";
const threads = navigator.hardwareConcurrency;
const runtimes = [
  await createWasmSimdRuntime({ threads }),
  await createWasmSimdRuntime({ threads, pollMicroseconds: 0 }),
];

for (const [i, rt] of runtimes.entries()) {
  const x = rt.put(new Float32Array(1024).map((_, j) => j - 512));
  const y = rt.allocF32(1024);
  if (i === 0) {
    Deno.bench({
      name: "calling thread only",
      group: GROUP,
      baseline: true,
      fn() {
        rt.run("relu", [x, y, 1024], { threads: 1 });
      },
    });
  }
  Deno.bench({
    name: `all ${rt.threads} threads, ${
      i === 0 ? `polling ${DEFAULT_POLL_MICROSECONDS} us (default)` : "sleeping at once"
    }`,
    group: GROUP,
    fn() {
      rt.run("relu", [x, y, 1024], { threads: rt.threads });
    },
  });
}

globalThis.addEventListener("unload", () => runtimes.forEach((rt) => rt.dispose()));
