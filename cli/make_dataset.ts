/**
 * `make-dataset`: writes the built-in synthetic identities (or, with `--from
 * fashion-mnist`, the real Fashion-MNIST images from Debian's
 * `dataset-fashion-mnist` package: 7 classes for training, pairs over the
 * other 3) to disk in the reference implementation's layout, so the file path can be used end to
 * end (make-dataset, then `train --data-dir`, `validate --lfw-dir
 * --lfw-pairs`, classify, cluster):
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
import { type FlagTable, type FlagUse, formatHelp, parseFlags, UsageError } from "./flags.ts";
import {
  parseSyntheticRef,
  renderSyntheticRef,
  syntheticDataset,
  syntheticPairs,
} from "../core/synthetic/mod.ts";
import type { Dataset } from "../core/types.ts";
import { encodePng } from "../io/images.ts";
import { formatPairs, type PairEntry, pairImageStem } from "../io/pairs.ts";
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, readMnistSplit } from "../io/idx.ts";
import { buildPairs } from "../io/validation_pairs.ts";
import { createRng } from "../core/pure/rng.ts";

/** `make-dataset --from fashion-mnist`'s defaults where they differ from the synthetic ones. */
export const FASHION_MNIST_DEFAULTS = { imagesPerIdentity: 300, pairsPerFold: 30 } as const;

/** The Fashion-MNIST classes held out for validation pairs: the last three labels. */
export const FASHION_MNIST_VALIDATION_CLASSES: readonly number[] = [7, 8, 9];
import { checkOutputFolder, checkOutputPath } from "./_output.ts";

const SYNTHETIC_ONLY: FlagUse = {
  when: (v) => v["from"] === "synthetic",
  noEffect: "with --from fashion-mnist (it applies to --from synthetic only)",
};

/** The flags of `make-dataset`. */
export const MAKE_DATASET_FLAGS: FlagTable = {
  "out": { kind: "string", help: "output folder (must not exist or be empty)" },
  "from": {
    kind: "string",
    help: "synthetic (rendered faces) or fashion-mnist (Debian's dataset-fashion-mnist: " +
      "classes 0-6 for training, pairs over classes 7-9)",
    default: "synthetic",
    choices: ["synthetic", "fashion-mnist"],
  },
  "fashion-mnist-dir": {
    kind: "string",
    help: "fashion-mnist: the folder of the IDX files",
    default: FASHION_MNIST_DIR,
    usedWhen: {
      when: (v) => v["from"] === "fashion-mnist",
      noEffect: "without --from fashion-mnist",
    },
  },
  "identities": {
    kind: "number",
    help: "training identities",
    integer: true,
    min: 1,
    default: 40,
    usedWhen: SYNTHETIC_ONLY,
  },
  "images-per-identity": {
    kind: "number",
    help: "images per identity (training and validation); fashion-mnist: " +
      `${FASHION_MNIST_DEFAULTS.imagesPerIdentity} unless given`,
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
    usedWhen: SYNTHETIC_ONLY,
  },
  "image-size": {
    kind: "number",
    help: "image side in pixels",
    integer: true,
    min: 8,
    default: 64,
    usedWhen: SYNTHETIC_ONLY,
  },
  "seed": { kind: "number", help: "synthetic data set seed", integer: true, default: 666 },
  "folds": { kind: "number", help: "folds in pairs.txt", integer: true, min: 1, default: 10 },
  "pairs-per-fold": {
    kind: "number",
    help: "same-person (and different-person) pairs per fold; fashion-mnist: " +
      `${FASHION_MNIST_DEFAULTS.pairsPerFold} unless given`,
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
    usedWhen: SYNTHETIC_ONLY,
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

/** Options of {@link makeFashionMnistDataset}. */
export interface MakeFashionMnistOptions {
  /** The folder of the IDX files (default {@link FASHION_MNIST_DIR}). */
  readonly dir?: string;
  /** Images written per class (the first ones of the class in the training file). */
  readonly imagesPerIdentity: number;
  /** Folds in pairs.txt. */
  readonly folds: number;
  /** Same-person (and different-person) pairs per fold. */
  readonly pairsPerFold: number;
  /** Seed of the pair draws. */
  readonly seed: number;
}

/**
 * Writes Fashion-MNIST's training file as a folder-per-identity dataset:
 * classes 0-6 under `OUT/train/`, classes 7-9 under `OUT/lfw/`, each class's
 * first `imagesPerIdentity` images as 28x28 PNG files named the LFW way
 * (`7_sneaker/7_sneaker_0001.png`), and `OUT/pairs.txt` over `lfw/` built by
 * {@link buildPairs} (three classes: folds disjoint in images).
 *
 * @param out The output folder (must not exist, or be empty).
 * @param options Source folder, images per class, folds, pairs per fold, seed.
 * @returns The paths written and counts.
 * @throws {Error} When `out` is not empty or the IDX files are missing.
 * @throws {RangeError} When a class has fewer than `imagesPerIdentity` images.
 */
export async function makeFashionMnistDataset(
  out: string,
  options: MakeFashionMnistOptions,
): Promise<MadeDataset> {
  await checkEmptyOrMissing(out);
  const data = await readMnistSplit(options.dir ?? FASHION_MNIST_DIR, "train");
  const byClass: number[][] = FASHION_MNIST_CLASSES.map(() => []);
  for (let i = 0; i < data.count; i++) {
    const list = byClass[data.labels[i] as number];
    if (list === undefined) {
      throw new RangeError(`Label ${data.labels[i]} of image ${i} is not a Fashion-MNIST class`);
    }
    if (list.length < options.imagesPerIdentity) list.push(i);
  }
  const trainDir = join(out, "train");
  const lfwDir = join(out, "lfw");
  const pairsFile = join(out, "pairs.txt");
  const pixels = data.rows * data.cols;
  const validation: { name: string; images: string[] }[] = [];
  let images = 0;
  for (let label = 0; label < FASHION_MNIST_CLASSES.length; label++) {
    const name = FASHION_MNIST_CLASSES[label] as string;
    const members = byClass[label] as number[];
    if (members.length < options.imagesPerIdentity) {
      throw new RangeError(
        `Class ${name} has ${members.length} images, fewer than the ${options.imagesPerIdentity} asked for`,
      );
    }
    const held = FASHION_MNIST_VALIDATION_CLASSES.includes(label);
    const folder = join(held ? lfwDir : trainDir, name);
    await Deno.mkdir(folder, { recursive: true });
    const written: string[] = [];
    for (let j = 0; j < members.length; j++) {
      const offset = (members[j] as number) * pixels;
      const rgb = new Float32Array(pixels * 3);
      for (let p = 0; p < pixels; p++) {
        const v = data.pixels[offset + p] as number;
        rgb[3 * p] = v;
        rgb[3 * p + 1] = v;
        rgb[3 * p + 2] = v;
      }
      const file = join(folder, pairImageStem(name, j + 1) + ".png");
      await Deno.writeFile(file, encodePng({ width: data.cols, height: data.rows, data: rgb }));
      written.push(file);
      images++;
    }
    if (held) validation.push({ name, images: written });
  }
  const built = buildPairs(validation, {
    folds: options.folds,
    pairsPerFold: options.pairsPerFold,
    rng: createRng(options.seed),
  });
  await Deno.writeTextFile(pairsFile, formatPairs(built.pairs));
  return { trainDir, lfwDir, pairsFile, images, pairs: built.pairs.pairs.length };
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
  const out = checkOutputPath(flags.values["out"] as string | undefined, "--out");
  await checkOutputFolder(out, "--out", { hint: "choose a new --out folder" });
  const folds = flags.values["folds"] as number;
  if (flags.values["from"] === "fashion-mnist") {
    const given = (flag: string, fallback: number) =>
      flags.explicit.has(flag) ? flags.values[flag] as number : fallback;
    const made = await makeFashionMnistDataset(out, {
      dir: flags.values["fashion-mnist-dir"] as string,
      imagesPerIdentity: given("images-per-identity", FASHION_MNIST_DEFAULTS.imagesPerIdentity),
      folds,
      pairsPerFold: given("pairs-per-fold", FASHION_MNIST_DEFAULTS.pairsPerFold),
      seed: flags.values["seed"] as number,
    });
    if (!flags.values["quiet"]) report(made);
    return 0;
  }
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
  if (!flags.values["quiet"]) report(made);
  return 0;
}

function report(made: MadeDataset): void {
  console.log(`wrote ${made.images} images and ${made.pairs} pairs`);
  console.log(`  training identities: ${made.trainDir}`);
  console.log(`  validation identities: ${made.lfwDir}`);
  console.log(`  pairs: ${made.pairsFile}`);
}
