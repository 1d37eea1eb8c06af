import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { initModelState } from "../core/model_state.ts";
import { nano } from "../core/models/nano.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import type { OptimizerName } from "../core/types.ts";
import type { TrainingOptions } from "../core/backend.ts";

/**
 * Trains nano (32 px, 16-d) on one tfjs device for `steps` steps and asserts
 * that `tf.memory().numTensors` after the last step equals its value after
 * the first (no tensor leaks in a training step).
 */
export async function assertNanoStepsLeakNoTensors(
  device: "cpu" | "wasm" | "webgpu",
  options: {
    readonly steps: number;
    readonly batch: number;
    readonly optimizer: OptimizerName;
    readonly learningRate: number;
    readonly keepProbability?: number;
  },
): Promise<void> {
  const backend = await createTfjsBackend({ device });
  assert.match(backend.device, new RegExp(device));
  const spec = nano({
    imageSize: 32,
    embeddingSize: 16,
    keepProbability: options.keepProbability ?? 1,
  });
  const training: TrainingOptions = {
    loss: { kind: "triplet", alpha: 0.2 },
    optimizer: { name: options.optimizer },
    weightDecay: 1e-4,
    movingAverageDecay: 0.999,
  };
  const model = await backend.createModel(
    spec,
    initModelState(spec, training, createRng(1)),
    training,
  );
  const [u] = uniforms(createRng(2), options.batch * 32 * 32 * 3);
  const images = {
    n: options.batch,
    height: 32,
    width: 32,
    channels: 3,
    data: Float32Array.from(u),
  };
  let rng = createRng(3);
  let after1 = -1;
  for (let step = 1; step <= options.steps; step++) {
    const r = await model.trainStep(images, { learningRate: options.learningRate, rng });
    assert.ok(Number.isFinite(r.loss));
    rng = r.rng;
    if (step === 1) after1 = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, after1);
  model.dispose();
  backend.dispose();
}
