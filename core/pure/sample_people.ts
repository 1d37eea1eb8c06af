/**
 * The reference implementation's `sample_people`: which identities and images make up one
 * triplet-training batch.
 *
 * @module
 */

import type { Dataset, RngState } from "../types.ts";
import { shuffle } from "./rng.ts";

/**
 * Options of {@link samplePeople}.
 *
 * @category Triplet loss
 */
export interface SamplePeopleOptions {
  /**
   * When the dataset cannot supply `peoplePerBatch * imagesPerPerson` images,
   * return everything it can supply (every identity, up to
   * `imagesPerPerson` images each) instead of throwing. Default false.
   */
  readonly allowSmaller?: boolean;
}

/**
 * The outcome of {@link samplePeople}.
 *
 * @category Triplet loss
 */
export interface SampledPeople {
  /** The sampled image references, grouped by identity in sampling order. */
  readonly images: string[];
  /** The dataset index (label) of each sampled image, parallel to `images`. */
  readonly labels: number[];
  /** How many images were taken from each sampled identity, in sampling order. */
  readonly numPerClass: number[];
  /** The dataset index of each sampled identity, parallel to `numPerClass`. */
  readonly classIndices: number[];
  /** The advanced RNG. */
  readonly rng: RngState;
}

function checkPositiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

/**
 * Samples the images of one batch the way the reference implementation's `sample_people` does.
 * The target is `peoplePerBatch * imagesPerPerson` images. All identities are
 * shuffled (Fisher–Yates, {@link shuffle}); they are then visited in that
 * order, and from each one the image indices are shuffled and the first
 * `min(images in the class, imagesPerPerson, images still needed)` are taken,
 * until the target is reached. Identities with few images therefore make more
 * than `peoplePerBatch` identities appear in a batch; the first
 * `peoplePerBatch` of them are the ones the reference implementation uses as anchors.
 *
 * Identities without images are skipped: they never appear in `numPerClass`
 * or `classIndices` (the reference implementation listed them with a count of 0) and consume no
 * randomness beyond the initial identity shuffle. An identity with a single
 * image is sampled normally (it can serve as a negative only).
 *
 * @param dataset The identities (sorted by name; the index is the label).
 * @param peoplePerBatch The number of identities the target is sized for.
 * @param imagesPerPerson The most images taken from one identity.
 * @param rng The RNG state.
 * @param options `allowSmaller` (default false).
 * @returns The sampled images, their labels, the per-identity counts, the
 *   identity indices and the advanced RNG.
 * @throws {RangeError} When the dataset is empty, a count is not a positive
 *   integer, or the dataset cannot supply the target (the message names the
 *   numbers) and `allowSmaller` is not set. The reference implementation crashed with IndexError
 *   in this last case.
 * @throws {TypeError} When an identity has no `images` array.
 * @example
 * ```ts
 * import { samplePeople } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const dataset = [
 *   { name: "a", images: ["a1", "a2", "a3"] },
 *   { name: "b", images: ["b1", "b2"] },
 *   { name: "c", images: ["c1", "c2", "c3"] },
 * ];
 * const batch = samplePeople(dataset, 2, 2, createRng(666));
 * assert.equal(batch.images.length, 4);
 * assert.ok(batch.numPerClass.every((n) => n <= 2));
 * assert.equal(batch.labels.length, 4);
 * ```
 *
 * @category Triplet loss
 */
export function samplePeople(
  dataset: Dataset,
  peoplePerBatch: number,
  imagesPerPerson: number,
  rng: RngState,
  options: SamplePeopleOptions = {},
): SampledPeople {
  if (!Array.isArray(dataset)) {
    throw new TypeError(`Dataset must be an array of identities, got ${typeof dataset}`);
  }
  if (dataset.length === 0) {
    throw new RangeError("Dataset is empty: it has no identities to sample");
  }
  checkPositiveInteger(peoplePerBatch, "peoplePerBatch");
  checkPositiveInteger(imagesPerPerson, "imagesPerPerson");
  let available = 0;
  for (let c = 0; c < dataset.length; c++) {
    const images = dataset[c]?.images;
    if (!Array.isArray(images)) {
      throw new TypeError(`Identity ${c} of the dataset has no images array`);
    }
    available += Math.min(images.length, imagesPerPerson);
  }
  const target = peoplePerBatch * imagesPerPerson;
  if (available < target && options.allowSmaller !== true) {
    throw new RangeError(
      `Dataset cannot supply ${target} images (${peoplePerBatch} people x ${imagesPerPerson} ` +
        `images): ${dataset.length} identities hold only ${available} images usable at ` +
        `${imagesPerPerson} per identity; lower peoplePerBatch or imagesPerPerson, ` +
        `or set allowSmaller`,
    );
  }
  const order = dataset.map((_, index) => index);
  const [classOrder, afterClassShuffle] = shuffle(order, rng);
  let state = afterClassShuffle;
  const images: string[] = [];
  const labels: number[] = [];
  const numPerClass: number[] = [];
  const classIndices: number[] = [];
  for (let i = 0; i < classOrder.length && images.length < target; i++) {
    const classIndex = classOrder[i] as number;
    const classImages = (dataset[classIndex] as Dataset[number]).images;
    if (classImages.length === 0) continue;
    let picked: number[];
    [picked, state] = shuffle(classImages.map((_, k) => k), state);
    const take = Math.min(classImages.length, imagesPerPerson, target - images.length);
    for (let k = 0; k < take; k++) {
      images.push(classImages[picked[k] as number] as string);
      labels.push(classIndex);
    }
    numPerClass.push(take);
    classIndices.push(classIndex);
  }
  return { images, labels, numPerClass, classIndices, rng: state };
}
