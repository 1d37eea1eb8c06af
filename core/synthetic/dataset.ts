/**
 * The synthetic data set as image references `syn:<split>:<identity>:<image>`,
 * laid out like a folder-per-identity dataset. Training and validation
 * identities are disjoint streams.
 *
 * @module
 */

import type { Dataset, ImageClass } from "../types.ts";
import { checkCount, checkSeed } from "./_streams.ts";

/**
 * Which part of the synthetic data set.
 *
 * @category Synthetic faces
 */
export type SyntheticSplit = "train" | "validation";

/**
 * Options of {@link syntheticDataset}.
 *
 * @category Synthetic faces
 */
export interface SyntheticDatasetOptions {
  /** The data set seed (a safe integer). */
  readonly seed: number;
  /** Number of identities (>= 1). */
  readonly identities: number;
  /** Images per identity (>= 1). */
  readonly imagesPerIdentity: number;
  /** Which split's identities. */
  readonly split: SyntheticSplit;
}

function pad(i: number, count: number): string {
  return String(i).padStart(String(Math.max(0, count - 1)).length, "0");
}

/**
 * The reference of one synthetic image.
 *
 * @param split The split.
 * @param identity The identity's index within the split.
 * @param image The image's index within the identity.
 * @returns `syn:<split>:<identity>:<image>`.
 *
 * @example
 * ```ts
 * import { syntheticRef } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.equal(syntheticRef("validation", 3, 1), "syn:validation:3:1");
 * ```
 *
 * @category Synthetic faces
 */
export function syntheticRef(split: SyntheticSplit, identity: number, image: number): string {
  return `syn:${split}:${identity}:${image}`;
}

/**
 * The synthetic data set of one split, in the reference implementation's layout (classes sorted
 * by name, each with its image references).
 *
 * @param options Seed, number of identities and images per identity, split.
 * @returns The classes `syn-<split>-<identity>` (zero-padded, so that the name order is the index order).
 * @throws {RangeError} When a count or the seed is invalid, or the split is unknown.
 *
 * @example
 * ```ts
 * import { syntheticDataset } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const ds = syntheticDataset({ seed: 1, identities: 12, imagesPerIdentity: 2, split: "train" });
 * assert.equal(ds.length, 12);
 * assert.equal(ds[11]?.name, "syn-train-11");
 * assert.deepEqual(ds[0]?.images, ["syn:train:0:0", "syn:train:0:1"]);
 * ```
 *
 * @category Synthetic faces
 */
export function syntheticDataset(options: SyntheticDatasetOptions): Dataset {
  checkSeed(options.seed);
  checkCount(options.identities, "Identity count", 1);
  checkCount(options.imagesPerIdentity, "Images per identity", 1);
  if (options.split !== "train" && options.split !== "validation") {
    throw new RangeError(`Split must be "train" or "validation", got ${options.split}`);
  }
  const classes: ImageClass[] = [];
  for (let i = 0; i < options.identities; i++) {
    const images: string[] = [];
    for (let j = 0; j < options.imagesPerIdentity; j++) {
      images.push(syntheticRef(options.split, i, j));
    }
    classes.push({ name: `syn-${options.split}-${pad(i, options.identities)}`, images });
  }
  return classes;
}

/**
 * Parses a synthetic image reference.
 *
 * @param ref `syn:<split>:<identity>:<image>`.
 * @returns The split and the two indices.
 * @throws {TypeError} When `ref` is not a synthetic reference.
 *
 * @example
 * ```ts
 * import { parseSyntheticRef } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseSyntheticRef("syn:train:4:2"), { split: "train", identity: 4, image: 2 });
 * assert.throws(() => parseSyntheticRef("faces/a.png"), TypeError);
 * ```
 *
 * @category Synthetic faces
 */
export function parseSyntheticRef(
  ref: string,
): { split: SyntheticSplit; identity: number; image: number } {
  const m = /^syn:(train|validation):(\d{1,15}):(\d{1,15})$/.exec(ref);
  if (m === null) {
    throw new TypeError(`Not a synthetic image reference (syn:<split>:<identity>:<image>): ${ref}`);
  }
  return { split: m[1] as SyntheticSplit, identity: Number(m[2]), image: Number(m[3]) };
}
