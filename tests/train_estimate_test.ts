import assert from "node:assert/strict";
import {
  calibrateRun,
  expectedRunSeconds,
  fasterBackendHint,
  runEtaSeconds,
} from "../cli/_estimate.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { initModelState } from "../core/model_state.ts";
import { nano } from "../core/models/nano.ts";
import { createRng } from "../core/pure/rng.ts";
import type { Backend, TrainingOptions } from "../core/backend.ts";

Deno.test("expectedRunSeconds() adds steps, one sampling round per five steps and validations", () => {
  const seconds = expectedRunSeconds(
    { stepSecondsPerImage: 0.001, embedSecondsPerImage: 0.0005 },
    { epochs: 18, epochSize: 40, batchSize: 90, roundImages: 180, validationImages: 1200 },
  );
  // Per epoch: 40 x 90 x 1 ms = 3.6 s of steps, (8 x 180 + 1200) x 0.5 ms = 1.32 s of embedding.
  assert.ok(Math.abs(seconds - 18 * (3.6 + 1.32)) < 1e-9);
  assert.equal(
    expectedRunSeconds({ stepSecondsPerImage: 0.001, embedSecondsPerImage: 1 }, {
      epochs: 2,
      epochSize: 10,
      batchSize: 30,
      roundImages: 0,
      validationImages: 0,
    }),
    0.6,
  );
});

Deno.test("runEtaSeconds() scales the run's time per step by the steps left", () => {
  assert.equal(runEtaSeconds(30, 60, 660), 330);
  assert.ok(Number.isNaN(runEtaSeconds(3, 0, 720)));
});

Deno.test("fasterBackendHint() points the pure backend and CPU-bound tfjs to wasm-simd", () => {
  const fake = (name: Backend["name"], device: string) => ({ name, device }) as Backend;
  assert.match(fasterBackendHint(fake("pure", "cpu"))!, /--backend wasm-simd/);
  assert.match(fasterBackendHint(fake("tfjs", "cpu"))!, /--backend wasm-simd/);
  assert.match(fasterBackendHint(fake("tfjs", "wasm (4 threads)"))!, /--backend wasm-simd/);
  assert.match(
    fasterBackendHint(fake("tfjs", "webgpu (llvmpipe (LLVM 15), software adapter)"))!,
    /wasm-simd/,
  );
  assert.equal(fasterBackendHint(fake("tfjs", "webgpu (NVIDIA H200)")), null);
  assert.equal(fasterBackendHint(fake("wasm-simd", "wasm-simd x2")), null);
});

Deno.test("calibrateRun() times a step and an embedding without changing the state", async () => {
  const spec = nano({ imageSize: 16, embeddingSize: 8 });
  const training: TrainingOptions = {
    loss: { kind: "triplet", alpha: 0.2 },
    optimizer: { name: "ADAM" },
    weightDecay: 1e-4,
    movingAverageDecay: 0.999,
  };
  const state = initModelState(spec, training, createRng(1));
  const before = structuredClone(state);
  const calibration = await calibrateRun(createPureBackend(), spec, state, training);
  assert.ok(
    calibration.stepSecondsPerImage > 0 && Number.isFinite(calibration.stepSecondsPerImage),
  );
  assert.ok(calibration.embedSecondsPerImage > 0);
  assert.deepEqual(state, before);
});
