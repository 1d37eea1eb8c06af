import assert from "node:assert/strict";
import type { TrainingOptions } from "../core/backend.ts";
import { initModelState } from "../core/model_state.ts";
import { nano } from "../core/models/nano.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { createWasmSimdBackend } from "../backends/wasm-simd/mod.ts";

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
