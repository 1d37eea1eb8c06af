import assert from "node:assert/strict";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { encode as encodePngRaw, type ImageData as PngImageData } from "fast-png";
import {
  checkImageHeader,
  decodeImage,
  detectImageFormat,
  encodePng,
  ImageDecodeError,
  probeImageFile,
  readImage,
} from "../io/images.ts";

function gradientRgba(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      rgba[i] = Math.round((x * 255) / (width - 1));
      rgba[i + 1] = Math.round((y * 255) / (height - 1));
      rgba[i + 2] = 90;
      rgba[i + 3] = 255;
    }
  }
  return rgba;
}

function rgbaToRgb(rgba: Uint8Array): number[] {
  return [...rgba].filter((_, i) => i % 4 !== 3);
}

function png(data: PngImageData): Uint8Array {
  return encodePngRaw(data);
}

/**
 * A hand-assembled baseline grayscale JPEG (jpeg-js only writes colour): one
 * 8x8 block of constant value 192, quantization step 8, so the DC coefficient
 * 8 * (192 - 128) = 512 is stored as 64 (category 7, bits 1000000), with
 * one-code Huffman tables (DC symbol 7 and AC end-of-block, each coded "0").
 */
function grayJpeg192(): Uint8Array {
  const bytes = [0xff, 0xd8];
  bytes.push(0xff, 0xdb, 0, 67, 0x00, ...new Array(64).fill(8)); // DQT
  bytes.push(0xff, 0xc0, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0); // SOF0, one component
  bytes.push(0xff, 0xc4, 0, 20, 0x00, 1, ...new Array(15).fill(0), 7); // DHT DC
  bytes.push(0xff, 0xc4, 0, 20, 0x10, 1, ...new Array(15).fill(0), 0x00); // DHT AC
  bytes.push(0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 63, 0); // SOS
  bytes.push(0b01000000, 0b01111111); // "0" + "1000000" + "0", padded with ones
  bytes.push(0xff, 0xd9);
  return new Uint8Array(bytes);
}

Deno.test("decodeImage() decodes an RGB JPEG close to its source", () => {
  const rgba = gradientRgba(32, 24);
  const bytes = new Uint8Array(jpeg.encode({ width: 32, height: 24, data: rgba }, 95).data);
  assert.equal(detectImageFormat(bytes), "jpeg");
  const image = decodeImage(bytes, "g.jpg");
  assert.equal(image.width, 32);
  assert.equal(image.height, 24);
  const want = rgbaToRgb(rgba);
  const meanError = want.reduce((s, v, i) => s + Math.abs(v - image.data[i]!), 0) / want.length;
  assert.ok(meanError < 3, `mean error ${meanError}`);
});

Deno.test("decodeImage() replicates a grayscale JPEG to three channels", () => {
  const image = decodeImage(grayJpeg192(), "gray.jpg");
  assert.equal(image.width, 8);
  assert.equal(image.height, 8);
  for (const v of image.data) assert.ok(Math.abs(v - 192) <= 1, `got ${v}`);
});

Deno.test("decodeImage() reads 8-bit RGB, gray and gray+alpha PNGs exactly", () => {
  const rgb = [10, 20, 30, 40, 50, 60, 250, 0, 128];
  assert.deepEqual(
    [
      ...decodeImage(png({ width: 3, height: 1, data: new Uint8Array(rgb), channels: 3, depth: 8 }))
        .data,
    ],
    rgb,
  );
  assert.deepEqual(
    [
      ...decodeImage(
        png({ width: 1, height: 2, data: new Uint8Array([7, 200]), channels: 1, depth: 8 }),
      ).data,
    ],
    [7, 7, 7, 200, 200, 200],
  );
  const grayAlpha = png({
    width: 2,
    height: 1,
    data: new Uint8Array([9, 0, 99, 128]),
    channels: 2,
    depth: 8,
  });
  assert.deepEqual([...decodeImage(grayAlpha).data], [9, 9, 9, 99, 99, 99]);
});

Deno.test("decodeImage() drops the alpha channel of an RGBA PNG, keeping the stored colour", () => {
  const rgba = new Uint8Array([255, 0, 0, 0, 0, 255, 0, 128, 1, 2, 3, 255]);
  const image = decodeImage(png({ width: 3, height: 1, data: rgba, channels: 4, depth: 8 }));
  assert.deepEqual([...image.data], rgbaToRgb(rgba));
});

Deno.test("decodeImage() scales 16-bit PNG samples to 0..255", () => {
  const rgb16 = png({
    width: 2,
    height: 1,
    data: new Uint16Array([0, 257, 65535, 32896, 1285, 65535]),
    channels: 3,
    depth: 16,
  });
  assert.deepEqual([...decodeImage(rgb16).data], [0, 1, 255, 128, 5, 255]);
  const gray16 = png({
    width: 2,
    height: 1,
    data: new Uint16Array([65535, 514]),
    channels: 1,
    depth: 16,
  });
  assert.deepEqual([...decodeImage(gray16).data], [255, 255, 255, 2, 2, 2]);
  const rgba16 = png({
    width: 1,
    height: 1,
    data: new Uint16Array([771, 0, 65535, 0]),
    channels: 4,
    depth: 16,
  });
  assert.deepEqual([...decodeImage(rgba16).data], [3, 0, 255]);
});

Deno.test("decodeImage() expands palette PNGs, packed or not, with or without transparency", () => {
  const palette = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]];
  const eight = png({
    width: 4,
    height: 1,
    data: new Uint8Array([3, 2, 1, 0]),
    channels: 1,
    depth: 8,
    palette,
  });
  assert.deepEqual([...decodeImage(eight).data], [9, 9, 9, 0, 0, 255, 0, 255, 0, 255, 0, 0]);
  // 2 bits per index, width 5: each row takes 2 bytes.
  const packed = png({
    width: 5,
    height: 2,
    data: new Uint8Array([0b00011011, 0b00000000, 0b11100100, 0b01000000]),
    channels: 1,
    depth: 2,
    palette,
  });
  const expected = [0, 1, 2, 3, 0, 3, 2, 1, 0, 1].flatMap((k) => palette[k]!);
  assert.deepEqual([...decodeImage(packed).data], expected);
  const withAlpha = png({
    width: 2,
    height: 1,
    data: new Uint8Array([0, 1]),
    channels: 1,
    depth: 8,
    palette: [[200, 100, 50, 0], [1, 2, 3, 255]],
  });
  assert.deepEqual([...decodeImage(withAlpha).data], [200, 100, 50, 1, 2, 3]);
});

Deno.test("decodeImage() scales 1-bit grayscale PNGs to 0 and 255", () => {
  const bits = png({
    width: 3,
    height: 1,
    data: new Uint8Array([0b10100000]),
    channels: 1,
    depth: 1,
  });
  assert.deepEqual([...decodeImage(bits).data], [255, 255, 255, 0, 0, 0, 255, 255, 255]);
});

Deno.test("decodeImage() reads an interlaced PNG like a plain one", () => {
  const rgba = gradientRgba(13, 11);
  const plain = decodeImage(png({ width: 13, height: 11, data: rgba, channels: 4, depth: 8 }));
  const interlaced = decodeImage(
    encodePngRaw({ width: 13, height: 11, data: rgba, channels: 4, depth: 8 }, {
      interlace: "Adam7",
    }),
  );
  assert.deepEqual(interlaced, plain);
});

Deno.test("encodePng() round-trips through decodeImage() after rounding and clamping", () => {
  const data = new Float32Array([0, 0.4, 0.6, 254.5, 255, 1000, -3, 17.2, 99.9]);
  const image = decodeImage(encodePng({ width: 3, height: 1, data }));
  assert.deepEqual([...image.data], [0, 0, 1, 255, 255, 255, 0, 17, 100]);
  assert.throws(() => encodePng({ width: 2, height: 1, data }), /does not match 1x2x3/);
});

Deno.test("decodeImage() rejects non-image, empty, and other-format bytes naming the file", () => {
  const cases: [Uint8Array, RegExp][] = [
    [new TextEncoder().encode("hello, world"), /not a JPEG or PNG file/],
    [new Uint8Array(0), /the file is empty/],
    [new TextEncoder().encode("GIF89a\x01\x00\x01\x00"), /a GIF file/],
    [new TextEncoder().encode("BM\x00\x00\x00\x00"), /a BMP file/],
    [new TextEncoder().encode("RIFF\x00\x00\x00\x00WEBPVP8 "), /a WebP file/],
  ];
  for (const [bytes, reason] of cases) {
    assert.throws(() => decodeImage(bytes, "dir/file.jpg"), (error: unknown) => {
      assert.ok(error instanceof ImageDecodeError);
      assert.equal(error.file, "dir/file.jpg");
      assert.match(error.message, /^Cannot read image dir\/file\.jpg: /);
      assert.match(error.message, reason);
      return true;
    });
  }
});

Deno.test("decodeImage() rejects truncated JPEGs and PNGs at any cut, naming the file", () => {
  const rgba = gradientRgba(16, 16);
  const files: [string, Uint8Array][] = [
    ["a.jpg", new Uint8Array(jpeg.encode({ width: 16, height: 16, data: rgba }, 90).data)],
    ["a.png", png({ width: 16, height: 16, data: rgba, channels: 4, depth: 8 })],
  ];
  for (const [name, bytes] of files) {
    for (const keep of [3, 10, 40, bytes.length >> 1, bytes.length - 13, bytes.length - 1]) {
      assert.throws(() => decodeImage(bytes.subarray(0, keep), name), (error: unknown) => {
        assert.ok(error instanceof ImageDecodeError, `${name} cut at ${keep}`);
        assert.match(error.message, new RegExp(`^Cannot read image ${name.replace(".", "\\.")}: `));
        return true;
      });
      const reason = checkImageHeader(bytes.subarray(0, 64), bytes.subarray(0, keep).subarray(-64));
      assert.ok(
        reason !== null && /truncated|malformed/.test(reason),
        `${name} cut at ${keep}: ${reason}`,
      );
    }
    assert.equal(checkImageHeader(bytes.subarray(0, 64), bytes.subarray(-64)), null);
  }
});

Deno.test("readImage() detects the format by content, and names missing or unreadable files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "io_images_test_" });
  try {
    const pngAsJpg = join(dir, "really_a_png.jpg");
    await Deno.writeFile(
      pngAsJpg,
      encodePng({ width: 1, height: 1, data: new Float32Array([1, 2, 3]) }),
    );
    assert.deepEqual([...(await readImage(pngAsJpg)).data], [1, 2, 3]);
    const text = join(dir, "notes.png");
    await Deno.writeTextFile(text, "just text");
    await assert.rejects(
      readImage(text),
      new RegExp(`Cannot read image ${text}: not a JPEG or PNG`),
    );
    await assert.rejects(readImage(join(dir, "nope.png")), /nope\.png: not found/);
    await assert.rejects(
      readImage(dir),
      (error: unknown) => error instanceof ImageDecodeError && error.file === dir,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probeImageFile() accepts complete images and explains everything else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "io_images_test_" });
  try {
    const jpg = new Uint8Array(
      jpeg.encode({ width: 40, height: 40, data: gradientRgba(40, 40) }, 80).data,
    );
    const pngBytes = png({
      width: 40,
      height: 40,
      data: gradientRgba(40, 40),
      channels: 4,
      depth: 8,
    });
    const files: [string, Uint8Array, RegExp | null][] = [
      ["ok.jpg", jpg, null],
      ["ok.png", pngBytes, null],
      ["tiny.jpg", grayJpeg192(), null],
      ["trailer.jpg", new Uint8Array([...jpg, ...new Uint8Array(300)]), null],
      ["cut.jpg", jpg.subarray(0, jpg.length - 100), /truncated JPEG/],
      ["cut.png", pngBytes.subarray(0, pngBytes.length - 20), /truncated PNG/],
      ["header_only.png", pngBytes.subarray(0, 20), /truncated PNG/],
      ["empty.jpg", new Uint8Array(0), /empty/],
      ["text.jpg", new TextEncoder().encode("<html></html>"), /not a JPEG or PNG/],
    ];
    assert.equal(decodeImage(files[3]![1], "trailer.jpg").width, 40);
    for (const [name, bytes, reason] of files) {
      await Deno.writeFile(join(dir, name), bytes);
      const got = await probeImageFile(join(dir, name));
      if (reason === null) assert.equal(got, null, name);
      else assert.match(got ?? "(null)", reason, name);
    }
    assert.equal(await probeImageFile(join(dir, "missing.png")), "not found");
    assert.equal(await probeImageFile(dir), "not a regular file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeImage() rejects a PNG whose pixel data was corrupted (chunk checksum)", () => {
  const bytes = png({ width: 8, height: 8, data: gradientRgba(8, 8), channels: 4, depth: 8 })
    .slice();
  bytes[60]! ^= 0x55;
  assert.throws(
    () => decodeImage(bytes, "flipped.png"),
    /Cannot read image flipped\.png: corrupt PNG: CRC mismatch/,
  );
});
