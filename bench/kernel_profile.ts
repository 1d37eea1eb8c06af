/**
 * Where a nano step's time goes on wasm-simd: the executor model runs on the
 * wasm-simd Kernels wrapped in a timing proxy; prints, for inference and for
 * one triplet training step (batch 90 of 64x64x3, the bench's Adagrad + EMA
 * options), the best of 8 runs with the time of each kernel in it.
 *
 * Run: deno run -A bench/kernel_profile.ts [--threads 1]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";
import { createWasmSimdKernels } from "../backends/wasm-simd/kernels.ts";
import { createExecutorModel } from "../core/executor_model.ts";
import { initModelState } from "../core/model_state.ts";
import { modelSpec } from "../core/models/registry.ts";
import { createRng } from "../core/pure/rng.ts";
import { randomValues, TRIPLET_TRAINING } from "./_fixtures.ts";

const { values } = parseArgs({ options: { threads: { type: "string", default: "1" } } });
const rt = await createWasmSimdRuntime({ threads: Number(values.threads) });
const kernels = createWasmSimdKernels(rt);
const spent = new Map<string, number>();
const timed = new Proxy(kernels, {
  get(target, key) {
    const value = Reflect.get(target, key);
    if (typeof value !== "function") return value;
    return (...args: unknown[]) => {
      const t = performance.now();
      const result = value.apply(target, args);
      spent.set(String(key), (spent.get(String(key)) ?? 0) + performance.now() - t);
      return result;
    };
  },
});
const spec = modelSpec("nano");
const state = initModelState(spec, TRIPLET_TRAINING, createRng(1));
const model = createExecutorModel(timed, spec, state, TRIPLET_TRAINING);
const images = {
  n: 90,
  height: 64,
  width: 64,
  channels: 3,
  data: randomValues(90 * 64 * 64 * 3, 5),
};
console.log(
  `wasm-simd x${rt.threads}; load average ${
    Deno.loadavg().map((v) => v.toFixed(1)).join(" ")
  }; best of 8 runs`,
);
for (const mode of ["inference", "training step"] as const) {
  let best = Infinity;
  let bestSpent = new Map<string, number>();
  for (let i = 0; i < 8; i++) {
    spent.clear();
    const t = performance.now();
    if (mode === "inference") await model.embed(images, { training: false });
    else await model.trainStep(images, { learningRate: 0.01, rng: createRng(3) });
    const ms = performance.now() - t;
    if (ms < best) [best, bestSpent] = [ms, new Map(spent)];
  }
  const rows = [...bestSpent].sort((a, b) => b[1] - a[1]).slice(0, 8);
  console.log(
    `nano ${mode}, batch 90: ${best.toFixed(1)} ms; ` +
      rows.map(([k, ms]) => `${k} ${ms.toFixed(1)} (${(100 * ms / best).toFixed(0)}%)`).join(", "),
  );
}
model.dispose();
rt.dispose();
