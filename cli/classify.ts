/**
 * `classify TRAIN|CLASSIFY`: the reference implementation's classifier.py. TRAIN embeds a
 * folder-per-person dataset and fits a classifier on the embeddings (a
 * softmax regression with per-class probabilities, core/pure/classifier.ts,
 * in place of the reference implementation's linear SVM), saving it as JSON with the class names;
 * CLASSIFY embeds a dataset, prints each image's best class and probability
 * and the overall accuracy.
 *
 * `--use-split-dataset` (the reference implementation's split_dataset): identities with fewer
 * than `--min-nrof-images-per-class` images are left out; each identity's
 * images are shuffled with `--seed` (as the reference implementation shuffles with its
 * `np.random.seed`) and the first `--nrof-train-images-per-class` go to
 * TRAIN, the rest to CLASSIFY — the same split in both modes for the same
 * seed.
 *
 * @module
 */

import { readTextFileBounded, writeFileAtomic } from "../io/atomic.ts";
import { checkOutputPath } from "./_output.ts";
import { DETECT_CROP_FLAGS, detectAndCrop } from "./_mtcnn.ts";
import { type FlagTable, type FlagUse, formatHelp, parseFlags, UsageError } from "./flags.ts";
import {
  embeddingProgress,
  embedFiles,
  type LabelledImages,
  loadLabelledImages,
  MODEL_FLAGS,
  openModel,
} from "./_embedder.ts";
import {
  checkClassifier,
  fitClassifier,
  predictClasses,
  type SoftmaxClassifier,
} from "../core/pure/classifier.ts";
import { createRng, shuffle } from "../core/pure/rng.ts";

const SPLIT_ONLY: FlagUse = {
  when: (v) => v["use-split-dataset"] === true,
  noEffect: "without --use-split-dataset",
  // The reference implementation's classifier.py accepted them without the split.
  warnOnly: true,
};
/** classifier.py took one command line in both modes: a flag of the other mode only warns. */
const TRAIN_ONLY: FlagUse = {
  when: (_, p) => p[0] !== "CLASSIFY",
  noEffect: "in CLASSIFY mode",
  warnOnly: true,
};
const CLASSIFY_ONLY: FlagUse = {
  when: (_, p) => p[0] !== "TRAIN",
  noEffect: "in TRAIN mode",
  warnOnly: true,
};

/** The flags of `classify`. */
export const CLASSIFY_FLAGS: FlagTable = {
  ...MODEL_FLAGS,
  ...DETECT_CROP_FLAGS,
  "data-dir": { kind: "string", help: "labelled folder (one sub-folder per identity)" },
  "classifier": {
    kind: "string",
    help: "classifier file (JSON): written by TRAIN, read by CLASSIFY",
  },
  "use-split-dataset": {
    kind: "boolean",
    help: "split each identity's images into a TRAIN and a CLASSIFY part",
  },
  "min-nrof-images-per-class": {
    kind: "number",
    help: "with --use-split-dataset: identities with fewer images are left out",
    integer: true,
    min: 1,
    default: 20,
    usedWhen: SPLIT_ONLY,
  },
  "nrof-train-images-per-class": {
    kind: "number",
    help: "with --use-split-dataset: images per identity used by TRAIN",
    integer: true,
    min: 1,
    default: 10,
    usedWhen: SPLIT_ONLY,
  },
  "seed": {
    kind: "number",
    help: "random seed of the split",
    integer: true,
    default: 666,
    usedWhen: SPLIT_ONLY,
  },
  "l2": {
    kind: "number",
    help: "L2 coefficient of the classifier",
    min: 0,
    default: 1e-4,
    usedWhen: TRAIN_ONLY,
  },
  "max-iterations": {
    kind: "number",
    help: "L-BFGS iterations of the fit",
    integer: true,
    min: 1,
    default: 500,
    usedWhen: TRAIN_ONLY,
  },
  "json": {
    kind: "boolean",
    help: "CLASSIFY: print one JSON object instead of lines",
    usedWhen: CLASSIFY_ONLY,
  },
};

/** A saved classifier: the fitted model plus the checkpoint it was trained on. */
export interface SavedClassifier extends SoftmaxClassifier {
  readonly embeddingModel: {
    readonly checkpoint: string;
    readonly model: string;
    readonly step: number;
    readonly embeddingSize: number;
    /** The SHA-256 of the checkpoint's tensors, when the checkpoint records it. */
    readonly sha256?: string;
  };
}

/**
 * How the checkpoint a classifier was trained on differs from the loaded one,
 * or null when they look the same (same tensors' checksum when both have one,
 * else the same model, step and embedding size).
 *
 * @param source What the classifier file records (absent in old files).
 * @param loaded The loaded checkpoint.
 * @returns A description of the difference, or null.
 */
export function sourceMismatch(
  source: SavedClassifier["embeddingModel"] | undefined,
  loaded: { name: string; step: number; embeddingSize: number; sha256?: string | undefined },
): string | null {
  if (typeof source !== "object" || source === null) return null;
  const was = `${source.checkpoint}: ${source.model}, step ${source.step}`;
  const now = `now ${loaded.name}, step ${loaded.step}`;
  if (source.sha256 !== undefined && loaded.sha256 !== undefined) {
    return source.sha256 === loaded.sha256 ? null : `${was}; ${now}, other weights`;
  }
  if (
    source.model !== loaded.name || source.step !== loaded.step ||
    source.embeddingSize !== loaded.embeddingSize
  ) return `${was}; ${now}`;
  return null;
}

/**
 * Splits a labelled dataset as the reference implementation's split_dataset does (see the module
 * doc).
 *
 * @param data The labelled images.
 * @param minImages Identities with fewer images are left out.
 * @param trainImages Images per identity that go to the training part.
 * @param seed The shuffle seed.
 * @returns The training and test parts (labels are indices into the kept identities).
 */
export function splitDataset(
  data: LabelledImages,
  minImages: number,
  trainImages: number,
  seed: number,
): { classes: string[]; train: Part; test: Part } {
  let rng = createRng(seed);
  const classes: string[] = [];
  const train: Part = { paths: [], labels: [] };
  const test: Part = { paths: [], labels: [] };
  for (const cls of data.dataset) {
    if (cls.images.length < minImages) continue;
    let images: string[];
    [images, rng] = shuffle(cls.images, rng);
    const label = classes.length;
    classes.push(cls.name);
    images.forEach((path, i) => {
      const part = i < trainImages ? train : test;
      part.paths.push(path);
      part.labels.push(label);
    });
  }
  return { classes, train, test };
}

/** Images and labels of one part of a split. */
export interface Part {
  paths: string[];
  labels: number[];
}

/**
 * Runs `classify` with the given arguments.
 *
 * @param args Arguments after `classify`: the mode first.
 * @returns The process exit code.
 */
export async function classifyCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, CLASSIFY_FLAGS);
  if (flags.values["help"]) {
    console.log(
      formatHelp(
        "deno run -A cli.ts classify TRAIN|CLASSIFY (--checkpoint CKPT | --pretrained NAME) --data-dir DIR --classifier FILE [flags]",
        CLASSIFY_FLAGS,
      ),
    );
    return 0;
  }
  const [mode, ...rest] = flags.positionals;
  if (mode !== "TRAIN" && mode !== "CLASSIFY") {
    throw new UsageError(`the mode must be TRAIN or CLASSIFY, got ${JSON.stringify(mode ?? "")}`);
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const dataDir = flags.values["data-dir"] as string | undefined;
  if (dataDir === undefined) throw new UsageError("--data-dir is required");
  const classifierFile = checkOutputPath(
    flags.values["classifier"] as string | undefined,
    "--classifier",
  );
  const quiet = flags.values["quiet"] === true;
  const split = flags.values["use-split-dataset"] === true;
  const minImages = flags.values["min-nrof-images-per-class"] as number;
  const trainImages = flags.values["nrof-train-images-per-class"] as number;
  if (split && trainImages >= minImages) {
    throw new UsageError(
      `--nrof-train-images-per-class (${trainImages}) must be below --min-nrof-images-per-class (${minImages}) so every identity keeps images to classify`,
    );
  }

  let saved: SavedClassifier | undefined;
  if (mode === "CLASSIFY") {
    let text: string;
    try {
      text = await readTextFileBounded(classifierFile, 1024 ** 3);
    } catch (error) {
      throw new Error(`cannot read --classifier ${classifierFile}: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`${classifierFile} is not JSON: ${(error as Error).message}`);
    }
    saved = {
      ...checkClassifier(parsed, classifierFile),
      embeddingModel: (parsed as SavedClassifier).embeddingModel,
    };
  }

  const data = await loadLabelledImages(dataDir, split ? minImages : 1, quiet);
  let classes = data.dataset.map((c) => c.name);
  let part: Part = { paths: data.paths, labels: Array.from(data.labels) };
  if (split) {
    const parts = splitDataset(data, minImages, trainImages, flags.values["seed"] as number);
    classes = parts.classes;
    part = mode === "TRAIN" ? parts.train : parts.test;
  }
  if (!quiet) {
    console.error(`Number of classes: ${classes.length}`);
    console.error(`Number of images: ${part.paths.length}`);
  }

  const loaded = await openModel(flags);
  let embeddings;
  try {
    if (saved !== undefined && saved.dims !== loaded.embeddingSize) {
      throw new Error(
        `${classifierFile} expects ${saved.dims}-d embeddings, the model gives ${loaded.embeddingSize}`,
      );
    }
    const mismatch = saved === undefined ? null : sourceMismatch(saved.embeddingModel, loaded);
    if (mismatch !== null) {
      console.error(
        `warning: ${classifierFile} was trained on the embeddings of another checkpoint (${mismatch}); ` +
          `its predictions on these embeddings are likely meaningless`,
      );
    }
    let decode;
    if (flags.values["detect"]) {
      const { crops } = await detectAndCrop(
        part.paths,
        flags.values,
        loaded.imageSize,
        loaded.align,
      );
      const kept = part.paths.map((p) => crops.has(p));
      part = {
        paths: part.paths.filter((_, i) => kept[i]),
        labels: part.labels.filter((_, i) => kept[i]),
      };
      decode = (ref: string) => Promise.resolve(crops.get(ref)!);
    }
    embeddings = await embedFiles(loaded, part.paths, {
      batchSize: flags.values["batch-size"] as number,
      workers: flags.values["workers"] as number,
      resize: flags.values["resize"] as number | undefined,
      ...(decode === undefined ? {} : { decode }),
      ...(quiet ? {} : { onProgress: embeddingProgress("images", false)! }),
    });
  } catch (error) {
    loaded.dispose();
    throw error;
  }
  loaded.dispose();

  if (mode === "TRAIN") {
    if (!quiet) console.error("Training classifier");
    const l2 = flags.values["l2"] as number | undefined;
    const fitted = fitClassifier(embeddings, part.labels, classes, {
      maxIterations: flags.values["max-iterations"] as number,
      ...(l2 === undefined ? {} : { l2 }),
    });
    const file: SavedClassifier = {
      ...fitted,
      embeddingModel: {
        checkpoint: loaded.source,
        model: loaded.name,
        step: loaded.step,
        embeddingSize: loaded.embeddingSize,
        ...(loaded.sha256 === undefined ? {} : { sha256: loaded.sha256 }),
      },
    };
    await writeFileAtomic(classifierFile, JSON.stringify(file) + "\n");
    const trainAccuracy = accuracyOf(fitted, embeddings, part.labels, classes);
    if (!quiet) {
      console.log(
        `fitted ${classes.length} classes on ${part.paths.length} images in ${fitted.iterations} iterations (loss ${
          fitted.loss.toFixed(4)
        }${fitted.converged ? "" : ", iteration limit reached"}); training accuracy ${
          trainAccuracy.toFixed(3)
        }`,
      );
      console.log(`Saved classifier model to file "${classifierFile}"`);
    }
    return 0;
  }

  const classifier = saved as SavedClassifier;
  if (!quiet) console.error(`Loaded classifier model from file "${classifierFile}"`);
  const predicted = predictClasses(classifier, embeddings);
  const accuracy = accuracyOf(classifier, embeddings, part.labels, classes);
  if (flags.values["json"]) {
    console.log(JSON.stringify({
      accuracy,
      images: part.paths.length,
      predictions: part.paths.map((path, i) => ({
        path,
        truth: classes[part.labels[i] as number],
        predicted: classifier.classNames[predicted.classes[i] as number],
        probability: predicted.probabilities[i],
      })),
    }));
  } else {
    const lines = part.paths.map((_, i) =>
      `${String(i).padStart(4)}  ${classifier.classNames[predicted.classes[i] as number]}: ${
        (predicted.probabilities[i] as number).toFixed(3)
      }`
    );
    lines.push(`Accuracy: ${accuracy.toFixed(3)}`);
    console.log(lines.join("\n"));
  }
  return 0;
}

/** The fraction of rows whose predicted class name equals the true identity's name. */
function accuracyOf(
  classifier: SoftmaxClassifier,
  embeddings: Parameters<typeof predictClasses>[1],
  labels: readonly number[],
  classes: readonly string[],
): number {
  if (labels.length === 0) return 0;
  const predicted = predictClasses(classifier, embeddings);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    if (classifier.classNames[predicted.classes[i] as number] === classes[labels[i] as number]) {
      correct++;
    }
  }
  return correct / labels.length;
}
