/**
 * `make-dataset`: writes the built-in synthetic identities to disk in the
 * seed's layout, so the file path can be used end to end (make-dataset, then
 * `train --data-dir`, `validate --lfw-dir --lfw-pairs`, classify, cluster):
 *
 * - `OUT/train/<identity>/<identity>_0001.png ...` (the training identities),
 * - `OUT/lfw/<identity>/<identity>_0001.png ...` (the validation identities),
 * - `OUT/pairs.txt`: verification pairs over `lfw/` in the LFW format
 *   (`folds<TAB>pairs`, then same-person and different-person lines; image
 *   numbers are 1-based as in LFW).
 *
 * @module
 */

import { join } from "node:path";
import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import {
  parseSyntheticRef,
  renderSyntheticRef,
  syntheticDataset,
  syntheticPairs,
} from "../core/synthetic.ts";
import type { Dataset } from "../core/types.ts";
import { encodePng } from "../io/images.ts";
import { formatPairs, type PairEntry, pairImageStem } from "../io/pairs.ts";

/** The flags of `make-dataset`. */
export const MAKE_DATASET_FLAGS: FlagTable = {
  "out": { kind: "string", help: "output folder (must not exist or be empty)" },
  "identities": {
    kind: "number",
    help: "training identities",
    integer: true,
    min: 1,
    default: 40,
  },
  "images-per-identity": {
    kind: "number",
    help: "images per identity (training and validation)",
    integer: true,
    min: 2,
    default: 10,
  },
  "val-identities": {
    kind: "number",
    help: "validation (lfw/) identities, at least 2 x folds",
    integer: true,
    min: 2,
    default: 20,
  },
  "image-size": {
    kind: "number",
    help: "image side in pixels",
    integer: true,
    min: 8,
    default: 64,
  },
  "seed": { kind: "number", help: "synthetic data set seed", integer: true, default: 666 },
  "folds": { kind: "number", help: "folds in pairs.txt", integer: true, min: 1, default: 10 },
  "pairs-per-fold": {
    kind: "number",
    help: "same-person (and different-person) pairs per fold",
    integer: true,
    min: 1,
    default: 10,
  },
  "nuisance": {
    kind: "number",
    help: "strength of pose/light/noise nuisances, 0..2",
    min: 0,
    max: 2,
    default: 1,
  },
  "quiet": { kind: "boolean", help: "no progress messages" },
};

/** What {@link makeDataset} wrote. */
export interface MadeDataset {
  readonly trainDir: string;
  readonly lfwDir: string;
  readonly pairsFile: string;
  readonly images: number;
  readonly pairs: number;
}

/** Options of {@link makeDataset}. */
export interface MakeDatasetOptions {
  readonly identities: number;
  readonly imagesPerIdentity: number;
  readonly valIdentities: number;
  readonly imageSize: number;
  readonly seed: number;
  readonly folds: number;
  readonly pairsPerFold: number;
  readonly nuisance?: number;
}

async function writeSplit(
  dir: string,
  dataset: Dataset,
  options: MakeDatasetOptions,
): Promise<number> {
  let count = 0;
  for (const cls of dataset) {
    const folder = join(dir, cls.name);
    await Deno.mkdir(folder, { recursive: true });
    for (let j = 0; j < cls.images.length; j++) {
      const data = renderSyntheticRef(cls.images[j] as string, options.imageSize, options.seed, {
        nuisance: options.nuisance ?? 1,
      });
      const png = encodePng({ width: options.imageSize, height: options.imageSize, data });
      await Deno.writeFile(join(folder, pairImageStem(cls.name, j + 1) + ".png"), png);
      count++;
    }
  }
  return count;
}

async function checkEmptyOrMissing(out: string): Promise<void> {
  try {
    for await (const _ of Deno.readDir(out)) {
      throw new Error(`${out} already exists and is not empty; choose a new --out folder`);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
}

/**
 * Writes the synthetic training and validation identities as PNG files and
 * the validation pairs as an LFW pairs file.
 *
 * @param out The output folder (must not exist, or be empty).
 * @param options Counts, image size, seed, folds and pairs per fold.
 * @returns The paths written and counts.
 * @throws {Error} When `out` is not empty.
 * @throws {RangeError} When the counts do not allow the pairs (fewer than 2 x folds validation identities).
 */
export async function makeDataset(out: string, options: MakeDatasetOptions): Promise<MadeDataset> {
  await checkEmptyOrMissing(out);
  const train = syntheticDataset({
    seed: options.seed,
    identities: options.identities,
    imagesPerIdentity: options.imagesPerIdentity,
    split: "train",
  });
  const validation = syntheticDataset({
    seed: options.seed,
    identities: options.valIdentities,
    imagesPerIdentity: options.imagesPerIdentity,
    split: "validation",
  });
  const pairs = syntheticPairs({
    seed: options.seed,
    identities: options.valIdentities,
    imagesPerIdentity: options.imagesPerIdentity,
    folds: options.folds,
    pairsPerFold: options.pairsPerFold,
  });
  const entry = (ref: string) => {
    const { identity, image } = parseSyntheticRef(ref);
    return { name: (validation[identity] as { name: string }).name, index: image + 1 };
  };
  const entries: PairEntry[] = pairs.pairs.map((p) => {
    const a = entry(p.a);
    const b = entry(p.b);
    return { name1: a.name, index1: a.index, name2: b.name, index2: b.index, same: p.same };
  });
  const text = formatPairs({
    folds: pairs.folds,
    pairsPerFold: pairs.pairsPerFold,
    pairs: entries,
  });
  const trainDir = join(out, "train");
  const lfwDir = join(out, "lfw");
  const pairsFile = join(out, "pairs.txt");
  await Deno.mkdir(out, { recursive: true });
  let images = await writeSplit(trainDir, train, options);
  images += await writeSplit(lfwDir, validation, options);
  await Deno.writeTextFile(pairsFile, text);
  return { trainDir, lfwDir, pairsFile, images, pairs: entries.length };
}

/**
 * Runs `make-dataset` with the given arguments.
 *
 * @param args Arguments after `make-dataset`.
 * @returns The process exit code.
 */
export async function makeDatasetCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, MAKE_DATASET_FLAGS);
  if (flags.values["help"]) {
    console.log(
      formatHelp("deno run -A cli.ts make-dataset --out DIR [flags]", MAKE_DATASET_FLAGS, [
        "writes DIR/train/<identity>/<identity>_0001.png, DIR/lfw/... and DIR/pairs.txt (LFW format)",
      ]),
    );
    return 0;
  }
  if (flags.positionals.length > 0) {
    throw new UsageError(
      `make-dataset takes no positional arguments, got "${flags.positionals[0]}"`,
    );
  }
  const out = flags.values["out"] as string | undefined;
  if (out === undefined) throw new UsageError("--out is required");
  const folds = flags.values["folds"] as number;
  const valIdentities = flags.values["val-identities"] as number;
  if (valIdentities < 2 * folds) {
    throw new UsageError(
      `--val-identities must be at least 2 x --folds (${2 * folds}), got ${valIdentities}`,
    );
  }
  const made = await makeDataset(out, {
    identities: flags.values["identities"] as number,
    imagesPerIdentity: flags.values["images-per-identity"] as number,
    valIdentities,
    imageSize: flags.values["image-size"] as number,
    seed: flags.values["seed"] as number,
    folds,
    pairsPerFold: flags.values["pairs-per-fold"] as number,
    nuisance: flags.values["nuisance"] as number,
  });
  if (!flags.values["quiet"]) {
    console.log(`wrote ${made.images} images and ${made.pairs} pairs`);
    console.log(`  training identities: ${made.trainDir}`);
    console.log(`  validation identities: ${made.lfwDir}`);
    console.log(`  pairs: ${made.pairsFile}`);
  }
  return 0;
}
