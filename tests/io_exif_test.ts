import assert from "node:assert/strict";
import jpeg from "jpeg-js";
import { applyOrientation, decodeImage, jpegOrientation, readImage } from "../io/images.ts";

/** A JPEG of a 16x8 image (left half red, right half blue) with an EXIF orientation tag. */
function rotatedJpeg(orientation: number, littleEndian: boolean): Uint8Array {
  const width = 16, height = 8;
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      rgba.set(x < 8 ? [220, 20, 20, 255] : [20, 20, 220, 255], (y * width + x) * 4);
    }
  }
  const plain = new Uint8Array(jpeg.encode({ data: rgba, width, height }, 95).data);
  // APP1: "Exif\0\0", a TIFF header, IFD0 with one entry: 0x0112 SHORT 1 = orientation.
  const tiff = new DataView(new ArrayBuffer(8 + 2 + 12 + 4));
  tiff.setUint16(0, littleEndian ? 0x4949 : 0x4d4d);
  tiff.setUint16(2, 42, littleEndian);
  tiff.setUint32(4, 8, littleEndian);
  tiff.setUint16(8, 1, littleEndian);
  tiff.setUint16(10, 0x0112, littleEndian);
  tiff.setUint16(12, 3, littleEndian);
  tiff.setUint32(14, 1, littleEndian);
  tiff.setUint16(18, orientation, littleEndian);
  const body = new Uint8Array([
    ...new TextEncoder().encode("Exif\0\0"),
    ...new Uint8Array(tiff.buffer),
  ]);
  const app1 = new Uint8Array([
    0xff,
    0xe1,
    (body.length + 2) >> 8,
    (body.length + 2) & 0xff,
    ...body,
  ]);
  return new Uint8Array([...plain.subarray(0, 2), ...app1, ...plain.subarray(2)]);
}

const isRed = (p: ArrayLike<number>) => p[0]! > 150 && p[2]! < 100;
const isBlue = (p: ArrayLike<number>) => p[2]! > 150 && p[0]! < 100;
const pixel = (im: { width: number; data: Float32Array }, x: number, y: number) =>
  im.data.subarray((y * im.width + x) * 3, (y * im.width + x) * 3 + 3);

Deno.test("jpegOrientation() reads the tag in both byte orders; plain files are upright", () => {
  for (const o of [1, 3, 6, 8]) {
    assert.equal(jpegOrientation(rotatedJpeg(o, true)), o);
    assert.equal(jpegOrientation(rotatedJpeg(o, false)), o);
  }
  const rgba = new Uint8Array(4 * 4 * 4).fill(128);
  assert.equal(
    jpegOrientation(new Uint8Array(jpeg.encode({ data: rgba, width: 4, height: 4 }).data)),
    1,
  );
  assert.equal(jpegOrientation(new Uint8Array([1, 2, 3])), 1);
});

Deno.test("decodeImage() turns a rotated-tag JPEG upright with orientation 'exif', and ignores the tag by default (as the reference)", () => {
  const bytes = rotatedJpeg(6, true); // to be turned 90 degrees clockwise: the left (red) half goes on top
  const stored = decodeImage(bytes, "phone.jpg");
  assert.equal(stored.width, 16);
  assert.equal(stored.height, 8);
  const upright = decodeImage(bytes, "phone.jpg", { orientation: "exif" });
  assert.equal(upright.width, 8);
  assert.equal(upright.height, 16);
  assert.ok(isRed(pixel(upright, 4, 2)), `top: ${pixel(upright, 4, 2)}`);
  assert.ok(isBlue(pixel(upright, 4, 13)), `bottom: ${pixel(upright, 4, 13)}`);
  const ccw = decodeImage(rotatedJpeg(8, false), "phone.jpg", { orientation: "exif" });
  assert.ok(isBlue(pixel(ccw, 4, 2)) && isRed(pixel(ccw, 4, 13)));
  const flipped = decodeImage(rotatedJpeg(3, true), "phone.jpg", { orientation: "exif" });
  assert.equal(flipped.width, 16);
  assert.ok(isBlue(pixel(flipped, 2, 4)) && isRed(pixel(flipped, 13, 4)));
});

Deno.test("applyOrientation() maps each of the 8 orientations as EXIF defines them", () => {
  // 3x2 image with distinct values: stored pixel (x, y) holds 10 * y + x in every channel.
  const image = {
    width: 3,
    height: 2,
    data: Float32Array.from(
      { length: 18 },
      (_, i) => 10 * Math.floor(i / 9) + Math.floor((i % 9) / 3),
    ),
  };
  const rows = (o: number) => {
    const im = applyOrientation(image, o);
    return Array.from(
      { length: im.height },
      (_, y) => Array.from({ length: im.width }, (_, x) => im.data[(y * im.width + x) * 3]!),
    );
  };
  assert.deepEqual(rows(1), [[0, 1, 2], [10, 11, 12]]);
  assert.deepEqual(rows(2), [[2, 1, 0], [12, 11, 10]]);
  assert.deepEqual(rows(3), [[12, 11, 10], [2, 1, 0]]);
  assert.deepEqual(rows(4), [[10, 11, 12], [0, 1, 2]]);
  assert.deepEqual(rows(5), [[0, 10], [1, 11], [2, 12]]);
  assert.deepEqual(rows(6), [[10, 0], [11, 1], [12, 2]]);
  assert.deepEqual(rows(7), [[12, 2], [11, 1], [10, 0]]);
  assert.deepEqual(rows(8), [[2, 12], [1, 11], [0, 10]]);
  assert.throws(() => applyOrientation(image, 9), /EXIF orientation must be 1\.\.8, got 9/);
});

Deno.test("CMYK and grayscale JPEGs decode to RGB (fixtures written by Pillow)", async () => {
  const cmyk = await readImage(new URL("./fixtures/cmyk_16x12.jpg", import.meta.url).pathname);
  assert.equal(cmyk.width, 16);
  assert.ok(pixel(cmyk, 0, 0).every((v) => v > 240), "white corner");
  assert.ok(isRed(pixel(cmyk, 6, 8)) && isBlue(pixel(cmyk, 12, 8)));
  const gray = await readImage(new URL("./fixtures/gray_16x12.jpg", import.meta.url).pathname);
  const p = pixel(gray, 6, 8);
  assert.ok(p[0] === p[1] && p[1] === p[2] && p[0]! > 60 && p[0]! < 120, `gray ${p}`);
});
