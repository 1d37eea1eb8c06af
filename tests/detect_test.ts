import assert from "node:assert/strict";
import { type DetectedFace, detectFaces, nms, pyramidScales } from "../core/detect/mtcnn.ts";
import { resizeArea } from "../core/detect/resample.ts";
import { readImage } from "../io/images.ts";
import { demoPhoto, interpreterNets, wasmNets } from "./_mtcnn_fixtures.ts";

// The faces of the six demo photos at full size (1920 px), as `detect --draw` found them and
// as checked by eye on the drawn photos: every box lies on a face, except the last one of
// sample 4, a false positive of these networks on a dress pattern (score 0.962). Boxes
// rounded to pixels.
const EYE_CHECKED: Record<number, [number, number, number, number][]> = {
  1: [[405, 354, 597, 598], [830, 423, 1036, 660], [1476, 213, 1681, 443]],
  2: [[1441, 169, 1634, 394], [297, 132, 531, 447]],
  3: [[584, 325, 795, 598], [1495, 292, 1690, 571], [1057, 198, 1286, 504]],
  4: [[980, 190, 1157, 413], [247, 209, 440, 449], [650, 68, 829, 286], [1268, 167, 1426, 379], [
    1000,
    902,
    1070,
    983,
  ]],
  5: [[1405, 388, 1604, 665], [595, 421, 769, 662], [1118, 207, 1290, 425], [785, 108, 954, 332], [
    358,
    869,
    571,
    1165,
  ]],
  6: [[254, 482, 473, 769], [664, 328, 863, 628], [1485, 256, 1694, 554], [1172, 314, 1364, 583]],
};

// The same photos resampled to 1/8 (240 px wide, INTER_AREA), where the smallest faces are lost.
const EIGHTH: Record<number, [number, number, number, number][]> = {
  2: [[180.9, 22, 205.7, 49.9]],
  3: [[132.9, 27, 160.1, 63.5], [74.1, 41, 98.2, 74.5], [187.4, 35.6, 212.7, 72.4]],
  4: [[123.3, 23.8, 144.4, 51.6], [33.8, 27.7, 54.4, 54.9], [81.6, 9.8, 103, 35.9], [
    159.1,
    19.6,
    177.6,
    47.2,
  ]],
  5: [[74.6, 52.6, 95.2, 82], [45.7, 110.3, 70.9, 146.3], [98, 14.6, 118.2, 41.1], [
    139,
    27.1,
    159.2,
    53.1,
  ], [175.9, 49.7, 200.3, 83.6]],
  6: [[32.9, 63.3, 58.4, 96.4], [185.6, 32.7, 210.9, 69.9], [146.3, 39.5, 171.1, 73.1], [
    83.8,
    42,
    108.1,
    78.2,
  ]],
};

function iou(a: readonly number[], b: readonly number[]): number {
  const w = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const h = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const area = (r: readonly number[]) => (r[2]! - r[0]!) * (r[3]! - r[1]!);
  return (w * h) / (area(a) + area(b) - w * h);
}

function assertFaces(got: DetectedFace[], want: number[][], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: ${JSON.stringify(got.map((f) => f.box))}`);
  got.forEach((f, i) => {
    f.box.forEach((v, k) =>
      assert.ok(Math.abs(v - want[i]![k]!) <= tol, `${what} face ${i}: ${f.box} vs ${want[i]}`)
    );
    assert.ok(f.score > 0.7 && f.score <= 1);
    const [x1, y1, x2, y2] = f.box;
    for (const [x, y] of f.landmarks) {
      assert.ok(
        x >= x1 - 2 && x <= x2 + 2 && y >= y1 - 2 && y <= y2 + 2,
        `${what} landmark outside`,
      );
    }
    // Eyes above the mouth corners.
    assert.ok(
      Math.max(f.landmarks[0]![1], f.landmarks[1]![1]) <
        Math.min(f.landmarks[3]![1], f.landmarks[4]![1]),
    );
  });
}

Deno.test("detectFaces() finds the eye-checked faces of a 1920-px demo photo (wasm-simd nets)", async () => {
  const nets = await wasmNets();
  try {
    const image = await readImage(await demoPhoto(1));
    assertFaces(await detectFaces(image, nets), EYE_CHECKED[1]!, 1, "sample1");
  } finally {
    nets.dispose();
  }
});

Deno.test("detectFaces() on the other demo photos at 1/8 size: pinned boxes, each on an eye-checked face", async () => {
  const nets = await wasmNets();
  try {
    for (const [n, want] of Object.entries(EIGHTH)) {
      const image = await readImage(await demoPhoto(Number(n)));
      const small = resizeArea(image, {
        height: Math.round(image.height / 8),
        width: Math.round(image.width / 8),
      });
      const faces = await detectFaces(small, nets);
      assertFaces(faces, want, 0.1, `sample${n}`);
      for (const f of faces) {
        const full = f.box.map((v) => v * image.width / small.width);
        const best = Math.max(...EYE_CHECKED[Number(n)]!.map((b) => iou(full, b)));
        assert.ok(best > 0.5, `sample${n}: ${full} lies on no eye-checked face (IoU ${best})`);
      }
    }
  } finally {
    nets.dispose();
  }
});

Deno.test("detectFaces() gives the same faces whichever implementation runs the nets (the files' own graphs)", async () => {
  const image = await readImage(await demoPhoto(1));
  const small = resizeArea(image, { height: 160, width: 240 });
  const nets = await wasmNets();
  try {
    const a = await detectFaces(small, nets);
    const b = await detectFaces(small, await interpreterNets());
    assert.equal(a.length, 3);
    assert.equal(b.length, a.length);
    a.forEach((f, i) => {
      f.box.forEach((v, k) => assert.ok(Math.abs(v - b[i]!.box[k]!) < 1e-3));
      assert.ok(Math.abs(f.score - b[i]!.score) < 1e-5);
    });
  } finally {
    nets.dispose();
  }
});

Deno.test("detectFaces() returns no face for a 1x1 image, a flat image and a smooth gradient", async () => {
  const nets = await wasmNets();
  try {
    assert.deepEqual(
      await detectFaces({ width: 1, height: 1, data: new Float32Array(3) }, nets),
      [],
    );
    const flat = { width: 200, height: 150, data: new Float32Array(200 * 150 * 3).fill(128) };
    assert.deepEqual(await detectFaces(flat, nets), []);
    const gradient = {
      width: 160,
      height: 120,
      data: Float32Array.from({ length: 160 * 120 * 3 }, (_, i) => Math.floor(i / 3) % 160),
    };
    assert.deepEqual(await detectFaces(gradient, nets), []);
  } finally {
    nets.dispose();
  }
});

Deno.test("pyramidScales() follows the reference: 12 / minsize * factor^k while the short side stays >= 12", () => {
  const scales = pyramidScales(100, 300, {});
  // min side 100 * 0.6 = 60; 60 * 0.709^k >= 12 for k <= 4.
  assert.equal(scales.length, 5);
  scales.forEach((s, k) => assert.ok(Math.abs(s - 0.6 * 0.709 ** k) < 1e-12));
  assert.equal(pyramidScales(19, 1000, {}).length, 0);
  assert.equal(pyramidScales(20, 20, {}).length, 1);
  assert.throws(
    () => pyramidScales(10, 10, { factor: 1 }),
    /Pyramid factor must lie in \(0, 1\), got 1/,
  );
  assert.throws(() => pyramidScales(10, 10, { minSize: 0 }), /Minimum face size must be positive/);
});

Deno.test("nms() keeps overlaps <= t, counts areas with +1, and 'Min' divides by the smaller box", () => {
  // Two 10x10 boxes (inclusive pixels) sharing 5 columns: inter 50, union 150 -> 1/3.
  const a = [0, 0, 9, 9, 0.9], b = [5, 0, 14, 9, 0.8];
  assert.deepEqual(nms([a, b], 0.34, "Union"), [0, 1]);
  assert.deepEqual(nms([a, b], 0.33, "Union"), [0]);
  // A box inside a larger one: Min overlap 1 removes it, Union 25/100 keeps it.
  const big = [0, 0, 9, 9, 0.5], small = [2, 2, 6, 6, 0.9];
  assert.deepEqual(nms([big, small], 0.7, "Min"), [1]);
  assert.deepEqual(nms([big, small], 0.7, "Union"), [1, 0]);
  // Highest score first; exactly t is kept (o <= t).
  assert.deepEqual(nms([[0, 0, 9, 9, 0.1], [0, 0, 9, 9, 0.2]], 1, "Union"), [1, 0]);
  assert.deepEqual(nms([], 0.5, "Union"), []);
});

/** Nets with chosen P-Net maps (in the transposed layout the nets see) that pass everything later. */
function fakeNets(cells: { x: number; y: number }[], regAt: (x: number, y: number) => number[]) {
  return {
    pnet(input: { shape: readonly number[] }) {
      const [, w, h] = input.shape as [number, number, number];
      // 12x12 windows, stride 2 after the 2x2 pool: out = ceil((side - 2) / 2) - 4.
      const ow = Math.ceil((w - 2) / 2) - 4, oh = Math.ceil((h - 2) / 2) - 4;
      const prob = new Float32Array(ow * oh * 2), reg = new Float32Array(ow * oh * 4);
      for (let x = 0; x < ow; x++) {
        for (let y = 0; y < oh; y++) {
          const on = cells.some((c) => c.x === x && c.y === y);
          prob.set([on ? 0.1 : 0.9, on ? 0.9 : 0.1], (x * oh + y) * 2);
          reg.set(regAt(x, y), (x * oh + y) * 4);
        }
      }
      return Promise.resolve({
        prob: { shape: [1, ow, oh, 2], data: prob },
        reg: { shape: [1, ow, oh, 4], data: reg },
      });
    },
    rnet(input: { shape: readonly number[] }) {
      const n = input.shape[0]!;
      return Promise.resolve({
        prob: { shape: [n, 2], data: new Float32Array(n * 2).fill(0).map((_, i) => i % 2) },
        reg: { shape: [n, 4], data: new Float32Array(n * 4) },
      });
    },
    onet(input: { shape: readonly number[] }) {
      const n = input.shape[0]!;
      return Promise.resolve({
        prob: { shape: [n, 2], data: new Float32Array(n * 2).fill(0).map((_, i) => i % 2) },
        reg: { shape: [n, 4], data: new Float32Array(n * 4) },
        landmarks: { shape: [n, 10], data: new Float32Array(n * 10).fill(0.5) },
      });
    },
  };
}

Deno.test("detectFaces() keeps the reference's stage-1 geometry, including its upside-down read of a single hit", async () => {
  // 24x24 photo, minsize 20: one level at scale 0.6 (15x15), a 3x3 map.
  const image = { width: 24, height: 24, data: new Float32Array(24 * 24 * 3) };
  // Offset dx1 = 0.1 only in map column x = 0.
  const regAt = (x: number) => [x === 0 ? 0.1 : 0, 0, 0, 0];
  // One hit at column 2: the reference reads the regression of column 3 - 1 - 2 = 0.
  // Box fix((2*2+1)/0.6) = 8 .. fix((2*2+12)/0.6) = 26, y 1 .. 20; x1 += 0.1 * (26 - 8) = 9.8;
  // squared to side 19 around the centre: [8.4, 1, 27.4, 20] -> fix -> [8, 1, 27, 20].
  const one = await detectFaces(image, fakeNets([{ x: 2, y: 0 }], regAt));
  assert.deepEqual(one.map((f) => f.box), [[8, 1, 27, 20]]);
  // Landmarks at the middle of the box before O-Net's regression: w = h = 20, x = 20 * 0.5 + 8 - 1,
  // y = 20 * 0.5 + 1 - 1.
  assert.deepEqual(one[0]!.landmarks[0], [17, 10]);
  // Two hits (far apart): each reads its own column, so column 2 gets no offset:
  // [8, 1, 26, 20] squared -> [7.5, 1, 26.5, 20] -> [7, 1, 26, 20].
  const two = await detectFaces(image, fakeNets([{ x: 2, y: 0 }, { x: 0, y: 2 }], regAt));
  assert.ok(two.some((f) => f.box.join() === "7,1,26,20"), JSON.stringify(two.map((f) => f.box)));
});
