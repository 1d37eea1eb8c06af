/**
 * The reference implementation's classifier training (train_softmax), backend-generic: batches
 * of random training images (not people sampling) with their class labels,
 * a softmax head on the prelogits (core/softmax_head.ts: cross-entropy,
 * optional center loss, prelogits norm penalty, ArcFace margin), the reference implementation's
 * validation split by images, and validation loss/accuracy on the held-out
 * images. It talks to the {@link Backend} contract only and reports steps as
 * events; no clocks, files or `Math.random` here.
 *
 * One epoch is `epochSize` steps of `batchSize` images. The images of an
 * epoch are consecutive slices of random permutations of the whole training
 * split (a fresh permutation whenever one is used up), so every image is seen
 * once before any is seen twice, as with the reference implementation's shuffled
 * `range_input_producer`. Documented difference: the reference implementation's index queue keeps
 * the rest of a permutation across epochs; here every epoch starts a fresh
 * permutation, so that an epoch depends only on its RNG.
 *
 * @module
 */

import type { LossSpec, Model, TrainingOptions } from "./backend.ts";
import type { ModelSpec } from "./model_spec.ts";
import type { Dataset, ImageClass, Matrix, RngState } from "./types.ts";
import type { ImageSource } from "./train.ts";
import { NonFiniteLossError } from "./train.ts";
import { shuffle, split } from "./pure/rng.ts";
import { headLossFromLogits } from "./softmax_head.ts";
import { LOGITS } from "./model_state.ts";

/**
 * The softmax variant of {@link LossSpec}.
 *
 * @category Training
 */
export type SoftmaxLossSpec = Extract<LossSpec, { kind: "softmax" }>;

/**
 * Options of {@link splitDatasetByImages}, in the reference implementation's names.
 *
 * @category Training
 */
export interface SplitOptions {
  /** Fraction of each class's images held out for validation, in [0, 1) (`validation_set_split_ratio`). */
  readonly ratio: number;
  /**
   * A class keeps all its images for training (none held out) when fewer than
   * this many (and at least 1) would be held out (`min_nrof_val_images_per_class`).
   */
  readonly minNrofValImagesPerClass: number;
  /** Randomness of the per-class shuffles. */
  readonly rng: RngState;
}

/**
 * The outcome of {@link splitDatasetByImages}.
 *
 * @category Training
 */
export interface DatasetSplit {
  /** Training images: every class, in the input order, each with at least one image. */
  readonly train: Dataset;
  /** Held-out images: every class, in the same order (so labels agree); some may be empty. */
  readonly validation: Dataset;
  /** The advanced RNG. */
  readonly rng: RngState;
}

/**
 * The reference implementation's validation split by images (`split_dataset` with
 * `SPLIT_IMAGES`): shuffle each class's images, keep the first
 * `floor(n * (1 - ratio))` (at most `n - 1`) for training and hold out the
 * rest. Two documented repairs of the reference implementation: the reference implementation
 * compares the TRAINING count with `min_nrof_val_images_per_class` and drops a failing class from
 * both sets (shifting every later label), and it lets a one-image class train
 * on nothing; here a class whose held-out part would be smaller than
 * `max(1, minNrofValImagesPerClass)` keeps all its images for training, no
 * class is dropped, and both sets list every class in the same order, so a
 * class's label is its index in `dataset` for training and validation alike.
 * With `ratio` 0 nothing is held out and no randomness is used.
 *
 * @param dataset The classes (sorted by name; the index is the label).
 * @param options Ratio, minimum held-out images per class, RNG.
 * @returns The training and validation sets and the advanced RNG.
 * @throws {RangeError} When `ratio` is outside [0, 1), the minimum is not a
 *   non-negative integer, or a class has no images.
 * @example
 * ```ts
 * import { splitDatasetByImages } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const dataset = [
 *   { name: "a", images: ["a0", "a1", "a2", "a3"] },
 *   { name: "b", images: ["b0"] },
 * ];
 * const s = splitDatasetByImages(dataset, { ratio: 0.25, minNrofValImagesPerClass: 0, rng: createRng(1) });
 * assert.equal(s.train[0]!.images.length, 3);
 * assert.equal(s.validation[0]!.images.length, 1);
 * assert.deepEqual(s.train[1]!.images, ["b0"]); // a single image stays in training
 * assert.deepEqual(s.validation[1]!.images, []);
 * ```
 *
 * @category Training
 */
export function splitDatasetByImages(dataset: Dataset, options: SplitOptions): DatasetSplit {
  const { ratio, minNrofValImagesPerClass: minVal } = options;
  if (!(ratio >= 0 && ratio < 1)) {
    throw new RangeError(`Validation split ratio must be in [0, 1), got ${ratio}`);
  }
  if (!Number.isSafeInteger(minVal) || minVal < 0) {
    throw new RangeError(
      `Minimum validation images per class must be a non-negative integer, got ${minVal}`,
    );
  }
  let rng = options.rng;
  const train: ImageClass[] = [];
  const validation: ImageClass[] = [];
  for (const cls of dataset) {
    const n = cls.images.length;
    if (n === 0) throw new RangeError(`Class "${cls.name}" has no images`);
    if (ratio === 0) {
      train.push({ name: cls.name, images: [...cls.images] });
      validation.push({ name: cls.name, images: [] });
      continue;
    }
    let images: string[];
    [images, rng] = shuffle(cls.images, rng);
    const cut = Math.min(Math.floor(n * (1 - ratio)), n - 1);
    const held = n - cut;
    if (cut >= 1 && held >= Math.max(1, minVal)) {
      train.push({ name: cls.name, images: images.slice(0, cut) });
      validation.push({ name: cls.name, images: images.slice(cut) });
    } else {
      train.push({ name: cls.name, images });
      validation.push({ name: cls.name, images: [] });
    }
  }
  return { train, validation, rng };
}

/** Every image of a dataset with its label (the class index), class after class. */
export interface LabeledImages {
  /** Image references. */
  readonly refs: readonly string[];
  /** The class index of each reference. */
  readonly labels: Int32Array;
}

/**
 * Flattens a dataset into image references and labels (class indices).
 *
 * @param dataset The classes.
 * @returns The references and labels, class after class.
 * @example
 * ```ts
 * import { labeledImages } from "./train_softmax.ts";
 * import assert from "node:assert/strict";
 *
 * const l = labeledImages([{ name: "a", images: ["x"] }, { name: "b", images: ["y", "z"] }]);
 * assert.deepEqual(l.refs, ["x", "y", "z"]);
 * assert.deepEqual([...l.labels], [0, 1, 1]);
 * ```
 */
export function labeledImages(dataset: Dataset): LabeledImages {
  const refs: string[] = [];
  const labels: number[] = [];
  dataset.forEach((cls, label) => {
    for (const ref of cls.images) {
      refs.push(ref);
      labels.push(label);
    }
  });
  return { refs, labels: Int32Array.from(labels) };
}

/**
 * The image indices of an epoch: `count` indices in `[0, numImages)` taken as
 * consecutive slices of fresh random permutations (a new one whenever the
 * previous is used up), so every image appears once before any appears twice.
 *
 * @param numImages How many images there are (positive).
 * @param count How many indices to draw (non-negative).
 * @param rng The random state.
 * @returns The indices and the advanced state.
 * @throws {RangeError} When a count is not a valid integer.
 * @example
 * ```ts
 * import { epochImageIndices } from "./train_softmax.ts";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [idx] = epochImageIndices(4, 8, createRng(2));
 * assert.deepEqual([...idx.slice(0, 4)].sort(), [0, 1, 2, 3]);
 * assert.deepEqual([...idx.slice(4)].sort(), [0, 1, 2, 3]);
 * ```
 */
export function epochImageIndices(
  numImages: number,
  count: number,
  rng: RngState,
): [Int32Array, RngState] {
  if (!Number.isSafeInteger(numImages) || numImages < 1 || numImages > 2 ** 31 - 1) {
    throw new RangeError(`Number of images must be a positive int32, got ${numImages}`);
  }
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`Index count must be a non-negative integer, got ${count}`);
  }
  const out = new Int32Array(count);
  const identity = Array.from({ length: numImages }, (_, i) => i);
  let filled = 0;
  let state = rng;
  while (filled < count) {
    let perm: number[];
    [perm, state] = shuffle(identity, state);
    const take = Math.min(numImages, count - filled);
    out.set(perm.slice(0, take), filled);
    filled += take;
  }
  return [out, state];
}

/**
 * Settings of the softmax loop, in the reference implementation's names.
 *
 * @category Training
 */
export interface SoftmaxLoopConfig {
  /** Images per training step. */
  readonly batchSize: number;
  /** Training steps per epoch. */
  readonly epochSize: number;
}

/**
 * One training step of a softmax epoch.
 *
 * @category Training
 */
export interface SoftmaxStepEvent {
  /** The event kind. */
  readonly type: "step";
  /** Steps done in this epoch, this one included. */
  readonly step: number;
  /** Total loss: cross-entropy plus regularization. */
  readonly loss: number;
  /** Weight decay, center loss and norm penalty, times their factors. */
  readonly regularization: number;
  /** Images in this step. */
  readonly images: number;
}

/**
 * The outcome of a softmax epoch.
 *
 * @category Training
 */
export interface SoftmaxEpochResult {
  /** The advanced RNG. */
  readonly rng: RngState;
  /** Steps taken. */
  readonly steps: number;
  /** Mean total loss over the epoch's steps. */
  readonly meanLoss: number;
  /** Mean regularization over the epoch's steps. */
  readonly meanRegularization: number;
  /** Images trained on. */
  readonly images: number;
}

function checkLoopConfig(config: SoftmaxLoopConfig): void {
  for (const key of ["batchSize", "epochSize"] as const) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${key} must be a positive integer, got ${value}`);
    }
  }
}

/**
 * Runs one epoch of classifier training: `epochSize` steps, each on
 * `batchSize` random training images (see {@link epochImageIndices}) with
 * their labels. Per step the RNG is split twice: the image source's draws
 * (augmentation), then the step's (dropout).
 *
 * @param args The model (created with a softmax loss over `train.length`
 *   classes), the training split, the image source, settings, learning rate
 *   and RNG.
 * @returns An async iterator of step events whose return value is the epoch result.
 * @throws {RangeError} On a bad config or an empty training set.
 * @throws {NonFiniteLossError} When a step's loss is not finite.
 * @example
 * ```ts
 * import { runSoftmaxEpoch } from "@facenet-deno/facenet/pure";
 * import { createPureBackend } from "@facenet-deno/facenet/pure";
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const spec = modelSpec("nano", { embeddingSize: 4, imageSize: 16 });
 * const options = {
 *   loss: { kind: "softmax", numClasses: 2, centerLossFactor: 0.01 },
 *   optimizer: { name: "SGD" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * } as const;
 * const model = await createPureBackend().createModel(
 *   spec,
 *   initModelState(spec, options, createRng(1)),
 *   options,
 * );
 * const train = [{ name: "a", images: ["a0", "a1"] }, { name: "b", images: ["b0"] }];
 * const source = (refs: readonly string[]) =>
 *   Promise.resolve({
 *     n: refs.length, height: 16, width: 16, channels: 3,
 *     data: Float32Array.from({ length: refs.length * 768 }, (_, i) => (i % 7) / 7),
 *   });
 * const run = runSoftmaxEpoch({
 *   model, train, source, config: { batchSize: 2, epochSize: 1 }, learningRate: 0.01, rng: createRng(2),
 * });
 * let r = await run.next();
 * assert.equal(r.done, false);
 * r = await run.next();
 * assert.equal(r.done, true);
 * assert.equal(r.value.steps, 1);
 * ```
 *
 * @category Training
 */
export async function* runSoftmaxEpoch(args: {
  readonly model: Model;
  readonly train: Dataset;
  readonly source: ImageSource;
  readonly config: SoftmaxLoopConfig;
  readonly learningRate: number;
  readonly rng: RngState;
}): AsyncGenerator<SoftmaxStepEvent, SoftmaxEpochResult> {
  const { model, source, config } = args;
  checkLoopConfig(config);
  const all = labeledImages(args.train);
  if (all.refs.length === 0) throw new RangeError("The training set has no images");
  let rng = args.rng;
  let indices: Int32Array;
  [indices, rng] = epochImageIndices(all.refs.length, config.batchSize * config.epochSize, rng);
  let lossSum = 0;
  let regSum = 0;
  let images = 0;
  for (let step = 0; step < config.epochSize; step++) {
    const rows = indices.subarray(step * config.batchSize, (step + 1) * config.batchSize);
    const refs = Array.from(rows, (i) => all.refs[i]!);
    const labels = Int32Array.from(rows, (i) => all.labels[i]!);
    let loadRng, stepRng;
    [loadRng, rng] = split(rng);
    [stepRng, rng] = split(rng);
    const batch = await source(refs, { training: true, rng: loadRng });
    const result = await model.trainStep(batch, {
      learningRate: args.learningRate,
      rng: stepRng,
      labels,
    });
    if (!Number.isFinite(result.loss)) throw new NonFiniteLossError(step + 1, result.loss);
    lossSum += result.loss;
    regSum += result.regularization;
    images += refs.length;
    yield {
      type: "step",
      step: step + 1,
      loss: result.loss,
      regularization: result.regularization,
      images: refs.length,
    };
  }
  return {
    rng,
    steps: config.epochSize,
    meanLoss: lossSum / config.epochSize,
    meanRegularization: regSum / config.epochSize,
    images,
  };
}

/**
 * The outcome of {@link validateSoftmax}.
 *
 * @category Training
 */
export interface SoftmaxValidation {
  /** Mean cross-entropy over the held-out images (with the ArcFace margin when on). */
  readonly loss: number;
  /** Mean center loss and norm penalty times their factors (weight decay excluded). */
  readonly regularization: number;
  /** Fraction of held-out images whose largest logit (cosine for ArcFace) is their class. */
  readonly accuracy: number;
  /** Number of held-out images. */
  readonly images: number;
}

/**
 * Validation loss and accuracy of a classifier on held-out images, as the
 * reference implementation's train_softmax validates: batch norm in inference mode, the
 * cross-entropy (with the ArcFace margin when on) plus the center loss and
 * norm penalty, and the accuracy of the largest logit. The model itself
 * returns the prelogits and the head's class scores (`Model.outputs`, on its
 * device); only the cross-entropy of those scores is computed here. The centers are not updated (the reference implementation's validation run
 * updates them with the validation images: a bug of the reference implementation we do not copy).
 *
 * @param args The trained model and its spec and training
 *   options (a softmax loss), the validation split (labels = class index),
 *   the image source (inference mode), chunk size, RNG for the source, and
 *   whether to use the moving-average parameters.
 * @returns Loss, regularization and accuracy over the held-out images.
 * @throws {RangeError} When the loss is not a softmax loss or there are no held-out images.
 * @example
 * ```ts
 * import { validateSoftmax } from "@facenet-deno/facenet/pure";
 * import { createPureBackend } from "@facenet-deno/facenet/pure";
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const backend = createPureBackend();
 * const spec = modelSpec("nano", { embeddingSize: 4, imageSize: 16 });
 * const options = {
 *   loss: { kind: "softmax", numClasses: 2 },
 *   optimizer: { name: "SGD" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * } as const;
 * const model = await backend.createModel(spec, initModelState(spec, options, createRng(1)), options);
 * const source = (refs: readonly string[]) =>
 *   Promise.resolve({ n: refs.length, height: 16, width: 16, channels: 3, data: new Float32Array(refs.length * 768) });
 * const v = await validateSoftmax({
 *   model, spec, options,
 *   validation: [{ name: "a", images: ["a0"] }, { name: "b", images: ["b0"] }],
 *   source, chunk: 8, rng: createRng(0),
 * });
 * assert.equal(v.images, 2);
 * assert.equal(v.accuracy, 0.5); // identical inputs: the same class wins for both
 * ```
 *
 * @category Training
 */
export async function validateSoftmax(args: {
  readonly model: Model;
  readonly spec: ModelSpec;
  readonly options: TrainingOptions;
  readonly validation: Dataset;
  readonly source: ImageSource;
  readonly chunk: number;
  readonly rng: RngState;
  readonly useMovingAverage?: boolean;
}): Promise<SoftmaxValidation> {
  const loss = args.options.loss;
  if (loss.kind !== "softmax") {
    throw new RangeError(`Softmax validation needs a softmax loss, got "${loss.kind}"`);
  }
  if (!Number.isSafeInteger(args.chunk) || args.chunk < 1) {
    throw new RangeError(`Chunk size must be a positive integer, got ${args.chunk}`);
  }
  const all = labeledImages(args.validation);
  if (all.refs.length === 0) throw new RangeError("The validation set has no images");
  // The centers of the center loss (not updated by validation), and whether
  // the model keeps moving averages at all.
  const state = await args.model.getState();
  const useMovingAverage = (args.useMovingAverage ?? false) && state.ema !== null;
  let lossSum = 0;
  let regSum = 0;
  let correct = 0;
  let rng = args.rng;
  for (let start = 0; start < all.refs.length; start += args.chunk) {
    const refs = all.refs.slice(start, start + args.chunk);
    const labels = all.labels.slice(start, start + args.chunk);
    let loadRng;
    [loadRng, rng] = split(rng);
    const images = await args.source(refs, { training: false, rng: loadRng });
    const out = await args.model.outputs(images, {
      training: false,
      useMovingAverage,
      outputs: [args.spec.prelogits, LOGITS],
    });
    const prelogits = toMatrix(out[args.spec.prelogits]!);
    const scores = toMatrix(out[LOGITS]!);
    const head = headLossFromLogits(scores, prelogits, labels, state.stats, loss);
    lossSum += head.loss * refs.length;
    regSum += head.regularization * refs.length;
    for (let r = 0; r < scores.rows; r++) {
      let best = 0;
      for (let j = 1; j < scores.cols; j++) {
        if (scores.data[r * scores.cols + j]! > scores.data[r * scores.cols + best]!) best = j;
      }
      if (best === labels[r]) correct++;
    }
  }
  const n = all.refs.length;
  return { loss: lossSum / n, regularization: regSum / n, accuracy: correct / n, images: n };
}

function toMatrix(t: { readonly shape: readonly number[]; readonly data: Float32Array }): Matrix {
  const rows = t.shape[0]!;
  return { rows, cols: rows === 0 ? 0 : t.data.length / rows, data: t.data };
}
