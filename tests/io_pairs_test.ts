import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { formatPairs, type PairEntry, type Pairs, parsePairs, resolvePairs } from "../io/pairs.ts";

Deno.test("parsePairs() reads the header, same-person and different-person lines", () => {
  const text = "2\t1\nAnn\t1\t2\nAnn\t1\tBob\t3\n\nCid 4 12\r\nDee 10 Eve 1\n";
  const pairs = parsePairs(text, "pairs.txt");
  assert.equal(pairs.folds, 2);
  assert.equal(pairs.pairsPerFold, 1);
  assert.deepEqual(pairs.pairs, [
    { name1: "Ann", index1: 1, name2: "Ann", index2: 2, same: true },
    { name1: "Ann", index1: 1, name2: "Bob", index2: 3, same: false },
    { name1: "Cid", index1: 4, name2: "Cid", index2: 12, same: true },
    { name1: "Dee", index1: 10, name2: "Eve", index2: 1, same: false },
  ]);
});

Deno.test("parsePairs() reads a one-number header as one fold", () => {
  const pairs = parsePairs("1\nAnn 1 2\nAnn 1 Bob 1\n", "pairsDevTest.txt");
  assert.equal(pairs.folds, 1);
  assert.equal(pairs.pairsPerFold, 1);
  assert.equal(pairs.pairs.length, 2);
});

const malformed: [string, string, RegExp][] = [
  ["an empty file", "", /^data\/p\.txt: the file is empty/],
  ["a blank file", "\n  \n", /^data\/p\.txt: the file is empty/],
  ["a non-integer header", "ten 300\n", /^data\/p\.txt:1: malformed header "ten 300"/],
  ["a zero fold count", "0 1\n", /^data\/p\.txt:1: malformed header "0 1"/],
  ["a zero pair count", "1 0\n", /^data\/p\.txt:1: malformed header "1 0"/],
  ["a negative header", "1 -1\nA 1 2\nA 1 B 1\n", /^data\/p\.txt:1: malformed header/],
  ["a fractional header", "1 1.5\n", /^data\/p\.txt:1: malformed header/],
  ["a three-number header", "10 300 1\n", /^data\/p\.txt:1: malformed header "10 300 1"/],
  ["a header after blank lines", "\n\nx\n", /^data\/p\.txt:3: malformed header "x"/],
  ["a two-field line", "1 1\nAnn 1\nAnn 1 Bob 1\n", /^data\/p\.txt:2: expected 3 fields .* got 2/],
  ["a one-field line", "1 1\nAnn 1 2\nBob\n", /^data\/p\.txt:3: expected 3 fields .* got 1/],
  [
    "a five-field line",
    "1 1\nAnn 1 2\nAnn 1 Bob 1 2\n",
    /^data\/p\.txt:3: expected 3 fields .* got 5/,
  ],
  ["a word as index", "1 1\nAnn one 2\nAnn 1 Bob 1\n", /^data\/p\.txt:2: image number "one"/],
  ["a fractional index", "1 1\nAnn 1 2.5\nAnn 1 Bob 1\n", /^data\/p\.txt:2: image number "2\.5"/],
  ["a zero index", "1 1\nAnn 0 2\nAnn 1 Bob 1\n", /^data\/p\.txt:2: image number "0"/],
  ["a negative index", "1 1\nAnn 1 2\nAnn -1 Bob 1\n", /^data\/p\.txt:3: image number "-1"/],
  [
    "a zero index in the second image of a different-person line",
    "1 1\nAnn 1 2\nAnn 1 Bob 0\n",
    /^data\/p\.txt:3: image number "0"/,
  ],
  ["an index in exponent notation", "1 1\nAnn 1e1 2\nAnn 1 Bob 1\n", /:2: image number "1e1"/],
  [
    "too few lines",
    "2 1\nAnn 1 2\nAnn 1 Bob 1\nCid 1 2\n",
    /^data\/p\.txt:4: .*announces 4 .*has 3/,
  ],
  [
    "too many lines",
    "1 1\nAnn 1 2\nAnn 1 Bob 1\nCid 1 2\n",
    /^data\/p\.txt:4: .*announces 2 .*has 3/,
  ],
  ["a header only", "10\t300\n", /^data\/p\.txt:1: .*announces 6000 pairs .*has 0/],
];
for (const [what, text, message] of malformed) {
  Deno.test(`parsePairs() rejects ${what} with the file name and line number`, () => {
    assert.throws(() => parsePairs(text, "data/p.txt"), (error: unknown) => {
      assert.ok(error instanceof SyntaxError);
      assert.match(error.message, message);
      return true;
    });
  });
}

const nameArb = fc.stringMatching(/^[A-Za-z][A-Za-z_-]{0,8}$/);
const pairArb: fc.Arbitrary<PairEntry> = fc.oneof(
  fc.record({ name: nameArb, i: fc.integer({ min: 1, max: 20000 }), j: fc.integer({ min: 1 }) })
    .map(({ name, i, j }) => ({ name1: name, index1: i, name2: name, index2: j, same: true })),
  fc.record({
    name1: nameArb,
    index1: fc.integer({ min: 1, max: 99 }),
    name2: nameArb,
    index2: fc.integer({ min: 1, max: 99999 }),
  }).map((p) => ({ ...p, same: false })),
);
const pairsArb: fc.Arbitrary<Pairs> = fc
  .record({ folds: fc.integer({ min: 1, max: 3 }), pairsPerFold: fc.integer({ min: 1, max: 4 }) })
  .chain(({ folds, pairsPerFold }) =>
    fc.array(pairArb, { minLength: folds * pairsPerFold * 2, maxLength: folds * pairsPerFold * 2 })
      .map((pairs) => ({ folds, pairsPerFold, pairs }))
  );

Deno.test("parsePairs() inverts formatPairs()", () => {
  fc.assert(
    fc.property(pairsArb, (pairs) => {
      assert.deepEqual(parsePairs(formatPairs(pairs), "p.txt"), pairs);
    }),
    { numRuns: 200 },
  );
});

Deno.test("formatPairs() rejects a pair count that does not match the folds", () => {
  const pairs = parsePairs("1 1\nAnn 1 2\nAnn 1 Bob 1\n", "p.txt");
  assert.throws(
    () => formatPairs({ ...pairs, folds: 2 }),
    /Expected 4 pairs \(2 folds x 1 x 2\), got 2/,
  );
  assert.throws(
    () => formatPairs({ ...pairs, pairs: [{ ...pairs.pairs[0]!, index1: 0 }, pairs.pairs[1]!] }),
    RangeError,
  );
  assert.throws(
    () => formatPairs({ ...pairs, pairs: [{ ...pairs.pairs[0]!, name1: "A n" }, pairs.pairs[1]!] }),
    /contains whitespace/,
  );
});

async function lfwFixture(files: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "io_pairs_test_" });
  for (const file of files) {
    const path = join(dir, file);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
  }
  return dir;
}

Deno.test("resolvePairs() prefers .jpg, falls back to .png, and keeps file order", async () => {
  const dir = await lfwFixture([
    "Ann/Ann_0001.jpg",
    "Ann/Ann_0001.png",
    "Ann/Ann_0002.png",
    "Bob/Bob_0010.jpg",
  ]);
  try {
    const pairs = parsePairs("1 1\nAnn 1 2\nAnn 2 Bob 10\n", "p.txt");
    const resolved = await resolvePairs(pairs, dir);
    assert.deepEqual(resolved.paths, [
      [join(dir, "Ann/Ann_0001.jpg"), join(dir, "Ann/Ann_0002.png")],
      [join(dir, "Ann/Ann_0002.png"), join(dir, "Bob/Bob_0010.jpg")],
    ]);
    assert.deepEqual(resolved.same, [true, false]);
    assert.deepEqual(resolved.kept, [0, 1]);
    assert.deepEqual(resolved.missing, []);
    assert.equal(resolved.skippedPairs, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolvePairs() lists every missing image, with a count and the first few in the error", async () => {
  const dir = await lfwFixture(["Ann/Ann_0001.jpg", "Ann/Ann_0002.jpg"]);
  try {
    const lines = ["4 1", "Ann 1 2", "Ann 1 Bob 1"]; // Bob_0001 missing
    lines.push("Cid 1 2", "Ann 2 Dee 7"); // Cid_0001, Cid_0002, Dee_0007 missing
    lines.push("Ann 1 2", "Bob 1 Eve 1"); // Bob_0001 again, Eve_0001 missing
    lines.push("Fay 3 4", "Ann 1 Ann 2"); // Fay_0003, Fay_0004 missing
    const pairs = parsePairs(lines.join("\n"), "p.txt");
    const expectedMissing = [
      "Bob/Bob_0001.{jpg,png}",
      "Cid/Cid_0001.{jpg,png}",
      "Cid/Cid_0002.{jpg,png}",
      "Dee/Dee_0007.{jpg,png}",
      "Eve/Eve_0001.{jpg,png}",
      "Fay/Fay_0003.{jpg,png}",
      "Fay/Fay_0004.{jpg,png}",
    ];
    await assert.rejects(resolvePairs(pairs, dir), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /^7 images of 5 pairs are missing under /);
      assert.ok(error.message.includes(expectedMissing.slice(0, 5).join(", ") + ", and 2 more"));
      return true;
    });
    const resolved = await resolvePairs(pairs, dir, { allowMissing: true });
    assert.deepEqual(resolved.missing, expectedMissing);
    assert.equal(resolved.skippedPairs, 5);
    assert.deepEqual(resolved.kept, [0, 4, 7]);
    assert.deepEqual(resolved.same, [true, true, false]);
    assert.equal(resolved.paths.length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolvePairs() fails even with allowMissing when no pair is left", async () => {
  const dir = await lfwFixture([]);
  try {
    const pairs = parsePairs("1 1\nAnn 1 2\nAnn 1 Bob 1\n", "p.txt");
    await assert.rejects(
      resolvePairs(pairs, dir, { allowMissing: true }),
      /^Error: 3 images of 2 pairs are missing under .*; no pair is left to evaluate$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
