/**
 * `detect IMAGE... [--draw OUT.png]`: MTCNN face detection (FaceNet
 * (TensorFlow)'s `detect_face` with its pretrained networks) on photos.
 * Prints one JSON object per photo: `{image, width, height, faces: [{box:
 * [x1, y1, x2, y2], score, landmarks: [[x, y] x 5]}]}`. `--draw` writes the
 * photo with the boxes and landmarks drawn (a PNG file for one photo, a folder
 * of PNGs for several). JPEG EXIF orientation is applied before detection
 * (the reference implementation ignores it).
 *
 * @module
 */

import { writeFileAtomic } from "../io/atomic.ts";
import { checkOutputPath } from "./_output.ts";
import { basename, extname, join } from "node:path";
import { FLAG_LIMITS, type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import { DETECTOR_FLAGS, openDetector } from "./_mtcnn.ts";
import { encodePng, readImage } from "../io/images.ts";
import { drawDetections } from "../core/detect/draw.ts";
import type { DetectedFace } from "../core/detect/mtcnn.ts";

/** The flags of `detect`. */
export const DETECT_FLAGS: FlagTable = {
  ...DETECTOR_FLAGS,
  "threads": {
    kind: "number",
    integer: true,
    min: 1,
    max: FLAG_LIMITS.threads,
    help: "wasm-simd threads (default: all cores)",
    usedWhen: {
      when: (v) => v["detector-backend"] === "wasm-simd",
      noEffect: "with --detector-backend pure",
    },
  },
  "draw": {
    kind: "string",
    help: "write the photo with boxes and landmarks: OUT.png for one photo, a folder for several",
  },
};

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * A detection as printed: coordinates with 2 decimals, the score with 6.
 *
 * @param face The detection.
 * @returns A plain object for JSON.
 */
export function faceJson(face: DetectedFace): {
  box: number[];
  score: number;
  landmarks: number[][];
} {
  return {
    box: face.box.map((v) => round(v, 2)),
    score: round(face.score, 6),
    landmarks: face.landmarks.map(([x, y]) => [round(x, 2), round(y, 2)]),
  };
}

async function ensureFolder(path: string): Promise<void> {
  try {
    await Deno.mkdir(path, { recursive: true });
  } catch (error) {
    throw new Error(`Cannot create the folder ${path}: ${(error as Error).message}`);
  }
}

/**
 * Runs `detect` with the given arguments.
 *
 * @param args Arguments after `detect`.
 * @returns The process exit code.
 */
export async function detectCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, DETECT_FLAGS);
  if (flags.values["help"]) {
    console.log(formatHelp("deno run -A cli.ts detect IMAGE... [--draw OUT.png]", DETECT_FLAGS));
    return 0;
  }
  const paths = flags.positionals;
  if (paths.length === 0) throw new UsageError("detect needs at least one image");
  const drawFlag = flags.values["draw"] as string | undefined;
  const draw = drawFlag === undefined ? undefined : checkOutputPath(drawFlag, "--draw");
  if (draw !== undefined && paths.length === 1 && extname(draw).toLowerCase() !== ".png") {
    throw new UsageError(`--draw must name a .png file for one photo, got "${draw}"`);
  }
  if (draw !== undefined && paths.length > 1) await ensureFolder(draw);
  const detector = await openDetector(flags.values);
  let failed = 0;
  try {
    for (const path of paths) {
      let image;
      try {
        image = await readImage(path, { orientation: "exif" });
      } catch (error) {
        console.error(`error: ${(error as Error).message}`);
        failed++;
        continue;
      }
      const faces = await detector.detect(image);
      if (faces.length === 0) console.error(`No face found in ${path}`);
      console.log(JSON.stringify({
        image: path,
        width: image.width,
        height: image.height,
        faces: faces.map(faceJson),
      }));
      if (draw !== undefined) {
        const out = paths.length === 1 ? draw : join(draw, `${basename(path, extname(path))}.png`);
        try {
          await writeFileAtomic(out, encodePng(drawDetections(image, faces)));
        } catch (error) {
          throw new Error(`Cannot write ${out}: ${(error as Error).message}`);
        }
      }
    }
  } finally {
    detector.dispose();
  }
  return failed > 0 ? 1 : 0;
}
