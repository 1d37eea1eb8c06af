/**
 * Per-image costs of the data path: decoding a 250x250 JPEG and PNG (LFW's
 * size), resizing, the reference implementation's augmentation, and encoding a PNG.
 *
 * @module
 */

import jpeg from "jpeg-js";
import { augmentImage, createRgbImage, resize, rotate } from "../core/pure/image_ops.ts";
import { createRng } from "../core/pure/rng.ts";
import { decodeImage, encodePng } from "../io/images.ts";

const rgba = new Uint8Array(250 * 250 * 4);
for (let p = 0; p < 250 * 250; p++) {
  const x = p % 250, y = Math.floor(p / 250);
  const v = 128 + 60 * Math.sin(x / 17) * Math.cos(y / 23) + ((x * 7 + y * 13) % 9);
  rgba.set([v, v * 0.8 + 20, v * 0.6 + 40, 255], p * 4);
}
const jpegBytes = new Uint8Array(jpeg.encode({ width: 250, height: 250, data: rgba }, 90).data);
const image = decodeImage(jpegBytes);
const pngBytes = encodePng(image);
const face182 = resize(image, 182);
const face160 = createRgbImage(160, 160, new Float32Array(160 * 160 * 3).fill(100));
const rng = createRng(666);

Deno.bench("decode JPEG 250x250", { group: "decode" }, () => {
  decodeImage(jpegBytes);
});
Deno.bench("decode PNG 250x250", { group: "decode" }, () => {
  decodeImage(pngBytes);
});
Deno.bench("encode PNG 250x250", () => {
  encodePng(image);
});
Deno.bench("resize 250 -> 160 (antialiased)", { group: "geometry" }, () => {
  resize(image, 160);
});
Deno.bench("rotate 160x160 by 7 degrees", { group: "geometry" }, () => {
  rotate(face160, 7);
});
Deno.bench("augment 182 -> 160 (rotate, random crop, flip)", { group: "geometry" }, () => {
  augmentImage(face182, { size: 160, randomCrop: true, randomFlip: true, randomRotate: 10 }, rng);
});
