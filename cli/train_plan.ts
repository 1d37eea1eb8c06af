/**
 * The pure half of `train`: flags, a preset and a description of the loaded
 * data become a typed {@link TrainPlan}. No files, clocks or devices here;
 * cli/train.ts executes the plan.
 *
 * @module
 */

import {
  FLAG_LIMITS,
  type FlagTable,
  type FlagUse,
  type FlagValues,
  formatHelp,
  type ParsedFlags,
  parseFlags,
  type ParseFlagsOptions,
  UsageError,
} from "./flags.ts";
import { BACKEND_FLAGS } from "./backends.ts";
import { type PresetName, PRESETS, type TrainSettings } from "./presets.ts";
import type { TrainingOptions } from "../core/backend.ts";
import type { ModelSpec } from "../core/model_spec.ts";
import { MODEL_NAMES, modelSpec } from "../core/models/registry.ts";
import { PRETRAINED_MODELS, PRETRAINED_NAMES, type PretrainedName } from "../io/pretrained.ts";
import { exponentialDecay, scheduledRate, type ScheduleEntry } from "../core/pure/schedule.ts";

const OPTIMIZERS = ["ADAGRAD", "ADADELTA", "ADAM", "RMSPROP", "MOM", "SGD"] as const;

const triplet = (v: FlagValues) => v["loss"] === "triplet";
const files = (v: FlagValues) => v["data-dir"] !== undefined || v["lfw-dir"] !== undefined;
const noSchedule = (v: FlagValues) => v["learning-rate-schedule-file"] === undefined;
const TRIPLET_ONLY: FlagUse = { when: triplet, noEffect: "without --loss triplet" };
const SOFTMAX_ONLY: FlagUse = {
  when: (v) => !triplet(v),
  noEffect: "with --loss triplet (it needs softmax or arcface)",
};
const ARCFACE_ONLY: FlagUse = {
  when: (v) => v["loss"] === "arcface",
  noEffect: "without --loss arcface",
};
const DATA_DIR_ONLY: FlagUse = {
  when: (v) => v["data-dir"] !== undefined,
  noEffect: "without --data-dir",
};
/** The reference implementation ignored the decay flags beside a schedule file: a warning. */
const DECAY_ONLY: FlagUse = {
  when: noSchedule,
  noEffect: "with --learning-rate-schedule-file",
  warnOnly: true,
};

/** The train command's flags. Numeric defaults come from the preset. */
export const TRAIN_FLAGS: FlagTable = {
  "preset": {
    kind: "string",
    help: "settings preset: small (nano on synthetic faces), facenet (FaceNet (TensorFlow)'s " +
      "train_tripletloss defaults), tiny",
    default: "small",
    choices: ["small", "facenet", "tiny"],
  },
  ...BACKEND_FLAGS,
  "model": {
    kind: "string",
    help: "network spec (default: the preset's, or the --pretrained model's)",
    choices: [...MODEL_NAMES],
  },
  "pretrained": {
    kind: "string",
    help: `start from a pretrained model (${PRETRAINED_NAMES.join(", ")}); its spec, input ` +
      "size and embedding size become the defaults",
  },
  "image-size": {
    kind: "number",
    help: "input image size in pixels",
    integer: true,
    min: 8,
    max: FLAG_LIMITS.imageSize,
  },
  "embedding-size": {
    kind: "number",
    help: "embedding dimension",
    integer: true,
    min: 1,
    max: FLAG_LIMITS.embeddingSize,
  },
  "people-per-batch": {
    kind: "number",
    help: "identities sampled per round (triplets need 2 or more)",
    integer: true,
    min: 2,
    usedWhen: TRIPLET_ONLY,
  },
  "images-per-person": {
    kind: "number",
    help: "images per sampled identity",
    integer: true,
    min: 2,
    usedWhen: TRIPLET_ONLY,
  },
  "alpha": {
    kind: "number",
    help: "triplet margin",
    min: 0,
    exclusiveMin: true,
    usedWhen: TRIPLET_ONLY,
  },
  "batch-size": {
    kind: "number",
    help: "images per training step (multiple of 3)",
    integer: true,
    min: 3,
  },
  "epoch-size": { kind: "number", help: "training steps per epoch", integer: true, min: 1 },
  "max-nrof-epochs": { kind: "number", help: "epochs to train", integer: true, min: 1 },
  "optimizer": { kind: "string", help: "optimizer", choices: OPTIMIZERS },
  "learning-rate": {
    kind: "number",
    help: "initial learning rate, > 0 (-1: take the rates from --learning-rate-schedule-file)",
    usedWhen: {
      when: (v) => noSchedule(v) || (v["learning-rate"] as number) < 0,
      noEffect: "with --learning-rate-schedule-file (the file sets every epoch's rate; " +
        "--learning-rate -1 selects it)",
    },
  },
  "learning-rate-decay-epochs": {
    kind: "number",
    help: "epochs between decays",
    integer: true,
    min: 1,
    usedWhen: DECAY_ONLY,
  },
  "learning-rate-decay-factor": {
    kind: "number",
    help: "staircase decay factor",
    min: 0,
    exclusiveMin: true,
    usedWhen: DECAY_ONLY,
  },
  "learning-rate-schedule-file": { kind: "string", help: "file of `epoch: lr` lines" },
  "moving-average-decay": {
    kind: "number",
    help: "decay of the parameters' moving average",
    min: 0,
    max: 1,
  },
  "weight-decay": { kind: "number", help: "L2 weight decay", min: 0 },
  "keep-probability": {
    kind: "number",
    help: "dropout keep probability",
    min: 0,
    exclusiveMin: true,
    max: 1,
  },
  "random-crop": {
    kind: "boolean",
    help: "random crop to --image-size (needs --data-dir)",
    usedWhen: DATA_DIR_ONLY,
  },
  "random-flip": {
    kind: "boolean",
    help: "random horizontal flip (needs --data-dir)",
    usedWhen: DATA_DIR_ONLY,
  },
  "selection": {
    kind: "string",
    help: "triplet selection",
    choices: ["vggface", "facenet", "hard", "all"],
    usedWhen: TRIPLET_ONLY,
  },
  "seed": { kind: "number", help: "random seed", integer: true, min: 0 },
  "synthetic-nuisance": {
    kind: "number",
    help: "strength of the synthetic faces' nuisances, 0..2",
    min: 0,
    max: 2,
    usedWhen: {
      when: (v) => v["data-dir"] === undefined,
      noEffect: "with --data-dir (it sets the synthetic faces)",
    },
  },
  "lfw-nrof-folds": {
    kind: "number",
    help: "validation folds",
    integer: true,
    min: 2,
    // Every configuration validates on pairs (the file's, the held-out identities' or the
    // synthetic ones), so the fold count always has an effect.
  },
  "data-dir": {
    kind: "string",
    help: "train on a folder of identities (one sub-folder each, JPEG/PNG) instead of the " +
      "synthetic faces",
  },
  "min-nrof-images-per-class": {
    kind: "number",
    help: "with --data-dir: drop identities with fewer images",
    integer: true,
    min: 1,
    default: 1,
    usedWhen: DATA_DIR_ONLY,
  },
  "validation-identities": {
    kind: "number",
    help: "with --data-dir and no --lfw-pairs: identities held out for pair validation, a " +
      "fraction (< 1) or a count; their LFW-style pairs are written to --out as pairs.txt",
    min: 0,
    exclusiveMin: true,
    default: 0.2,
    usedWhen: {
      when: (v) => v["data-dir"] !== undefined && v["lfw-pairs"] === undefined,
      noEffect: "without --data-dir or with --lfw-pairs",
    },
  },
  "lfw-dir": { kind: "string", help: "with --lfw-pairs: the folder of the pair images" },
  "lfw-pairs": {
    kind: "string",
    help: "validate each epoch on these pairs (LFW pairs.txt format)",
  },
  "allow-missing": {
    kind: "boolean",
    help: "validate on the pairs whose images exist instead of stopping",
    usedWhen: { when: (v) => v["lfw-pairs"] !== undefined, noEffect: "without --lfw-pairs" },
  },
  "resize": {
    kind: "number",
    help: "with --data-dir or --lfw-dir: resize images to N pixels before cropping",
    integer: true,
    min: 1,
    max: FLAG_LIMITS.imageSize * 4,
    usedWhen: { when: files, noEffect: "without image files (--data-dir or --lfw-dir)" },
  },
  "out": { kind: "string", help: "run directory: metrics.jsonl and checkpoints" },
  "resume": { kind: "string", help: "continue the run in this directory (or checkpoint)" },
  "keep-checkpoints": {
    kind: "number",
    help: "checkpoints to keep",
    integer: true,
    min: 1,
    default: 3,
    usedWhen: {
      when: (v) => v["out"] !== undefined || v["resume"] !== undefined,
      noEffect: "without --out or --resume",
    },
  },
  "quiet": { kind: "boolean", help: "no progress output" },
  "loss": {
    kind: "string",
    help:
      "triplet (train_tripletloss), softmax (train_softmax: classifier, optional center loss), " +
      "arcface (softmax with an additive angular margin)",
    default: "triplet",
    choices: ["triplet", "softmax", "arcface"],
  },
  "center-loss-factor": {
    kind: "number",
    help: "softmax/arcface: center loss weight",
    min: 0,
    default: 0,
    usedWhen: SOFTMAX_ONLY,
  },
  "center-loss-alfa": {
    kind: "number",
    help: "softmax/arcface: center update rate",
    min: 0,
    max: 1,
    default: 0.95,
    usedWhen: SOFTMAX_ONLY,
  },
  "prelogits-norm-loss-factor": {
    kind: "number",
    help: "softmax/arcface: weight of the prelogits norm penalty",
    min: 0,
    default: 0,
    usedWhen: SOFTMAX_ONLY,
  },
  "prelogits-norm-p": {
    kind: "number",
    help: "softmax/arcface: norm order of the prelogits penalty",
    min: 1,
    default: 1.0,
    usedWhen: SOFTMAX_ONLY,
  },
  "margin": {
    kind: "number",
    help: "arcface: additive angular margin in radians",
    min: 0,
    max: Math.PI / 2,
    default: 0.5,
    usedWhen: ARCFACE_ONLY,
  },
  "scale": {
    kind: "number",
    help: "arcface: logit scale",
    min: 0,
    exclusiveMin: true,
    default: 64,
    usedWhen: ARCFACE_ONLY,
  },
  "validation-set-split-ratio": {
    kind: "number",
    help: "softmax/arcface: fraction of each identity's images held out for validation",
    min: 0,
    max: 0.99,
    default: 0,
    usedWhen: SOFTMAX_ONLY,
  },
  "min-nrof-val-images-per-class": {
    kind: "number",
    help: "softmax/arcface: identities with fewer held-out images keep them all for training",
    integer: true,
    min: 0,
    default: 0,
    usedWhen: SOFTMAX_ONLY,
  },
  "validate-every-n-epochs": {
    kind: "number",
    help: "softmax/arcface: epochs between held-out validations (and after the last epoch)",
    integer: true,
    min: 1,
    default: 1,
    usedWhen: SOFTMAX_ONLY,
  },
  "batch-norm-decay": {
    kind: "number",
    help:
      "batch-norm moving-statistics decay of every layer (the reference implementation's 0.995 " +
      "needs hundreds of steps before inference mode is meaningful; short runs: 0.9)",
    min: 0,
    max: 1,
    exclusiveMin: true,
  },
  "random-rotate": {
    kind: "boolean",
    help: "rotate training images by a random angle in [-10, 10) degrees",
  },
};

const FLAG_TO_SETTING: Record<string, keyof TrainSettings> = {
  "model": "model",
  "image-size": "imageSize",
  "embedding-size": "embeddingSize",
  "people-per-batch": "peoplePerBatch",
  "images-per-person": "imagesPerPerson",
  "alpha": "alpha",
  "batch-size": "batchSize",
  "epoch-size": "epochSize",
  "max-nrof-epochs": "maxNrofEpochs",
  "optimizer": "optimizer",
  "learning-rate": "learningRate",
  "learning-rate-decay-epochs": "learningRateDecayEpochs",
  "learning-rate-decay-factor": "learningRateDecayFactor",
  "moving-average-decay": "movingAverageDecay",
  "weight-decay": "weightDecay",
  "keep-probability": "keepProbability",
  "selection": "selection",
  "seed": "seed",
  "lfw-nrof-folds": "lfwNrofFolds",
  "synthetic-nuisance": "syntheticNuisance",
  "batch-norm-decay": "batchNormDecay",
};

function presetNotes(): string[] {
  const keys = Object.entries(FLAG_TO_SETTING);
  const lines = ["presets (an explicit flag overrides the preset):"];
  for (const name of ["small", "facenet", "tiny"] as PresetName[]) {
    const preset = PRESETS[name];
    lines.push(
      `  ${name}: ` + keys.map(([flag, key]) => `--${flag}=${preset[key]}`).join(" "),
    );
  }
  return lines;
}

/** The help text of `train`. */
export function trainHelp(): string {
  return formatHelp("deno task train [flags]", TRAIN_FLAGS, presetNotes());
}

/**
 * Parses `train`'s arguments against {@link TRAIN_FLAGS}.
 *
 * @param args Arguments after `train`.
 * @param options Where warnings about flags without effect go (default: stderr).
 * @returns The parsed flags, preset defaults not yet applied.
 * @throws {UsageError} For an unknown flag, a bad value, or a flag the run would not use.
 * @example
 * ```ts
 * import { parseTrainFlags } from "./train_plan.ts";
 * import assert from "node:assert/strict";
 *
 * const flags = parseTrainFlags(["--alpha=0.3"]);
 * assert.equal(flags.values["alpha"], 0.3);
 * assert.ok(flags.explicit.has("alpha"));
 * ```
 */
export function parseTrainFlags(
  args: readonly string[],
  options: ParseFlagsOptions = {},
): ParsedFlags {
  return parseFlags(args, TRAIN_FLAGS, options);
}

/** The loss families `train` offers. */
export type LossKind = "triplet" | "softmax" | "arcface";

/** Where the training identities come from. */
export type TrainDataPlan =
  | {
    /** The synthetic identities of core/synthetic/. */
    readonly kind: "synthetic";
    readonly seed: number;
    readonly identities: number;
    readonly imagesPerIdentity: number;
  }
  | {
    /** A folder with one sub-folder of images per identity. */
    readonly kind: "folder";
    readonly dir: string;
    readonly minNrofImagesPerClass: number;
  };

/** What each epoch is validated on. */
export type PairsPlan =
  | {
    /** Synthetic pairs of held-out synthetic identities. */
    readonly kind: "synthetic";
    readonly seed: number;
    readonly identities: number;
    readonly imagesPerIdentity: number;
    readonly folds: number;
    readonly pairsPerFold: number;
  }
  | {
    /** An LFW-format pairs file over a folder of images. */
    readonly kind: "lfw";
    readonly pairsFile: string;
    readonly dir: string;
    readonly allowMissing: boolean;
    /** Explicit `--lfw-nrof-folds`; null: the file's own fold count. */
    readonly nrofFolds: number | null;
  }
  | {
    /**
     * Pairs over identities held out of the data folder (io/validation_pairs.ts):
     * `request` is a fraction of the identities or a count.
     */
    readonly kind: "held-out";
    readonly request: number;
    readonly seed: number;
    readonly folds: number;
    readonly pairsPerFold: number;
  };

/** How each epoch's learning rate is found. */
export type LearningRatePlan =
  | {
    /** `epoch: lr` lines read from a file by the shell. */
    readonly kind: "schedule";
    readonly file: string;
  }
  | {
    /** TF's staircase exponential decay over the global step. */
    readonly kind: "decay";
    readonly learningRate: number;
    readonly decaySteps: number;
    readonly decayRate: number;
  };

/** How training and validation images are prepared. */
export interface ImagePlan {
  /** Model input size in pixels. */
  readonly size: number;
  /** Resize files to this size before cropping; null: no resize. */
  readonly resize: number | null;
  readonly randomCrop: boolean;
  readonly randomFlip: boolean;
  /** Maximum random rotation in degrees (0: none). */
  readonly randomRotate: number;
  /** Strength of the synthetic faces' nuisances. */
  readonly syntheticNuisance: number;
}

/** The softmax/arcface loss settings (unused by triplet loss). */
export interface SoftmaxPlan {
  readonly centerLossFactor: number;
  readonly centerLossAlfa: number;
  readonly prelogitsNormLossFactor: number;
  readonly prelogitsNormP: number;
  /** ArcFace's margin and scale; null for plain softmax. */
  readonly arcface: { readonly margin: number; readonly scale: number } | null;
  /** Held-out split of each identity's images. */
  readonly split: { readonly ratio: number; readonly minNrofValImagesPerClass: number };
  /** Epochs between held-out validations (and after the last epoch). */
  readonly validateEveryNEpochs: number;
}

/** Everything a `train` run does, decided before any file is read. */
export interface TrainPlan {
  /** The preset the settings start from. */
  readonly preset: PresetName;
  /** The preset with the explicit flags applied. */
  readonly settings: TrainSettings;
  /** The backend to open. */
  readonly backend: {
    readonly name: string;
    readonly device: string | undefined;
    readonly threads: number | undefined;
  };
  /** The network, with every batch norm's decay set to `settings.batchNormDecay`. */
  readonly spec: ModelSpec;
  readonly loss: LossKind;
  readonly softmax: SoftmaxPlan;
  readonly data: TrainDataPlan;
  readonly pairs: PairsPlan;
  readonly images: ImagePlan;
  readonly learningRate: LearningRatePlan;
  /** Run folder for metrics and checkpoints; undefined: nothing is written. */
  readonly out: string | undefined;
  /** Run folder or checkpoint to resume from. */
  readonly resume: string | undefined;
  /** The pretrained model a new run starts from (its spec parameters; the softmax head is new). */
  readonly pretrained: string | undefined;
  readonly keepCheckpoints: number;
  readonly quiet: boolean;
}

/** The default learning rate of `train --pretrained` (fine-tuning; Adam in the presets). */
export const PRETRAINED_LEARNING_RATE = 5e-4;

/**
 * Builds the plan of a `train` run from parsed flags.
 *
 * @param flags The parsed flags ({@link parseTrainFlags}).
 * @returns The plan.
 * @throws {UsageError} When flags contradict each other.
 * @example
 * ```ts
 * import { parseTrainFlags, planTrain } from "./train_plan.ts";
 * import assert from "node:assert/strict";
 *
 * const plan = planTrain(parseTrainFlags(["--preset", "tiny", "--alpha", "0.3"]));
 * assert.equal(plan.settings.alpha, 0.3);
 * assert.equal(plan.data.kind, "synthetic");
 * ```
 */
export function planTrain(flags: ParsedFlags): TrainPlan {
  const v = flags.values;
  if (flags.positionals.length > 0) {
    throw new UsageError(`train takes no positional arguments, got "${flags.positionals[0]}"`);
  }
  const preset = v["preset"] as PresetName;
  const merged: Record<string, unknown> = { ...PRESETS[preset] };
  for (const [flag, key] of Object.entries(FLAG_TO_SETTING)) {
    if (flags.explicit.has(flag)) merged[key] = v[flag];
  }
  const pretrained = v["pretrained"] as string | undefined;
  if (pretrained !== undefined) {
    if (!(PRETRAINED_NAMES as readonly string[]).includes(pretrained)) {
      throw new UsageError(
        `--pretrained: unknown pretrained model "${pretrained}"; available: ${
          PRETRAINED_NAMES.join(", ")
        }`,
      );
    }
    if (v["resume"] !== undefined) {
      throw new UsageError("--pretrained starts a new run; --resume continues one (give one)");
    }
    const info = PRETRAINED_MODELS[pretrained as PretrainedName];
    const fixed = [
      ["model", "model", info.model],
      ["image-size", "imageSize", info.imageSize],
      ["embedding-size", "embeddingSize", info.embeddingSize],
    ] as const;
    for (const [flag, key, value] of fixed) {
      if (flags.explicit.has(flag) && v[flag] !== value) {
        throw new UsageError(
          `--${flag} ${v[flag]}: the pretrained ${pretrained} has ${key} ${value}` +
            (flag === "image-size" ? ` (${value}x${value} images, not ${v[flag]}x${v[flag]})` : ""),
        );
      }
      merged[key] = value;
    }
    merged["pretrained"] = pretrained;
    merged["align"] = info.align;
    // Fine-tuning rate: without batch norm the first layers' gradients are large; at 5e-4 one
    // SGD step on a real triplet already takes its loss from 0.85 to 0.04
    // (tests/mobilefacenet_finetune_test.ts).
    if (!flags.explicit.has("learning-rate")) merged["learningRate"] = PRETRAINED_LEARNING_RATE;
  }
  const s = merged as unknown as TrainSettings;
  if (s.batchSize % 3 !== 0) {
    throw new UsageError(`--batch-size must be a multiple of 3, got ${s.batchSize}`);
  }
  const dataDir = v["data-dir"] as string | undefined;
  const lfwPairs = v["lfw-pairs"] as string | undefined;
  const lfwDir = v["lfw-dir"] as string | undefined;
  if ((lfwPairs === undefined) !== (lfwDir === undefined)) {
    throw new UsageError("--lfw-pairs and --lfw-dir go together");
  }
  const loss = v["loss"] as LossKind;
  const ratio = v["validation-set-split-ratio"] as number;
  const scheduleFile = v["learning-rate-schedule-file"] as string | undefined;
  if (scheduleFile === undefined && !(s.learningRate > 0)) {
    throw new UsageError(
      `--learning-rate must be > 0 without --learning-rate-schedule-file, got ${s.learningRate}` +
        (s.learningRate === -1 ? " (-1 means: take the rates from the schedule file)" : ""),
    );
  }
  const spec = specOf(s);
  const resume = v["resume"] as string | undefined;
  const resize = v["resize"] as number | undefined;
  return {
    preset,
    settings: s,
    backend: {
      name: v["backend"] as string,
      device: v["device"] as string | undefined,
      threads: v["threads"] as number | undefined,
    },
    spec,
    loss,
    softmax: {
      centerLossFactor: v["center-loss-factor"] as number,
      centerLossAlfa: v["center-loss-alfa"] as number,
      prelogitsNormLossFactor: v["prelogits-norm-loss-factor"] as number,
      prelogitsNormP: v["prelogits-norm-p"] as number,
      arcface: loss === "arcface"
        ? { margin: v["margin"] as number, scale: v["scale"] as number }
        : null,
      split: {
        ratio,
        minNrofValImagesPerClass: v["min-nrof-val-images-per-class"] as number,
      },
      validateEveryNEpochs: v["validate-every-n-epochs"] as number,
    },
    data: dataDir !== undefined
      ? {
        kind: "folder",
        dir: dataDir,
        minNrofImagesPerClass: v["min-nrof-images-per-class"] as number,
      }
      : {
        kind: "synthetic",
        seed: s.seed,
        identities: s.trainIdentities,
        imagesPerIdentity: s.imagesPerIdentity,
      },
    pairs: lfwPairs !== undefined && lfwDir !== undefined
      ? {
        kind: "lfw",
        pairsFile: lfwPairs,
        dir: lfwDir,
        allowMissing: v["allow-missing"] === true,
        nrofFolds: flags.explicit.has("lfw-nrof-folds") ? s.lfwNrofFolds : null,
      }
      : dataDir !== undefined
      ? {
        kind: "held-out",
        request: v["validation-identities"] as number,
        seed: s.seed,
        folds: s.lfwNrofFolds,
        pairsPerFold: s.valPairsPerFold,
      }
      : {
        kind: "synthetic",
        seed: s.seed,
        identities: s.valIdentities,
        imagesPerIdentity: s.valImagesPerIdentity,
        folds: s.lfwNrofFolds,
        pairsPerFold: s.valPairsPerFold,
      },
    images: {
      size: s.imageSize,
      resize: resize ?? null,
      randomCrop: v["random-crop"] === true,
      randomFlip: v["random-flip"] === true,
      randomRotate: v["random-rotate"] === true ? 10 : 0,
      syntheticNuisance: s.syntheticNuisance,
    },
    learningRate: scheduleFile !== undefined ? { kind: "schedule", file: scheduleFile } : {
      kind: "decay",
      learningRate: s.learningRate,
      decaySteps: s.learningRateDecayEpochs * s.epochSize,
      decayRate: s.learningRateDecayFactor,
    },
    out: (v["out"] as string | undefined) ?? resume,
    resume,
    pretrained,
    keepCheckpoints: v["keep-checkpoints"] as number,
    quiet: v["quiet"] === true,
  };
}

function specOf(s: TrainSettings): ModelSpec {
  const baseSpec = modelSpec(s.model, {
    embeddingSize: s.embeddingSize,
    keepProbability: s.keepProbability,
    imageSize: s.imageSize,
  });
  return {
    ...baseSpec,
    nodes: baseSpec.nodes.map((node) =>
      node.op === "batchNorm" ? { ...node, decay: s.batchNormDecay } : node
    ),
  };
}

/** What the shell measured about a training folder, for {@link fitPlanToData}. */
export interface FolderSummary {
  /** Training identities (after holding out validation identities). */
  readonly identities: number;
  /** Image count of each training identity. */
  readonly imagesPerIdentity: readonly number[];
  /** The images' size when every probed image has the same one; null when they differ. */
  readonly imageSize: { readonly width: number; readonly height: number } | null;
}

/** One setting {@link fitPlanToData} chose. */
export interface SettingChoice {
  /** The flag (kebab-case, as on the command line). */
  readonly flag: string;
  /** The chosen value. */
  readonly value: number | boolean;
  /** Why, in a few words. */
  readonly why: string;
}

/**
 * The learning rate and schedule for real images, per loss (Adam), and the
 * length of a run on a folder of few identities; measured on Fashion-MNIST
 * (README "Real data"): longer runs overfit 7 training identities.
 */
export const REAL_DATA_SCHEDULE = {
  triplet: { learningRate: 0.1, learningRateDecayEpochs: 2, learningRateDecayFactor: 0.5 },
  softmax: { learningRate: 0.1, learningRateDecayEpochs: 4, learningRateDecayFactor: 0.5 },
  fewIdentities: { maxNrofEpochs: 4, epochSize: 30, keepProbability: 0.8 },
  /** The `small` preset's 0.99 and 1e-4 are tuned to its 720 synthetic steps; real data was measured with these. */
  regularization: { batchNormDecay: 0.9, weightDecay: 0 },
} as const;

/** The reference implementation's crop ratio: 182 px aligned faces randomly cropped to 160. */
const CROP_RATIO = 182 / 160;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

/**
 * Fits a `--data-dir` plan to the folder it trains on; every flag given
 * explicitly is kept as given. The rules:
 * - triplet loss: people per batch at most the training identities;
 * - images per person: enough that a round still holds the preset's number of
 *   anchor/positive pairs, at most the median identity's image count;
 *   batch size a multiple of 3, at most one round's images;
 * - image size (nano): the folder's own size when its images are square, one
 *   size and smaller than the preset's (padding only adds border); square
 *   images of one size are then resized to 182/160 of the input size and randomly cropped and
 *   flipped in training, as the reference implementation trains on 182 px
 *   crops of 160;
 * - learning rate and schedule: {@link REAL_DATA_SCHEDULE} for the loss; with
 *   fewer identities than the preset's people per batch, its shorter run and
 *   dropout too.
 * Plans that train on synthetic identities are returned unchanged.
 *
 * @param plan The plan ({@link planTrain}).
 * @param explicit The flags given explicitly.
 * @param data The folder's summary.
 * @returns The fitted plan and, for each changed setting, why.
 * @throws {RangeError} When the summary has no identity or its counts disagree.
 * @example Seven identities of 300 images, 28 px
 * ```ts
 * import { fitPlanToData, parseTrainFlags, planTrain } from "./train_plan.ts";
 * import assert from "node:assert/strict";
 *
 * const flags = parseTrainFlags(["--data-dir", "fmnist/train", "--batch-size", "60"]);
 * const { plan, choices } = fitPlanToData(planTrain(flags), flags.explicit, {
 *   identities: 7,
 *   imagesPerIdentity: new Array(7).fill(300),
 *   imageSize: { width: 28, height: 28 },
 * });
 * assert.equal(plan.settings.peoplePerBatch, 7);
 * assert.equal(plan.settings.imagesPerPerson, 10); // 7 x C(10, 2) >= the preset's 45 x C(4, 2) pairs
 * assert.equal(plan.settings.imageSize, 28);
 * assert.equal(plan.images.resize, 32);
 * assert.equal(plan.settings.batchSize, 60); // explicit: kept
 * assert.ok(choices.some((c) => c.flag === "people-per-batch"));
 * ```
 */
export function fitPlanToData(
  plan: TrainPlan,
  explicit: ReadonlySet<string>,
  data: FolderSummary,
): { plan: TrainPlan; choices: SettingChoice[] } {
  if (plan.data.kind !== "folder") return { plan, choices: [] };
  if (!Number.isSafeInteger(data.identities) || data.identities < 1) {
    throw new RangeError(
      `The training folder must hold at least 1 identity, got ${data.identities}`,
    );
  }
  if (data.imagesPerIdentity.length !== data.identities) {
    throw new RangeError(
      `Image counts of ${data.imagesPerIdentity.length} identities were given for ${data.identities}`,
    );
  }
  const preset = plan.settings;
  const next: Record<string, unknown> = { ...preset };
  const choices: SettingChoice[] = [];
  const choose = (flag: string, value: number, why: string) => {
    const key = FLAG_TO_SETTING[flag] as keyof TrainSettings;
    if (explicit.has(flag) || preset[key] === value) return;
    next[key] = value;
    choices.push({ flag, value, why });
  };
  // People, images per person and the batch shape triplet rounds; softmax batches draw from
  // the whole folder.
  if (plan.loss === "triplet") {
    const people = Math.min(preset.peoplePerBatch, data.identities);
    choose(
      "people-per-batch",
      people,
      `the folder has ${data.identities} training identities (preset ${preset.peoplePerBatch})`,
    );
    const ppb = next["peoplePerBatch"] as number;
    // As many anchor/positive pairs per round as the preset's (45 x C(4, 2) = 270): with few
    // identities, more images per person make rounds of hundreds of steps that overfit them.
    const pairsPerRound = preset.peoplePerBatch * preset.imagesPerPerson *
      (preset.imagesPerPerson - 1) / 2;
    const typical = median(data.imagesPerIdentity);
    let perPerson = preset.imagesPerPerson;
    while (ppb * perPerson * (perPerson - 1) / 2 < pairsPerRound) perPerson++;
    choose(
      "images-per-person",
      Math.max(2, Math.min(perPerson, typical)),
      `rounds of ${ppb} people keep the preset's ${pairsPerRound} anchor/positive pairs ` +
        `(${preset.peoplePerBatch} x ${preset.imagesPerPerson} images), at most the median ` +
        `identity's ${typical} images`,
    );
    const roundImages = ppb * Math.min(next["imagesPerPerson"] as number, typical);
    choose(
      "batch-size",
      Math.max(3, Math.min(preset.batchSize, 3 * Math.floor(roundImages / 3))),
      `a multiple of 3, at most one round's ${roundImages} images`,
    );
  }
  const size = data.imageSize;
  if (
    preset.model === "nano" && size !== null && size.width === size.height &&
    size.width >= 16 && size.width < preset.imageSize
  ) {
    choose(
      "image-size",
      size.width,
      `the folder's images are ${size.width}x${size.height} (padding to ${preset.imageSize} ` +
        `adds only border)`,
    );
  }
  const schedule = REAL_DATA_SCHEDULE[plan.loss === "triplet" ? "triplet" : "softmax"];
  const measured = "real images, measured on Fashion-MNIST (README, Real data)";
  // A pretrained model keeps its fine-tuning rate, has no dropout, and needs its aligned faces
  // whole (no resize and random crop).
  const pretrained = plan.pretrained !== undefined;
  if (!pretrained && plan.learningRate.kind === "decay") {
    choose("learning-rate", schedule.learningRate, measured);
    choose("learning-rate-decay-epochs", schedule.learningRateDecayEpochs, measured);
    choose("learning-rate-decay-factor", schedule.learningRateDecayFactor, measured);
  }
  if (plan.preset === "small") {
    const { batchNormDecay, weightDecay } = REAL_DATA_SCHEDULE.regularization;
    choose("batch-norm-decay", batchNormDecay, measured);
    choose("weight-decay", weightDecay, measured);
  }
  if (!pretrained && data.identities < preset.peoplePerBatch) {
    const few = REAL_DATA_SCHEDULE.fewIdentities;
    const why = `few identities (${data.identities}) overfit in longer runs: ${measured}`;
    choose("max-nrof-epochs", few.maxNrofEpochs, why);
    choose("epoch-size", few.epochSize, why);
    choose(
      "keep-probability",
      few.keepProbability,
      `few identities (${data.identities}): on Fashion-MNIST keep 0.5 ended under the pixel ` +
        `baseline with 5 training classes and no dropout let 7 fall to within 0.05 of it ` +
        `(README, Real data)`,
    );
  }
  const s = next as unknown as TrainSettings;
  let images = plan.images;
  const input = s.imageSize;
  if (
    !pretrained && !explicit.has("resize") && !explicit.has("random-crop") && size !== null &&
    size.width === size.height
  ) {
    const resize = Math.round(input * CROP_RATIO);
    images = { ...images, resize, randomCrop: true };
    choices.push({
      flag: "resize",
      value: resize,
      why: `${input} x 182/160, then random crops of ${input} in training (the reference ` +
        `implementation's 182 px crops of 160)`,
    });
    choices.push({ flag: "random-crop", value: true, why: "see --resize" });
  }
  if (!explicit.has("random-flip")) {
    images = { ...images, randomFlip: true };
    choices.push({ flag: "random-flip", value: true, why: "mirror images in training" });
  }
  images = { ...images, size: input };
  const learningRate: LearningRatePlan = plan.learningRate.kind === "decay"
    ? {
      kind: "decay",
      learningRate: s.learningRate,
      decaySteps: s.learningRateDecayEpochs * s.epochSize,
      decayRate: s.learningRateDecayFactor,
    }
    : plan.learningRate;
  return { plan: { ...plan, settings: s, spec: specOf(s), images, learningRate }, choices };
}

/**
 * The lines `train` prints about what {@link fitPlanToData} chose.
 *
 * @param choices The choices.
 * @returns A heading and one line per choice (`--flag value: why`); none when nothing changed.
 * @example
 * ```ts
 * import { describeChoices } from "./train_plan.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(describeChoices([{ flag: "people-per-batch", value: 7, why: "7 identities" }]), [
 *   "settings fitted to the data (an explicit flag wins):",
 *   "  --people-per-batch 7: 7 identities",
 * ]);
 * ```
 */
export function describeChoices(choices: readonly SettingChoice[]): string[] {
  if (choices.length === 0) return [];
  return [
    "settings fitted to the data (an explicit flag wins):",
    ...choices.map((c) => `  --${c.flag} ${c.value}: ${c.why}`),
  ];
}

/** What the shell learned about the training data after loading it. */
export interface DataDescription {
  /** Number of training identities (the softmax classes). */
  readonly identities: number;
}

/**
 * The loss, optimizer and regularization a plan trains with.
 *
 * @param plan The plan.
 * @param data The loaded data (softmax needs its number of identities).
 * @returns The training options.
 * @example
 * ```ts
 * import { parseTrainFlags, planTrain, trainingOptions } from "./train_plan.ts";
 * import assert from "node:assert/strict";
 *
 * const plan = planTrain(parseTrainFlags(["--preset=tiny", "--loss=softmax"]));
 * const options = trainingOptions(plan, { identities: 7 });
 * assert.equal(options.loss.kind === "softmax" && options.loss.numClasses, 7);
 * ```
 */
export function trainingOptions(plan: TrainPlan, data: DataDescription): TrainingOptions {
  const s = plan.settings;
  const m = plan.softmax;
  return {
    loss: plan.loss !== "triplet"
      ? {
        kind: "softmax",
        numClasses: data.identities,
        centerLossFactor: m.centerLossFactor,
        centerLossAlfa: m.centerLossAlfa,
        prelogitsNormLossFactor: m.prelogitsNormLossFactor,
        prelogitsNormP: m.prelogitsNormP,
        ...(m.arcface === null ? {} : { arcface: m.arcface }),
      }
      : { kind: "triplet", alpha: s.alpha },
    optimizer: { name: s.optimizer },
    weightDecay: s.weightDecay,
    movingAverageDecay: s.movingAverageDecay > 0 ? s.movingAverageDecay : null,
  };
}

/**
 * The learning rate of an epoch: the schedule file's entry, or the staircase
 * decay at the global step the epoch starts from. A rate <= 0 ends training.
 *
 * @param plan The learning-rate part of a plan.
 * @param at The epoch (0-based), the global step it starts at, and the parsed
 *   schedule file when the plan has one.
 * @returns The learning rate.
 * @throws {RangeError} When a schedule plan comes without its entries.
 * @example
 * ```ts
 * import { epochLearningRate } from "./train_plan.ts";
 * import assert from "node:assert/strict";
 *
 * const plan = { kind: "decay", learningRate: 0.1, decaySteps: 10, decayRate: 0.5 } as const;
 * assert.equal(epochLearningRate(plan, { epoch: 1, globalStep: 10, schedule: null }), 0.05);
 * ```
 */
export function epochLearningRate(
  plan: LearningRatePlan,
  at: {
    readonly epoch: number;
    readonly globalStep: number;
    readonly schedule: readonly ScheduleEntry[] | null;
  },
): number {
  if (plan.kind === "schedule") {
    if (at.schedule === null) {
      throw new RangeError(`The schedule of ${plan.file} was not given`);
    }
    return scheduledRate(at.schedule, at.epoch);
  }
  return exponentialDecay(at.globalStep, {
    learningRate: plan.learningRate,
    decaySteps: plan.decaySteps,
    decayRate: plan.decayRate,
    staircase: true,
  });
}

/**
 * Whether a softmax run validates on its held-out images after `epoch`
 * (0-based): every `validateEveryNEpochs` epochs and after the last one.
 *
 * @param plan The plan.
 * @param epoch The epoch just trained (0-based).
 * @param heldOutImages Number of held-out images (0: never).
 * @returns Whether to validate.
 * @example
 * ```ts
 * import { parseTrainFlags, planTrain, validatesHeldOut } from "./train_plan.ts";
 * import assert from "node:assert/strict";
 *
 * const plan = planTrain(parseTrainFlags([
 *   "--preset=tiny", "--loss=softmax", "--validate-every-n-epochs=2", "--max-nrof-epochs=5",
 * ]));
 * assert.deepEqual([0, 1, 2, 3, 4].map((e) => validatesHeldOut(plan, e, 10)),
 *   [false, true, false, true, true]);
 * ```
 */
export function validatesHeldOut(plan: TrainPlan, epoch: number, heldOutImages: number): boolean {
  if (plan.loss === "triplet" || heldOutImages === 0) return false;
  const every = plan.softmax.validateEveryNEpochs;
  return (epoch + 1) % every === 0 || epoch + 1 === plan.settings.maxNrofEpochs;
}
