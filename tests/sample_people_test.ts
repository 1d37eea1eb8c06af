import assert from "node:assert/strict";
import fc from "fast-check";
import { samplePeople } from "../core/pure/sample_people.ts";
import { createRng, shuffle } from "../core/pure/rng.ts";
import type { Dataset, RngState } from "../core/types.ts";

/** A dataset of `sizes.length` identities; identity c has images `c/0 .. c/(size-1)`. */
function makeDataset(sizes: readonly number[]): Dataset {
  return sizes.map((size, c) => ({
    name: `id${String(c).padStart(3, "0")}`,
    images: Array.from({ length: size }, (_, k) => `${c}/${k}`),
  }));
}

const caseArb = fc.record({
  sizes: fc.array(fc.nat({ max: 8 }), { minLength: 1, maxLength: 12 }),
  peoplePerBatch: fc.integer({ min: 1, max: 6 }),
  imagesPerPerson: fc.integer({ min: 1, max: 6 }),
  seed: fc.nat({ max: 1_000_000 }),
});

function capacity(sizes: readonly number[], imagesPerPerson: number): number {
  return sizes.reduce((s, n) => s + Math.min(n, imagesPerPerson), 0);
}

Deno.test("samplePeople() respects imagesPerPerson, never repeats an image, and hits the target", () => {
  fc.assert(
    fc.property(caseArb, ({ sizes, peoplePerBatch, imagesPerPerson, seed }) => {
      const target = peoplePerBatch * imagesPerPerson;
      fc.pre(capacity(sizes, imagesPerPerson) >= target);
      const dataset = makeDataset(sizes);
      const out = samplePeople(dataset, peoplePerBatch, imagesPerPerson, createRng(seed));
      assert.equal(out.images.length, target);
      assert.equal(new Set(out.images).size, out.images.length);
      assert.equal(new Set(out.classIndices).size, out.classIndices.length);
      assert.equal(out.numPerClass.reduce((a, b) => a + b, 0), target);
      let row = 0;
      out.classIndices.forEach((c, i) => {
        const n = out.numPerClass[i] as number;
        assert.ok(n >= 1 && n <= imagesPerPerson && n <= (sizes[c] as number));
        // Every identity but the last gives all it can; only the last is cut by the target.
        if (i < out.classIndices.length - 1) {
          assert.equal(n, Math.min(sizes[c] as number, imagesPerPerson));
        }
        for (let k = 0; k < n; k++, row++) {
          assert.equal(out.labels[row], c);
          assert.ok((dataset[c]?.images ?? []).includes(out.images[row] as string));
        }
      });
    }),
    { numRuns: 200 },
  );
});

Deno.test("samplePeople() is deterministic per RNG state and advances it", () => {
  fc.assert(
    fc.property(caseArb, ({ sizes, peoplePerBatch, imagesPerPerson, seed }) => {
      fc.pre(capacity(sizes, imagesPerPerson) >= peoplePerBatch * imagesPerPerson);
      const dataset = makeDataset(sizes);
      const a = samplePeople(dataset, peoplePerBatch, imagesPerPerson, createRng(seed));
      const b = samplePeople(dataset, peoplePerBatch, imagesPerPerson, createRng(seed));
      assert.deepEqual(a, b);
      if (dataset.length > 1) assert.ok(a.rng.counter > 0);
    }),
    { numRuns: 100 },
  );
});

Deno.test("samplePeople() follows the reference implementation's draw order: identity shuffle, then one image shuffle per identity", () => {
  const dataset = makeDataset([3, 0, 5, 2, 4]);
  const rng = createRng(666);
  const [order, first] = shuffle([0, 1, 2, 3, 4], rng);
  let s: RngState = first;
  const images: string[] = [];
  const numPerClass: number[] = [];
  const classIndices: number[] = [];
  const target = 2 * 3;
  for (const c of order) {
    if (images.length >= target) break;
    const size = dataset[c]?.images.length ?? 0;
    if (size === 0) continue;
    let perm: number[];
    [perm, s] = shuffle(Array.from({ length: size }, (_, k) => k), s);
    const take = Math.min(size, 3, target - images.length);
    for (let k = 0; k < take; k++) images.push(`${c}/${perm[k]}`);
    numPerClass.push(take);
    classIndices.push(c);
  }
  const out = samplePeople(dataset, 2, 3, rng);
  assert.deepEqual(out.images, images);
  assert.deepEqual(out.numPerClass, numPerClass);
  assert.deepEqual(out.classIndices, classIndices);
  assert.deepEqual(out.rng, s);
});

Deno.test("samplePeople() takes more identities than peoplePerBatch when identities are small", () => {
  // Four identities of 2 images, 2 people x 3 images: needs 3 identities (2 + 2 + 2).
  const out = samplePeople(makeDataset([2, 2, 2, 2]), 2, 3, createRng(1));
  assert.deepEqual(out.numPerClass, [2, 2, 2]);
  assert.equal(out.classIndices.length, 3);
});

Deno.test("samplePeople() skips identities without images", () => {
  fc.assert(
    fc.property(fc.nat({ max: 10_000 }), (seed) => {
      const out = samplePeople(makeDataset([0, 4, 0, 4, 0]), 2, 4, createRng(seed));
      assert.deepEqual([...out.classIndices].sort(), [1, 3]);
      assert.deepEqual(out.numPerClass, [4, 4]);
    }),
    { numRuns: 20 },
  );
});

Deno.test("samplePeople() names the numbers when the dataset is too small", () => {
  assert.throws(
    () => samplePeople(makeDataset([3, 1, 5]), 3, 4, createRng(0)),
    (e: unknown) =>
      e instanceof RangeError && /cannot supply 12 images/.test(e.message) &&
      /3 identities hold only 8 images/.test(e.message),
  );
});

Deno.test("samplePeople() with allowSmaller returns everything the dataset can supply", () => {
  fc.assert(
    fc.property(caseArb, ({ sizes, peoplePerBatch, imagesPerPerson, seed }) => {
      const cap = capacity(sizes, imagesPerPerson);
      const out = samplePeople(
        makeDataset(sizes),
        peoplePerBatch,
        imagesPerPerson,
        createRng(seed),
        {
          allowSmaller: true,
        },
      );
      assert.equal(out.images.length, Math.min(cap, peoplePerBatch * imagesPerPerson));
    }),
    { numRuns: 100 },
  );
});

Deno.test("samplePeople() rejects an empty dataset and bad counts with clear errors", () => {
  assert.throws(() => samplePeople([], 1, 1, createRng(0)), /Dataset is empty/);
  assert.throws(
    () => samplePeople(makeDataset([2]), 0, 1, createRng(0)),
    /peoplePerBatch must be a positive integer, got 0/,
  );
  assert.throws(
    () => samplePeople(makeDataset([2]), 1, 1.5, createRng(0)),
    /imagesPerPerson must be a positive integer, got 1.5/,
  );
  assert.throws(
    () => samplePeople([{ name: "x" } as unknown as Dataset[number]], 1, 1, createRng(0)),
    TypeError,
  );
});

Deno.test("samplePeople() samples an identity with a single image (it can only be a negative)", () => {
  const out = samplePeople(makeDataset([1]), 1, 1, createRng(0));
  assert.deepEqual(out.images, ["0/0"]);
  assert.deepEqual(out.numPerClass, [1]);
});
