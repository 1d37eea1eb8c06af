/**
 * Image files: decoding JPEG (jpeg-js) and PNG (fast-png) to RGB float32
 * images, encoding PNG, and a cheap header check for dataset scans. Both
 * decoders are pure JavaScript from npm: nothing to build, nothing downloaded
 * at install time.
 *
 * The format is detected by magic bytes, never by the file name. Every
 * decoded image is RGB, HWC, float32 in 0..255:
 * - grayscale is replicated to the three channels;
 * - an alpha channel (RGBA, gray+alpha, a palette with transparency, a tRNS
 *   colour key) is dropped, keeping the stored colour, as PIL's
 *   `convert("RGB")` and the reference implementation's image reading do (no compositing);
 * - 16-bit samples are scaled to 0..255 (`v / 257`, not rounded), 1/2/4-bit
 *   grayscale samples to 0..255 (`v * 255 / (2^depth - 1)`);
 * - palette images are expanded through their palette;
 * - PNG chunk checksums are verified, so a PNG corrupted in the middle is an
 *   error rather than wrong pixels (JPEG has no checksums: jpeg-js decodes
 *   what it can and fails only on broken structure);
 * - EXIF orientation is not applied by default (neither does the reference
 *   implementation's image reading, so a phone photo stored sideways reaches
 *   its detector sideways); `{ orientation: "exif" }` applies it, as the
 *   detection tools do (see {@linkcode jpegOrientation}).
 *
 * @module
 */

import jpeg from "../_deps/jpeg_js.ts";
import { decode as decodePngBytes, encode as encodePngBytes } from "../_deps/fast_png.ts";
import type { RgbImage } from "../core/pure/image_ops.ts";
import { readFileBounded } from "./atomic.ts";

/**
 * The largest image decoded by default, in pixels: 8192 x 8192 (64 MiP; a
 * decoded RGB float32 image of that size takes 768 MiB). An image declaring
 * more is refused from its header, before any pixel memory is allocated.
 *
 * @example
 * ```ts
 * import { MAX_IMAGE_PIXELS } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.ok(8000 * 8000 <= MAX_IMAGE_PIXELS);
 * assert.ok(20000 * 20000 > MAX_IMAGE_PIXELS);
 * ```
 *
 * @category Data
 */
export const MAX_IMAGE_PIXELS = 8192 * 8192;

/**
 * The largest image file read by default, in bytes (256 MiB); a larger file,
 * or anything that is not a regular file, is refused before it is read.
 *
 * @example
 * ```ts
 * import { MAX_IMAGE_FILE_BYTES } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(MAX_IMAGE_FILE_BYTES, 256 * 1024 * 1024);
 * ```
 *
 * @category Data
 */
export const MAX_IMAGE_FILE_BYTES = 256 * 1024 * 1024;

/**
 * Limits of {@linkcode decodeImage} and {@linkcode readImage}.
 *
 * @category Data
 */
export interface ImageLimits {
  /** The largest accepted `width * height`; default {@linkcode MAX_IMAGE_PIXELS}. */
  readonly maxPixels?: number;
  /** The largest accepted file, in bytes; default {@linkcode MAX_IMAGE_FILE_BYTES}. */
  readonly maxFileBytes?: number;
}

/**
 * Options of {@linkcode decodeImage} and {@linkcode readImage}.
 *
 * @category Data
 */
export interface DecodeOptions extends ImageLimits {
  /**
   * `ignore` (the default, as the reference implementation) keeps the stored
   * pixel order; `exif` turns a JPEG upright by its EXIF orientation tag.
   */
  readonly orientation?: "ignore" | "exif";
}

/**
 * The EXIF orientation of a JPEG (tag 0x0112 of IFD0 in its APP1 "Exif"
 * segment): 1 upright, 2 mirrored, 3 rotated 180, 4 flipped, 5 transposed,
 * 6 to be turned 90 degrees clockwise, 7 transversed, 8 to be turned 90
 * degrees counter-clockwise.
 *
 * @param bytes The JPEG file's bytes.
 * @returns The orientation, 1 when there is none or it is unreadable.
 * @example
 * ```ts
 * import { jpegOrientation } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(jpegOrientation(new Uint8Array([0xff, 0xd8, 0xff, 0xd9])), 1);
 * ```
 *
 * @category Data
 */
export function jpegOrientation(bytes: Uint8Array): number {
  if (!(bytes[0] === 0xff && bytes[1] === 0xd8)) return 1;
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1]!;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // image data: no EXIF after this
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    const start = at + 4, end = at + 2 + length;
    if (length < 2 || end > bytes.length) break;
    if (
      marker === 0xe1 && String.fromCharCode(...bytes.subarray(start, start + 6)) === "Exif\0\0"
    ) {
      const tiff = start + 6;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const little = bytes[tiff] === 0x49;
      if (!little && bytes[tiff] !== 0x4d) return 1;
      const u16 = (p: number) => (p + 2 <= end ? view.getUint16(p, little) : -1);
      const u32 = (p: number) => (p + 4 <= end ? view.getUint32(p, little) : -1);
      if (u16(tiff + 2) !== 42) return 1;
      const ifd = tiff + u32(tiff + 4);
      const count = u16(ifd);
      for (let i = 0; i < count; i++) {
        const entry = ifd + 2 + i * 12;
        if (entry + 12 > end) break;
        if (u16(entry) === 0x0112) {
          const value = u16(entry + 8);
          return value >= 1 && value <= 8 ? value : 1;
        }
      }
      return 1;
    }
    at = end;
  }
  return 1;
}

const ORIENTATION_SOURCE: Readonly<
  Record<number, (W: number, H: number) => (x: number, y: number) => [number, number]>
> = {
  2: (W) => (x, y) => [W - 1 - x, y],
  3: (W, H) => (x, y) => [W - 1 - x, H - 1 - y],
  4: (_, H) => (x, y) => [x, H - 1 - y],
  5: () => (x, y) => [y, x],
  6: (_, H) => (x, y) => [y, H - 1 - x],
  7: (W, H) => (x, y) => [W - 1 - y, H - 1 - x],
  8: (W) => (x, y) => [W - 1 - y, x],
};

/**
 * Turns an image upright according to an EXIF orientation value (see
 * {@linkcode jpegOrientation}).
 *
 * @param image The stored image.
 * @param orientation 1..8.
 * @returns The upright image (the same object for 1).
 * @throws {RangeError} When the orientation is not 1..8.
 * @example Orientation 6: the stored image is turned 90 degrees clockwise
 * ```ts
 * import { applyOrientation } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * // A 2x1 image: red then blue.
 * const image = { width: 2, height: 1, data: new Float32Array([255, 0, 0, 0, 0, 255]) };
 * const upright = applyOrientation(image, 6);
 * assert.equal(upright.width, 1);
 * assert.deepEqual([...upright.data], [255, 0, 0, 0, 0, 255]); // red on top
 * ```
 *
 * @category Data
 */
export function applyOrientation(image: RgbImage, orientation: number): RgbImage {
  if (!(Number.isInteger(orientation) && orientation >= 1 && orientation <= 8)) {
    throw new RangeError(`EXIF orientation must be 1..8, got ${orientation}`);
  }
  if (orientation === 1) return image;
  const { width: W, height: H, data } = image;
  const swap = orientation >= 5;
  const w = swap ? H : W, h = swap ? W : H;
  const out = new Float32Array(data.length);
  // Where upright pixel (x, y) lies in the stored image.
  const source = ORIENTATION_SOURCE[orientation]!(W, H);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [sx, sy] = source(x, y);
      const s = (sy * W + sx) * 3, d = (y * w + x) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { width: w, height: h, data: out };
}

/**
 * The image formats this module reads.
 *
 * @category Data
 */
export type ImageFormat = "jpeg" | "png";

/**
 * An image file that could not be read or decoded; `file` names it.
 *
 * @example
 * ```ts
 * import { decodeImage, ImageDecodeError } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const err = new ImageDecodeError("a.png", "truncated");
 * assert.equal(err.message, "Cannot read image a.png: truncated");
 * assert.equal(err.file, "a.png");
 * assert.throws(() => decodeImage(new Uint8Array([1, 2, 3]), "x.jpg"), ImageDecodeError);
 * ```
 *
 * @category Data
 */
export class ImageDecodeError extends Error {
  /** The file (or the name given for in-memory bytes). */
  readonly file: string;
  /**
   * Creates the error; the message is `Cannot read image <file>: <reason>`.
   *
   * @param file The file that failed.
   * @param reason Why, in a few words.
   * @param options The underlying error, if any.
   */
  constructor(file: string, reason: string, options?: ErrorOptions) {
    super(`Cannot read image ${file}: ${reason}`, options);
    this.name = "ImageDecodeError";
    this.file = file;
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_SIGNATURE_BYTES = new Uint8Array(PNG_SIGNATURE);
const PNG_IEND = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

/**
 * How many bytes at the end of a file {@linkcode checkImageHeader} looks at.
 *
 * @example
 * ```ts
 * import { checkImageHeader, encodePng, IMAGE_TAIL_BYTES } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const png = encodePng({ width: 1, height: 1, data: new Float32Array([10, 20, 30]) });
 * assert.equal(checkImageHeader(png.subarray(0, 64), png.subarray(-IMAGE_TAIL_BYTES)), null);
 * const cut = png.subarray(0, png.length - 1);
 * assert.equal(typeof checkImageHeader(cut.subarray(0, 64), cut.subarray(-IMAGE_TAIL_BYTES)), "string");
 * ```
 *
 * @category Data
 */
export const IMAGE_TAIL_BYTES = 1024;

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  return prefix.every((b, i) => bytes[at + i] === b);
}

/**
 * Detects the format of image bytes by their magic number.
 *
 * @param bytes The first bytes of a file (8 are enough).
 * @returns `"jpeg"`, `"png"`, or null for anything else.
 * @example
 * ```ts
 * import { detectImageFormat } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(detectImageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])), "jpeg");
 * assert.equal(detectImageFormat(new TextEncoder().encode("hello")), null);
 * ```
 *
 * @category Data
 */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (startsWith(bytes, PNG_SIGNATURE)) return "png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpeg";
  return null;
}

function describeOtherFormat(head: Uint8Array): string {
  const ascii = (from: number, to: number) =>
    String.fromCharCode(...head.subarray(from, Math.min(to, head.length)));
  if (head.length === 0) return "the file is empty";
  if (head.length < PNG_SIGNATURE.length && startsWith(PNG_SIGNATURE_BYTES, [...head])) {
    return "truncated PNG (incomplete signature)";
  }
  if (head.length < 3 && startsWith(new Uint8Array([0xff, 0xd8, 0xff]), [...head])) {
    return "truncated JPEG (incomplete signature)";
  }
  if (ascii(0, 4) === "GIF8") return "a GIF file; only JPEG and PNG are supported";
  if (ascii(0, 2) === "BM") return "a BMP file; only JPEG and PNG are supported";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") {
    return "a WebP file; only JPEG and PNG are supported";
  }
  if (ascii(0, 4) === "II*\0" || ascii(0, 4) === "MM\0*") {
    return "a TIFF file; only JPEG and PNG are supported";
  }
  return "not a JPEG or PNG file (unknown signature)";
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>>
    0;
}

/**
 * Checks the header and the end of an image file without decoding it: a PNG
 * needs its signature, a well-formed IHDR chunk and the IEND chunk at the end;
 * a JPEG needs its SOI marker and an EOI marker (`FF D9`) among its last
 * {@linkcode IMAGE_TAIL_BYTES} bytes (entropy-coded data never contains `FF D9`,
 * so a cut-off JPEG has none there unless an embedded thumbnail ends in that window). This catches non-image files and nearly every truncated file; a file
 * corrupted in the middle is only caught by decoding.
 *
 * @param head The first bytes of the file (at least 33 for a PNG).
 * @param tail The last bytes of the file ({@linkcode IMAGE_TAIL_BYTES} of them, or the whole file).
 * @returns Null when the file looks like a complete JPEG or PNG, else the reason it does not.
 * @example
 * ```ts
 * import { checkImageHeader } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const fake = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0]);
 * assert.match(checkImageHeader(fake, fake) ?? "", /truncated/);
 * ```
 *
 * @category Data
 */
export function checkImageHeader(head: Uint8Array, tail: Uint8Array): string | null {
  const format = detectImageFormat(head);
  if (format === null) return describeOtherFormat(head);
  if (format === "png") {
    if (head.length < 33) return "truncated PNG (no complete IHDR chunk)";
    const ihdr = String.fromCharCode(...head.subarray(12, 16));
    if (readU32(head, 8) !== 13 || ihdr !== "IHDR") return "malformed PNG (no IHDR chunk first)";
    if (readU32(head, 16) === 0 || readU32(head, 20) === 0) return "malformed PNG (zero size)";
    if (!startsWith(tail, PNG_IEND, tail.length - PNG_IEND.length)) {
      return "truncated PNG (no IEND chunk at the end)";
    }
    return null;
  }
  const from = Math.max(0, tail.length - IMAGE_TAIL_BYTES);
  for (let i = tail.length - 2; i >= from; i--) {
    if (tail[i] === 0xff && tail[i + 1] === 0xd9) return null;
  }
  return "truncated JPEG (no end-of-image marker)";
}

/**
 * A declared image size (from a PNG IHDR chunk or a JPEG frame header).
 *
 * @category Data
 */
export interface DeclaredSize {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
}

const JPEG_SOF = new Set([
  0xc0,
  0xc1,
  0xc2,
  0xc3,
  0xc5,
  0xc6,
  0xc7,
  0xc9,
  0xca,
  0xcb,
  0xcd,
  0xce,
  0xcf,
]);

/**
 * The reads needed to find an image's declared size: yields `[offset, length]`,
 * receives those bytes (fewer at the end of the file), returns the size, or
 * null when the format is not JPEG/PNG or the size cannot be found (the
 * decoder then reports what is wrong).
 */
function* declaredSizeReads(): Generator<
  readonly [number, number],
  DeclaredSize | null,
  Uint8Array
> {
  const head = yield [0, 24];
  const format = detectImageFormat(head);
  if (format === "png") {
    if (head.length < 24) return null;
    return { width: readU32(head, 16), height: readU32(head, 20) };
  }
  if (format !== "jpeg") return null;
  let at = 2;
  for (let segments = 0; segments < 100_000; segments++) {
    const marker = yield [at, 4];
    if (marker.length < 2 || marker[0] !== 0xff) return null;
    const code = marker[1]!;
    if (code === 0xff) { // fill byte
      at += 1;
      continue;
    }
    if (code === 0x01 || (code >= 0xd0 && code <= 0xd8)) { // no length field
      at += 2;
      continue;
    }
    if (code === 0xd9 || code === 0xda || marker.length < 4) return null;
    if (JPEG_SOF.has(code)) {
      const frame = yield [at + 4, 5];
      if (frame.length < 5) return null;
      return { height: (frame[1]! << 8) | frame[2]!, width: (frame[3]! << 8) | frame[4]! };
    }
    at += 2 + ((marker[2]! << 8) | marker[3]!);
  }
  return null;
}

/**
 * The size a JPEG or PNG declares in its header, read without decoding (a
 * PNG's IHDR chunk, a JPEG's frame header after any EXIF or ICC segments).
 *
 * @param bytes The file's content (or at least the part up to the frame header).
 * @returns The declared size, or null when it cannot be found.
 * @example
 * ```ts
 * import { declaredImageSize, encodePng } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const png = encodePng({ width: 3, height: 2, data: new Float32Array(18) });
 * assert.deepEqual(declaredImageSize(png), { width: 3, height: 2 });
 * assert.equal(declaredImageSize(new Uint8Array([1, 2, 3])), null);
 * ```
 *
 * @category Data
 */
export function declaredImageSize(bytes: Uint8Array): DeclaredSize | null {
  const reads = declaredSizeReads();
  let step = reads.next(new Uint8Array(0));
  while (!step.done) {
    const [offset, length] = step.value;
    step = reads.next(bytes.subarray(offset, offset + length));
  }
  return step.value;
}

async function declaredFileSize(
  readAt: (offset: number, length: number) => Promise<Uint8Array>,
): Promise<DeclaredSize | null> {
  const reads = declaredSizeReads();
  let step = reads.next(new Uint8Array(0));
  while (!step.done) step = reads.next(await readAt(step.value[0], step.value[1]));
  return step.value;
}

function tooLarge(size: DeclaredSize, maxPixels: number): string | null {
  const pixels = size.width * size.height;
  if (pixels <= maxPixels) return null;
  const mp = (n: number) => (n / 1e6).toFixed(1);
  return `image too large: ${size.width}x${size.height} is ${mp(pixels)} megapixels, ` +
    `over the limit of ${mp(maxPixels)} megapixels (downscale it first)`;
}

function checkLimits(limits: ImageLimits): { maxPixels: number; maxFileBytes: number } {
  const maxPixels = limits.maxPixels ?? MAX_IMAGE_PIXELS;
  const maxFileBytes = limits.maxFileBytes ?? MAX_IMAGE_FILE_BYTES;
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) {
    throw new RangeError(`The pixel limit must be a positive integer, got ${maxPixels}`);
  }
  if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes < 1) {
    throw new RangeError(`The file size limit must be a positive integer, got ${maxFileBytes}`);
  }
  return { maxPixels, maxFileBytes };
}

function decodeJpeg(bytes: Uint8Array, maxPixels: number): RgbImage {
  // jpeg-js keeps about 4 bytes per pixel and component of coefficients, plus
  // its output: allow what an image within the pixel limit needs.
  const decoded = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: maxPixels / 1e6,
    maxMemoryUsageInMB: Math.ceil((maxPixels * 24) / 2 ** 20) + 64,
  });
  const { width, height } = decoded;
  const rgba = decoded.data;
  if (!(width > 0 && height > 0) || rgba.length < width * height * 4) {
    throw new Error(`the decoder returned ${rgba.length} bytes for ${width}x${height}`);
  }
  const out = new Float32Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    out[p * 3] = rgba[p * 4]!;
    out[p * 3 + 1] = rgba[p * 4 + 1]!;
    out[p * 3 + 2] = rgba[p * 4 + 2]!;
  }
  return { width, height, data: out };
}

function decodePng(bytes: Uint8Array): RgbImage {
  const png = decodePngBytes(bytes, { checkCrc: true });
  const { width, height, channels, depth, data } = png;
  const n = width * height;
  const out = new Float32Array(n * 3);
  if (depth < 8) {
    // One channel, packed rows: grayscale or palette indices.
    if (channels !== 1) throw new Error(`unsupported ${channels}-channel ${depth}-bit PNG`);
    const rowBytes = Math.ceil((width * depth) / 8);
    if (data.length < rowBytes * height) throw new Error("PNG pixel data is too short");
    const mask = (1 << depth) - 1;
    const palette = png.palette;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * depth;
        const byte = data[y * rowBytes + (bit >> 3)]!;
        const v = (byte >> (8 - depth - (bit & 7))) & mask;
        const o = (y * width + x) * 3;
        if (palette !== undefined) {
          const color = palette[v];
          if (color === undefined) throw new Error(`palette index ${v} out of range`);
          out[o] = color[0]!;
          out[o + 1] = color[1]!;
          out[o + 2] = color[2]!;
        } else {
          out.fill((v * 255) / mask, o, o + 3);
        }
      }
    }
    return { width, height, data: out };
  }
  if (data.length < n * channels) throw new Error("PNG pixel data is too short");
  const scale = depth === 16 ? 1 / 257 : 1;
  if (png.palette !== undefined && channels === 1) {
    for (let p = 0; p < n; p++) {
      const color = png.palette[data[p]!];
      if (color === undefined) throw new Error(`palette index ${data[p]} out of range`);
      out[p * 3] = color[0]!;
      out[p * 3 + 1] = color[1]!;
      out[p * 3 + 2] = color[2]!;
    }
    return { width, height, data: out };
  }
  for (let p = 0; p < n; p++) {
    const s = p * channels;
    if (channels < 3) {
      out.fill(data[s]! * scale, p * 3, p * 3 + 3);
    } else {
      out[p * 3] = data[s]! * scale;
      out[p * 3 + 1] = data[s + 1]! * scale;
      out[p * 3 + 2] = data[s + 2]! * scale;
    }
  }
  return { width, height, data: out };
}

/**
 * Decodes JPEG or PNG bytes (detected by magic bytes) to an RGB image, HWC,
 * float32 in 0..255 (see the module notes for grayscale, alpha, 16-bit and
 * palette images).
 *
 * @param bytes The file's content.
 * @param name The file name to use in error messages (default `"<bytes>"`).
 * @param options The largest accepted image (default {@linkcode MAX_IMAGE_PIXELS}) and whether
 *   to apply a JPEG's EXIF orientation (default: ignore it).
 * @returns The decoded image.
 * @throws {ImageDecodeError} When the bytes are not a JPEG or PNG, are
 *   truncated or corrupt, or declare more pixels than the limit (checked
 *   before decoding); the message names the file.
 * @throws {RangeError} When a limit is not a positive integer.
 * @example
 * ```ts
 * import { decodeImage, encodePng } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const png = encodePng({ width: 1, height: 1, data: new Float32Array([10, 20, 30]) });
 * assert.deepEqual([...decodeImage(png).data], [10, 20, 30]);
 * assert.throws(() => decodeImage(new Uint8Array([1, 2, 3]), "x.jpg"), /Cannot read image x\.jpg/);
 * ```
 *
 * @category Data
 */
export function decodeImage(
  bytes: Uint8Array,
  name = "<bytes>",
  options: DecodeOptions = {},
): RgbImage {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`Image bytes must be a Uint8Array, got ${typeof bytes}`);
  }
  const { maxPixels } = checkLimits(options);
  const format = detectImageFormat(bytes);
  if (format === null) throw new ImageDecodeError(name, describeOtherFormat(bytes.subarray(0, 16)));
  const size = declaredImageSize(bytes);
  const over = size === null ? null : tooLarge(size, maxPixels);
  if (over !== null) throw new ImageDecodeError(name, over);
  const tailCheck = checkImageHeader(bytes.subarray(0, 64), bytes.subarray(-IMAGE_TAIL_BYTES));
  // A PNG must end with IEND (fast-png accepts a few missing bytes there); a
  // JPEG is left to its decoder, which tolerates trailing bytes after EOI.
  if (format === "png" && tailCheck !== null) throw new ImageDecodeError(name, tailCheck);
  let image: RgbImage;
  try {
    image = format === "png" ? decodePng(bytes) : decodeJpeg(bytes, maxPixels);
  } catch (error) {
    if (/maxResolutionInMP|maxMemoryUsageInMB/.test(String((error as Error)?.message))) {
      throw new ImageDecodeError(
        name,
        `image too large for the limit of ${(maxPixels / 1e6).toFixed(1)} megapixels`,
        { cause: error },
      );
    }
    const why = tailCheck ?? `corrupt ${format === "png" ? "PNG" : "JPEG"}`;
    throw new ImageDecodeError(name, `${why}: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    });
  }
  if (options.orientation === "exif" && format === "jpeg") {
    image = applyOrientation(image, jpegOrientation(bytes));
  }
  return image;
}

/**
 * Reads and decodes a JPEG or PNG file.
 *
 * @param path The file.
 * @param options The largest accepted file and image (see {@linkcode ImageLimits}) and whether
 *   to apply a JPEG's EXIF orientation (default: ignore it).
 * @returns The decoded image (see {@linkcode decodeImage}).
 * @throws {ImageDecodeError} When the file cannot be read, is not a regular
 *   file, is over the size limit, or is not a complete JPEG or PNG within the
 *   pixel limit; the message names the file.
 * @example
 * ```ts
 * import { encodePng, readImage } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await Deno.writeFile(path, encodePng({ width: 2, height: 1, data: new Float32Array(6).fill(255) }));
 * const image = await readImage(path);
 * assert.equal(image.width, 2);
 * await Deno.remove(path);
 * await assert.rejects(readImage(path), /Cannot read image .*: not found/);
 * ```
 *
 * @category Data
 */
export async function readImage(path: string, options: DecodeOptions = {}): Promise<RgbImage> {
  const { maxFileBytes } = checkLimits(options);
  let bytes: Uint8Array;
  try {
    bytes = await readFileBounded(path, maxFileBytes);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "not found"
      : error instanceof Deno.errors.IsADirectory
      ? "it is a directory"
      : error instanceof RangeError
      ? `the file is over the limit of ${maxFileBytes} bytes`
      : /not a regular file/.test((error as Error)?.message)
      ? "not a regular file"
      : (error as Error)?.message ?? String(error);
    throw new ImageDecodeError(path, why, { cause: error });
  }
  return decodeImage(bytes, path, options);
}

/**
 * Checks a file cheaply (its first 64 and last {@linkcode IMAGE_TAIL_BYTES} bytes, see
 * {@linkcode checkImageHeader}, and its declared size) without decoding it.
 * Only regular files are opened (a FIFO would block), and their size is
 * checked first.
 *
 * @param path The file.
 * @param limits The largest accepted file and image (see {@linkcode ImageLimits}).
 * @returns Null when it looks like a complete JPEG or PNG within the limits, else the reason it does not.
 * @example
 * ```ts
 * import { probeImageFile } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "not an image");
 * assert.match((await probeImageFile(path)) ?? "", /not a JPEG or PNG/);
 * await Deno.remove(path);
 * ```
 *
 * @category Data
 */
export async function probeImageFile(
  path: string,
  limits: ImageLimits = {},
): Promise<string | null> {
  const { maxPixels, maxFileBytes } = checkLimits(limits);
  let file: Deno.FsFile;
  try {
    // Stat before opening: opening a FIFO for reading blocks until a writer comes.
    const info = await Deno.stat(path);
    if (!info.isFile) return "not a regular file";
    if (info.size > maxFileBytes) return `the file is over the limit of ${maxFileBytes} bytes`;
    file = await Deno.open(path, { read: true });
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? "not found"
      : (error as Error)?.message ?? String(error);
  }
  try {
    const { size, isFile } = await file.stat();
    if (!isFile) return "not a regular file";
    if (size > maxFileBytes) return `the file is over the limit of ${maxFileBytes} bytes`;
    const readAt = async (offset: number, length: number): Promise<Uint8Array> => {
      const buffer = new Uint8Array(length);
      await file.seek(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < length) {
        const n = await file.read(buffer.subarray(got));
        if (n === null) break;
        got += n;
      }
      return buffer.subarray(0, got);
    };
    const head = await readAt(0, Math.min(size, 64));
    const tail = size <= 64
      ? head
      : await readAt(Math.max(0, size - IMAGE_TAIL_BYTES), Math.min(size, IMAGE_TAIL_BYTES));
    const problem = checkImageHeader(head, tail);
    if (problem !== null) return problem;
    const declared = await declaredFileSize((offset, length) =>
      readAt(offset, Math.max(0, Math.min(length, size - offset)))
    );
    return declared === null ? null : tooLarge(declared, maxPixels);
  } catch (error) {
    return (error as Error)?.message ?? String(error);
  } finally {
    file.close();
  }
}

/**
 * Encodes an RGB image as an 8-bit RGB PNG; values are rounded and clamped to 0..255.
 *
 * @param image The image (HWC RGB float32).
 * @returns The PNG file's bytes.
 * @throws {RangeError} When the image's size and data do not match.
 * @example
 * ```ts
 * import { decodeImage, encodePng } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const png = encodePng({ width: 1, height: 1, data: new Float32Array([-5, 127.6, 300]) });
 * assert.deepEqual([...decodeImage(png).data], [0, 128, 255]);
 * ```
 *
 * @category Data
 */
export function encodePng(image: RgbImage): Uint8Array {
  const { width, height, data } = image;
  if (!Number.isSafeInteger(width) || width < 1 || !Number.isSafeInteger(height) || height < 1) {
    throw new RangeError(`Image size must be positive integers, got ${width}x${height}`);
  }
  if (!(data instanceof Float32Array) || data.length !== width * height * 3) {
    throw new RangeError(
      `Image data length ${data?.length} does not match ${height}x${width}x3`,
    );
  }
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.round(data[i]!)));
  return encodePngBytes({ width, height, data: bytes, channels: 3, depth: 8 });
}
