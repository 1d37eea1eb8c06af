/**
 * The pure backend end to end on nano: training steps reduce the loss on
 * fixed data, the moving statistics and the moving average follow the
 * reference implementation's rules, state round-trips, and bad input is rejected.
 */

import assert from "node:assert/strict";
import { createPureBackend } from "../core/pure_backend.ts";
import { initModelState } from "../core/model_state.ts";
import { modelSpec } from "../core/models/registry.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { effectiveDecay } from "../core/pure/moving_average.ts";
import type { TrainingOptions } from "../core/backend.ts";
import type { ImageBatch } from "../core/types.ts";

const SIZE = 24;
const spec = modelSpec("nano", { embeddingSize: 16, imageSize: SIZE });

/** `n` images of `classes` identities: a per-class pattern plus noise, in [a,p,n] triplet order. */
function tripletBatch(triplets: number, seed: number): ImageBatch {
  const px = SIZE * SIZE * 3;
  const [u] = uniforms(createRng(seed), 3 * triplets * px + 4 * px);
  const data = new Float32Array(3 * triplets * px);
  for (let t = 0; t < triplets; t++) {
    const same = t % 4;
    const other = (t + 1) % 4;
    [same, same, other].forEach((cls, k) => {
      const row = (3 * t + k) * px;
      for (let i = 0; i < px; i++) {
        const pattern = u[3 * triplets * px + cls * px + i]! * 2 - 1;
        data[row + i] = 0.5 * pattern + (u[row + i]! * 2 - 1);
      }
    });
  }
  return { n: 3 * triplets, height: SIZE, width: SIZE, channels: 3, data };
}

const tripletOptions: TrainingOptions = {
  loss: { kind: "triplet", alpha: 0.5 },
  optimizer: { name: "ADAGRAD" },
  weightDecay: 1e-4,
  movingAverageDecay: 0.9999,
};

Deno.test("a few nano training steps reduce the triplet loss on fixed data", async () => {
  const backend = createPureBackend();
  const model = await backend.createModel(
    spec,
    initModelState(spec, tripletOptions, createRng(666)),
    tripletOptions,
  );
  const images = tripletBatch(4, 1);
  const losses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await model.trainStep(images, { learningRate: 0.1, rng: createRng(i) });
    assert.ok(r.regularization > 0 && r.regularization < r.loss + 1e-9);
    losses.push(r.loss);
  }
  console.log(`triplet losses: ${losses.map((l) => l.toFixed(4)).join(" ")}`);
  assert.ok(losses[7]! < 0.5 * losses[0]!, `losses ${losses.map((l) => l.toFixed(4))}`);
  const state = await model.getState();
  assert.equal(state.step, 8);
  assert.equal(state.optimizer.iterations, 8);
  model.dispose();
  await assert.rejects(() => model.embed(images, { training: false }), /disposed/);
});

Deno.test("a training step updates the moving average with TF's num_updates rule and the BN statistics", async () => {
  const backend = createPureBackend();
  const initial = initModelState(spec, tripletOptions, createRng(5));
  const model = await backend.createModel(spec, initial, tripletOptions);
  await model.trainStep(tripletBatch(2, 2), { learningRate: 0.1, rng: createRng(0) });
  const after = await model.getState();
  const d = effectiveDecay(0.9999, 1);
  for (const name of ["Conv2d_1a_3x3/weights", "Bottleneck/weights"]) {
    const p0 = initial.params[name]!.data;
    const p1 = after.params[name]!.data;
    const e = after.ema![name]!.data;
    for (let i = 0; i < p0.length; i += 17) {
      assert.ok(Math.abs(e[i]! - (d * p0[i]! + (1 - d) * p1[i]!)) < 1e-6);
    }
  }
  const mm = after.stats["Conv2d_1a_3x3/BatchNorm/moving_mean"]!.data;
  assert.ok(mm.some((v) => v !== 0));
  // The moving-average parameters embed differently from the trained ones.
  const images = tripletBatch(1, 3);
  const a = await model.embed(images, { training: false });
  const b = await model.embed(images, { training: false, useMovingAverage: true });
  assert.notDeepEqual(a.data, b.data);
});

Deno.test("embed() in training mode updates the moving statistics, in inference mode it does not", async () => {
  const backend = createPureBackend();
  const model = await backend.createModel(
    spec,
    initModelState(spec, tripletOptions, createRng(5)),
    tripletOptions,
  );
  const images = tripletBatch(1, 4);
  const s0 = await model.getState();
  await model.embed(images, { training: false });
  assert.deepEqual((await model.getState()).stats, s0.stats);
  const e = await model.embed(images, { training: true });
  assert.equal(e.rows, 3);
  const s1 = await model.getState();
  assert.notDeepEqual(s1.stats, s0.stats);
  assert.deepEqual(s1.params, s0.params);
});

Deno.test("a model created from getState() embeds exactly like the original", async () => {
  const backend = createPureBackend();
  const model = await backend.createModel(
    spec,
    initModelState(spec, tripletOptions, createRng(9)),
    tripletOptions,
  );
  await model.trainStep(tripletBatch(2, 5), { learningRate: 0.05, rng: createRng(1) });
  const copy = await backend.createModel(spec, await model.getState(), tripletOptions);
  const images = tripletBatch(2, 6);
  assert.deepEqual(
    await copy.embed(images, { training: false }),
    await model.embed(images, { training: false }),
  );
});

Deno.test("softmax training steps with center loss reduce the loss on fixed labels", async () => {
  const options: TrainingOptions = {
    loss: { kind: "softmax", numClasses: 4, centerLossFactor: 0.01, centerLossAlfa: 0.9 },
    optimizer: { name: "ADAM" },
    weightDecay: 0,
    movingAverageDecay: null,
  };
  const model = await createPureBackend().createModel(
    spec,
    initModelState(spec, options, createRng(2)),
    options,
  );
  const images = tripletBatch(4, 7);
  // Classes of the rows of tripletBatch: [t%4, t%4, (t+1)%4].
  const labels = new Int32Array(12);
  for (let t = 0; t < 4; t++) labels.set([t % 4, t % 4, (t + 1) % 4], 3 * t);
  const losses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await model.trainStep(images, { learningRate: 0.05, rng: createRng(i), labels });
    losses.push(r.loss);
  }
  assert.ok(losses[7]! < losses[0]!, `losses ${losses.map((l) => l.toFixed(4))}`);
  const state = await model.getState();
  assert.deepEqual(state.params["Logits/weights"]!.shape, [16, 4]);
  assert.ok(state.stats["centers"]!.data.some((v) => v !== 0));
  await assert.rejects(
    () => model.trainStep(images, { learningRate: 0.05, rng: createRng(0) }),
    /needs labels/,
  );
});

Deno.test("createModel() rejects a state that does not match the spec", async () => {
  const state = initModelState(spec, tripletOptions, createRng(1));
  const other = modelSpec("nano", { embeddingSize: 8, imageSize: SIZE });
  await assert.rejects(
    () => createPureBackend().createModel(other, state, tripletOptions),
    /"Bottleneck\/weights" has shape \[512, 16\], the spec needs \[512, 8\]/,
  );
});
