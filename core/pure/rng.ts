/**
 * The framework's only source of randomness: Philox4x32-10, the
 * counter-based generator of Salmon et al., "Parallel Random Numbers: As Easy
 * as 1, 2, 3" (SC 2011, the Random123 library), over a plain, JSON-friendly
 * {@link RngState} value.
 *
 * The stream of a state is a sequence of unsigned 32-bit words. Word `n` of
 * the stream with key `[k0, k1]` is lane `n % 4` of the Philox block computed
 * from the counter words `[q mod 2^32, floor(q / 2^32), 0, 0]` with
 * `q = floor(n / 4)`. A state's `counter` is the index of the next word to
 * hand out, so drawing is pure arithmetic: state in, value and new state out.
 *
 * Derived draws:
 * - {@link uniform}: a float64 in [0, 1) built from 53 bits of TWO consecutive
 *   words `a, b`: `((a >>> 5) * 2^26 + (b >>> 6)) / 2^53`. The i-th uniform of
 *   a state therefore uses words `counter + 2i` and `counter + 2i + 1`
 *   ({@link uniformAt}), so a backend can compute any draw independently.
 * - {@link randomInt}: unbiased integers by rejection on single words.
 * - {@link normal}: Box–Muller on two uniforms (one normal per call; the
 *   second value of the pair is discarded).
 * - {@link split}: two fresh streams keyed by the next four words.
 *
 * @module
 */

import type { RngState } from "../types.ts";

const M0 = 0xD2511F53;
const M1 = 0xCD9E8D57;
const W0 = 0x9E3779B9;
const W1 = 0xBB67AE85;
const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;

/** The high 32 bits of the exact 64-bit product of two unsigned 32-bit words. */
function mulHi(a: number, b: number): number {
  const aHi = a >>> 16;
  const aLo = a & 0xffff;
  const bHi = b >>> 16;
  const bLo = b & 0xffff;
  const loLo = aLo * bLo; // < 2^32, exact
  const mid = aHi * bLo + aLo * bHi + Math.floor(loLo / 65536); // < 2^34, exact
  return (aHi * bHi + Math.floor(mid / 65536)) >>> 0;
}

/**
 * Computes one Philox4x32-10 block: ten rounds over a 128-bit counter with a
 * 64-bit key, using the Random123 multipliers (0xD2511F53, 0xCD9E8D57) and
 * Weyl key increments (0x9E3779B9, 0xBB67AE85). The 32x32->64-bit products
 * are computed exactly from 16-bit halves.
 *
 * @param counter The four counter words (unsigned 32-bit integers).
 * @param key The two key words (unsigned 32-bit integers).
 * @returns The four output words.
 * @throws {RangeError} When a word is not an integer in [0, 2^32).
 * @example Random123's all-zero known answer
 * ```ts
 * import { philox4x32 } from "./rng.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(philox4x32([0, 0, 0, 0], [0, 0]), [
 *   0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8,
 * ]);
 * ```
 */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): [number, number, number, number] {
  for (const w of [...counter, ...key]) {
    if (!isWord(w)) {
      throw new RangeError(`Philox words must be integers in [0, 2^32), got ${w}`);
    }
  }
  return philoxBlock(counter[0], counter[1], counter[2], counter[3], key[0], key[1]);
}

function philoxBlock(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
): [number, number, number, number] {
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulHi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulHi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return [c0, c1, c2, c3];
}

function isWord(w: unknown): w is number {
  return typeof w === "number" && Number.isInteger(w) && w >= 0 && w < TWO_32;
}

function checkState(rng: RngState): void {
  if (
    typeof rng !== "object" || rng === null || !Array.isArray(rng.key) || rng.key.length !== 2
  ) {
    throw new TypeError(`Expected an RngState {key: [k0, k1], counter}, got ${String(rng)}`);
  }
  if (!isWord(rng.key[0]) || !isWord(rng.key[1])) {
    throw new RangeError(
      `RngState key words must be integers in [0, 2^32), got [${rng.key[0]}, ${rng.key[1]}]`,
    );
  }
  if (!Number.isSafeInteger(rng.counter) || rng.counter < 0) {
    throw new RangeError(
      `RngState counter must be a non-negative safe integer, got ${rng.counter}`,
    );
  }
}

function advanced(rng: RngState, words: number): RngState {
  const counter = rng.counter + words;
  if (!Number.isSafeInteger(counter)) {
    throw new RangeError(`RngState counter overflow: ${rng.counter} + ${words} exceeds 2^53 - 1`);
  }
  return { key: [rng.key[0], rng.key[1]], counter };
}

/** Word `n` of the stream keyed by `key` (no validation). */
function wordOf(key: readonly [number, number], n: number): number {
  const q = Math.floor(n / 4);
  const block = philoxBlock(q >>> 0, Math.floor(q / TWO_32) >>> 0, 0, 0, key[0], key[1]);
  return block[n % 4] as number;
}

/** Fills `out` with words `start .. start + out.length - 1`, one Philox block per 4 words. */
function fillWords(key: readonly [number, number], start: number, out: Uint32Array): void {
  let i = 0;
  let n = start;
  while (i < out.length) {
    const q = Math.floor(n / 4);
    const block = philoxBlock(q >>> 0, Math.floor(q / TWO_32) >>> 0, 0, 0, key[0], key[1]);
    for (let lane = n % 4; lane < 4 && i < out.length; lane++, i++, n++) {
      out[i] = block[lane] as number;
    }
  }
}

function uniformFromWords(a: number, b: number): number {
  return ((a >>> 5) * 67108864 + (b >>> 6)) / TWO_53;
}

/**
 * Creates the state of a fresh stream from an integer seed: the key is the
 * seed as a 64-bit two's-complement integer (`[low 32 bits, high 32 bits]`),
 * the counter is 0.
 *
 * @param seed Any safe integer (negative seeds are allowed).
 * @returns A new state.
 * @throws {RangeError} When `seed` is not a safe integer.
 * @example
 * ```ts
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(createRng(666), { key: [666, 0], counter: 0 });
 * ```
 *
 * @category Random
 */
export function createRng(seed: number): RngState {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`Seed must be a safe integer, got ${seed}`);
  }
  return { key: [seed >>> 0, Math.floor(seed / TWO_32) >>> 0], counter: 0 };
}

/**
 * Draws the next unsigned 32-bit word.
 *
 * @param rng The current state.
 * @returns The word and the advanced state.
 * @throws {RangeError} When `rng` is not a valid state.
 * @example
 * ```ts
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import { nextUint32 } from "./rng.ts";
 * import assert from "node:assert/strict";
 *
 * const [word, next] = nextUint32(createRng(0));
 * assert.equal(word, 0x6627e8d5);
 * assert.equal(next.counter, 1);
 * ```
 */
export function nextUint32(rng: RngState): [number, RngState] {
  checkState(rng);
  return [wordOf(rng.key, rng.counter), advanced(rng, 1)];
}

/**
 * Draws `n` unsigned 32-bit words.
 *
 * @param rng The current state.
 * @param n How many words.
 * @returns The words and the state advanced by `n`.
 * @throws {RangeError} When `n` is not a non-negative integer or `rng` is invalid.
 * @example
 * ```ts
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import { uint32s } from "./rng.ts";
 * import assert from "node:assert/strict";
 *
 * const [words, next] = uint32s(createRng(0), 4);
 * assert.deepEqual([...words], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
 * assert.equal(next.counter, 4);
 * ```
 */
export function uint32s(rng: RngState, n: number): [Uint32Array, RngState] {
  checkState(rng);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`Word count must be a non-negative integer, got ${n}`);
  }
  const next = advanced(rng, n);
  const out = new Uint32Array(n);
  fillWords(rng.key, rng.counter, out);
  return [out, next];
}

/**
 * Draws a float64 uniform in [0, 1) with 53 random bits taken from two
 * consecutive words `a, b`: `((a >>> 5) * 2^26 + (b >>> 6)) / 2^53`.
 *
 * @param rng The current state.
 * @returns The uniform and the state advanced by two words.
 * @throws {RangeError} When `rng` is not a valid state.
 * @example
 * ```ts
 * import { createRng, uniform } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [u, next] = uniform(createRng(1));
 * assert.ok(u >= 0 && u < 1);
 * assert.equal(next.counter, 2);
 * ```
 *
 * @category Random
 */
export function uniform(rng: RngState): [number, RngState] {
  checkState(rng);
  return [uniformAt(rng, 0), advanced(rng, 2)];
}

/**
 * The `i`-th uniform of the stream from `rng`, without advancing: the value
 * the `(i+1)`-th consecutive {@link uniform} call would return. It uses words
 * `rng.counter + 2i` and `rng.counter + 2i + 1`, so backends can compute draws
 * in any order or in parallel.
 *
 * @param rng The state the draws start from.
 * @param i The draw index (a non-negative integer).
 * @returns A float64 uniform in [0, 1).
 * @throws {RangeError} When `i` is not a non-negative integer or `rng` is invalid.
 * @example
 * ```ts
 * import { createRng, uniforms } from "@facenet-deno/facenet/pure";
 * import { uniformAt } from "./rng.ts";
 * import assert from "node:assert/strict";
 *
 * const rng = createRng(5);
 * const [us] = uniforms(rng, 3);
 * assert.equal(uniformAt(rng, 2), us[2]);
 * ```
 */
export function uniformAt(rng: RngState, i: number): number {
  checkState(rng);
  if (!Number.isSafeInteger(i) || i < 0) {
    throw new RangeError(`Draw index must be a non-negative integer, got ${i}`);
  }
  const n = rng.counter + 2 * i;
  if (!Number.isSafeInteger(n + 1)) {
    throw new RangeError(`Draw index ${i} is past the end of the stream at ${rng.counter}`);
  }
  return uniformFromWords(wordOf(rng.key, n), wordOf(rng.key, n + 1));
}

/**
 * Draws `n` uniforms in [0, 1), equal to `n` consecutive {@link uniform} calls.
 *
 * @param rng The current state.
 * @param n How many uniforms.
 * @returns The uniforms and the state advanced by `2n` words.
 * @throws {RangeError} When `n` is not a non-negative integer or `rng` is invalid.
 * @example
 * ```ts
 * import { createRng, uniform, uniforms } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [us, next] = uniforms(createRng(3), 2);
 * const [u0, r1] = uniform(createRng(3));
 * const [u1, r2] = uniform(r1);
 * assert.deepEqual([...us], [u0, u1]);
 * assert.deepEqual(next, r2);
 * ```
 *
 * @category Random
 */
export function uniforms(rng: RngState, n: number): [Float64Array, RngState] {
  checkState(rng);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`Uniform count must be a non-negative integer, got ${n}`);
  }
  const next = advanced(rng, 2 * n);
  const words = new Uint32Array(2 * n);
  fillWords(rng.key, rng.counter, words);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = uniformFromWords(words[2 * i] as number, words[2 * i + 1] as number);
  }
  return [out, next];
}

/**
 * Draws an integer uniformly from `0 .. n-1` without bias: words at or above
 * the largest multiple of `n` below 2^32 are rejected and redrawn; the result
 * is the accepted word modulo `n`. Consumes one word per attempt.
 *
 * @param rng The current state.
 * @param n The number of outcomes, an integer in [1, 2^32].
 * @returns The integer and the advanced state.
 * @throws {RangeError} When `n` is out of range or `rng` is invalid.
 * @example
 * ```ts
 * import { createRng, randomInt } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [k] = randomInt(createRng(9), 6);
 * assert.ok(Number.isInteger(k) && k >= 0 && k < 6);
 * ```
 *
 * @category Random
 */
export function randomInt(rng: RngState, n: number): [number, RngState] {
  checkState(rng);
  if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
    throw new RangeError(`Outcome count must be an integer in [1, 2^32], got ${n}`);
  }
  const limit = TWO_32 - (TWO_32 % n);
  let counter = rng.counter;
  for (;;) {
    const w = wordOf(rng.key, counter);
    counter++;
    if (w < limit) {
      return [w % n, advanced(rng, counter - rng.counter)];
    }
  }
}

/**
 * Draws a standard normal value by Box–Muller from two uniforms `u1, u2`:
 * `sqrt(-2 ln(1 - u1)) * cos(2 pi u2)` (one value per call).
 *
 * @param rng The current state.
 * @returns The value and the state advanced by four words.
 * @throws {RangeError} When `rng` is not a valid state.
 * @example
 * ```ts
 * import { createRng, normal } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [z, next] = normal(createRng(2));
 * assert.ok(Number.isFinite(z));
 * assert.equal(next.counter, 4);
 * ```
 *
 * @category Random
 */
export function normal(rng: RngState): [number, RngState] {
  checkState(rng);
  const u1 = uniformAt(rng, 0);
  const u2 = uniformAt(rng, 1);
  const z = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  return [z, advanced(rng, 4)];
}

/**
 * Splits a stream into two independent streams. The next four words of `rng`
 * become the keys `[w0, w1]` and `[w2, w3]` of two fresh streams (counter 0).
 * The input state is consumed: keep using the returned states, not `rng`.
 *
 * @param rng The state to split.
 * @returns Two new states.
 * @throws {RangeError} When `rng` is not a valid state.
 * @example
 * ```ts
 * import { createRng, split } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = split(createRng(0));
 * assert.deepEqual(a, { key: [0x6627e8d5, 0xe169c58d], counter: 0 });
 * assert.deepEqual(b, { key: [0xbc57ac4c, 0x9b00dbd8], counter: 0 });
 * ```
 *
 * @category Random
 */
export function split(rng: RngState): [RngState, RngState] {
  const [w] = uint32s(rng, 4);
  return [
    { key: [w[0] as number, w[1] as number], counter: 0 },
    { key: [w[2] as number, w[3] as number], counter: 0 },
  ];
}

/**
 * Shuffles a copy of `items` with Fisher–Yates from the end: for
 * `i = n-1 .. 1`, swap item `i` with item `randomInt(i + 1)`.
 *
 * @param items The items (not modified).
 * @param rng The current state.
 * @returns The shuffled copy and the advanced state.
 * @throws {RangeError} When `rng` is not a valid state.
 * @example
 * ```ts
 * import { createRng, shuffle } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [out] = shuffle([1, 2, 3, 4], createRng(4));
 * assert.deepEqual([...out].sort(), [1, 2, 3, 4]);
 * ```
 *
 * @category Random
 */
export function shuffle<T>(items: readonly T[], rng: RngState): [T[], RngState] {
  checkState(rng);
  const out = items.slice();
  let counter = rng.counter;
  for (let i = out.length - 1; i > 0; i--) {
    // randomInt(i + 1) inlined: rejection on single words, then the remainder.
    const n = i + 1;
    const limit = TWO_32 - (TWO_32 % n);
    let w: number;
    do {
      w = wordOf(rng.key, counter);
      counter++;
    } while (w >= limit);
    const j = w % n;
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return [out, advanced(rng, counter - rng.counter)];
}
