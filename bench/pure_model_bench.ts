/**
 * The pure backend on nano (64x64x3, 128-d) at the reference implementation's batch size 90: one
 * training step (forward, triplet loss, backward, Adagrad, EMA) and one
 * inference embedding pass. Each iteration takes seconds, so few iterations run.
 *
 * Run: deno bench -A bench/pure_model_bench.ts
 *
 * @module
 */

import { createPureBackend } from "../core/pure_backend.ts";
import { initModelState } from "../core/model_state.ts";
import { modelSpec } from "../core/models/registry.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import type { TrainingOptions } from "../core/backend.ts";

const spec = modelSpec("nano");
const options: TrainingOptions = {
  loss: { kind: "triplet", alpha: 0.2 },
  optimizer: { name: "ADAGRAD" },
  weightDecay: 1e-4,
  movingAverageDecay: 0.9999,
};
const model = await createPureBackend().createModel(
  spec,
  initModelState(spec, options, createRng(666)),
  options,
);
const [u] = uniforms(createRng(1), 90 * 64 * 64 * 3);
const images = {
  n: 90,
  height: 64,
  width: 64,
  channels: 3,
  data: Float32Array.from(u, (v) => 2 * v - 1),
};

Deno.bench({
  name: "pure nano train step, batch 90",
  group: "nano",
  n: 3,
  warmup: 1,
  async fn() {
    await model.trainStep(images, { learningRate: 0.05, rng: createRng(2) });
  },
});

Deno.bench({
  name: "pure nano embed (inference), batch 90",
  group: "nano",
  n: 5,
  warmup: 1,
  async fn() {
    await model.embed(images, { training: false });
  },
});
