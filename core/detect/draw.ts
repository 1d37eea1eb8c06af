/**
 * Drawing detections onto a photo: box outlines and landmark dots, for a
 * person to check by eye what the detector found (`detect --draw`).
 *
 * @module
 */

import type { RgbImage } from "../pure/image_ops.ts";
import type { DetectedFace } from "./mtcnn.ts";

/**
 * Drawing settings.
 *
 * @category Face detection
 */
export interface DrawOptions {
  /** Outline colour `[r, g, b]`; default green. */
  readonly color?: readonly [number, number, number];
  /** Landmark colour; default red. */
  readonly landmarkColor?: readonly [number, number, number];
  /** Line width in pixels; default `max(2, round(min(width, height) / 400))`. */
  readonly lineWidth?: number;
}

function fillRect(
  image: { width: number; height: number; data: Float32Array },
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  color: readonly [number, number, number],
): void {
  const xa = Math.max(0, Math.floor(x0)), xb = Math.min(image.width - 1, Math.floor(x1));
  const ya = Math.max(0, Math.floor(y0)), yb = Math.min(image.height - 1, Math.floor(y1));
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      const o = (y * image.width + x) * 3;
      image.data[o] = color[0];
      image.data[o + 1] = color[1];
      image.data[o + 2] = color[2];
    }
  }
}

/**
 * Draws each face's box and its five landmarks onto a copy of the photo.
 * Boxes use the reference's 1-based pixel coordinates.
 *
 * @param image The photo.
 * @param faces The detections.
 * @param options Colours and line width.
 * @returns A new image with the drawings.
 * @example
 * ```ts
 * import { drawDetections } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const image = { width: 10, height: 10, data: new Float32Array(300) };
 * const out = drawDetections(image, [{ box: [2, 2, 8, 8], score: 1, landmarks: [] }], { lineWidth: 1 });
 * assert.deepEqual([...out.data.subarray(33, 36)], [0, 255, 0]); // pixel (1, 1), 0-based
 * assert.equal(image.data[33], 0); // the input is untouched
 * ```
 *
 * @category Face detection
 */
export function drawDetections(
  image: RgbImage,
  faces: readonly DetectedFace[],
  options: DrawOptions = {},
): RgbImage {
  const out = { width: image.width, height: image.height, data: image.data.slice() };
  const color = options.color ?? [0, 255, 0];
  const dot = options.landmarkColor ?? [255, 0, 0];
  const lw = options.lineWidth ??
    Math.max(2, Math.round(Math.min(image.width, image.height) / 400));
  if (!(Number.isInteger(lw) && lw >= 1)) {
    throw new RangeError(`Line width must be a positive integer, got ${lw}`);
  }
  for (const face of faces) {
    const [x1, y1, x2, y2] = face.box.map((v) => v - 1) as [number, number, number, number];
    fillRect(out, x1, y1, x2, y1 + lw - 1, color);
    fillRect(out, x1, y2 - lw + 1, x2, y2, color);
    fillRect(out, x1, y1, x1 + lw - 1, y2, color);
    fillRect(out, x2 - lw + 1, y1, x2, y2, color);
    const r = lw + 1;
    for (const [x, y] of face.landmarks) {
      fillRect(out, x - 1 - r, y - 1 - r, x - 1 + r, y - 1 + r, dot);
    }
  }
  return out;
}
