import assert from "node:assert/strict";
import type { Backend, Model, StepOptions } from "../core/backend.ts";
import type { ImageBatch, Matrix, TripletSelection } from "../core/types.ts";
import {
  checkTripletLoopConfig,
  type EpochResult,
  gatherImages,
  type ImageSource,
  NonFiniteLossError,
  runTripletEpoch,
  type TrainEvent,
  type TripletLoopConfig,
} from "../core/train.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { modelSpec } from "../core/models/registry.ts";
import { initModelState } from "../core/model_state.ts";
import { createRng } from "../core/pure/rng.ts";
import { syntheticDataset } from "../core/synthetic/mod.ts";

const CONFIG: TripletLoopConfig = {
  peoplePerBatch: 4,
  imagesPerPerson: 3,
  alpha: 0.2,
  batchSize: 6,
  epochSize: 5,
  selection: "vggface",
};

/** A source whose image `i` is filled with the number in its reference `x:<number>`. */
const numberSource: ImageSource = (refs) =>
  Promise.resolve({
    n: refs.length,
    height: 2,
    width: 2,
    channels: 1,
    data: Float32Array.from({ length: refs.length * 4 }, (_, i) => Number(refs[i >> 2]!.slice(2))),
  });

const DATASET = Array.from({ length: 6 }, (_, c) => ({
  name: `c${c}`,
  images: Array.from({ length: 4 }, (_, j) => `x:${c * 10 + j}`),
}));

async function drain(
  run: AsyncGenerator<TrainEvent, EpochResult>,
): Promise<{ events: TrainEvent[]; result: EpochResult }> {
  const events: TrainEvent[] = [];
  while (true) {
    const next = await run.next();
    if (next.done) return { events, result: next.value };
    events.push(next.value);
  }
}

function fakeModel(losses: (step: number) => number, seen: ImageBatch[] = []): Model {
  let step = 0;
  return {
    spec: modelSpec("nano", { imageSize: 16, embeddingSize: 2 }),
    outputs: () => Promise.reject(new Error("not used")),
    embed: (images: ImageBatch) =>
      Promise.resolve({
        rows: images.n,
        cols: 2,
        data: Float32Array.from({ length: images.n * 2 }, (_, i) => (i % 2 === 0 ? 1 : 0)),
      }),
    trainStep: (images: ImageBatch, o: StepOptions) => {
      seen.push(images);
      return Promise.resolve({ loss: losses(++step), regularization: 0, rng: o.rng });
    },
    getState: () => Promise.reject(new Error("not needed")),
    dispose: () => {},
  };
}

function fakeBackend(triplets: TripletSelection["triplets"]): Backend {
  const pure = createPureBackend();
  return {
    ...pure,
    selectTriplets: (_e: Matrix, _n, options) =>
      Promise.resolve({
        triplets,
        pairs: 12,
        meanPosDist: 0.5,
        meanNegDist: 0.75,
        noCandidateFraction: triplets.length === 0 ? 1 : 0,
        rng: options.rng,
      }),
  };
}

Deno.test("runTripletEpoch() trains in batches of batchSize/3 triplets until epochSize steps", async () => {
  const seen: ImageBatch[] = [];
  const triplets: [number, number, number][] = [[0, 1, 3], [3, 4, 0], [6, 7, 0], [9, 10, 1], [
    1,
    2,
    4,
  ]];
  const { events, result } = await drain(runTripletEpoch({
    backend: fakeBackend(triplets),
    model: fakeModel(() => 0.5, seen),
    dataset: DATASET,
    source: numberSource,
    config: CONFIG,
    learningRate: 0.1,
    rng: createRng(1),
  }));
  // 5 triplets per round at 2 triplets per step: 3 steps a round, so 2 rounds reach 5 steps (6 taken).
  const steps = events.filter((e) => e.type === "step");
  assert.equal(steps.length, 6);
  assert.equal(events.filter((e) => e.type === "selected").length, 2);
  assert.deepEqual(seen.map((b) => b.n), [6, 6, 3, 6, 6, 3]);
  assert.equal(result.steps, 6);
  assert.equal(result.images, 30);
  assert.equal(result.meanLoss, 0.5);
  assert.equal(result.meanTriplets, 5);
});

Deno.test("runTripletEpoch() reports a round without triplets and skips it instead of crashing", async () => {
  const { events, result } = await drain(runTripletEpoch({
    backend: fakeBackend([]),
    model: fakeModel(() => 0.5),
    dataset: DATASET,
    source: numberSource,
    config: { ...CONFIG, epochSize: 3 },
    learningRate: 0.1,
    rng: createRng(1),
  }));
  assert.deepEqual(events.map((e) => e.type), ["no-triplets", "no-triplets", "no-triplets"]);
  const first = events[0] as Extract<TrainEvent, { type: "no-triplets" }>;
  assert.equal(first.meanPosDist, 0.5);
  assert.equal(first.noCandidateFraction, 1);
  assert.ok(Number.isNaN(result.meanLoss));
  assert.equal(result.steps, 3);
});

Deno.test("runTripletEpoch() stops with NonFiniteLossError naming the step when the loss is NaN", async () => {
  const run = runTripletEpoch({
    backend: fakeBackend([[0, 1, 3], [3, 4, 0]]),
    model: fakeModel((step) => (step === 2 ? NaN : 0.3)),
    dataset: DATASET,
    source: numberSource,
    config: { ...CONFIG, batchSize: 3 },
    learningRate: 0.1,
    rng: createRng(1),
  });
  await assert.rejects(drain(run), (error: unknown) => {
    assert.ok(error instanceof NonFiniteLossError);
    assert.equal(error.step, 2);
    assert.match(error.message, /NaN at step 2/);
    return true;
  });
});

Deno.test("runTripletEpoch() on the pure backend is deterministic and draws its batches from the dataset", async () => {
  const spec = modelSpec("nano", { imageSize: 16, embeddingSize: 8 });
  const options = {
    loss: { kind: "triplet", alpha: 0.2 },
    optimizer: { name: "ADAM" },
    weightDecay: 0,
    movingAverageDecay: 0.99,
  } as const;
  const dataset = syntheticDataset({
    seed: 3,
    identities: 8,
    imagesPerIdentity: 4,
    split: "train",
  });
  const source: ImageSource = (refs) =>
    Promise.resolve({
      n: refs.length,
      height: 16,
      width: 16,
      channels: 3,
      data: Float32Array.from(
        { length: refs.length * 768 },
        (_, i) => Math.sin(i * 0.37 + Number(refs[Math.floor(i / 768)]!.split(":")[2]) * 1.3),
      ),
    });
  const once = async () => {
    const backend = createPureBackend();
    const model = await backend.createModel(
      spec,
      initModelState(spec, options, createRng(5)),
      options,
    );
    const { result } = await drain(runTripletEpoch({
      backend,
      model,
      dataset,
      source,
      config: { ...CONFIG, epochSize: 2 },
      learningRate: 0.01,
      rng: createRng(9),
    }));
    return { result, state: await model.getState() };
  };
  const a = await once();
  const b = await once();
  assert.deepEqual(a.result, b.result);
  assert.deepEqual(a.state.params, b.state.params);
  assert.ok(a.result.steps >= 2);
  assert.ok(Number.isFinite(a.result.meanLoss));
});

Deno.test("gatherImages() copies the requested rows in order and rejects rows out of range", () => {
  const batch = {
    n: 3,
    height: 1,
    width: 1,
    channels: 2,
    data: new Float32Array([0, 1, 2, 3, 4, 5]),
  };
  assert.deepEqual(gatherImages(batch, [2, 0, 2]).data, new Float32Array([4, 5, 0, 1, 4, 5]));
  assert.throws(() => gatherImages(batch, [3]), RangeError);
});

Deno.test("checkTripletLoopConfig() names the first bad setting", () => {
  assert.throws(
    () => checkTripletLoopConfig({ ...CONFIG, batchSize: 10 }),
    /multiple of 3, got 10/,
  );
  assert.throws(() => checkTripletLoopConfig({ ...CONFIG, imagesPerPerson: 1 }), /imagesPerPerson/);
  assert.throws(() => checkTripletLoopConfig({ ...CONFIG, alpha: 0 }), /alpha must be > 0/);
  assert.throws(() => checkTripletLoopConfig({ ...CONFIG, epochSize: 0 }), /epochSize/);
});
