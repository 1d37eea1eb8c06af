/**
 * The reference implementation's triplet training loop (train_tripletloss), backend-generic: it
 * talks to the {@link Backend} contract only, gets images from an injected
 * {@link ImageSource}, and reports what happens as events, so the shell
 * decides how to print, time and checkpoint. No clocks, files or
 * `Math.random` here.
 *
 * One epoch: until `epochSize` steps are done, sample people, embed every
 * sampled image (batch norm in training mode, in batches of `batchSize`),
 * select triplets, then train on `ceil(3 * triplets / batchSize)` steps of
 * `batchSize / 3` triplets each (the last step may be smaller). As in the
 * reference implementation, a sampling round always runs all its steps, so an epoch may overshoot
 * `epochSize` by up to one round.
 *
 * Two documented differences from the reference implementation: the sampled images are loaded
 * once per round and reused for the training steps (the reference implementation reads them from
 * disk twice, so with random crop/flip the reference implementation trains on a second draw of the
 * augmentation); and a round that selects zero triplets counts as one skipped
 * step instead of silently looping.
 *
 * @module
 */

import type { Backend, Model } from "./backend.ts";
import type { Dataset, ImageBatch, Matrix, RngState, SelectionStrategy } from "./types.ts";
import { samplePeople } from "./pure/sample_people.ts";
import { split } from "./pure/rng.ts";

/**
 * Loads (or renders) images by reference into an NHWC batch, in the order given.
 *
 * @category Training
 */
export type ImageSource = (
  refs: readonly string[],
  options: { readonly training: boolean; readonly rng: RngState },
) => Promise<ImageBatch>;

/**
 * Settings of the triplet loop, in the reference implementation's names.
 *
 * @category Training
 */
export interface TripletLoopConfig {
  /** Identities sampled per round (anchors come from these). */
  readonly peoplePerBatch: number;
  /** Images taken per sampled identity, at most. */
  readonly imagesPerPerson: number;
  /** The triplet margin. */
  readonly alpha: number;
  /** Images per training step; a multiple of 3. */
  readonly batchSize: number;
  /** Training steps per epoch. */
  readonly epochSize: number;
  /** The triplet selection strategy. */
  readonly selection: SelectionStrategy;
}

/**
 * What happens during an epoch, in order.
 *
 * @category Training
 */
export type TrainEvent =
  | {
    readonly type: "selected";
    readonly step: number;
    readonly images: number;
    readonly people: number;
    readonly triplets: number;
    readonly pairs: number;
    readonly meanPosDist: number;
    readonly meanNegDist: number;
    readonly noCandidateFraction: number;
  }
  | {
    readonly type: "step";
    /** Steps done in this epoch, this one included. */
    readonly step: number;
    readonly loss: number;
    readonly images: number;
    /** Triplets of the current sampling round. */
    readonly triplets: number;
  }
  | {
    readonly type: "no-triplets";
    readonly step: number;
    readonly meanPosDist: number;
    readonly meanNegDist: number;
    readonly noCandidateFraction: number;
  };

/**
 * The outcome of an epoch.
 *
 * @category Training
 */
export interface EpochResult {
  /** The advanced RNG. */
  readonly rng: RngState;
  /** Steps taken (including skipped rounds). */
  readonly steps: number;
  /** Mean training loss over the epoch's steps (NaN when none trained). */
  readonly meanLoss: number;
  /** Mean number of triplets per sampling round. */
  readonly meanTriplets: number;
  /** Mean anchor-positive squared distance over the rounds. */
  readonly meanPosDist: number;
  /** Mean anchor-negative squared distance over the rounds. */
  readonly meanNegDist: number;
  /** Images trained on. */
  readonly images: number;
}

/**
 * Thrown when a training step produces a loss, an embedding or a parameter
 * that is NaN or infinite.
 *
 * @example
 * ```ts
 * import { NonFiniteLossError } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const error = new NonFiniteLossError(3, NaN);
 * assert.equal(error.step, 3);
 * assert.match(error.message, /Training loss became NaN at step 3/);
 * ```
 *
 * @category Training
 */
export class NonFiniteLossError extends Error {
  /**
   * Creates the error.
   *
   * @param step The step (within the epoch) that produced it.
   * @param loss The offending loss value.
   * @param what What became non-finite; default "Training loss".
   */
  constructor(step: number, loss: number, what = "Training loss") {
    super(
      `${what} became ${loss} at step ${step} of the epoch; stopping. ` +
        `Lower the learning rate or check the input data.`,
    );
    this.name = "NonFiniteLossError";
    this.step = step;
    this.loss = loss;
  }
  /** The step (within the epoch) whose loss was not finite. */
  readonly step: number;
  /** The offending loss value. */
  readonly loss: number;
}

/**
 * Checks a loop config.
 *
 * @param config The settings.
 * @throws {RangeError} Naming the first bad value.
 *
 * @example
 * ```ts
 * import { checkTripletLoopConfig } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const config = {
 *   peoplePerBatch: 45,
 *   imagesPerPerson: 40,
 *   alpha: 0.2,
 *   batchSize: 90,
 *   epochSize: 1000,
 *   selection: "vggface",
 * } as const;
 * checkTripletLoopConfig(config);
 * assert.throws(() => checkTripletLoopConfig({ ...config, batchSize: 100 }), RangeError);
 * ```
 *
 * @category Training
 */
export function checkTripletLoopConfig(config: TripletLoopConfig): void {
  const positive: (keyof TripletLoopConfig)[] = [
    "peoplePerBatch",
    "imagesPerPerson",
    "batchSize",
    "epochSize",
  ];
  for (const key of positive) {
    const value = config[key] as number;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${key} must be a positive integer, got ${value}`);
    }
  }
  if (config.imagesPerPerson < 2) {
    throw new RangeError(
      `imagesPerPerson must be at least 2 to form anchor/positive pairs, got ${config.imagesPerPerson}`,
    );
  }
  if (config.batchSize % 3 !== 0) {
    throw new RangeError(`batchSize must be a multiple of 3, got ${config.batchSize}`);
  }
  if (!(config.alpha > 0)) throw new RangeError(`alpha must be > 0, got ${config.alpha}`);
}

/**
 * Copies the given rows (images) of a batch into a new batch.
 *
 * @param batch The source batch.
 * @param rows Row indices, in output order.
 * @returns The gathered batch.
 *
 * @throws {RangeError} When a row is outside the batch.
 * @example
 * ```ts
 * import { gatherImages } from "./train.ts";
 * import assert from "node:assert/strict";
 *
 * const batch = { n: 3, height: 1, width: 1, channels: 1, data: new Float32Array([7, 8, 9]) };
 * assert.deepEqual(gatherImages(batch, [2, 0]).data, new Float32Array([9, 7]));
 * ```
 */
export function gatherImages(batch: ImageBatch, rows: readonly number[]): ImageBatch {
  const size = batch.height * batch.width * batch.channels;
  const data = new Float32Array(rows.length * size);
  rows.forEach((row, i) => {
    if (!(row >= 0 && row < batch.n)) {
      throw new RangeError(`Row ${row} is outside 0..${batch.n - 1}`);
    }
    data.set(batch.data.subarray(row * size, (row + 1) * size), i * size);
  });
  return { ...batch, n: rows.length, data };
}

/**
 * Embeds a batch in chunks of at most `chunk` images.
 *
 * @param model The model.
 * @param images The images.
 * @param options Mode, chunk size and randomness (dropout in training mode).
 * @returns The embeddings (rows in image order) and the advanced RNG.
 *
 * @example
 * ```ts
 * import { embedInChunks } from "@facenet-deno/facenet/pure";
 * import { createPureBackend } from "@facenet-deno/facenet/pure";
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const spec = modelSpec("nano", { imageSize: 16, embeddingSize: 4 });
 * const options = {
 *   loss: { kind: "triplet", alpha: 0.2 },
 *   optimizer: { name: "SGD" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * } as const;
 * const model = await createPureBackend().createModel(spec, initModelState(spec, options, createRng(1)), options);
 * const images = { n: 5, height: 16, width: 16, channels: 3, data: new Float32Array(5 * 768).fill(0.5) };
 * const { embeddings } = await embedInChunks(model, images, { training: false, chunk: 2, rng: createRng(2) });
 * assert.equal(embeddings.rows, 5);
 * assert.equal(embeddings.cols, 4);
 * ```
 *
 * @category Training
 */
export async function embedInChunks(
  model: Model,
  images: ImageBatch,
  options: {
    readonly training: boolean;
    readonly chunk: number;
    readonly rng: RngState;
    readonly useMovingAverage?: boolean;
  },
): Promise<{ embeddings: Matrix; rng: RngState }> {
  let rng = options.rng;
  let out: Float32Array | undefined;
  let cols = 0;
  for (let start = 0; start < images.n; start += options.chunk) {
    const rows = [];
    for (let i = start; i < Math.min(images.n, start + options.chunk); i++) rows.push(i);
    const [stepRng, next] = split(rng);
    rng = next;
    const part = await model.embed(gatherImages(images, rows), {
      training: options.training,
      useMovingAverage: options.useMovingAverage ?? false,
      rng: stepRng,
    });
    if (out === undefined) {
      cols = part.cols;
      out = new Float32Array(images.n * cols);
    }
    out.set(part.data, start * cols);
  }
  return { embeddings: { rows: images.n, cols, data: out ?? new Float32Array(0) }, rng };
}

/**
 * Runs one epoch of triplet training.
 *
 * @param args The model, backend, data and settings; `rng` drives every draw.
 * @returns An async iterator of events whose return value is the epoch result.
 * @throws {NonFiniteLossError} When a step's loss is not finite.
 *
 * @example
 * ```ts
 * import { runTripletEpoch } from "@facenet-deno/facenet/pure";
 * import { createPureBackend } from "@facenet-deno/facenet/pure";
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import { renderSyntheticRef, syntheticDataset } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const spec = modelSpec("nano", { imageSize: 16, embeddingSize: 8 });
 * const options = {
 *   loss: { kind: "triplet", alpha: 0.2 },
 *   optimizer: { name: "ADAM" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * } as const;
 * const backend = createPureBackend();
 * const model = await backend.createModel(spec, initModelState(spec, options, createRng(1)), options);
 * const source = (refs: readonly string[]) =>
 *   Promise.resolve({
 *     n: refs.length,
 *     height: 16,
 *     width: 16,
 *     channels: 3,
 *     data: Float32Array.from(refs.flatMap((r) => [...renderSyntheticRef(r, 16, 1)].map((x) => (x - 127.5) / 128))),
 *   });
 * const run = runTripletEpoch({
 *   backend,
 *   model,
 *   dataset: syntheticDataset({ seed: 1, identities: 6, imagesPerIdentity: 3, split: "train" }),
 *   source,
 *   config: { peoplePerBatch: 4, imagesPerPerson: 3, alpha: 0.2, batchSize: 6, epochSize: 2, selection: "vggface" },
 *   learningRate: 0.01,
 *   rng: createRng(2),
 * });
 * let next = await run.next();
 * while (!next.done) next = await run.next();
 * assert.ok(next.value.steps >= 2);
 * ```
 *
 * @category Training
 */
export async function* runTripletEpoch(args: {
  readonly backend: Backend;
  readonly model: Model;
  readonly dataset: Dataset;
  readonly source: ImageSource;
  readonly config: TripletLoopConfig;
  readonly learningRate: number;
  readonly rng: RngState;
}): AsyncGenerator<TrainEvent, EpochResult> {
  const { backend, model, dataset, source, config } = args;
  checkTripletLoopConfig(config);
  let rng = args.rng;
  let steps = 0;
  let lossSum = 0;
  let trainedSteps = 0;
  let rounds = 0;
  let tripletSum = 0;
  let posSum = 0;
  let negSum = 0;
  let images = 0;
  const perStep = config.batchSize / 3;
  while (steps < config.epochSize) {
    const sampled = samplePeople(dataset, config.peoplePerBatch, config.imagesPerPerson, rng);
    rng = sampled.rng;
    let loadRng, embedRng, selectRng;
    [loadRng, rng] = split(rng);
    [embedRng, rng] = split(rng);
    [selectRng, rng] = split(rng);
    const batch = await source(sampled.images, { training: true, rng: loadRng });
    const { embeddings } = await embedInChunks(model, batch, {
      training: true,
      chunk: config.batchSize,
      rng: embedRng,
    });
    const bad = embeddings.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new NonFiniteLossError(steps, embeddings.data[bad] as number, "An embedding");
    }
    const selection = await backend.selectTriplets(embeddings, sampled.numPerClass, {
      alpha: config.alpha,
      strategy: config.selection,
      anchorClasses: Math.min(config.peoplePerBatch, sampled.numPerClass.length),
      rng: selectRng,
    });
    rounds++;
    tripletSum += selection.triplets.length;
    posSum += selection.meanPosDist;
    negSum += selection.meanNegDist;
    if (selection.triplets.length === 0) {
      steps++;
      yield {
        type: "no-triplets",
        step: steps,
        meanPosDist: selection.meanPosDist,
        meanNegDist: selection.meanNegDist,
        noCandidateFraction: selection.noCandidateFraction,
      };
      continue;
    }
    yield {
      type: "selected",
      step: steps,
      images: sampled.images.length,
      people: sampled.numPerClass.length,
      triplets: selection.triplets.length,
      pairs: selection.pairs,
      meanPosDist: selection.meanPosDist,
      meanNegDist: selection.meanNegDist,
      noCandidateFraction: selection.noCandidateFraction,
    };
    for (let start = 0; start < selection.triplets.length; start += perStep) {
      const rows: number[] = [];
      for (const triplet of selection.triplets.slice(start, start + perStep)) rows.push(...triplet);
      let stepRng;
      [stepRng, rng] = split(rng);
      const result = await model.trainStep(gatherImages(batch, rows), {
        learningRate: args.learningRate,
        rng: stepRng,
      });
      steps++;
      if (!Number.isFinite(result.loss)) throw new NonFiniteLossError(steps, result.loss);
      lossSum += result.loss;
      trainedSteps++;
      images += rows.length;
      yield {
        type: "step",
        step: steps,
        loss: result.loss,
        images: rows.length,
        triplets: selection.triplets.length,
      };
    }
  }
  return {
    rng,
    steps,
    meanLoss: trainedSteps > 0 ? lossSum / trainedSteps : NaN,
    meanTriplets: rounds > 0 ? tripletSum / rounds : 0,
    meanPosDist: rounds > 0 ? posSum / rounds : NaN,
    meanNegDist: rounds > 0 ? negSum / rounds : NaN,
    images,
  };
}
