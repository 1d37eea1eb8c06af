import assert from "node:assert/strict";
import fc from "fast-check";
import {
  buildPairs,
  holdOutIdentities,
  pairsToRefs,
  validationIdentityCount,
} from "../io/validation_pairs.ts";
import { formatPairs, parsePairs } from "../io/pairs.ts";
import { createRng } from "../core/pure/rng.ts";
import type { Dataset } from "../core/types.ts";

function dataset(sizes: readonly number[]): Dataset {
  return sizes.map((n, k) => ({
    name: `id${k}`,
    images: Array.from({ length: n }, (_, i) => `id${k}/${i}.png`),
  }));
}

const few = fc.record({
  sizes: fc.array(fc.integer({ min: 4, max: 30 }), { minLength: 2, maxLength: 3 }),
  folds: fc.integer({ min: 1, max: 2 }),
  pairsPerFold: fc.integer({ min: 1, max: 12 }),
  seed: fc.integer({ min: 0, max: 1000 }),
});
const many = fc.record({
  sizes: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 8, maxLength: 25 }),
  folds: fc.integer({ min: 2, max: 4 }),
  pairsPerFold: fc.integer({ min: 1, max: 12 }),
  seed: fc.integer({ min: 0, max: 1000 }),
});

Deno.test("buildPairs() writes folds x pairsPerFold same then different lines per fold, each line true to its kind", () => {
  // Cases where buildPairs() refuses the data are allowed, but most must build: a buildPairs()
  // that refused everything would otherwise pass.
  let builtCases = 0;
  let cases = 0;
  fc.assert(
    fc.property(fc.oneof(few, many), ({ sizes, folds, pairsPerFold, seed }) => {
      const data = dataset(sizes);
      fc.pre(sizes.length >= 2 * folds || sizes.every((n) => n >= 2 * folds));
      cases++;
      let built;
      try {
        built = buildPairs(data, { folds, pairsPerFold, rng: createRng(seed) });
        builtCases++;
      } catch (error) {
        // Identity-disjoint folds can lack a 2-image identity or a second identity.
        assert.match(
          (error as Error).message,
          /has no identity with 2 images|fewer than 2 identities/,
        );
        return;
      }
      const { pairs } = built.pairs;
      assert.equal(pairs.length, folds * pairsPerFold * 2);
      pairs.forEach((p, i) => {
        const same = i % (2 * pairsPerFold) < pairsPerFold;
        assert.equal(p.same, same);
        assert.equal(p.name1 === p.name2, same);
        if (same) assert.notEqual(p.index1, p.index2);
        const n1 = sizes[Number(p.name1.slice(2))] as number;
        const n2 = sizes[Number(p.name2.slice(2))] as number;
        assert.ok(p.index1 >= 1 && p.index1 <= n1 && p.index2 >= 1 && p.index2 <= n2);
      });
      // Round trip through the pairs file and back to image references.
      assert.deepEqual(parsePairs(formatPairs(built.pairs), "p.txt"), built.pairs);
      const refs = pairsToRefs(built.pairs, data);
      assert.equal(refs[0]!.a, `${pairs[0]!.name1}/${pairs[0]!.index1 - 1}.png`);
    }),
  );
  assert.ok(builtCases >= cases / 2, `only ${builtCases} of ${cases} cases built`);
});

Deno.test("buildPairs() keeps folds disjoint: in identities with >= 2 x folds identities, else in images", () => {
  let builtCases = 0;
  let cases = 0;
  fc.assert(
    fc.property(fc.oneof(few, many), ({ sizes, folds, pairsPerFold, seed }) => {
      fc.pre(sizes.length >= 2 * folds || sizes.every((n) => n >= 2 * folds));
      cases++;
      let built;
      try {
        built = buildPairs(dataset(sizes), { folds, pairsPerFold, rng: createRng(seed) });
        builtCases++;
      } catch (error) {
        // The refusals the writing test allows; any other error fails.
        assert.match(
          (error as Error).message,
          /has no identity with 2 images|fewer than 2 identities/,
        );
        return;
      }
      assert.equal(built.disjoint, sizes.length >= 2 * folds ? "identities" : "images");
      const owner = new Map<string, number>();
      built.pairs.pairs.forEach((p, i) => {
        const fold = Math.floor(i / (2 * pairsPerFold));
        const keys = built.disjoint === "identities"
          ? [p.name1, p.name2]
          : [`${p.name1}:${p.index1}`, `${p.name2}:${p.index2}`];
        for (const key of keys) {
          assert.equal(owner.get(key) ?? fold, fold, `${key} appears in two folds`);
          owner.set(key, fold);
        }
      });
    }),
  );
  assert.ok(builtCases >= cases / 2, `only ${builtCases} of ${cases} cases built`);
});

Deno.test("buildPairs() draws no pair twice in a fold while unseen pairs remain, and is a function of its RNG", () => {
  const data = dataset([40, 40, 40]);
  // 4 images per identity and fold: 18 distinct same-person and 48 different-person pairs.
  const a = buildPairs(data, { folds: 10, pairsPerFold: 15, rng: createRng(3) });
  const b = buildPairs(data, { folds: 10, pairsPerFold: 15, rng: createRng(3) });
  assert.deepEqual(a, b);
  for (let f = 0; f < 10; f++) {
    const fold = a.pairs.pairs.slice(f * 30, f * 30 + 30);
    const keys = fold.map((p) =>
      [`${p.name1}:${p.index1}`, `${p.name2}:${p.index2}`].sort().join("|")
    );
    assert.equal(new Set(keys).size, 30);
  }
  // Exhaustion: 2 identities of 2 images in 1 fold have 2 same and 4 different pairs.
  const tight = buildPairs(dataset([2, 2]), { folds: 1, pairsPerFold: 3, rng: createRng(1) });
  const same = tight.pairs.pairs.filter((p) => p.same);
  assert.equal(same.length, 3);
  assert.equal(new Set(same.map((p) => p.name1)).size, 2);
});

Deno.test("buildPairs() explains what is missing", () => {
  const rng = createRng(1);
  assert.throws(() => buildPairs(dataset([10]), { pairsPerFold: 1, rng }), /at least 2 identities/);
  assert.throws(
    () => buildPairs(dataset([30, 19]), { folds: 10, pairsPerFold: 1, rng }),
    /Identity "id1" has 19 images; .* at least 20 \(2 x folds\)/,
  );
  assert.throws(
    () => buildPairs(dataset([30, 30]), { folds: 0, pairsPerFold: 1, rng }),
    RangeError,
  );
  assert.throws(
    () => buildPairs(dataset([30, 30]), { folds: 1, pairsPerFold: 0, rng }),
    RangeError,
  );
});

Deno.test("holdOutIdentities() splits the identities in two, keeps their order, and depends only on the RNG", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 3, max: 40 }),
      fc.integer({ min: 2, max: 39 }),
      fc.integer({ min: 0, max: 1000 }),
      (n, count, seed) => {
        fc.pre(count < n);
        const data = dataset(new Array(n).fill(2));
        const a = holdOutIdentities(data, { count, rng: createRng(seed) });
        assert.deepEqual(a, holdOutIdentities(data, { count, rng: createRng(seed) }));
        assert.equal(a.validation.length, count);
        assert.equal(a.train.length, n - count);
        const names = (d: Dataset) => d.map((c) => c.name);
        const index = (name: string) => Number(name.slice(2));
        for (const part of [a.train, a.validation]) {
          const order = names(part).map(index);
          assert.deepEqual(order, [...order].sort((x, y) => x - y));
        }
        assert.deepEqual([...names(a.train), ...names(a.validation)].sort(), names(data).sort());
      },
    ),
  );
  assert.throws(
    () => holdOutIdentities(dataset([2, 2]), { count: 2, rng: createRng(1) }),
    /keep one for training/,
  );
  assert.throws(
    () => holdOutIdentities(dataset([2, 2, 2]), { count: 1, rng: createRng(1) }),
    RangeError,
  );
});

Deno.test("validationIdentityCount() reads a fraction or a count and keeps one identity for training", () => {
  assert.equal(validationIdentityCount(50, 0.1), 5);
  assert.equal(validationIdentityCount(5, 0.1), 2);
  assert.equal(validationIdentityCount(5, 4), 4);
  assert.throws(() => validationIdentityCount(5, 5), /leaves 0 for training/);
  assert.throws(() => validationIdentityCount(2, 0.5), /leaves 0 for training/);
  for (const bad of [0, 1, 1.5, -0.2, NaN]) {
    assert.throws(
      () => validationIdentityCount(10, bad),
      /fraction in \(0, 1\) or an integer >= 2/,
    );
  }
});

Deno.test("pairsToRefs() names an unknown identity or image number", () => {
  const data = dataset([2]);
  const one = (name2: string, index2: number) => ({
    folds: 1,
    pairsPerFold: 1,
    pairs: [{ name1: "id0", index1: 1, name2, index2, same: false }, {
      name1: "id0",
      index1: 1,
      name2: "id0",
      index2: 2,
      same: true,
    }],
  });
  assert.throws(
    () => pairsToRefs(one("bob", 1), data),
    /Pair identity "bob" is not in the dataset/,
  );
  assert.throws(
    () => pairsToRefs(one("id0", 3), data),
    /Pair image 3 of "id0" does not exist \(it has 2 images\)/,
  );
});
