/**
 * LFW-style verification pairs over the synthetic validation identities.
 *
 * @module
 */

import { uniforms } from "../pure/rng.ts";
import { checkCount, checkSeed, roots, streamAt } from "./_streams.ts";
import { syntheticRef } from "./dataset.ts";

/**
 * Options of {@link syntheticPairs}.
 *
 * @category Synthetic faces
 */
export interface SyntheticPairsOptions {
  /** The data set seed. */
  readonly seed: number;
  /** Number of validation identities (>= 2 x folds). */
  readonly identities: number;
  /** Images per validation identity (>= 2). */
  readonly imagesPerIdentity: number;
  /** Number of folds; default 10 (LFW). */
  readonly folds?: number;
  /** Same-identity pairs per fold (and as many different-identity pairs). */
  readonly pairsPerFold: number;
}

/**
 * One verification pair: two image references and whether they show the same identity.
 *
 * @category Synthetic faces
 */
export interface SyntheticPair {
  /** First image reference. */
  readonly a: string;
  /** Second image reference. */
  readonly b: string;
  /** Whether both images show the same identity. */
  readonly same: boolean;
}

/**
 * Validation pairs in the LFW structure: per fold, `pairsPerFold` same then `pairsPerFold` different pairs.
 *
 * @category Synthetic faces
 */
export interface SyntheticPairs {
  /** All pairs, fold after fold. */
  readonly pairs: readonly SyntheticPair[];
  /** Number of folds. */
  readonly folds: number;
  /** Same-identity (and different-identity) pairs per fold. */
  readonly pairsPerFold: number;
}

/**
 * Validation pairs over the synthetic validation identities, in the LFW
 * structure: `folds` folds, each `pairsPerFold` same-identity pairs then
 * `pairsPerFold` different-identity pairs. As in LFW, the folds are
 * identity-disjoint: validation identity `i` appears only in fold `i % folds`,
 * so a threshold chosen on nine folds is tested on unseen identities. No pair
 * repeats within a fold while distinct pairs remain.
 *
 * @param options Seed, identities, images per identity, folds (default 10), pairs per fold.
 * @returns The pairs and the fold structure.
 * @throws {RangeError} When there are fewer than `2 x folds` identities, fewer than 2 images per identity, or a count is invalid.
 *
 * @example
 * ```ts
 * import { syntheticPairs } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const p = syntheticPairs({ seed: 1, identities: 20, imagesPerIdentity: 3, pairsPerFold: 5 });
 * assert.equal(p.pairs.length, 10 * 2 * 5);
 * assert.ok(p.pairs.slice(0, 5).every((x) => x.same));
 * assert.ok(p.pairs.slice(5, 10).every((x) => !x.same));
 * ```
 *
 * @category Synthetic faces
 */
export function syntheticPairs(options: SyntheticPairsOptions): SyntheticPairs {
  const folds = options.folds ?? 10;
  checkSeed(options.seed);
  checkCount(folds, "Fold count", 1);
  checkCount(options.identities, "Identity count", 2 * folds);
  checkCount(options.imagesPerIdentity, "Images per identity", 2);
  checkCount(options.pairsPerFold, "Pairs per fold", 1);
  const [, , pairsRoot] = roots(options.seed);
  const pairs: SyntheticPair[] = [];
  const ipi = options.imagesPerIdentity;
  for (let f = 0; f < folds; f++) {
    const members: number[] = [];
    for (let i = f; i < options.identities; i += folds) members.push(i);
    const m = members.length;
    const maxSame = m * (ipi * (ipi - 1)) / 2;
    const maxDiff = (m * (m - 1)) / 2 * ipi * ipi;
    let stream = streamAt(pairsRoot, f);
    const draw = (count: number): Float64Array => {
      const [u, next] = uniforms(stream, count);
      stream = next;
      return u;
    };
    const pickInt = (u: number, n: number) => Math.min(n - 1, Math.floor(u * n));
    for (let kind = 0; kind < 2; kind++) {
      const same = kind === 0;
      const limit = same ? maxSame : maxDiff;
      const seen = new Set<string>();
      for (let p = 0; p < options.pairsPerFold; p++) {
        for (;;) {
          const u = draw(4);
          const i1 = members[pickInt(u[0] as number, m)] as number;
          let i2 = i1;
          if (!same) {
            const o = pickInt(u[1] as number, m - 1);
            i2 = members[o >= members.indexOf(i1) ? o + 1 : o] as number;
          }
          const j1 = pickInt(u[2] as number, ipi);
          let j2 = pickInt(u[3] as number, same ? ipi - 1 : ipi);
          if (same && j2 >= j1) j2++;
          const a = syntheticRef("validation", i1, j1);
          const b = syntheticRef("validation", i2, j2);
          const key = a < b ? `${a}|${b}` : `${b}|${a}`;
          if (seen.has(key) && seen.size < limit) continue;
          seen.add(key);
          pairs.push({ a, b, same });
          break;
        }
      }
    }
  }
  return { pairs, folds, pairsPerFold: options.pairsPerFold };
}
