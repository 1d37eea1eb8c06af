/**
 * The random streams of the synthetic data set (core/pure/rng.ts only): a
 * seed's root streams, keyed sub-streams, and blocks of pre-drawn uniforms.
 *
 * @module
 */

import type { RngState } from "../types.ts";
import { createRng, split, uint32s } from "../pure/rng.ts";

/** Uniforms drawn per identity. */
export const IDENTITY_DRAWS = 128;
/** Uniforms drawn per image. */
export const IMAGE_DRAWS = 64;

/** Throws a RangeError unless `seed` is a safe integer. */
export function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`Seed must be a safe integer, got ${seed}`);
}

/** Throws a RangeError unless `value` is a safe integer >= `min`, naming it `what`. */
export function checkCount(value: number, what: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${what} must be an integer >= ${min}, got ${value}`);
  }
}

/** The stream keyed by words `2k, 2k + 1` of `root`. */
export function streamAt(root: RngState, k: number): RngState {
  const [w] = uint32s({ key: root.key, counter: root.counter + 2 * k }, 2);
  return { key: [w[0] as number, w[1] as number], counter: 0 };
}

/** Root streams of a seed: identities, images, pairs. */
export function roots(seed: number): [RngState, RngState, RngState] {
  const [a, rest] = split(createRng(seed));
  const [b, c] = split(rest);
  return [a, b, c];
}

/** Hands out the uniforms of a pre-drawn block in order. */
export class Draws {
  #u: Float64Array;
  #i = 0;
  constructor(u: Float64Array) {
    this.#u = u;
  }
  /** A uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    const u = this.#u[this.#i++];
    if (u === undefined) throw new Error("Internal error: synthetic draw block exhausted");
    return lo + (hi - lo) * u;
  }
  chance(p: number): boolean {
    return this.range(0, 1) < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.min(items.length - 1, Math.floor(this.range(0, items.length)))] as T;
  }
  /** A roughly normal value (sum of three uniforms), mean 0, std `sd`. */
  around(sd: number): number {
    return (this.range(-1, 1) + this.range(-1, 1) + this.range(-1, 1)) * sd;
  }
}

/** The identity stream index of identity `i` of a split (`2 i` training, `2 i + 1` validation). */
export function identityStream(split: "train" | "validation", i: number): number {
  return 2 * i + (split === "validation" ? 1 : 0);
}
