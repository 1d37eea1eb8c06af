/**
 * `compare`: the reference implementation's compare.py. Embeds the given images and prints the
 * matrix of (non-squared) euclidean distances between them, as a table.
 *
 * @module
 */

import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import { pairwiseSquaredDistances } from "../core/pure/distances.ts";
import { embedFiles, MODEL_FLAGS, openModel } from "./_embedder.ts";
import { DETECT_CROP_FLAGS, detectAndCrop } from "./_mtcnn.ts";
import type { Matrix } from "../core/types.ts";

/** The flags of `compare`. */
export const COMPARE_FLAGS: FlagTable = {
  ...MODEL_FLAGS,
  ...DETECT_CROP_FLAGS,
  "json": { kind: "boolean", help: "print {images, distances} as JSON" },
};

/**
 * The euclidean (not squared) distances between all rows.
 *
 * @param x The embeddings.
 * @returns An `n x n` matrix.
 */
export function euclideanDistanceMatrix(x: Matrix): Matrix {
  const squared = pairwiseSquaredDistances(x);
  return { ...squared, data: squared.data.map(Math.sqrt) };
}

/**
 * Formats the reference implementation's output: the numbered images, then the distance matrix
 * with 4 decimals.
 *
 * @param paths The images.
 * @param distances Their distance matrix.
 * @returns The text.
 */
export function formatDistanceTable(paths: readonly string[], distances: Matrix): string {
  const n = paths.length;
  const lines = ["Images:"];
  paths.forEach((p, i) => lines.push(`${i}: ${p}`));
  lines.push("", "Distance matrix");
  const width = Math.max(String(n - 1).length, 1);
  lines.push(" ".repeat(width) + paths.map((_, j) => String(j).padStart(9)).join(""));
  for (let i = 0; i < n; i++) {
    let row = String(i).padStart(width);
    for (let j = 0; j < n; j++) row += (distances.data[i * n + j] as number).toFixed(4).padStart(9);
    lines.push(row);
  }
  return lines.join("\n");
}

/**
 * Runs `compare` with the given arguments.
 *
 * @param args Arguments after `compare`.
 * @returns The process exit code.
 */
export async function compareCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, COMPARE_FLAGS);
  if (flags.values["help"]) {
    console.log(
      formatHelp(
        "deno run -A cli.ts compare (--checkpoint CKPT | --pretrained NAME) IMAGE IMAGE...",
        COMPARE_FLAGS,
      ),
    );
    return 0;
  }
  let paths = flags.positionals;
  if (paths.length < 2) {
    throw new UsageError(`compare needs at least two images, got ${paths.length}`);
  }
  const loaded = await openModel(flags);
  let embeddings;
  try {
    let decode;
    if (flags.values["detect"]) {
      const { crops, missing } = await detectAndCrop(
        paths,
        flags.values,
        loaded.imageSize,
        loaded.align,
      );
      paths = paths.filter((p) => crops.has(p));
      if (paths.length < 2) {
        throw new Error(
          `compare needs faces in at least two photos; no face was found in ${missing.join(", ")}`,
        );
      }
      decode = (ref: string) => Promise.resolve(crops.get(ref)!);
    }
    embeddings = await embedFiles(loaded, paths, {
      batchSize: flags.values["batch-size"] as number,
      workers: flags.values["workers"] as number,
      resize: flags.values["resize"] as number | undefined,
      ...(decode === undefined ? {} : { decode }),
    });
  } finally {
    loaded.dispose();
  }
  const distances = euclideanDistanceMatrix(embeddings);
  if (flags.values["json"]) {
    const n = paths.length;
    const rows = Array.from(
      { length: n },
      (_, i) => Array.from(distances.data.subarray(i * n, (i + 1) * n)),
    );
    console.log(JSON.stringify({ images: paths, distances: rows }));
  } else {
    console.log(formatDistanceTable(paths, distances));
  }
  return 0;
}
