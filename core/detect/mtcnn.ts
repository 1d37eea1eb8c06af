/**
 * MTCNN face detection exactly as FaceNet (TensorFlow) runs it
 * (`align/detect_face.py`, `detect_face`): an image pyramid scored by P-Net,
 * candidates refined by R-Net at 24 px and by O-Net at 48 px, which also
 * places five landmarks. The three networks are called through
 * {@link MtcnnNets}, so any backend (or a reference interpreter) runs them;
 * everything else here is pure.
 *
 * The reference implementation's conventions are kept, quirks included:
 * - the networks see the image **transposed** (x and y swapped) and
 *   normalised `(v - 127.5) * 0.0078125`;
 * - pyramid scales `12 / minsize * factor^k` while the short side stays
 *   `>= 12`, level size `ceil(h * s) x ceil(w * s)`, resampled with OpenCV's
 *   INTER_AREA from the 8-bit photo; crops for R/O-Net are zero-padded float
 *   boxes resized with INTER_AREA (up or down);
 * - candidates: stride 2, cell 12, `score >= t0`, boxes
 *   `fix((2 * idx + 1) / s)` .. `fix((2 * idx + 12) / s)` (1-based, inclusive);
 *   when exactly one cell passes, the regression maps are read upside down
 *   (the reference's `np.flipud` bug);
 * - NMS sorts by score ascending and keeps `overlap <= t`, areas with +1;
 *   0.5 "Union" per level, 0.7 "Union" over all levels and after R-Net, 0.7
 *   "Min" after O-Net's regression;
 * - stage-1 regression uses `w = x2 - x1`, later stages `x2 - x1 + 1`;
 *   boxes are squared (`rerec`) and truncated (`fix`) before cropping;
 *   R/O thresholds are strict (`> t`);
 * - landmarks `x = w * p + x1 - 1` with the box before O-Net's regression.
 *
 * Divergences: a box that lies wholly outside the image yields an all-zero
 * crop (numpy's slicing wraps around there), and a box of zero size is
 * dropped (the reference raises an error). NMS breaks ties in score by input
 * order (a stable sort); the reference's `np.argsort` is an unstable
 * quicksort whose order among equal scores depends on numpy's version and
 * CPU, so boxes with exactly equal scores (saturated probabilities) may be
 * kept in another order there. Independently of this module, a JPEG decoded
 * by another decoder (the reference reads photos through PIL/libjpeg, this
 * project through jpeg-js) differs by a few levels, which moves boxes by up
 * to a few pixels.
 *
 * @module
 */

import type { Tensor } from "../types.ts";
import type { RgbImage } from "../pure/image_ops.ts";
import { resizeArea } from "./resample.ts";

/**
 * Outputs of P-Net on one image: `prob [1, h', w', 2]`, `reg [1, h', w', 4]`.
 *
 * @category Face detection
 */
export interface PnetOutput {
  /** Softmax over (background, face) per cell. */
  readonly prob: Tensor;
  /** Box regression per cell. */
  readonly reg: Tensor;
}

/**
 * Outputs of R-Net on a batch: `prob [n, 2]`, `reg [n, 4]`.
 *
 * @category Face detection
 */
export interface RnetOutput {
  /** Softmax over (background, face). */
  readonly prob: Tensor;
  /** Box regression. */
  readonly reg: Tensor;
}

/**
 * Outputs of O-Net on a batch: `prob [n, 2]`, `reg [n, 4]`, `landmarks [n, 10]`.
 *
 * @category Face detection
 */
export interface OnetOutput extends RnetOutput {
  /** Five landmarks relative to the box: five x values then five y values. */
  readonly landmarks: Tensor;
}

/**
 * The three networks, run by whoever provides them. Inputs are NHWC float32,
 * already normalised and transposed as the reference feeds them.
 *
 * @category Face detection
 */
export interface MtcnnNets {
  /** P-Net on one `[1, h, w, 3]` image (fully convolutional). */
  pnet(input: Tensor): Promise<PnetOutput>;
  /** R-Net on `[n, 24, 24, 3]`. */
  rnet(input: Tensor): Promise<RnetOutput>;
  /** O-Net on `[n, 48, 48, 3]`. */
  onet(input: Tensor): Promise<OnetOutput>;
}

/**
 * Detection settings (the reference's defaults).
 *
 * @category Face detection
 */
export interface DetectOptions {
  /** Smallest face size in pixels; default 20. */
  readonly minSize?: number;
  /** Score thresholds of P-, R- and O-Net; default [0.6, 0.7, 0.7]. */
  readonly thresholds?: readonly [number, number, number];
  /** Pyramid scale factor; default 0.709. */
  readonly factor?: number;
}

/**
 * One detected face, in image coordinates (pixels, the reference's convention).
 *
 * @category Face detection
 */
export interface DetectedFace {
  /** The box `[x1, y1, x2, y2]`. */
  readonly box: readonly [number, number, number, number];
  /** O-Net's face probability. */
  readonly score: number;
  /** Five landmarks `[x, y]`: left eye, right eye, nose, left and right mouth corner. */
  readonly landmarks: readonly (readonly [number, number])[];
}

/** A candidate row: x1, y1, x2, y2, score, then 4 regression values. */
type Box = number[];

/** Resolved options. */
interface Settings {
  readonly minSize: number;
  readonly thresholds: readonly [number, number, number];
  readonly factor: number;
}

function settings(options: DetectOptions): Settings {
  const minSize = options.minSize ?? 20;
  const thresholds = options.thresholds ?? [0.6, 0.7, 0.7];
  const factor = options.factor ?? 0.709;
  if (!(Number.isFinite(minSize) && minSize > 0)) {
    throw new RangeError(`Minimum face size must be positive, got ${minSize}`);
  }
  if (!(factor > 0 && factor < 1)) {
    throw new RangeError(`Pyramid factor must lie in (0, 1), got ${factor}`);
  }
  if (thresholds.length !== 3 || !thresholds.every((t) => t >= 0 && t <= 1)) {
    throw new RangeError(`Thresholds must be three numbers in [0, 1], got [${thresholds}]`);
  }
  return { minSize, thresholds, factor };
}

/**
 * The pyramid scales of the reference: `m * factor^k` with `m = 12 / minSize`,
 * while `min(height, width) * m * factor^k >= 12`.
 *
 * @param height Image height.
 * @param width Image width.
 * @param options Minimum face size and factor.
 * @returns The scales, largest first (empty for images too small to hold a face).
 * @example
 * ```ts
 * import { pyramidScales } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(pyramidScales(20, 30, {}), [0.6]);
 * assert.equal(pyramidScales(1, 1, {}).length, 0);
 * ```
 *
 * @category Face detection
 */
export function pyramidScales(height: number, width: number, options: DetectOptions): number[] {
  const { minSize, factor } = settings(options);
  const m = 12 / minSize;
  let minl = Math.min(height, width) * m;
  const scales: number[] = [];
  let k = 0;
  while (minl >= 12) {
    scales.push(m * Math.pow(factor, k));
    minl *= factor;
    k++;
  }
  return scales;
}

/**
 * The reference's non-maximum suppression: boxes by score, highest first;
 * each later box overlapping a kept one by more than `threshold` is dropped.
 * Areas count pixels inclusively (`x2 - x1 + 1`).
 *
 * @param boxes Rows `[x1, y1, x2, y2, score, ...]`.
 * @param threshold Largest overlap kept.
 * @param method `Union` (intersection over union) or `Min` (over the smaller area).
 * @returns Indices of the kept boxes, highest score first.
 * @example
 * ```ts
 * import { nms } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const boxes = [[0, 0, 9, 9, 0.9], [1, 1, 10, 10, 0.8], [50, 50, 60, 60, 0.7]];
 * assert.deepEqual(nms(boxes, 0.5, "Union"), [0, 2]);
 * ```
 *
 * @category Face detection
 */
export function nms(
  boxes: readonly (readonly number[])[],
  threshold: number,
  method: "Union" | "Min",
): number[] {
  const n = boxes.length;
  if (n === 0) return [];
  const area = boxes.map((b) => (b[2]! - b[0]! + 1) * (b[3]! - b[1]! + 1));
  // np.argsort ascending, highest score taken from the end.
  let order = Array.from({ length: n }, (_, i) => i).sort((a, b) => boxes[a]![4]! - boxes[b]![4]!);
  const pick: number[] = [];
  while (order.length > 0) {
    const i = order[order.length - 1]!;
    pick.push(i);
    const bi = boxes[i]!;
    const rest: number[] = [];
    for (let k = 0; k < order.length - 1; k++) {
      const j = order[k]!;
      const bj = boxes[j]!;
      const w = Math.max(0, Math.min(bi[2]!, bj[2]!) - Math.max(bi[0]!, bj[0]!) + 1);
      const h = Math.max(0, Math.min(bi[3]!, bj[3]!) - Math.max(bi[1]!, bj[1]!) + 1);
      const inter = w * h;
      const o = method === "Min"
        ? inter / Math.min(area[i]!, area[j]!)
        : inter / (area[i]! + area[j]! - inter);
      if (o <= threshold) rest.push(j);
    }
    order = rest;
  }
  return pick;
}

/** Makes boxes square around their centre (the reference's `rerec`). */
function rerec(box: Box): void {
  const h = box[3]! - box[1]!;
  const w = box[2]! - box[0]!;
  const l = Math.max(w, h);
  box[0] = box[0]! + w * 0.5 - l * 0.5;
  box[1] = box[1]! + h * 0.5 - l * 0.5;
  box[2] = box[0] + l;
  box[3] = box[1] + l;
}

/** Box regression of the later stages (`bbreg`): offsets scaled by `x2 - x1 + 1`. */
function bbreg(box: Box, reg: ArrayLike<number>, at: number): void {
  const w = box[2]! - box[0]! + 1;
  const h = box[3]! - box[1]! + 1;
  box[0] = box[0]! + reg[at]! * w;
  box[1] = box[1]! + reg[at + 1]! * h;
  box[2] = box[2]! + reg[at + 2]! * w;
  box[3] = box[3]! + reg[at + 3]! * h;
}

/**
 * Candidate boxes of one pyramid level (the reference's `generateBoundingBox`).
 *
 * @param prob P-Net's face probability map, `[h', w']` in image orientation.
 * @param reg P-Net's regression maps, `[h', w', 4]` in image orientation.
 * @param size The map's `h'` and `w'`.
 * @param scale The level's scale.
 * @param threshold The P-Net threshold.
 * @returns Rows `[x1, y1, x2, y2, score, dx1, dy1, dx2, dy2]`.
 */
function generateBoxes(
  prob: Float32Array,
  reg: Float32Array,
  size: { readonly h: number; readonly w: number },
  scale: number,
  threshold: number,
): Box[] {
  const { h, w } = size;
  // np.where over the transposed map: x-major, then y.
  const hits: [number, number][] = [];
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      if (prob[y * w + x]! >= threshold) hits.push([x, y]);
    }
  }
  const flip = hits.length === 1; // np.flipud of the transposed maps: x reads as w - 1 - x.
  return hits.map(([x, y]) => {
    const rx = flip ? w - 1 - x : x;
    const r = (y * w + rx) * 4;
    return [
      Math.trunc((2 * x + 1) / scale),
      Math.trunc((2 * y + 1) / scale),
      Math.trunc((2 * x + 12) / scale),
      Math.trunc((2 * y + 12) / scale),
      prob[y * w + x]!,
      reg[r]!,
      reg[r + 1]!,
      reg[r + 2]!,
      reg[r + 3]!,
    ];
  });
}

/** Transposes an HWC image to WHC and normalises it: `(v - 127.5) * 0.0078125`. */
function transposeNormalize(
  data: ArrayLike<number>,
  h: number,
  w: number,
  out: Float32Array,
  at: number,
): void {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = at + (x * h + y) * 3;
      out[d] = (data[s]! - 127.5) * 0.0078125;
      out[d + 1] = (data[s + 1]! - 127.5) * 0.0078125;
      out[d + 2] = (data[s + 2]! - 127.5) * 0.0078125;
    }
  }
}

/** A network output map back to image orientation: `[1, w', h', c]` to `[h', w', c]`. */
function untranspose(t: Tensor, c: number): { data: Float32Array; h: number; w: number } {
  const [, tw, th] = t.shape as [number, number, number, number];
  const out = new Float32Array(th * tw * c);
  for (let x = 0; x < tw; x++) {
    for (let y = 0; y < th; y++) {
      for (let k = 0; k < c; k++) out[(y * tw + x) * c + k] = t.data[(x * th + y) * c + k]!;
    }
  }
  return { data: out, h: th, w: tw };
}

/**
 * The zero-padded crop of a (truncated, 1-based inclusive) box from the
 * photo, resized to `size` with INTER_AREA on float samples (the reference's
 * `pad` plus `imresample`).
 */
function cropBox(image: RgbImage, box: Box, size: number): RgbImage | null {
  const x1 = box[0]!, y1 = box[1]!, x2 = box[2]!, y2 = box[3]!;
  const tmpw = x2 - x1 + 1, tmph = y2 - y1 + 1;
  if (!(tmpw >= 1 && tmph >= 1)) return null;
  const tmp = new Float32Array(tmpw * tmph * 3);
  const { width: W, height: H, data } = image;
  // Pixel (x, y), 1-based, lands at (x - x1, y - y1) of the crop.
  const fromX = Math.max(x1, 1), toX = Math.min(x2, W);
  const fromY = Math.max(y1, 1), toY = Math.min(y2, H);
  for (let y = fromY; y <= toY; y++) {
    for (let x = fromX; x <= toX; x++) {
      const s = ((y - 1) * W + (x - 1)) * 3;
      const d = ((y - y1) * tmpw + (x - x1)) * 3;
      tmp[d] = data[s]!;
      tmp[d + 1] = data[s + 1]!;
      tmp[d + 2] = data[s + 2]!;
    }
  }
  return resizeArea(
    { width: tmpw, height: tmph, data: tmp },
    { height: size, width: size },
    "float64",
  );
}

async function refine(
  image: RgbImage,
  boxes: Box[],
  size: number,
  run: (input: Tensor) => Promise<RnetOutput | OnetOutput>,
): Promise<{ boxes: Box[]; out: RnetOutput | OnetOutput | null }> {
  for (const b of boxes) for (let k = 0; k < 4; k++) b[k] = Math.trunc(b[k]!);
  const kept: Box[] = [];
  const crops: RgbImage[] = [];
  for (const b of boxes) {
    const crop = cropBox(image, b, size);
    if (crop !== null) {
      kept.push(b);
      crops.push(crop);
    }
  }
  if (kept.length === 0) return { boxes: [], out: null };
  const per = size * size * 3;
  const input = new Float32Array(kept.length * per);
  crops.forEach((c, i) => transposeNormalize(c.data, size, size, input, i * per));
  const out = await run({ shape: [kept.length, size, size, 3], data: input });
  return { boxes: kept, out };
}

/**
 * Detects faces: the reference's three-stage MTCNN cascade (see the module
 * notes), on an 8-bit RGB photo.
 *
 * @param image The photo (HWC RGB, integer values 0..255, as decoded).
 * @param nets The three networks.
 * @param options Minimum face size, thresholds, pyramid factor.
 * @returns The faces, in the reference's output order.
 * @throws {RangeError} When the options are out of range or the image is malformed.
 * @example An image too small to hold a face never calls the networks
 * ```ts
 * import { detectFaces, type MtcnnNets } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const fail = () => Promise.reject(new Error("not called"));
 * const nets: MtcnnNets = { pnet: fail, rnet: fail, onet: fail };
 * const tiny = { width: 1, height: 1, data: new Float32Array(3) };
 * assert.deepEqual(await detectFaces(tiny, nets), []);
 * ```
 *
 * @category Face detection
 */
export async function detectFaces(
  image: RgbImage,
  nets: MtcnnNets,
  options: DetectOptions = {},
): Promise<DetectedFace[]> {
  const { thresholds } = settings(options);
  const { width: w, height: h } = image;
  if (!(Number.isSafeInteger(w) && w >= 1 && Number.isSafeInteger(h) && h >= 1)) {
    throw new RangeError(`Image size must be positive integers, got ${w}x${h}`);
  }
  if (!(image.data instanceof Float32Array) || image.data.length !== w * h * 3) {
    throw new RangeError(`Image data length ${image.data?.length} does not match ${h}x${w}x3`);
  }
  // Stage 1: P-Net over the pyramid.
  let total: Box[] = [];
  for (const scale of pyramidScales(h, w, options)) {
    const hs = Math.ceil(h * scale), ws = Math.ceil(w * scale);
    const level = resizeArea(image, { height: hs, width: ws }, "uint8");
    const input = new Float32Array(hs * ws * 3);
    transposeNormalize(level.data, hs, ws, input, 0);
    const out = await nets.pnet({ shape: [1, ws, hs, 3], data: input });
    const prob2 = untranspose(out.prob, 2);
    const reg = untranspose(out.reg, 4);
    const prob = new Float32Array(prob2.h * prob2.w);
    for (let i = 0; i < prob.length; i++) prob[i] = prob2.data[i * 2 + 1]!;
    const boxes = generateBoxes(prob, reg.data, prob2, scale, thresholds[0]);
    for (const i of nms(boxes, 0.5, "Union")) total.push(boxes[i]!);
  }
  if (total.length === 0) return [];
  total = nms(total, 0.7, "Union").map((i) => total[i]!);
  total = total.map((b) => {
    const rw = b[2]! - b[0]!, rh = b[3]! - b[1]!;
    const q: Box = [
      b[0]! + b[5]! * rw,
      b[1]! + b[6]! * rh,
      b[2]! + b[7]! * rw,
      b[3]! + b[8]! * rh,
      b[4]!,
    ];
    rerec(q);
    return q;
  });

  // Stage 2: R-Net at 24 px.
  const r = await refine(image, total, 24, (x) => nets.rnet(x));
  if (r.out === null) return [];
  let stage2: { box: Box; reg: number }[] = [];
  r.boxes.forEach((b, i) => {
    const score = r.out!.prob.data[i * 2 + 1]!;
    if (score > thresholds[1]) stage2.push({ box: [b[0]!, b[1]!, b[2]!, b[3]!, score], reg: i });
  });
  if (stage2.length === 0) return [];
  stage2 = nms(stage2.map((s) => s.box), 0.7, "Union").map((i) => stage2[i]!);
  const boxes2 = stage2.map(({ box, reg }) => {
    bbreg(box, r.out!.reg.data, reg * 4);
    rerec(box);
    return box;
  });

  // Stage 3: O-Net at 48 px, landmarks, final NMS "Min".
  const o = await refine(image, boxes2, 48, (x) => nets.onet(x));
  if (o.out === null) return [];
  const onet = o.out as OnetOutput;
  const faces: { box: Box; landmarks: [number, number][] }[] = [];
  o.boxes.forEach((b, i) => {
    const score = onet.prob.data[i * 2 + 1]!;
    if (!(score > thresholds[2])) return;
    const bw = b[2]! - b[0]! + 1, bh = b[3]! - b[1]! + 1;
    const p = onet.landmarks.data;
    const landmarks: [number, number][] = [];
    for (let k = 0; k < 5; k++) {
      landmarks.push([bw * p[i * 10 + k]! + b[0]! - 1, bh * p[i * 10 + 5 + k]! + b[1]! - 1]);
    }
    const box: Box = [b[0]!, b[1]!, b[2]!, b[3]!, score];
    bbreg(box, onet.reg.data, i * 4);
    faces.push({ box, landmarks });
  });
  return nms(faces.map((f) => f.box), 0.7, "Min").map((i) => {
    const f = faces[i]!;
    return {
      box: [f.box[0]!, f.box[1]!, f.box[2]!, f.box[3]!] as const,
      score: f.box[4]!,
      landmarks: f.landmarks,
    };
  });
}
