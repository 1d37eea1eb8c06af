/**
 * From detections to aligned face crops, two ways:
 * - **margin crop**, as FaceNet (TensorFlow)'s `align_dataset_mtcnn.py` and
 *   `compare.py` do: the box grown by `margin / 2` on each side (clipped to
 *   the image, truncated to integers), cropped and resized to a square;
 *   {@link chooseCentralFace} is the reference's choice of one face when
 *   several are found (largest and most central);
 * - **similarity**: the 5-point similarity transform (rotation, uniform
 *   scale, translation; least squares as Umeyama's method, no reflection) of
 *   the landmarks onto the standard 112x112 template that pretrained 112 px
 *   embedders expect ({@link FIVE_POINT_TEMPLATE_112}), applied with bilinear
 *   sampling and zero borders (as `cv2.warpAffine`).
 *
 * @module
 */

import type { RgbImage } from "../pure/image_ops.ts";
import { resize } from "../pure/image_ops.ts";
import type { DetectedFace } from "./mtcnn.ts";

/**
 * The standard 5-point template of 112x112 face crops (left eye, right eye,
 * nose tip, left and right mouth corner), in pixels.
 *
 * @example
 * ```ts
 * import { FIVE_POINT_TEMPLATE_112 } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.equal(FIVE_POINT_TEMPLATE_112.length, 5);
 * ```
 *
 * @category Face detection
 */
export const FIVE_POINT_TEMPLATE_112: readonly (readonly [number, number])[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/**
 * A 2-D affine map `[x', y'] = [a x + b y + c, d x + e y + f]`, stored `[a, b, c, d, e, f]`.
 *
 * @category Face detection
 */
export type Affine = readonly [number, number, number, number, number, number];

/**
 * The least-squares similarity transform mapping `src` points onto `dst`
 * points: `x' = s (cos t x - sin t y) + tx`, `y' = s (sin t x + cos t y) + ty`.
 *
 * @param src Source points (at least 2, not all equal).
 * @param dst Destination points, as many as `src`.
 * @returns The transform as an {@link Affine}.
 * @throws {RangeError} When the point lists differ in length, hold fewer than
 * two points, or the source points coincide.
 * @example A pure scale by 2 and a shift
 * ```ts
 * import { similarityTransform } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const m = similarityTransform([[0, 0], [1, 0], [0, 1]], [[5, 5], [7, 5], [5, 7]]);
 * assert.deepEqual(m.map((v) => Math.round(v * 1e6) / 1e6 + 0), [2, 0, 5, 0, 2, 5]);
 * ```
 *
 * @category Face detection
 */
export function similarityTransform(
  src: readonly (readonly [number, number])[],
  dst: readonly (readonly [number, number])[],
): Affine {
  const n = src.length;
  if (n !== dst.length) {
    throw new RangeError(`Point lists differ in length: ${n} and ${dst.length}`);
  }
  if (n < 2) throw new RangeError(`A similarity needs at least 2 points, got ${n}`);
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i]![0];
    sy += src[i]![1];
    dx += dst[i]![0];
    dy += dst[i]![1];
  }
  sx /= n, sy /= n, dx /= n, dy /= n;
  let norm = 0, p = 0, q = 0;
  for (let i = 0; i < n; i++) {
    const ax = src[i]![0] - sx, ay = src[i]![1] - sy;
    const bx = dst[i]![0] - dx, by = dst[i]![1] - dy;
    norm += ax * ax + ay * ay;
    p += ax * bx + ay * by;
    q += ax * by - ay * bx;
  }
  if (!(norm > 0)) throw new RangeError("The source points coincide");
  const a = p / norm, b = q / norm; // s cos t, s sin t
  return [a, -b, dx - (a * sx - b * sy), b, a, dy - (b * sx + a * sy)];
}

/**
 * Warps an image by an affine map (destination pixel `p` samples the source
 * at `inverse(m) p`), bilinear, zero outside the source.
 *
 * @param image The source image.
 * @param m The map from source to destination pixel coordinates.
 * @param size The destination `{height, width}`.
 * @returns The warped image.
 * @throws {RangeError} When the map is singular or the size invalid.
 * @example The identity map copies
 * ```ts
 * import { warpAffine } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const image = { width: 2, height: 1, data: new Float32Array([1, 2, 3, 4, 5, 6]) };
 * const out = warpAffine(image, [1, 0, 0, 0, 1, 0], { height: 1, width: 2 });
 * assert.deepEqual([...out.data], [1, 2, 3, 4, 5, 6]);
 * ```
 *
 * @category Face detection
 */
export function warpAffine(
  image: RgbImage,
  m: Affine,
  size: { readonly height: number; readonly width: number },
): RgbImage {
  const { height: oh, width: ow } = size;
  if (!(Number.isSafeInteger(oh) && oh >= 1 && Number.isSafeInteger(ow) && ow >= 1)) {
    throw new RangeError(`Output size must be positive integers, got ${oh}x${ow}`);
  }
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (!(Math.abs(det) > 1e-12)) throw new RangeError(`The affine map is singular (det ${det})`);
  const ia = e / det, ib = -b / det, id = -d / det, ie = a / det;
  const { width: W, height: H, data } = image;
  const out = new Float32Array(oh * ow * 3);
  const px = (x: number, y: number, ch: number) =>
    x >= 0 && x < W && y >= 0 && y < H ? data[(y * W + x) * 3 + ch]! : 0;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const u = x - c, v = y - f;
      const X = ia * u + ib * v, Y = id * u + ie * v;
      const x0 = Math.floor(X), y0 = Math.floor(Y);
      if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) continue;
      const fx = X - x0, fy = Y - y0;
      for (let ch = 0; ch < 3; ch++) {
        out[(y * ow + x) * 3 + ch] =
          (1 - fy) * ((1 - fx) * px(x0, y0, ch) + fx * px(x0 + 1, y0, ch)) +
          fy * ((1 - fx) * px(x0, y0 + 1, ch) + fx * px(x0 + 1, y0 + 1, ch));
      }
    }
  }
  return { width: ow, height: oh, data: out };
}

/**
 * A face aligned by the 5-point similarity transform onto
 * {@link FIVE_POINT_TEMPLATE_112} (scaled when `size` is not 112).
 *
 * @param image The photo.
 * @param face A detection with its five landmarks.
 * @param size Output side in pixels; default 112.
 * @returns The aligned crop, `size x size`.
 * @throws {RangeError} When the face has not five landmarks.
 * @example
 * ```ts
 * import { alignSimilarity, FIVE_POINT_TEMPLATE_112 } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const image = { width: 112, height: 112, data: new Float32Array(112 * 112 * 3).fill(9) };
 * const face = { box: [1, 1, 112, 112] as const, score: 1, landmarks: FIVE_POINT_TEMPLATE_112 };
 * const out = alignSimilarity(image, face);
 * assert.equal(out.width, 112);
 * assert.ok(Math.abs(out.data[56 * 112 * 3]! - 9) < 1e-4);
 * ```
 *
 * @category Face detection
 */
export function alignSimilarity(image: RgbImage, face: DetectedFace, size = 112): RgbImage {
  if (face.landmarks.length !== 5) {
    throw new RangeError(`Similarity alignment needs 5 landmarks, got ${face.landmarks.length}`);
  }
  const template = FIVE_POINT_TEMPLATE_112.map(([x, y]) =>
    [x * size / 112, y * size / 112] as const
  );
  return warpAffine(image, similarityTransform(face.landmarks, template), {
    height: size,
    width: size,
  });
}

/**
 * The reference's margin box: `[max(x1 - m/2, 0), max(y1 - m/2, 0),
 * min(x2 + m/2, W), min(y2 + m/2, H)]`, truncated to integers. As a crop it
 * covers columns `bb[0] .. bb[2] - 1` and rows `bb[1] .. bb[3] - 1`.
 *
 * @param box The detection's `[x1, y1, x2, y2]`.
 * @param image The photo's `{width, height}`.
 * @param margin Total margin in pixels (the reference's default is 44 for align, 44 for compare).
 * @returns The integer box.
 * @throws {RangeError} When the margin is negative.
 * @example
 * ```ts
 * import { marginBox } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(marginBox([10.7, 30.2, 50.5, 80.9], { width: 60, height: 100 }, 44), [0, 8, 60, 100]);
 * ```
 *
 * @category Face detection
 */
export function marginBox(
  box: readonly [number, number, number, number],
  image: { readonly width: number; readonly height: number },
  margin: number,
): [number, number, number, number] {
  if (!(margin >= 0)) throw new RangeError(`Margin must be non-negative, got ${margin}`);
  return [
    Math.trunc(Math.max(box[0] - margin / 2, 0)),
    Math.trunc(Math.max(box[1] - margin / 2, 0)),
    Math.trunc(Math.min(box[2] + margin / 2, image.width)),
    Math.trunc(Math.min(box[3] + margin / 2, image.height)),
  ];
}

/**
 * The reference's margin crop: {@link marginBox}, cropped, resized to
 * `size x size` (bilinear; values rounded to integers as `misc.imresize`
 * returns 8-bit images).
 *
 * @param image The photo.
 * @param box The detection's box.
 * @param options Output size and margin.
 * @returns The crop.
 * @throws {RangeError} When the margin box is empty (a box outside the image).
 * @example
 * ```ts
 * import { marginCrop } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const image = { width: 50, height: 50, data: new Float32Array(50 * 50 * 3).fill(100) };
 * const crop = marginCrop(image, [10, 10, 30, 30], { size: 16, margin: 4 });
 * assert.equal(crop.width, 16);
 * assert.equal(crop.data[0], 100);
 * ```
 *
 * @category Face detection
 */
export function marginCrop(
  image: RgbImage,
  box: readonly [number, number, number, number],
  options: { readonly size: number; readonly margin: number },
): RgbImage {
  const [x0, y0, x1, y1] = marginBox(box, image, options.margin);
  const w = x1 - x0, h = y1 - y0;
  if (!(w >= 1 && h >= 1)) {
    throw new RangeError(`The margin box [${x0}, ${y0}, ${x1}, ${y1}] is empty`);
  }
  const data = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const s = ((y0 + y) * image.width + x0) * 3;
    data.set(image.data.subarray(s, s + w * 3), y * w * 3);
  }
  const out = resize({ width: w, height: h, data }, options.size);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = Math.min(255, Math.max(0, Math.round(out.data[i]!)));
  }
  return out;
}

/**
 * The reference's choice of one face among several: the largest and most
 * central, `argmax(area - 2 * squared distance of the box centre to the
 * image centre)`, with area `(x2 - x1) * (y2 - y1)`.
 *
 * @param faces The detections (at least one).
 * @param image The photo's `{width, height}`.
 * @returns The index of the chosen face.
 * @throws {RangeError} When there is no face.
 * @example
 * ```ts
 * import { chooseCentralFace } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const face = (box: [number, number, number, number]) => ({ box, score: 1, landmarks: [] });
 * const faces = [face([0, 0, 20, 20]), face([40, 40, 60, 60])];
 * assert.equal(chooseCentralFace(faces, { width: 100, height: 100 }), 1);
 * ```
 *
 * @category Face detection
 */
export function chooseCentralFace(
  faces: readonly DetectedFace[],
  image: { readonly width: number; readonly height: number },
): number {
  if (faces.length === 0) throw new RangeError("There is no face to choose from");
  let best = 0, bestValue = -Infinity;
  faces.forEach((f, i) => {
    const [x1, y1, x2, y2] = f.box;
    const area = (x2 - x1) * (y2 - y1);
    const ox = (x1 + x2) / 2 - image.width / 2, oy = (y1 + y2) / 2 - image.height / 2;
    const value = area - 2 * (ox * ox + oy * oy);
    if (value > bestValue) {
      bestValue = value;
      best = i;
    }
  });
  return best;
}
