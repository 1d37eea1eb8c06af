import assert from "node:assert/strict";
import fc from "fast-check";
import { validatePixelsOnPairs } from "../core/validate.ts";
import { evaluate } from "../core/pure/evaluation.ts";
import { l2Normalize } from "../core/pure/distances.ts";
import { createRng } from "../core/pure/rng.ts";
import type { ImageSource } from "../core/train.ts";

const PIXELS = 6;

function sourceOf(images: ReadonlyMap<string, Float32Array>, scale = 1): ImageSource {
  return (refs) =>
    Promise.resolve({
      n: refs.length,
      height: 1,
      width: PIXELS / 2,
      channels: 2,
      data: Float32Array.from(
        refs.flatMap((r) => [...(images.get(r) as Float32Array)].map((v) => v * scale)),
      ),
    });
}

const arbitraryCase = fc.record({
  images: fc.array(
    fc.array(fc.float({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }), {
      minLength: PIXELS,
      maxLength: PIXELS,
    }),
    { minLength: 4, maxLength: 12 },
  ),
  pairs: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { minLength: 4, maxLength: 24 }),
});

Deno.test("validatePixelsOnPairs() is the LFW evaluation of the L2-normalized pixel vectors of each pair", async () => {
  await fc.assert(
    fc.asyncProperty(arbitraryCase, async ({ images, pairs }) => {
      const byRef = new Map(images.map((x, i) => [`img${i}`, Float32Array.from(x)]));
      const refPairs = pairs.map(([a, b, same]) => ({
        a: `img${a % images.length}`,
        b: `img${b % images.length}`,
        same,
      }));
      const side = (k: "a" | "b") =>
        l2Normalize({
          rows: refPairs.length,
          cols: PIXELS,
          data: Float32Array.from(refPairs.flatMap((p) => [...(byRef.get(p[k]) as Float32Array)])),
        });
      const expected = evaluate(side("a"), side("b"), refPairs.map((p) => p.same), {
        nrofFolds: 2,
      });
      const report = await validatePixelsOnPairs(refPairs, sourceOf(byRef), {
        rng: createRng(1),
        evaluation: { nrofFolds: 2 },
      });
      assert.deepEqual(report.accuracy, expected.accuracy);
      assert.equal(report.auc, expected.auc);
    }),
    { numRuns: 40 },
  );
});

Deno.test("validatePixelsOnPairs() does not depend on the pixels' scale, and refuses no pairs", async () => {
  const byRef = new Map([
    ["a", Float32Array.from([1, 2, 3, 4, 5, 6])],
    ["b", Float32Array.from([1, 2, 3, 4, 5, 7])],
    ["c", Float32Array.from([6, -5, 4, -3, 2, -1])],
    ["d", Float32Array.from([-1, 0, 1, 0, -1, 0])],
  ]);
  const pairs = [
    { a: "a", b: "b", same: true },
    { a: "a", b: "c", same: false },
    { a: "c", b: "c", same: true },
    { a: "b", b: "d", same: false },
  ];
  const options = { rng: createRng(1), evaluation: { nrofFolds: 2 } };
  const one = await validatePixelsOnPairs(pairs, sourceOf(byRef), options);
  const ten = await validatePixelsOnPairs(pairs, sourceOf(byRef, 10), options);
  assert.deepEqual(ten.accuracy, one.accuracy);
  assert.equal(one.auc, 1);
  await assert.rejects(validatePixelsOnPairs([], sourceOf(byRef), options), /No validation pairs/);
});
