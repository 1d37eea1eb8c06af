import assert from "node:assert/strict";
import fc from "fast-check";
import { fixedImageStandardization, prewhiten, prewhitenBatch } from "../core/pure/preprocess.ts";

const pixels = (max: number) =>
  fc.float32Array({
    minLength: 1,
    maxLength: max,
    min: 0,
    max: 255,
    noNaN: true,
    noDefaultInfinity: true,
  });

Deno.test("fixedImageStandardization() maps every value to (x - 127.5) / 128", () => {
  fc.assert(
    fc.property(pixels(64), (x) => {
      const y = fixedImageStandardization(x);
      assert.equal(y.length, x.length);
      for (let i = 0; i < x.length; i++) {
        assert.equal(y[i], Math.fround(((x[i] as number) - 127.5) / 128));
      }
    }),
    { numRuns: 100 },
  );
});

Deno.test("prewhiten() gives zero mean and unit population std for non-constant images", () => {
  fc.assert(
    fc.property(
      pixels(200).filter((x) => {
        const m = x.reduce((s, v) => s + v, 0) / x.length;
        const sd = Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / x.length);
        return sd > 1; // well above the 1/sqrt(n) floor
      }),
      (x) => {
        const y = prewhiten(x);
        const n = y.length;
        const mean = y.reduce((s, v) => s + v, 0) / n;
        const sd = Math.sqrt(y.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
        assert.ok(Math.abs(mean) < 1e-5, `mean ${mean}`);
        assert.ok(Math.abs(sd - 1) < 1e-5, `std ${sd}`);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("prewhiten() floors the std at 1/sqrt(n), so flat images stay finite", () => {
  // n = 4, std = 0.1 < 1/sqrt(4) = 0.5: divided by 0.5, not by 0.1.
  const y = prewhiten(new Float32Array([10.1, 9.9, 10.1, 9.9]));
  assert.deepEqual(Array.from(y).map((v) => Math.round(v * 1e4) / 1e4), [0.2, -0.2, 0.2, -0.2]);
  assert.deepEqual(Array.from(prewhiten(new Float32Array(9).fill(200))), new Array(9).fill(0));
  assert.throws(() => prewhiten(new Float32Array(0)), RangeError);
});

Deno.test("prewhiten() is invariant to a positive affine change of brightness", () => {
  fc.assert(
    fc.property(
      pixels(50).filter((x) => Math.max(...x) - Math.min(...x) > 20),
      fc.double({ min: 0.5, max: 2, noNaN: true }),
      fc.double({ min: -50, max: 50, noNaN: true }),
      (x, a, b) => {
        const y1 = prewhiten(x);
        const y2 = prewhiten(x.map((v) => a * v + b));
        for (let i = 0; i < x.length; i++) {
          assert.ok(Math.abs((y1[i] as number) - (y2[i] as number)) < 1e-3);
        }
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("prewhitenBatch() prewhitens each image on its own statistics", () => {
  const a = new Float32Array([0, 10, 20, 30, 40, 50]);
  const b = new Float32Array([100, 100, 100, 101, 250, 3]);
  const data = new Float32Array(12);
  data.set(a, 0);
  data.set(b, 6);
  const out = prewhitenBatch({ n: 2, height: 1, width: 2, channels: 3, data });
  assert.deepEqual(out.data.subarray(0, 6), prewhiten(a));
  assert.deepEqual(out.data.subarray(6), prewhiten(b));
  assert.equal(out.n, 2);
  assert.throws(
    () => prewhitenBatch({ n: 3, height: 1, width: 2, channels: 3, data }),
    /12 values, expected 3 x 1 x 2 x 3/,
  );
});
