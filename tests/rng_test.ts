import assert from "node:assert/strict";
import fc from "fast-check";
import {
  createRng,
  nextUint32,
  normal,
  philox4x32,
  randomInt,
  shuffle,
  split,
  uint32s,
  uniform,
  uniformAt,
  uniforms,
} from "../core/pure/rng.ts";
import type { RngState } from "../core/types.ts";

// Random123's published kat_vectors for philox4x32 with 10 rounds:
// counter[4] key[2] -> output[4].
const KAT: [[number, number, number, number], [number, number], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

const stateArb: fc.Arbitrary<RngState> = fc.record({
  key: fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })),
  counter: fc.nat({ max: 2 ** 40 }),
});

Deno.test("philox4x32() reproduces Random123's known-answer vectors", () => {
  for (const [counter, key, expected] of KAT) {
    assert.deepEqual(philox4x32(counter, key), expected);
  }
});

Deno.test("philox4x32() rejects words outside [0, 2^32)", () => {
  assert.throws(() => philox4x32([0, 0, 0, 2 ** 32], [0, 0]), RangeError);
  assert.throws(() => philox4x32([0, 0, 0, 0], [-1, 0]), RangeError);
  assert.throws(() => philox4x32([0.5, 0, 0, 0], [0, 0]), RangeError);
});

Deno.test("the stream's word n is lane n % 4 of the block at counter floor(n / 4)", () => {
  const key: [number, number] = [0xa4093822, 0x299f31d0];
  const q = 2 ** 33 + 5; // exercises the high counter word
  const block = philox4x32([q >>> 0, Math.floor(q / 2 ** 32), 0, 0], key);
  const [words, next] = uint32s({ key, counter: 4 * q + 1 }, 3);
  assert.deepEqual([...words], block.slice(1));
  assert.equal(next.counter, 4 * q + 4);
  const [w] = nextUint32({ key, counter: 4 * q + 3 });
  assert.equal(w, block[3]);
});

Deno.test("createRng() keys the stream by the seed as a 64-bit two's-complement integer", () => {
  assert.deepEqual(createRng(0), { key: [0, 0], counter: 0 });
  assert.deepEqual(createRng(2 ** 32 + 7), { key: [7, 1], counter: 0 });
  assert.deepEqual(createRng(-1), { key: [0xffffffff, 0xffffffff], counter: 0 });
  assert.throws(() => createRng(1.5), RangeError);
  assert.throws(() => createRng(2 ** 53), RangeError);
});

Deno.test("an RngState survives a JSON round trip and continues the same stream", () => {
  fc.assert(
    fc.property(stateArb, fc.nat({ max: 7 }), (rng, skip) => {
      const [, advanced] = uint32s(rng, skip);
      const revived = JSON.parse(JSON.stringify(advanced)) as RngState;
      assert.deepEqual(revived, advanced);
      assert.deepEqual(uniforms(revived, 5), uniforms(advanced, 5));
    }),
    { numRuns: 50 },
  );
});

Deno.test("uniform() builds 53 bits from two words and stays in [0, 1)", () => {
  const rng = createRng(0);
  const [u] = uniform(rng);
  const expected = ((0x6627e8d5 >>> 5) * 2 ** 26 + (0xe169c58d >>> 6)) / 2 ** 53;
  assert.equal(u, expected);
  fc.assert(
    fc.property(stateArb, (s) => {
      const [v, next] = uniform(s);
      assert.ok(v >= 0 && v < 1);
      assert.equal(next.counter, s.counter + 2);
    }),
    { numRuns: 100 },
  );
});

Deno.test("uniformAt() equals the i-th consecutive uniform() draw", () => {
  fc.assert(
    fc.property(stateArb, fc.nat({ max: 20 }), (rng, i) => {
      let s = rng;
      let u = 0;
      for (let k = 0; k <= i; k++) [u, s] = uniform(s);
      assert.equal(uniformAt(rng, i), u);
      const [us, end] = uniforms(rng, i + 1);
      assert.equal(us[i], u);
      assert.deepEqual(end, s);
    }),
    { numRuns: 50 },
  );
});

Deno.test("uniforms() has the mean and variance of U(0, 1) on 20,000 draws", () => {
  const [us] = uniforms(createRng(666), 20000);
  let mean = 0;
  for (const u of us) mean += u;
  mean /= us.length;
  let v = 0;
  for (const u of us) v += (u - mean) ** 2;
  v /= us.length;
  // Standard errors: 0.0020 for the mean, 0.0006 for the variance; 5 sigma bounds.
  assert.ok(Math.abs(mean - 0.5) < 0.011, `mean ${mean}`);
  assert.ok(Math.abs(v - 1 / 12) < 0.003, `variance ${v}`);
});

Deno.test("randomInt() covers 0..n-1 evenly and rejects bad n", () => {
  const counts = new Int32Array(7);
  let s = createRng(1);
  for (let i = 0; i < 7000; i++) {
    let k: number;
    [k, s] = randomInt(s, 7);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  // Each count ~ Binomial(7000, 1/7): mean 1000, sd 29.3; 5 sigma bounds.
  for (const c of counts) assert.ok(Math.abs(c - 1000) < 150, `counts ${counts}`);
  assert.equal(randomInt(createRng(3), 1)[0], 0);
  assert.throws(() => randomInt(createRng(0), 0), RangeError);
  assert.throws(() => randomInt(createRng(0), 2.5), RangeError);
  assert.throws(() => randomInt(createRng(0), 2 ** 32 + 1), RangeError);
});

Deno.test("randomInt() rejects words at or above the largest multiple of n", () => {
  // n = 3 * 2^30: limit = 3 * 2^30, so words >= 0xC0000000 are redrawn.
  const n = 3 * 2 ** 30;
  fc.assert(
    fc.property(stateArb, (rng) => {
      const [k, next] = randomInt(rng, n);
      let c = rng.counter;
      let w: number;
      do {
        [w] = nextUint32({ key: rng.key, counter: c });
        c++;
      } while (w >= n);
      assert.equal(k, w);
      assert.equal(next.counter, c);
    }),
    { numRuns: 100 },
  );
});

Deno.test("normal() has mean 0 and variance 1 on 10,000 draws", () => {
  let s = createRng(42);
  const zs: number[] = [];
  for (let i = 0; i < 10000; i++) {
    let z: number;
    [z, s] = normal(s);
    zs.push(z);
  }
  const mean = zs.reduce((a, b) => a + b, 0) / zs.length;
  const v = zs.reduce((a, b) => a + (b - mean) ** 2, 0) / zs.length;
  // Standard errors: 0.01 (mean), 0.014 (variance); 5 sigma bounds.
  assert.ok(Math.abs(mean) < 0.05, `mean ${mean}`);
  assert.ok(Math.abs(v - 1) < 0.07, `variance ${v}`);
});

Deno.test("split() gives two distinct streams keyed by the next four words", () => {
  fc.assert(
    fc.property(stateArb, (rng) => {
      const [a, b] = split(rng);
      const [w] = uint32s(rng, 4);
      assert.deepEqual(a, { key: [w[0], w[1]], counter: 0 });
      assert.deepEqual(b, { key: [w[2], w[3]], counter: 0 });
      assert.notDeepEqual(uniforms(a, 4)[0], uniforms(b, 4)[0]);
    }),
    { numRuns: 50 },
  );
});

Deno.test("shuffle() is a deterministic permutation that leaves its input alone", () => {
  fc.assert(
    fc.property(fc.array(fc.integer(), { maxLength: 40 }), stateArb, (items, rng) => {
      const copy = items.slice();
      const [out, next] = shuffle(items, rng);
      assert.deepEqual(items, copy);
      assert.deepEqual([...out].sort((a, b) => a - b), [...items].sort((a, b) => a - b));
      assert.deepEqual(shuffle(items, rng), [out, next]);
    }),
    { numRuns: 100 },
  );
});

Deno.test("shuffle() is Fisher-Yates from the end with randomInt(i + 1)", () => {
  const rng = createRng(11);
  const items = ["a", "b", "c", "d", "e"];
  const expected = items.slice();
  let s = rng;
  for (let i = expected.length - 1; i > 0; i--) {
    let j: number;
    [j, s] = randomInt(s, i + 1);
    [expected[i], expected[j]] = [expected[j] as string, expected[i] as string];
  }
  assert.deepEqual(shuffle(items, rng), [expected, s]);
});

Deno.test("shuffle() puts each of 3 items first about equally often", () => {
  const counts = new Int32Array(3);
  let s = createRng(5);
  for (let i = 0; i < 3000; i++) {
    let out: number[];
    [out, s] = shuffle([0, 1, 2], s);
    counts[out[0] as number] = (counts[out[0] as number] ?? 0) + 1;
  }
  // Binomial(3000, 1/3): sd 25.8; 5 sigma bounds.
  for (const c of counts) assert.ok(Math.abs(c - 1000) < 130, `counts ${counts}`);
});

Deno.test("draws reject malformed states with a clear error", () => {
  assert.throws(() => uniform({ key: [0, 0], counter: -1 }), /counter/);
  assert.throws(() => uniform({ key: [0, 2 ** 32], counter: 0 }), /key/);
  assert.throws(
    () => uniform({ key: [0, 0], counter: 0.5 }),
    RangeError,
  );
  assert.throws(() => uniforms({ key: [0, 0], counter: 2 ** 53 - 2 }, 2), /overflow/);
  assert.throws(() => uniformAt(createRng(0), -1), RangeError);
});
