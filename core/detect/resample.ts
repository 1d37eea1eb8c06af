/**
 * OpenCV's `cv2.resize(..., interpolation=INTER_AREA)`, re-implemented to
 * the float rounding that matters, because MTCNN's detection (FaceNet's
 * `detect_face.imresample`) resamples its pyramid and its R-Net/O-Net crops
 * with it:
 * - **Downscaling on both axes** is the area average: each output pixel is the
 *   mean of the source area it covers, partial pixels weighted by the covered
 *   fraction (OpenCV's `computeResizeAreaTab`, float weights). For `uint8`
 *   input the sums run in float32 and the result is rounded half-to-even and
 *   clamped to 0..255; for `float64` input they run in float64.
 *   An exact integer ratio on both axes takes OpenCV's fast path (block mean;
 *   `(a + b + c + d + 2) >> 2` for 2x2 blocks of `uint8`).
 * - **Upscaling on either axis** is OpenCV's "area mode" linear interpolation:
 *   `sx = floor(dx * scale)`, `fx = (dx + 1) - (sx + 1) / scale`, taken
 *   modulo 1 when positive and 0 otherwise, edges clamped.
 *
 * @module
 */

import type { RgbImage } from "../pure/image_ops.ts";

/**
 * How samples are stored, as in OpenCV: `uint8` (the photo) or `float64` (the crops).
 *
 * @category Face detection
 */
export type SampleDepth = "uint8" | "float64";

const f32 = Math.fround;

/** Round half to even, as `cvRound` (the SSE conversion) does. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function saturateU8(v: number): number {
  const r = roundHalfEven(v);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

interface AreaTab {
  readonly di: Int32Array;
  readonly si: Int32Array;
  readonly alpha: Float32Array;
}

/** OpenCV's computeResizeAreaTab (without the channel factor). */
function areaTab(ssize: number, dsize: number, scale: number): AreaTab {
  const di: number[] = [], si: number[] = [], alpha: number[] = [];
  for (let dx = 0; dx < dsize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, ssize - fsx1);
    let sx1 = Math.ceil(fsx1);
    let sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, ssize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) {
      di.push(dx);
      si.push(sx1 - 1);
      alpha.push((sx1 - fsx1) / cellWidth);
    }
    for (let sx = sx1; sx < sx2; sx++) {
      di.push(dx);
      si.push(sx);
      alpha.push(1 / cellWidth);
    }
    if (fsx2 - sx2 > 1e-3) {
      di.push(dx);
      si.push(sx2);
      alpha.push(Math.min(Math.min(fsx2 - sx2, 1), cellWidth) / cellWidth);
    }
  }
  return { di: Int32Array.from(di), si: Int32Array.from(si), alpha: Float32Array.from(alpha) };
}

function resizeAreaGeneric(
  src: RgbImage,
  outH: number,
  outW: number,
  scaleX: number,
  scaleY: number,
  depth: SampleDepth,
): Float32Array {
  const xtab = areaTab(src.width, outW, scaleX);
  const ytab = areaTab(src.height, outH, scaleY);
  const rowLen = outW * 3;
  const out = new Float32Array(outH * rowLen);
  const data = src.data;
  const n = xtab.di.length;
  const xd = xtab.di, xs = xtab.si, xa = xtab.alpha;
  // The horizontal pass of one source row (OpenCV recomputes it when a row
  // feeds two output rows; the values are the same, so it is kept).
  let cachedRow = -1;
  const horizontal = (sy: number, buf: Float64Array | Float32Array) => {
    if (sy === cachedRow) return;
    cachedRow = sy;
    buf.fill(0);
    const row = sy * src.width * 3;
    if (depth === "uint8") {
      // float32 arithmetic: each product and sum rounded (the Float32Array store rounds the sum).
      for (let k = 0; k < n; k++) {
        const s = row + xs[k]! * 3, d = xd[k]! * 3, a = xa[k]!;
        buf[d] = buf[d]! + Math.fround(data[s]! * a);
        buf[d + 1] = buf[d + 1]! + Math.fround(data[s + 1]! * a);
        buf[d + 2] = buf[d + 2]! + Math.fround(data[s + 2]! * a);
      }
    } else {
      for (let k = 0; k < n; k++) {
        const s = row + xs[k]! * 3, d = xd[k]! * 3, a = xa[k]!;
        buf[d] = buf[d]! + data[s]! * a;
        buf[d + 1] = buf[d + 1]! + data[s + 1]! * a;
        buf[d + 2] = buf[d + 2]! + data[s + 2]! * a;
      }
    }
  };
  if (depth === "uint8") {
    const buf = new Float32Array(rowLen), sum = new Float32Array(rowLen);
    let prevDy = ytab.di[0] ?? 0;
    const store = (dy: number) => {
      const o = dy * rowLen;
      for (let i = 0; i < rowLen; i++) out[o + i] = saturateU8(sum[i]!);
    };
    for (let j = 0; j < ytab.di.length; j++) {
      const beta = ytab.alpha[j]!, dy = ytab.di[j]!;
      horizontal(ytab.si[j]!, buf);
      if (dy !== prevDy) {
        store(prevDy);
        for (let i = 0; i < rowLen; i++) sum[i] = beta * buf[i]!;
        prevDy = dy;
      } else {
        for (let i = 0; i < rowLen; i++) sum[i] = sum[i]! + Math.fround(beta * buf[i]!);
      }
    }
    store(prevDy);
  } else {
    const buf = new Float64Array(rowLen), sum = new Float64Array(rowLen);
    let prevDy = ytab.di[0] ?? 0;
    for (let j = 0; j < ytab.di.length; j++) {
      const beta = ytab.alpha[j]!, dy = ytab.di[j]!;
      horizontal(ytab.si[j]!, buf);
      if (dy !== prevDy) {
        out.set(sum, prevDy * rowLen);
        for (let i = 0; i < rowLen; i++) sum[i] = beta * buf[i]!;
        prevDy = dy;
      } else {
        for (let i = 0; i < rowLen; i++) sum[i] = sum[i]! + beta * buf[i]!;
      }
    }
    out.set(sum, prevDy * rowLen);
  }
  return out;
}

function resizeAreaFast(
  src: RgbImage,
  outH: number,
  outW: number,
  sx: number,
  sy: number,
  depth: SampleDepth,
): Float32Array {
  const out = new Float32Array(outH * outW * 3);
  const data = src.data;
  const area = sx * sy;
  const inv = depth === "uint8" ? f32(1 / area) : 1 / area;
  const simd2x2 = depth === "uint8" && sx === 2 && sy === 2;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = 0; dy < sy; dy++) {
          for (let dx = 0; dx < sx; dx++) {
            s += data[((y * sy + dy) * src.width + x * sx + dx) * 3 + c]!;
          }
        }
        const o = (y * outW + x) * 3 + c;
        if (simd2x2) out[o] = (s + 2) >> 2;
        else if (depth === "uint8") out[o] = saturateU8(f32(s * inv));
        else out[o] = s * inv;
      }
    }
  }
  return out;
}

/** OpenCV's INTER_AREA coefficient for one output index when upscaling (area mode linear). */
function linearTab(ssize: number, dsize: number): { index: Int32Array; frac: Float32Array } {
  const invScale = dsize / ssize;
  const scale = 1 / invScale;
  const index = new Int32Array(dsize);
  const frac = new Float32Array(dsize);
  for (let d = 0; d < dsize; d++) {
    let s = Math.floor(d * scale);
    let f = f32((d + 1) - (s + 1) * invScale);
    f = f <= 0 ? 0 : f - Math.floor(f);
    if (s < 0) {
      f = 0;
      s = 0;
    }
    if (s >= ssize - 1) {
      f = 0;
      s = ssize - 1;
    }
    index[d] = s;
    frac[d] = f;
  }
  return { index, frac };
}

function resizeLinearArea(
  src: RgbImage,
  outH: number,
  outW: number,
  depth: SampleDepth,
): Float32Array {
  if (depth === "uint8") {
    throw new RangeError(
      "Upscaling uint8 images with INTER_AREA (fixed-point linear) is not implemented",
    );
  }
  const tx = linearTab(src.width, outW);
  const ty = linearTab(src.height, outH);
  const data = src.data;
  const out = new Float32Array(outH * outW * 3);
  const w = src.width;
  const rowAt = (sy: number, x: number, c: number): number => {
    const s = tx.index[x]!, f = tx.frac[x]!;
    const a = data[(sy * w + s) * 3 + c]!;
    if (f === 0) return a; // the right edge uses one tap; 1 * a + 0 * b elsewhere
    const b = data[(sy * w + Math.min(s + 1, w - 1)) * 3 + c]!;
    return a * f32(1 - f) + b * f;
  };
  for (let y = 0; y < outH; y++) {
    const sy = ty.index[y]!, fy = ty.frac[y]!;
    const sy1 = Math.min(sy + 1, src.height - 1);
    const b0 = f32(1 - fy);
    for (let x = 0; x < outW; x++) {
      for (let c = 0; c < 3; c++) {
        out[(y * outW + x) * 3 + c] = rowAt(sy, x, c) * b0 + rowAt(sy1, x, c) * fy;
      }
    }
  }
  return out;
}

/**
 * Resizes an RGB image as OpenCV's `cv2.resize` with `INTER_AREA` does (see
 * the module notes for the exact rules).
 *
 * @param image The source image (HWC, float32 values; integers 0..255 for `uint8`).
 * @param size The target `{height, width}` (positive integers).
 * @param depth How OpenCV would store the samples: `uint8` (results rounded
 * to integers 0..255) or `float64`. Default `uint8`.
 * @returns The resized image.
 * @throws {RangeError} When a size is not a positive integer, or when a
 * `uint8` image would be upscaled (not needed by the detection pipeline).
 * @example A 3-pixel row averaged to 2 pixels: each output covers 1.5 inputs
 * ```ts
 * import { resizeArea } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const row = { width: 3, height: 1, data: new Float32Array([0, 0, 0, 10, 10, 10, 20, 20, 20]) };
 * const out = resizeArea(row, { height: 1, width: 2 }, "float64");
 * // (0 * 1 + 10 * 0.5) / 1.5 and (10 * 0.5 + 20 * 1) / 1.5
 * assert.ok(Math.abs(out.data[0]! - 10 / 3) < 1e-5);
 * assert.ok(Math.abs(out.data[3]! - 50 / 3) < 1e-5);
 * ```
 *
 * @category Face detection
 */
export function resizeArea(
  image: RgbImage,
  size: { readonly height: number; readonly width: number },
  depth: SampleDepth = "uint8",
): RgbImage {
  const { height: outH, width: outW } = size;
  for (
    const [v, what] of [[outH, "Height"], [outW, "Width"], [image.height, "Image height"], [
      image.width,
      "Image width",
    ]] as const
  ) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(`${what} must be a positive integer, got ${v}`);
    }
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(
      `Image data length ${image.data.length} does not match ${image.height}x${image.width}x3`,
    );
  }
  if (outH === image.height && outW === image.width) {
    return { width: outW, height: outH, data: image.data.slice() };
  }
  const invX = outW / image.width, invY = outH / image.height;
  const scaleX = 1 / invX, scaleY = 1 / invY;
  let data: Float32Array;
  if (scaleX >= 1 && scaleY >= 1) {
    const ix = Math.round(scaleX), iy = Math.round(scaleY);
    const fast = Math.abs(scaleX - ix) < Number.EPSILON && Math.abs(scaleY - iy) < Number.EPSILON;
    data = fast
      ? resizeAreaFast(image, outH, outW, ix, iy, depth)
      : resizeAreaGeneric(image, outH, outW, scaleX, scaleY, depth);
  } else {
    data = resizeLinearArea(image, outH, outW, depth);
  }
  return { width: outW, height: outH, data };
}
