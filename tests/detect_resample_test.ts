import assert from "node:assert/strict";
import { resizeArea } from "../core/detect/resample.ts";

/** The deterministic source image used for the pinned OpenCV outputs: `(i * 37 + 11) % 256`. */
function source(h: number, w: number) {
  const data = Float32Array.from({ length: h * w * 3 }, (_, i) => (i * 37 + 11) % 256);
  return { width: w, height: h, data };
}

// Outputs of cv2.resize(src, (ow, oh), interpolation=cv2.INTER_AREA) from Debian's
// python3-opencv 4.6.0 on the source above (uint8 or float64 arrays); float64
// values rounded to 6 decimals. Covers the generic area path (5x7 -> 3x4, 7x5 -> 3x2),
// the integer-ratio fast path (2x2 and 3x3 blocks), upscaling (3x2 -> 5x4) and a
// mixed case (up on y, down on x).
const OPENCV: [number, number, number, number, "uint8" | "float64", number[]][] = [
  [5, 7, 3, 4, "uint8", [
    62,
    99,
    136,
    179,
    70,
    107,
    150,
    187,
    78,
    121,
    158,
    195,
    77,
    114,
    151,
    164,
    84,
    121,
    165,
    172,
    92,
    135,
    172,
    92,
    91,
    128,
    165,
    62,
    99,
    136,
    179,
    70,
    107,
    150,
    187,
    78,
  ]],
  [4, 4, 2, 2, "uint8", [97, 134, 107, 127, 100, 137, 153, 126, 163, 119, 156, 129]],
  [6, 6, 2, 2, "uint8", [105, 114, 151, 154, 134, 114, 141, 121, 101, 104, 141, 121]],
  [3, 2, 5, 4, "float64", [
    11.0,
    48.0,
    85.0,
    11.0,
    48.0,
    85.0,
    122.0,
    159.0,
    196.0,
    122.0,
    159.0,
    196.0,
    85.000002,
    36.666665,
    73.666664,
    85.000002,
    36.666665,
    73.666664,
    110.666663,
    147.666662,
    184.66666,
    110.666663,
    147.666662,
    184.66666,
    233.0,
    14.0,
    51.0,
    233.0,
    14.0,
    51.0,
    88.0,
    125.0,
    162.0,
    88.0,
    125.0,
    162.0,
    210.333333,
    162.000004,
    28.333333,
    210.333333,
    162.000004,
    28.333333,
    65.333333,
    102.333333,
    139.333333,
    65.333333,
    102.333333,
    139.333333,
    199.0,
    236.0,
    17.0,
    199.0,
    236.0,
    17.0,
    54.0,
    91.0,
    128.0,
    54.0,
    91.0,
    128.0,
  ]],
  [7, 5, 3, 2, "float64", [
    101.257146,
    116.314289,
    138.685718,
    148.228576,
    119.400004,
    112.514289,
    148.342863,
    141.45715,
    119.942862,
    107.542862,
    144.542863,
    137.657149,
    129.600004,
    100.771432,
    101.200003,
    132.685718,
    147.742861,
    118.914289,
  ]],
  [3, 9, 5, 4, "float64", [
    72.66667,
    109.66667,
    146.66667,
    136.33333,
    88.000002,
    125.000002,
    86.22222,
    123.22222,
    103.333335,
    36.11111,
    73.11111,
    110.11111,
    102.259259,
    101.333333,
    138.333332,
    127.999993,
    108.11111,
    116.666665,
    77.888884,
    114.888883,
    113.962961,
    103.62963,
    64.777774,
    101.777773,
    161.444441,
    84.66667,
    121.66667,
    111.33333,
    148.33333,
    100.000002,
    61.22222,
    98.22222,
    135.22222,
    238.666667,
    48.11111,
    85.11111,
    144.777773,
    143.851852,
    105.000002,
    94.666663,
    131.666663,
    83.333335,
    44.555553,
    81.555553,
    118.555553,
    222.0,
    31.444443,
    68.444443,
    136.444441,
    173.444441,
    96.66667,
    86.33333,
    123.33333,
    75.000002,
    36.22222,
    73.22222,
    110.22222,
    213.666667,
    23.11111,
    60.11111,
  ]],
];

Deno.test("resizeArea() equals OpenCV's INTER_AREA on pinned cases (uint8 exactly, float64 within float32 rounding)", () => {
  for (const [h, w, oh, ow, depth, expected] of OPENCV) {
    const out = resizeArea(source(h, w), { height: oh, width: ow }, depth);
    assert.equal(out.data.length, expected.length);
    out.data.forEach((v, i) => {
      const tol = depth === "uint8" ? 0 : 1e-4;
      assert.ok(
        Math.abs(v - expected[i]!) <= tol,
        `${h}x${w} -> ${oh}x${ow} ${depth} at ${i}: ${v} vs ${expected[i]}`,
      );
    });
  }
});

Deno.test("resizeArea() averages the covered area, partial pixels by their covered fraction (hand-computed)", () => {
  // One row of 5 pixels to 2: each output covers 2.5 inputs.
  // out0 = (10 + 20 + 0.5 * 30) / 2.5 = 18, out1 = (0.5 * 30 + 40 + 50) / 2.5 = 42.
  const row = {
    width: 5,
    height: 1,
    data: new Float32Array([10, 20, 30, 40, 50].flatMap((v) => [v, v, v])),
  };
  assert.deepEqual([...resizeArea(row, { height: 1, width: 2 }).data], [18, 18, 18, 42, 42, 42]);
  // uint8 results are rounded half to even: (1 + 2) / 2 = 1.5 -> 2 and (3 + 4) / 2 = 3.5 -> 4
  // on the fast 2x1 path, and 0.5 -> 0 below.
  const pair = {
    width: 4,
    height: 1,
    data: new Float32Array([1, 2, 3, 4].flatMap((v) => [v, v, v])),
  };
  assert.deepEqual([...resizeArea(pair, { height: 1, width: 2 }).data], [2, 2, 2, 4, 4, 4]);
  const half = { width: 2, height: 1, data: new Float32Array([0, 0, 0, 1, 1, 1]) };
  assert.deepEqual([...resizeArea(half, { height: 1, width: 1 }).data], [0, 0, 0]);
  // Upscaling (area mode linear): fx = (dx + 1) - (sx + 1) * (out / in), 0 when <= 0, else mod 1.
  // 2 -> 3: fx = 0 (dx 0), 0.5 (dx 1), then the right edge; 2 -> 4 is nearest neighbour.
  const up = { width: 2, height: 1, data: new Float32Array([0, 0, 0, 100, 100, 100]) };
  const red = (size: number) =>
    [...resizeArea(up, { height: 1, width: size }, "float64").data].filter((_, i) => i % 3 === 0);
  assert.deepEqual(red(3), [0, 50, 100]);
  assert.deepEqual(red(4), [0, 0, 100, 100]);
});

Deno.test("resizeArea() keeps a constant image constant and rejects bad sizes", () => {
  const flat = { width: 9, height: 7, data: new Float32Array(9 * 7 * 3).fill(77) };
  for (
    const size of [{ height: 3, width: 4 }, { height: 20, width: 11 }, { height: 7, width: 9 }]
  ) {
    assert.ok(resizeArea(flat, size, "float64").data.every((v) => Math.abs(v - 77) < 1e-4));
  }
  assert.throws(
    () => resizeArea(flat, { height: 0, width: 3 }),
    /Height must be a positive integer, got 0/,
  );
  assert.throws(() => resizeArea(flat, { height: 14, width: 18 }, "uint8"), /not implemented/);
});
