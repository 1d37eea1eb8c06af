import assert from "node:assert/strict";
import fc from "fast-check";
import {
  augmentImage,
  augmentRngAt,
  centerCrop,
  createRgbImage,
  crop,
  cropOrPad,
  flipLeftRight,
  randomCrop,
  randomFlip,
  randomRotate,
  resize,
  type RgbImage,
  rotate,
  stackImages,
} from "../core/pure/image_ops.ts";
import { createRng, uniform } from "../core/pure/rng.ts";
import type { RngState } from "../core/types.ts";

const imageArb = (maxSide = 12): fc.Arbitrary<RgbImage> =>
  fc.record({
    width: fc.integer({ min: 1, max: maxSide }),
    height: fc.integer({ min: 1, max: maxSide }),
  })
    .chain(({ width, height }) =>
      fc.float32Array({
        minLength: width * height * 3,
        maxLength: width * height * 3,
        min: 0,
        max: 255,
        noNaN: true,
        noDefaultInfinity: true,
      }).map((data) => createRgbImage(width, height, data))
    );
const rngArb: fc.Arbitrary<RngState> = fc.integer({ min: 0, max: 2 ** 31 }).map(createRng);

function pixel(image: RgbImage, y: number, x: number): number[] {
  const i = (y * image.width + x) * 3;
  return [...image.data.subarray(i, i + 3)];
}

Deno.test("flipLeftRight() twice is the identity and mirrors each row", () => {
  fc.assert(
    fc.property(imageArb(), (image) => {
      const flipped = flipLeftRight(image);
      assert.deepEqual(flipLeftRight(flipped), image);
      for (let y = 0; y < image.height; y++) {
        assert.deepEqual(pixel(flipped, y, 0), pixel(image, y, image.width - 1));
      }
    }),
    { numRuns: 100 },
  );
});

Deno.test("rotate() by 0 or a multiple of 360 degrees is the identity", () => {
  fc.assert(
    fc.property(imageArb(), fc.integer({ min: -3, max: 3 }), (image, turns) => {
      assert.deepEqual(rotate(image, 360 * turns), image);
    }),
    { numRuns: 50 },
  );
});

Deno.test("rotate() by 90 degrees turns a square image counter-clockwise", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 9 }).chain((s) => imageArb(s).filter((i) => i.width === i.height)),
      (image) => {
        const out = rotate(image, 90);
        const n = image.width;
        for (let y = 0; y < n; y++) {
          for (let x = 0; x < n; x++) {
            // Counter-clockwise: output (y, x) comes from input (x, n-1-y).
            const want = pixel(image, x, n - 1 - y);
            pixel(out, y, x).forEach((v, c) => assert.ok(Math.abs(v - want[c]!) < 1e-3));
          }
        }
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("rotate() keeps a constant image constant at the centre and black in the far corners", () => {
  const image = createRgbImage(21, 21, new Float32Array(21 * 21 * 3).fill(100));
  const out = rotate(image, 45);
  assert.ok(pixel(out, 10, 10).every((v) => Math.abs(v - 100) < 1e-3));
  assert.deepEqual(pixel(out, 0, 0), [0, 0, 0]);
  assert.deepEqual(pixel(out, 20, 20), [0, 0, 0]);
});

Deno.test("randomRotate() stays within the angle and is reproducible from the RNG", () => {
  fc.assert(
    fc.property(rngArb, (rng) => {
      const image = createRgbImage(9, 9, new Float32Array(9 * 9 * 3).map((_, i) => i % 251));
      const [a, nextA] = randomRotate(image, 10, rng);
      const [b, nextB] = randomRotate(image, 10, rng);
      assert.deepEqual(a, b);
      assert.deepEqual(nextA, nextB);
      const [u, afterU] = uniform(rng);
      const angle = (2 * u - 1) * 10;
      assert.ok(angle >= -10 && angle < 10);
      assert.deepEqual(a, rotate(image, angle));
      assert.deepEqual(nextA, afterU);
      assert.deepEqual(randomRotate(image, 0, rng)[0], image);
    }),
    { numRuns: 20 },
  );
});

Deno.test("resize() keeps a constant image constant, at every size", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      fc.float({ min: 0, max: 255, noNaN: true }),
      (w, h, ow, oh, value) => {
        const image = createRgbImage(w, h, new Float32Array(w * h * 3).fill(value));
        const out = resize(image, { width: ow, height: oh });
        assert.equal(out.width, ow);
        assert.equal(out.height, oh);
        for (const v of out.data) {
          assert.ok(Math.abs(v - Math.fround(value)) <= 1e-4 * Math.max(1, value));
        }
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("resize() to the same size is an exact copy, and stays within the input range", () => {
  fc.assert(
    fc.property(
      imageArb(),
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 1, max: 20 }),
      (image, ow, oh) => {
        assert.deepEqual(resize(image, { width: image.width, height: image.height }), image);
        let lo = Infinity, hi = -Infinity;
        for (const v of image.data) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        for (const v of resize(image, { width: ow, height: oh }).data) {
          assert.ok(v >= lo - 1e-3 && v <= hi + 1e-3);
        }
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("resize() by an integer factor down averages a checkerboard to grey (no aliasing)", () => {
  const n = 32;
  const data = new Float32Array(n * n * 3);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      data.fill((x + y) % 2 ? 255 : 0, (y * n + x) * 3, (y * n + x) * 3 + 3);
    }
  }
  const out = resize(createRgbImage(n, n, data), 8);
  for (const v of out.data) assert.ok(Math.abs(v - 127.5) < 1, `got ${v}`);
});

Deno.test("resize() upsampling interpolates linearly between pixel centres", () => {
  const image = createRgbImage(2, 1, new Float32Array([0, 0, 0, 100, 100, 100]));
  const out = resize(image, { width: 4, height: 1 });
  // Output centres at 0.25, 0.75, 1.25, 1.75 in input pixels: clamped, 25, 75, clamped.
  assert.deepEqual([...out.data].filter((_, i) => i % 3 === 0), [0, 25, 75, 100]);
});

Deno.test("centerCrop(), cropOrPad() and randomCrop() return the requested size and the right pixels", () => {
  fc.assert(
    fc.property(
      imageArb(),
      fc.integer({ min: 1, max: 14 }),
      fc.integer({ min: 1, max: 14 }),
      rngArb,
      (image, w, h, rng) => {
        const padded = cropOrPad(image, { width: w, height: h });
        assert.equal(padded.width, w);
        assert.equal(padded.height, h);
        if (w <= image.width && h <= image.height) {
          const c = centerCrop(image, { width: w, height: h });
          assert.deepEqual(c, padded);
          const top = Math.floor((image.height - h) / 2), left = Math.floor((image.width - w) / 2);
          assert.deepEqual(pixel(c, 0, 0), pixel(image, top, left));
          const [r, next] = randomCrop(image, { width: w, height: h }, rng);
          assert.equal(r.width, w);
          assert.equal(r.height, h);
          assert.notDeepEqual(next, rng);
          // The window occurs somewhere in the image.
          let found = false;
          for (let t = 0; t <= image.height - h && !found; t++) {
            for (let l = 0; l <= image.width - w && !found; l++) {
              found = crop(image, { top: t, left: l, width: w, height: h }).data.every((v, i) =>
                v === r.data[i]
              );
            }
          }
          assert.ok(found);
        } else {
          assert.throws(() => centerCrop(image, { width: w, height: h }), RangeError);
          assert.throws(() => randomCrop(image, { width: w, height: h }, rng), RangeError);
        }
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("cropOrPad() of a larger size keeps the image centred and pads with zeros", () => {
  const image = createRgbImage(1, 1, new Float32Array([5, 6, 7]));
  const out = cropOrPad(image, 3);
  assert.deepEqual(pixel(out, 1, 1), [5, 6, 7]);
  assert.equal(out.data.reduce((a, b) => a + b, 0), 18);
});

Deno.test("randomCrop() reaches every offset of a small image", () => {
  const image = createRgbImage(3, 1, new Float32Array([1, 1, 1, 2, 2, 2, 3, 3, 3]));
  const seen = new Set<number>();
  let rng = createRng(7);
  for (let i = 0; i < 60; i++) {
    const [out, next] = randomCrop(image, { width: 1, height: 1 }, rng);
    seen.add(out.data[0]!);
    rng = next;
  }
  assert.deepEqual([...seen].sort(), [1, 2, 3]);
});

Deno.test("randomFlip() flips about half the time", () => {
  const image = createRgbImage(2, 1, new Float32Array([1, 1, 1, 2, 2, 2]));
  let rng = createRng(11);
  let flips = 0;
  for (let i = 0; i < 400; i++) {
    const [out, next] = randomFlip(image, rng);
    if (out.data[0] === 2) flips++;
    rng = next;
  }
  assert.ok(flips > 150 && flips < 250, `flipped ${flips} of 400`);
});

Deno.test("augmentImage() always consumes the same draws and returns the model size", () => {
  fc.assert(
    fc.property(
      imageArb(20),
      fc.integer({ min: 1, max: 16 }),
      fc.boolean(),
      fc.boolean(),
      fc.constantFrom(0, 10),
      rngArb,
      (image, size, randomCropOn, randomFlipOn, degrees, rng) => {
        const [out, next] = augmentImage(image, {
          size,
          randomCrop: randomCropOn,
          randomFlip: randomFlipOn,
          randomRotate: degrees,
        }, rng);
        assert.equal(out.width, size);
        assert.equal(out.height, size);
        assert.equal(next.counter, rng.counter + 8);
        if (!randomCropOn && !randomFlipOn && degrees === 0) {
          assert.deepEqual(out, cropOrPad(image, size));
        }
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("stackImages() lays images out as NHWC and rejects mixed sizes", () => {
  const a = createRgbImage(1, 1, new Float32Array([1, 2, 3]));
  const b = createRgbImage(1, 1, new Float32Array([4, 5, 6]));
  const batch = stackImages([a, b]);
  assert.deepEqual([...batch.data], [1, 2, 3, 4, 5, 6]);
  assert.throws(() => stackImages([a, createRgbImage(2, 1)]), /Image 1 is 1x2, expected 1x1/);
  assert.throws(() => stackImages([]), RangeError);
});

Deno.test("image ops reject invalid sizes and images", () => {
  assert.throws(() => createRgbImage(0, 1), /Width must be a positive integer, got 0/);
  assert.throws(() => createRgbImage(2, 2, new Float32Array(3)), /does not match 2x2x3/);
  assert.throws(
    () => resize(createRgbImage(2, 2), 1.5),
    /Height must be a positive integer, got 1.5/,
  );
  assert.throws(() => rotate(createRgbImage(2, 2), NaN), /must be finite/);
  assert.throws(() => randomRotate(createRgbImage(2, 2), -1, createRng(0)), /got -1/);
});

Deno.test("augmentRngAt() gives the state each image of a list sees when augmented in order", () => {
  fc.assert(
    fc.property(rngArb, fc.integer({ min: 1, max: 6 }), (rng, n) => {
      const image = createRgbImage(6, 6, new Float32Array(108).map((_, i) => i));
      const options = { size: 4, randomCrop: true, randomFlip: true, randomRotate: 5 };
      let state = rng;
      for (let i = 0; i < n; i++) {
        assert.deepEqual(augmentRngAt(rng, i), state);
        const [inOrder, next] = augmentImage(image, options, state);
        assert.deepEqual(augmentImage(image, options, augmentRngAt(rng, i))[0], inOrder);
        state = next;
      }
      assert.deepEqual(augmentRngAt(rng, n), state);
    }),
    { numRuns: 20 },
  );
});
