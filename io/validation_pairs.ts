/**
 * Validation without a pairs file: hold out some identities of a dataset and
 * build verification pairs over them in LFW's `pairs.txt` layout (folds, each
 * with its same-person lines followed by its different-person lines), so that
 * `train --data-dir` can validate every epoch with the LFW protocol and write
 * the pairs into its run folder.
 *
 * Image `i` of an identity is the `i`-th (1-based) image of its class in the
 * dataset, which lists each folder's files sorted by name; for a folder named
 * the LFW way (`Name/Name_0001.jpg`, `Name_0002.jpg`, ...) that is the same
 * file as LFW's rule picks.
 *
 * Pure functions: all randomness comes from the RNG passed in.
 *
 * @module
 */

import type { Dataset } from "../core/types.ts";
import type { RngState } from "../core/types.ts";
import type { RefPair } from "../core/validate.ts";
import { shuffle, uniforms } from "../core/pure/rng.ts";
import type { PairEntry, Pairs } from "./pairs.ts";

/**
 * Options of {@linkcode holdOutIdentities}.
 *
 * @category Data
 */
export interface HoldOutOptions {
  /** How many identities to hold out (at least 2, at most all but one). */
  readonly count: number;
  /** Chooses the held-out identities. */
  readonly rng: RngState;
}

/**
 * The outcome of {@linkcode holdOutIdentities}.
 *
 * @category Data
 */
export interface HeldOut {
  /** The remaining identities, in their original (sorted) order: the training set. */
  readonly train: Dataset;
  /** The held-out identities, in their original (sorted) order. */
  readonly validation: Dataset;
  /** The advanced RNG. */
  readonly rng: RngState;
}

function checkCount(value: number, what: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${what} must be an integer >= ${min}, got ${value}`);
  }
}

/**
 * Resolves `--validation-identities`: a number below 1 is a fraction of the
 * identities (rounded, at least 2), a number of 1 or more is a count.
 *
 * @param identities How many identities the dataset has.
 * @param request The fraction (0 < request < 1) or the count (an integer >= 2).
 * @returns How many identities to hold out.
 * @throws {RangeError} When the request is not a fraction or an integer >= 2,
 *   or fewer than one identity would be left for training.
 * @example
 * ```ts
 * import { validationIdentityCount } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(validationIdentityCount(100, 0.2), 20);
 * assert.equal(validationIdentityCount(7, 0.2), 2); // at least 2, for different-person pairs
 * assert.equal(validationIdentityCount(10, 3), 3);
 * ```
 *
 * @category Data
 */
export function validationIdentityCount(identities: number, request: number): number {
  checkCount(identities, "Identity count", 1);
  let count: number;
  if (request > 0 && request < 1) {
    count = Math.max(2, Math.round(request * identities));
  } else if (Number.isSafeInteger(request) && request >= 2) {
    count = request;
  } else {
    throw new RangeError(
      `Validation identities must be a fraction in (0, 1) or an integer >= 2, got ${request}`,
    );
  }
  if (count > identities - 1) {
    throw new RangeError(
      `Holding out ${count} of ${identities} identities leaves ${
        identities - count
      } for training; ` +
        `at least 1 is needed (a dataset of at least ${count + 1} identities)`,
    );
  }
  return count;
}

/**
 * Holds out `count` identities chosen uniformly at random (a shuffle of the
 * identity indices; the first `count` are held out). Both parts keep the
 * dataset's order, so training labels are indices into `train`.
 *
 * @param dataset The identities, sorted by name.
 * @param options How many to hold out, and the RNG.
 * @returns The training identities, the held-out identities and the advanced RNG.
 * @throws {RangeError} When `count` is below 2 or leaves no training identity.
 * @example
 * ```ts
 * import { holdOutIdentities } from "@facenet-deno/facenet/io";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const dataset = ["a", "b", "c", "d", "e"].map((name) => ({ name, images: [`${name}/1.png`] }));
 * const { train, validation } = holdOutIdentities(dataset, { count: 2, rng: createRng(1) });
 * assert.equal(train.length, 3);
 * assert.equal(validation.length, 2);
 * assert.deepEqual([...train, ...validation].map((c) => c.name).sort(), ["a", "b", "c", "d", "e"]);
 * ```
 *
 * @category Data
 */
export function holdOutIdentities(dataset: Dataset, options: HoldOutOptions): HeldOut {
  checkCount(options.count, "Held-out identity count", 2);
  if (options.count > dataset.length - 1) {
    throw new RangeError(
      `Cannot hold out ${options.count} of ${dataset.length} identities and keep one for training`,
    );
  }
  const [order, rng] = shuffle(dataset.map((_, i) => i), options.rng);
  const held = new Set(order.slice(0, options.count));
  return {
    train: dataset.filter((_, i) => !held.has(i)),
    validation: dataset.filter((_, i) => held.has(i)),
    rng,
  };
}

/**
 * Options of {@linkcode buildPairs}.
 *
 * @category Data
 */
export interface BuildPairsOptions {
  /** Number of folds (default 10, as LFW). */
  readonly folds?: number;
  /** Same-person pairs (and as many different-person pairs) per fold. */
  readonly pairsPerFold: number;
  /** The draws. */
  readonly rng: RngState;
}

/**
 * The outcome of {@linkcode buildPairs}.
 *
 * @category Data
 */
export interface BuiltPairs {
  /** The pairs, fold after fold, each fold's same-person lines first (LFW's layout). */
  readonly pairs: Pairs;
  /** How the folds were made disjoint: by identity (as LFW) or by image. */
  readonly disjoint: "identities" | "images";
  /** The advanced RNG. */
  readonly rng: RngState;
}

/**
 * Builds verification pairs over a set of identities in LFW's layout.
 *
 * Folds are kept disjoint so that the threshold chosen on the training folds
 * is tested on unseen data, as in LFW: with at least `2 x folds` identities,
 * identity `k` belongs to fold `k mod folds` (folds disjoint in identities,
 * as LFW's); with fewer (a dataset of a few classes), every identity appears
 * in every fold, and its images are split into `folds` contiguous blocks,
 * block `f` serving fold `f` (folds disjoint in images). Within a fold, each
 * same-person pair draws an identity uniformly among the fold's identities
 * with at least 2 images there, then two distinct images; each
 * different-person pair draws two distinct identities uniformly, then one
 * image of each. A pair already drawn in the fold is drawn again while
 * unseen pairs remain. Draws: 4 uniforms per attempt, in order.
 *
 * @param dataset The identities (image `i` is `images[i - 1]`).
 * @param options Folds, pairs per fold, RNG.
 * @returns The pairs (1-based image numbers), how folds are disjoint, and the advanced RNG.
 * @throws {RangeError} When there are fewer than 2 identities, or too few
 *   images: with identity-disjoint folds every fold needs an identity with 2
 *   images; with image-disjoint folds every identity needs `2 x folds` images.
 * @example Three classes, image-disjoint folds
 * ```ts
 * import { buildPairs } from "@facenet-deno/facenet/io";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const dataset = ["bag", "boot", "sneaker"].map((name) => ({
 *   name,
 *   images: Array.from({ length: 40 }, (_, i) => `${name}/${i}.png`),
 * }));
 * const { pairs, disjoint } = buildPairs(dataset, { folds: 10, pairsPerFold: 5, rng: createRng(1) });
 * assert.equal(disjoint, "images");
 * assert.equal(pairs.pairs.length, 100);
 * assert.equal(pairs.pairs.filter((p) => p.same).length, 50);
 * ```
 *
 * @category Data
 */
export function buildPairs(dataset: Dataset, options: BuildPairsOptions): BuiltPairs {
  const folds = options.folds ?? 10;
  checkCount(folds, "Fold count", 1);
  checkCount(options.pairsPerFold, "Pairs per fold", 1);
  if (dataset.length < 2) {
    throw new RangeError(
      `Pairs need at least 2 identities (for different-person pairs), got ${dataset.length}`,
    );
  }
  const byIdentity = dataset.length >= 2 * folds;
  // Per fold: the members (identity index and the image range [from, to) it may use there).
  const members: { identity: number; from: number; to: number }[][] = [];
  for (let f = 0; f < folds; f++) {
    const list: { identity: number; from: number; to: number }[] = [];
    dataset.forEach((cls, k) => {
      const n = cls.images.length;
      if (byIdentity) {
        if (k % folds === f) list.push({ identity: k, from: 0, to: n });
      } else {
        if (n < 2 * folds) {
          throw new RangeError(
            `Identity "${cls.name}" has ${n} images; with fewer than ${2 * folds} identities the ` +
              `folds split each identity's images, which needs at least ${2 * folds} (2 x folds)`,
          );
        }
        list.push({
          identity: k,
          from: Math.floor((f * n) / folds),
          to: Math.floor(((f + 1) * n) / folds),
        });
      }
    });
    if (!list.some((m) => m.to - m.from >= 2)) {
      throw new RangeError(`Fold ${f + 1} has no identity with 2 images for same-person pairs`);
    }
    members.push(list);
  }
  let rng = options.rng;
  const draw = (): Float64Array => {
    const [u, next] = uniforms(rng, 4);
    rng = next;
    return u;
  };
  const pick = (u: number, n: number) => Math.min(n - 1, Math.floor(u * n));
  const entries: PairEntry[] = [];
  for (const list of members) {
    const sameMembers = list.filter((m) => m.to - m.from >= 2);
    const maxSame = sameMembers.reduce(
      (s, m) => s + ((m.to - m.from) * (m.to - m.from - 1)) / 2,
      0,
    );
    let maxDiff = 0;
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i] as { from: number; to: number };
        const b = list[j] as { from: number; to: number };
        maxDiff += (a.to - a.from) * (b.to - b.from);
      }
    }
    for (const same of [true, false]) {
      const seen = new Set<string>();
      const limit = same ? maxSame : maxDiff;
      for (let p = 0; p < options.pairsPerFold; p++) {
        for (;;) {
          const u = draw();
          let m1, m2;
          let j1, j2;
          if (same) {
            m1 = m2 = sameMembers[pick(u[0] as number, sameMembers.length)] as (typeof list)[0];
            const n = m1.to - m1.from;
            j1 = pick(u[2] as number, n);
            j2 = pick(u[3] as number, n - 1);
            if (j2 >= j1) j2++;
          } else {
            if (list.length < 2) {
              throw new RangeError(
                `A fold has fewer than 2 identities for different-person pairs`,
              );
            }
            const a = pick(u[0] as number, list.length);
            let b = pick(u[1] as number, list.length - 1);
            if (b >= a) b++;
            m1 = list[a] as (typeof list)[0];
            m2 = list[b] as (typeof list)[0];
            j1 = pick(u[2] as number, m1.to - m1.from);
            j2 = pick(u[3] as number, m2.to - m2.from);
          }
          const e1 = { k: m1.identity, i: m1.from + j1 + 1 };
          const e2 = { k: m2.identity, i: m2.from + j2 + 1 };
          const [x, y] = e1.k < e2.k || (e1.k === e2.k && e1.i < e2.i) ? [e1, e2] : [e2, e1];
          const key = `${x.k}:${x.i}|${y.k}:${y.i}`;
          if (seen.has(key) && seen.size < limit) continue;
          seen.add(key);
          const name1 = (dataset[e1.k] as { name: string }).name;
          const name2 = (dataset[e2.k] as { name: string }).name;
          entries.push({ name1, index1: e1.i, name2, index2: e2.i, same });
          break;
        }
      }
    }
  }
  return {
    pairs: { folds, pairsPerFold: options.pairsPerFold, pairs: entries },
    disjoint: byIdentity ? "identities" : "images",
    rng,
  };
}

/**
 * Turns pairs whose image numbers count each identity's images in dataset
 * order into image references.
 *
 * @param pairs The pairs (as {@linkcode buildPairs} returns them, or parsed from a file).
 * @param dataset The identities the pairs were built from (names need not be in the same order).
 * @returns One reference pair per entry, in order.
 * @throws {RangeError} When an entry names an identity not in `dataset` or an image number beyond its images.
 * @example
 * ```ts
 * import { pairsToRefs } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dataset = [{ name: "a", images: ["a/x.png", "a/y.png"] }, { name: "b", images: ["b/z.png"] }];
 * const refs = pairsToRefs({ folds: 1, pairsPerFold: 1, pairs: [
 *   { name1: "a", index1: 1, name2: "a", index2: 2, same: true },
 *   { name1: "a", index1: 2, name2: "b", index2: 1, same: false },
 * ] }, dataset);
 * assert.deepEqual(refs[1], { a: "a/y.png", b: "b/z.png", same: false });
 * ```
 *
 * @category Data
 */
export function pairsToRefs(pairs: Pairs, dataset: Dataset): RefPair[] {
  const byName = new Map(dataset.map((cls) => [cls.name, cls.images]));
  const ref = (name: string, index: number): string => {
    const images = byName.get(name);
    if (images === undefined) {
      throw new RangeError(`Pair identity "${name}" is not in the dataset`);
    }
    const path = images[index - 1];
    if (path === undefined) {
      throw new RangeError(
        `Pair image ${index} of "${name}" does not exist (it has ${images.length} images)`,
      );
    }
    return path;
  };
  return pairs.pairs.map((p) => ({
    a: ref(p.name1, p.index1),
    b: ref(p.name2, p.index2),
    same: p.same,
  }));
}
