import assert from "node:assert/strict";
import type { TrainingOptions } from "../core/backend.ts";
import { initModelState } from "../core/model_state.ts";
import { nano } from "../core/models/nano.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { createWasmSimdBackend, createWasmSimdRuntime } from "../backends/wasm-simd/mod.ts";

Deno.test("wasm-simd training does not grow the WebAssembly memory after warm-up", async () => {
  const backend = await createWasmSimdBackend({ threads: 2 });
  try {
    const spec = nano({ keepProbability: 0.8, imageSize: 32, embeddingSize: 16 });
    const options: TrainingOptions = {
      loss: { kind: "triplet", alpha: 0.2 },
      optimizer: { name: "ADAM" },
      weightDecay: 1e-4,
      movingAverageDecay: 0.999,
    };
    const idle = backend.runtime.allocatedBytes;
    const model = await backend.createModel(
      spec,
      initModelState(spec, options, createRng(3)),
      options,
    );
    const n = 9;
    const [u] = uniforms(createRng(4), n * 32 * 32 * 3);
    const images = { n, height: 32, width: 32, channels: 3, data: Float32Array.from(u) };
    let rng = createRng(5);
    const step = async () => {
      const result = await model.trainStep(images, { learningRate: 0.01, rng });
      assert.ok(Number.isFinite(result.loss));
      rng = result.rng;
      await model.embed(images, { training: true, rng });
      await model.embed(images, { training: false, useMovingAverage: true });
    };
    for (let i = 0; i < 3; i++) await step();
    const bytes = backend.runtime.memory.buffer.byteLength;
    const allocated = backend.runtime.allocatedBytes;
    for (let i = 0; i < 12; i++) await step();
    assert.equal(backend.runtime.memory.buffer.byteLength, bytes);
    assert.equal(backend.runtime.allocatedBytes, allocated);
    model.dispose();
    // Nothing a step allocated outlives the model.
    assert.equal(backend.runtime.allocatedBytes, idle);
  } finally {
    backend.dispose();
  }
});

Deno.test("WasmSimdRuntime.trim() lets allocations of ever-changing sizes reuse the freed heap", async () => {
  const rt = await createWasmSimdRuntime({ threads: 1 });
  try {
    const keep = rt.allocF32(1000); // a block that stays (weights)
    const run = (k: number) => {
      // One "pass": a few blocks whose sizes differ from every other pass's.
      const blocks = [1, 2, 3].map((j) => rt.allocF32(100_000 + 997 * k + 31 * j));
      for (const b of blocks) rt.free(b);
      rt.trim();
    };
    run(0);
    const size = rt.memory.buffer.byteLength;
    for (let k = 1; k < 40; k++) run(k % 2 === 0 ? k : 40 - k);
    // Without trim the exact-size free lists never match and the heap grows every pass.
    assert.ok(
      rt.memory.buffer.byteLength <= size + 2 * 65536 * 8,
      `${rt.memory.buffer.byteLength}`,
    );
    assert.equal(rt.allocatedBytes >= 4000, true);
    rt.free(keep);
  } finally {
    rt.dispose();
  }
});

Deno.test(
  "wasm-simd training with every batch size from 3 to 48 grows the WebAssembly memory by " +
    "less than half of what the largest batch needs",
  async () => {
    const backend = await createWasmSimdBackend({ threads: 1 });
    try {
      const spec = nano({ keepProbability: 1, imageSize: 32, embeddingSize: 16 });
      const options: TrainingOptions = {
        loss: { kind: "triplet", alpha: 0.2 },
        optimizer: { name: "ADAM" },
        weightDecay: 0,
        movingAverageDecay: null,
      };
      const model = await backend.createModel(
        spec,
        initModelState(spec, options, createRng(3)),
        options,
      );
      const [u] = uniforms(createRng(4), 48 * 32 * 32 * 3);
      let rng = createRng(5);
      const step = async (n: number) => {
        const images = {
          n,
          height: 32,
          width: 32,
          channels: 3,
          data: Float32Array.from(u.subarray(0, n * 32 * 32 * 3)),
        };
        const result = await model.trainStep(images, { learningRate: 0.01, rng });
        rng = result.rng;
      };
      const before = backend.runtime.memory.buffer.byteLength;
      await step(48);
      const largest = backend.runtime.memory.buffer.byteLength;
      // Training rounds end with a mini-batch of any multiple of 3: a heap that
      // reused only blocks of the exact same size grew by the sum of them all
      // (about 8x the largest batch's share here).
      for (let n = 45; n >= 3; n -= 3) await step(n);
      const after = backend.runtime.memory.buffer.byteLength;
      assert.ok(
        after - largest <= 0.5 * (largest - before),
        `grew ${after - largest} bytes past ${largest - before} for the largest batch`,
      );
      model.dispose();
    } finally {
      backend.dispose();
    }
  },
);
