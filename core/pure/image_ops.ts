/**
 * Pure image transforms on RGB images (HWC float32, values usually 0..255):
 * resizing, cropping and padding, flipping, rotation, the reference implementation's training
 * augmentation, and stacking images into an NHWC batch. No I/O; randomness
 * comes only from {@link RngState} values (core/pure/rng.ts).
 *
 * @module
 */

import type { ImageBatch, RngState } from "../types.ts";
import { randomInt, uniform, uniforms } from "./rng.ts";

/**
 * An RGB image: height x width x 3 float32 values in row-major HWC order.
 *
 * @category Images
 */
export interface RgbImage {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** `height * width * 3` values; pixel (y, x) channel c is at `(y * width + x) * 3 + c`. */
  readonly data: Float32Array;
}

/**
 * A target size: one number for a square, or height and width.
 *
 * @category Images
 */
export type ImageSize = number | { readonly height: number; readonly width: number };

function checkDim(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
  }
}

function sizeOf(size: ImageSize): { height: number; width: number } {
  const s = typeof size === "number" ? { height: size, width: size } : size;
  if (s === null || typeof s !== "object") {
    throw new TypeError(`Size must be a number or {height, width}, got ${String(size)}`);
  }
  checkDim(s.height, "Height");
  checkDim(s.width, "Width");
  return { height: s.height, width: s.width };
}

function checkImage(image: RgbImage): void {
  if (image === null || typeof image !== "object" || !(image.data instanceof Float32Array)) {
    throw new TypeError("Image must be {width, height, data: Float32Array}");
  }
  checkDim(image.width, "Image width");
  checkDim(image.height, "Image height");
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(
      `Image data length ${image.data.length} does not match ${image.height}x${image.width}x3`,
    );
  }
}

/**
 * Creates an RGB image, filled with zeros or with the given data.
 *
 * @param width Width in pixels (a positive integer).
 * @param height Height in pixels (a positive integer).
 * @param data Optional HWC values, `height * width * 3` long (not copied).
 * @returns The image.
 * @throws {RangeError} When a dimension is not a positive integer or `data` has the wrong length.
 * @example
 * ```ts
 * import { createRgbImage } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const image = createRgbImage(4, 2);
 * assert.equal(image.data.length, 24);
 * ```
 *
 * @category Images
 */
export function createRgbImage(width: number, height: number, data?: Float32Array): RgbImage {
  checkDim(width, "Width");
  checkDim(height, "Height");
  const image = { width, height, data: data ?? new Float32Array(width * height * 3) };
  checkImage(image);
  return image;
}

interface FilterTable {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly taps: number;
  readonly weights: Float64Array;
}

/** Triangle-filter taps for one axis: bilinear when upsampling, area-like (antialiased) when downsampling. */
function filterTable(inSize: number, outSize: number): FilterTable {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    let sum = 0;
    let n = 0;
    for (let j = lo; j < hi && n < taps; j++, n++) {
      const w = Math.max(0, 1 - Math.abs(j + 0.5 - center) / support);
      weights[o * taps + n] = w;
      sum += w;
    }
    for (let k = 0; k < n; k++) weights[o * taps + k]! /= sum;
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, taps, weights };
}

/**
 * Resizes an image with a separable triangle filter and half-pixel centres.
 * Upsampling is plain bilinear interpolation (edges clamped); downsampling
 * widens the triangle to the scale factor, so every source pixel contributes
 * (an antialiased, area-like average, as PIL's bilinear resize does) instead
 * of the aliasing of point-sampled bilinear. A constant image stays constant,
 * and resizing to the same size returns an exact copy.
 *
 * @param image The image.
 * @param size The target size.
 * @returns A new image of the target size.
 * @throws {RangeError} When the size or the image is invalid.
 * @example Downscale by two averages 2x2 blocks (plus a little of the neighbours)
 * ```ts
 * import { createRgbImage, resize } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const image = createRgbImage(4, 4, new Float32Array(48).fill(7));
 * const small = resize(image, 2);
 * assert.equal(small.width, 2);
 * assert.ok(small.data.every((v) => Math.abs(v - 7) < 1e-5));
 * ```
 *
 * @category Images
 */
export function resize(image: RgbImage, size: ImageSize): RgbImage {
  checkImage(image);
  const { height: outH, width: outW } = sizeOf(size);
  const { width: inW, height: inH, data } = image;
  if (outW === inW && outH === inH) return createRgbImage(inW, inH, data.slice());
  const fx = filterTable(inW, outW);
  const fy = filterTable(inH, outH);
  // Horizontal pass: inH x outW x 3 in float64.
  const tmp = new Float64Array(inH * outW * 3);
  for (let y = 0; y < inH; y++) {
    const row = y * inW * 3;
    for (let x = 0; x < outW; x++) {
      let r = 0, g = 0, b = 0;
      const s = fx.start[x]!, n = fx.count[x]!, wo = x * fx.taps;
      for (let k = 0; k < n; k++) {
        const w = fx.weights[wo + k]!;
        const i = row + (s + k) * 3;
        r += w * data[i]!;
        g += w * data[i + 1]!;
        b += w * data[i + 2]!;
      }
      const o = (y * outW + x) * 3;
      tmp[o] = r;
      tmp[o + 1] = g;
      tmp[o + 2] = b;
    }
  }
  const out = new Float32Array(outH * outW * 3);
  const rowLen = outW * 3;
  for (let y = 0; y < outH; y++) {
    const s = fy.start[y]!, n = fy.count[y]!, wo = y * fy.taps;
    const o = y * rowLen;
    for (let k = 0; k < n; k++) {
      const w = fy.weights[wo + k]!;
      const src = (s + k) * rowLen;
      for (let i = 0; i < rowLen; i++) out[o + i]! += w * tmp[src + i]!;
    }
  }
  return { width: outW, height: outH, data: out };
}

/**
 * A rectangle of pixels: its top-left corner and its size.
 *
 * @category Images
 */
export interface CropBox {
  /** First row. */
  readonly top: number;
  /** First column. */
  readonly left: number;
  /** Number of rows. */
  readonly height: number;
  /** Number of columns. */
  readonly width: number;
}

/**
 * Cuts a rectangle out of an image; parts of the box outside the image are
 * zero (so a box larger than the image pads).
 *
 * @param image The image.
 * @param box The rectangle; `top` and `left` may be negative.
 * @returns A new image of the box's size.
 * @throws {RangeError} When the box size is not positive or its corner is not an integer.
 * @example
 * ```ts
 * import { createRgbImage, crop } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const image = createRgbImage(2, 1, new Float32Array([1, 1, 1, 2, 2, 2]));
 * assert.deepEqual([...crop(image, { top: 0, left: 1, height: 1, width: 2 }).data], [2, 2, 2, 0, 0, 0]);
 * ```
 *
 * @category Images
 */
export function crop(image: RgbImage, box: CropBox): RgbImage {
  checkImage(image);
  checkDim(box.height, "Crop height");
  checkDim(box.width, "Crop width");
  if (!Number.isSafeInteger(box.top) || !Number.isSafeInteger(box.left)) {
    throw new RangeError(`Crop corner must be integers, got top ${box.top} and left ${box.left}`);
  }
  const { width: W, height: H, data } = image;
  const out = new Float32Array(box.height * box.width * 3);
  const x0 = Math.max(0, -box.left);
  const x1 = Math.min(box.width, W - box.left);
  if (x1 > x0) {
    for (let y = 0; y < box.height; y++) {
      const sy = y + box.top;
      if (sy < 0 || sy >= H) continue;
      const src = (sy * W + box.left + x0) * 3;
      out.set(data.subarray(src, src + (x1 - x0) * 3), (y * box.width + x0) * 3);
    }
  }
  return { width: box.width, height: box.height, data: out };
}

/**
 * Crops the centre of an image to `size`, and pads with zeros (centred) along
 * an axis where the image is smaller — TensorFlow's
 * `resize_image_with_crop_or_pad`, which the reference implementation's classifier training uses.
 * The crop offset is `floor((H - h) / 2)`, the same as the reference implementation's centre crop
 * for even sizes.
 *
 * @param image The image.
 * @param size The target size.
 * @returns A new image of the target size.
 * @throws {RangeError} When the size or the image is invalid.
 * @example
 * ```ts
 * import { createRgbImage, cropOrPad } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const out = cropOrPad(createRgbImage(5, 1, new Float32Array(15).fill(1)), { height: 3, width: 3 });
 * assert.deepEqual([...out.data].filter((_, i) => i % 3 === 0), [0, 0, 0, 1, 1, 1, 0, 0, 0]);
 * ```
 *
 * @category Images
 */
export function cropOrPad(image: RgbImage, size: ImageSize): RgbImage {
  checkImage(image);
  const { height, width } = sizeOf(size);
  const offset = (have: number, want: number) =>
    have >= want ? Math.floor((have - want) / 2) : -Math.floor((want - have) / 2);
  return crop(image, {
    top: offset(image.height, height),
    left: offset(image.width, width),
    height,
    width,
  });
}

/**
 * Crops the centre of an image to `size` (offset `floor((H - h) / 2)`).
 *
 * @param image The image, at least as large as `size`.
 * @param size The target size.
 * @returns A new image of the target size.
 * @throws {RangeError} When the image is smaller than `size` (use {@linkcode cropOrPad} to pad).
 * @example
 * ```ts
 * import { centerCrop, createRgbImage } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const out = centerCrop(createRgbImage(182, 182), 160);
 * assert.equal(out.width, 160);
 * assert.equal(out.height, 160);
 * ```
 *
 * @category Images
 */
export function centerCrop(image: RgbImage, size: ImageSize): RgbImage {
  checkImage(image);
  const { height, width } = sizeOf(size);
  if (image.height < height || image.width < width) {
    throw new RangeError(
      `Cannot crop a ${image.height}x${image.width} image to ${height}x${width}; use cropOrPad to pad`,
    );
  }
  return cropOrPad(image, { height, width });
}

/**
 * Crops a random window of `size`: the top and left offsets are drawn with
 * `randomInt(H - h + 1)` then `randomInt(W - w + 1)`.
 *
 * @param image The image, at least as large as `size`.
 * @param size The window size.
 * @param rng The random state.
 * @returns The window and the advanced state.
 * @throws {RangeError} When the image is smaller than `size`.
 * @example
 * ```ts
 * import { createRgbImage, randomCrop } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [out, rng] = randomCrop(createRgbImage(182, 182), 160, createRng(666));
 * assert.equal(out.width, 160);
 * assert.notDeepEqual(rng, createRng(666));
 * ```
 *
 * @category Images
 */
export function randomCrop(
  image: RgbImage,
  size: ImageSize,
  rng: RngState,
): [RgbImage, RngState] {
  checkImage(image);
  const { height, width } = sizeOf(size);
  if (image.height < height || image.width < width) {
    throw new RangeError(
      `Cannot randomly crop a ${image.height}x${image.width} image to ${height}x${width}`,
    );
  }
  const [top, r1] = randomInt(rng, image.height - height + 1);
  const [left, r2] = randomInt(r1, image.width - width + 1);
  return [crop(image, { top, left, height, width }), r2];
}

/**
 * Mirrors an image left to right.
 *
 * @param image The image.
 * @returns A new, mirrored image.
 * @throws {TypeError} When the image is invalid.
 * @example
 * ```ts
 * import { createRgbImage, flipLeftRight } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const image = createRgbImage(2, 1, new Float32Array([1, 2, 3, 4, 5, 6]));
 * assert.deepEqual([...flipLeftRight(image).data], [4, 5, 6, 1, 2, 3]);
 * ```
 *
 * @category Images
 */
export function flipLeftRight(image: RgbImage): RgbImage {
  checkImage(image);
  const { width: W, height: H, data } = image;
  const out = new Float32Array(data.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = (y * W + x) * 3;
      const d = (y * W + (W - 1 - x)) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { width: W, height: H, data: out };
}

/**
 * Mirrors an image left to right with probability 1/2 (one uniform draw `u`;
 * flips when `u < 0.5`).
 *
 * @param image The image.
 * @param rng The random state.
 * @returns The image (a copy when not flipped) and the advanced state.
 * @throws {TypeError} When the image is invalid.
 * @example
 * ```ts
 * import { createRgbImage, randomFlip } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [out] = randomFlip(createRgbImage(3, 3), createRng(1));
 * assert.equal(out.width, 3);
 * ```
 *
 * @category Images
 */
export function randomFlip(image: RgbImage, rng: RngState): [RgbImage, RngState] {
  checkImage(image);
  const [u, next] = uniform(rng);
  return [
    u < 0.5 ? flipLeftRight(image) : createRgbImage(image.width, image.height, image.data.slice()),
    next,
  ];
}

/**
 * Rotates an image about its centre by `degrees` counter-clockwise (as seen
 * on screen, rows going down), keeping its size; each output pixel is a
 * bilinear sample of the input, and the area that comes from outside the
 * image is black (0). A multiple of 360 degrees returns an exact copy.
 *
 * @param image The image.
 * @param degrees The angle (a finite number).
 * @returns A new, rotated image.
 * @throws {RangeError} When the angle is not finite.
 * @example A quarter turn of a square image moves the top-right pixel to the top-left
 * ```ts
 * import { createRgbImage, rotate } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const image = createRgbImage(2, 2, new Float32Array([0, 0, 0, 9, 9, 9, 0, 0, 0, 0, 0, 0]));
 * const out = rotate(image, 90);
 * assert.ok(Math.abs(out.data[0]! - 9) < 1e-3);
 * ```
 *
 * @category Images
 */
export function rotate(image: RgbImage, degrees: number): RgbImage {
  checkImage(image);
  if (!Number.isFinite(degrees)) {
    throw new RangeError(`Rotation angle must be finite, got ${degrees}`);
  }
  const { width: W, height: H, data } = image;
  if (degrees % 360 === 0) return createRgbImage(W, H, data.slice());
  const theta = (degrees * Math.PI) / 180;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const cx = W / 2;
  const cy = H / 2;
  const out = new Float32Array(data.length);
  for (let y = 0; y < H; y++) {
    const dy = y + 0.5 - cy;
    for (let x = 0; x < W; x++) {
      const dx = x + 0.5 - cx;
      // Inverse map of a counter-clockwise turn with rows pointing down.
      const sx = dx * cos - dy * sin + cx - 0.5;
      const sy = dx * sin + dy * cos + cy - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) continue;
      const fx = sx - x0;
      const fy = sy - y0;
      const o = (y * W + x) * 3;
      for (let j = 0; j < 2; j++) {
        const yy = y0 + j;
        if (yy < 0 || yy >= H) continue;
        const wy = j === 0 ? 1 - fy : fy;
        for (let i = 0; i < 2; i++) {
          const xx = x0 + i;
          if (xx < 0 || xx >= W) continue;
          const w = wy * (i === 0 ? 1 - fx : fx);
          if (w === 0) continue;
          const s = (yy * W + xx) * 3;
          out[o]! += w * data[s]!;
          out[o + 1]! += w * data[s + 1]!;
          out[o + 2]! += w * data[s + 2]!;
        }
      }
    }
  }
  return { width: W, height: H, data: out };
}

/**
 * Rotates an image by an angle drawn uniformly from `[-maxDegrees, maxDegrees)`
 * (one uniform draw `u`, angle `(2u - 1) * maxDegrees`); the reference implementation's
 * classifier training uses 10 degrees.
 *
 * @param image The image.
 * @param maxDegrees The largest absolute angle (a finite number >= 0).
 * @param rng The random state.
 * @returns The rotated image and the advanced state.
 * @throws {RangeError} When `maxDegrees` is negative or not finite.
 * @example
 * ```ts
 * import { createRgbImage, randomRotate } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const [out] = randomRotate(createRgbImage(8, 8), 10, createRng(3));
 * assert.equal(out.height, 8);
 * ```
 *
 * @category Images
 */
export function randomRotate(
  image: RgbImage,
  maxDegrees: number,
  rng: RngState,
): [RgbImage, RngState] {
  if (!Number.isFinite(maxDegrees) || maxDegrees < 0) {
    throw new RangeError(`Maximum rotation must be a finite number >= 0, got ${maxDegrees}`);
  }
  const [u, next] = uniform(rng);
  return [rotate(image, (2 * u - 1) * maxDegrees), next];
}

/**
 * Options of {@linkcode augmentImage}: the reference implementation's training-time image pipeline.
 *
 * @category Images
 */
export interface AugmentOptions {
  /** The model's input size. */
  readonly size: ImageSize;
  /** Crop a random window (else the centre, padding when the image is smaller). Default false. */
  readonly randomCrop?: boolean;
  /** Mirror with probability 1/2. Default false. */
  readonly randomFlip?: boolean;
  /** Rotate by a uniform angle in `[-randomRotate, randomRotate)` degrees; 0 or unset: no rotation. */
  readonly randomRotate?: number;
}

/**
 * Uniform draws {@linkcode augmentImage} consumes per image, whatever its options.
 *
 * @example
 * ```ts
 * import { augmentImage, createRgbImage } from "@facenet-deno/facenet/pure";
 * import { AUGMENT_DRAWS } from "./image_ops.ts";
 * import { createRng, uniforms } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const rng = createRng(3);
 * const [, next] = augmentImage(createRgbImage(4, 4), { size: 2 }, rng);
 * assert.deepEqual(next, uniforms(rng, AUGMENT_DRAWS)[1]);
 * ```
 */
export const AUGMENT_DRAWS = 4;

/**
 * The reference implementation's training-time transform of one image: optional random rotation,
 * then a random crop or a centre crop/pad to `size`, then an optional random
 * flip (standardization is separate; see core/pure/preprocess.ts). It always
 * consumes exactly {@linkcode AUGMENT_DRAWS} uniforms `u0..u3` (rotation angle
 * `(2 u0 - 1) * randomRotate`, crop top `floor(u1 * (H - h + 1))`, crop left
 * `floor(u2 * (W - w + 1))`, flip when `u3 < 0.5`), so image `i` of a batch can
 * use the stream at `counter + 2 * AUGMENT_DRAWS * i`, in any order.
 * A random crop of an image smaller than `size` pads it first (centred).
 *
 * @param image The decoded image.
 * @param options Size and augmentations.
 * @param rng The random state.
 * @returns The transformed image and the state advanced by `AUGMENT_DRAWS` uniforms.
 * @throws {RangeError} When an option is invalid.
 * @example
 * ```ts
 * import { augmentImage, createRgbImage } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const options = { size: 160, randomCrop: true, randomFlip: true, randomRotate: 10 };
 * const [a, next] = augmentImage(createRgbImage(182, 182), options, createRng(1));
 * assert.equal(a.width, 160);
 * assert.equal(next.counter, 8);
 * ```
 *
 * @category Images
 */
export function augmentImage(
  image: RgbImage,
  options: AugmentOptions,
  rng: RngState,
): [RgbImage, RngState] {
  checkImage(image);
  const { height, width } = sizeOf(options.size);
  const maxDegrees = options.randomRotate ?? 0;
  if (!Number.isFinite(maxDegrees) || maxDegrees < 0) {
    throw new RangeError(`Maximum rotation must be a finite number >= 0, got ${maxDegrees}`);
  }
  const [u, next] = uniforms(rng, AUGMENT_DRAWS);
  let out = maxDegrees > 0 ? rotate(image, (2 * u[0]! - 1) * maxDegrees) : image;
  if (options.randomCrop === true) {
    if (out.height < height || out.width < width) {
      out = cropOrPad(out, {
        height: Math.max(height, out.height),
        width: Math.max(width, out.width),
      });
    }
    const top = Math.floor(u[1]! * (out.height - height + 1));
    const left = Math.floor(u[2]! * (out.width - width + 1));
    out = crop(out, { top, left, height, width });
  } else {
    out = cropOrPad(out, { height, width });
  }
  if (options.randomFlip === true && u[3]! < 0.5) out = flipLeftRight(out);
  return [out, next];
}

/**
 * The random state image `i` of a list uses with {@linkcode augmentImage}:
 * the stream of `rng` advanced by `i * AUGMENT_DRAWS` uniforms. With `i` equal
 * to the list's length it is the state after the whole list, so a list can be
 * augmented in any order (or in parallel) and still consume the RNG exactly
 * as one `augmentImage` call per image, in order, would.
 *
 * @param rng The state before the first image.
 * @param i The image's position (a non-negative integer).
 * @returns The state for image `i`.
 * @throws {RangeError} When `i` is not a non-negative integer or the counter would overflow.
 * @example
 * ```ts
 * import { augmentImage, createRgbImage } from "@facenet-deno/facenet/pure";
 * import { augmentRngAt } from "./image_ops.ts";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const rng = createRng(2);
 * const [, afterFirst] = augmentImage(createRgbImage(4, 4), { size: 2, randomCrop: true }, rng);
 * assert.deepEqual(augmentRngAt(rng, 1), afterFirst);
 * ```
 */
export function augmentRngAt(rng: RngState, i: number): RngState {
  if (!Number.isSafeInteger(i) || i < 0) {
    throw new RangeError(`Image position must be a non-negative integer, got ${i}`);
  }
  const counter = rng.counter + 2 * AUGMENT_DRAWS * i;
  if (!Number.isSafeInteger(counter)) {
    throw new RangeError(`Image position ${i} is past the end of the stream at ${rng.counter}`);
  }
  return { key: [rng.key[0], rng.key[1]], counter };
}

/**
 * Stacks images of one size into an NHWC batch.
 *
 * @param images The images (at least one), all of the same size.
 * @returns The batch, with 3 channels.
 * @throws {RangeError} When the list is empty or the sizes differ (the message names the index).
 * @example
 * ```ts
 * import { createRgbImage, stackImages } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const batch = stackImages([createRgbImage(2, 3), createRgbImage(2, 3)]);
 * assert.deepEqual([batch.n, batch.height, batch.width, batch.channels], [2, 3, 2, 3]);
 * ```
 *
 * @category Images
 */
export function stackImages(images: readonly RgbImage[]): ImageBatch {
  const first = images[0];
  if (first === undefined) throw new RangeError("Cannot stack an empty list of images");
  const { width, height } = first;
  const size = width * height * 3;
  const data = new Float32Array(images.length * size);
  images.forEach((image, i) => {
    checkImage(image);
    if (image.width !== width || image.height !== height) {
      throw new RangeError(
        `Image ${i} is ${image.height}x${image.width}, expected ${height}x${width} like image 0`,
      );
    }
    data.set(image.data, i * size);
  });
  return { n: images.length, height, width, channels: 3, data };
}
