/**
 * Shared by the tools that embed images with a trained model (validate,
 * embed, compare, classify, cluster): the model flags, loading a checkpoint
 * written by any backend onto the chosen backend, and embedding image files
 * the way the reference implementation's evaluation does (decode, optionally resize, centre crop
 * or pad to the model's input size, standardize, embed in inference mode with
 * the moving-average weights).
 *
 * @module
 */

import type { Backend, Model, TrainingOptions } from "../core/backend.ts";
import type { Matrix } from "../core/types.ts";
import type { FlagTable, ParsedFlags } from "./flags.ts";
import { FLAG_LIMITS, UsageError } from "./flags.ts";
import { BACKEND_FLAGS, openBackend } from "./backends.ts";
import { type Checkpoint, loadCheckpoint } from "../io/checkpoint.ts";
import { loadPretrained, PRETRAINED_NAMES } from "../io/pretrained.ts";
import { MODEL_NAMES, type ModelName, modelSpec } from "../core/models/registry.ts";
import { ImageLoader, type PrepareOptions, type Standardization } from "../io/pipeline.ts";
import { flipLeftRight, type RgbImage } from "../core/pure/image_ops.ts";
import { describeSkipped, loadDatasetFolder } from "../io/dataset.ts";
import type { Dataset } from "../core/types.ts";

/** The flags naming the model to load: --checkpoint or --pretrained (see {@link readModelCheckpoint}). */
export const CHECKPOINT_FLAGS: FlagTable = {
  "checkpoint": {
    kind: "string",
    help: "a ckpt-<step> folder or a run folder (its latest checkpoint)",
  },
  "pretrained": {
    kind: "string",
    help: `a pretrained model instead of --checkpoint (${PRETRAINED_NAMES.join(", ")})`,
  },
};

/** Flags of every tool that runs a model. */
export const MODEL_FLAGS: FlagTable = {
  ...CHECKPOINT_FLAGS,
  ...BACKEND_FLAGS,
  "batch-size": {
    kind: "number",
    help: "images per forward pass",
    integer: true,
    min: 1,
    default: 100,
  },
  "image-size": {
    kind: "number",
    help: "model input size (default: the checkpoint's training size)",
    integer: true,
    min: 8,
    max: FLAG_LIMITS.imageSize,
  },
  "resize": {
    kind: "number",
    help: "resize every image to N pixels before the centre crop or pad to the input size " +
      "(default: no resize, as the reference implementation)",
    integer: true,
    min: 1,
    max: FLAG_LIMITS.imageSize * 4,
  },
  "standardize": {
    kind: "string",
    help: "input standardization (default: the checkpoint's, else fixed (x-127.5)/128)",
    choices: ["fixed", "prewhiten", "none"],
  },
  "workers": {
    kind: "number",
    help: "image decoding workers",
    integer: true,
    min: 0,
    max: FLAG_LIMITS.workers,
    default: 0,
  },
  "quiet": { kind: "boolean", help: "no progress messages on stderr" },
};

/** A model loaded from a checkpoint, ready to embed files. */
export interface LoadedModel {
  readonly backend: Backend;
  readonly model: Model;
  /** The model spec's name. */
  readonly name: string;
  readonly embeddingSize: number;
  readonly imageSize: number;
  readonly standardize: Standardization;
  /** Whether the checkpoint keeps moving averages (used for embedding when it does). */
  readonly useMovingAverage: boolean;
  /** The training step of the checkpoint. */
  readonly step: number;
  /** The SHA-256 of the checkpoint's tensors file, when its metadata records it. */
  readonly sha256?: string;
  /** The pretrained model's name (`--pretrained`), absent for a checkpoint. */
  readonly pretrained?: string;
  /** Where the model came from: the checkpoint path or `pretrained:<name>`. */
  readonly source: string;
  /** Images must already have the model's size (pretrained models, aligned faces): no crop or pad. */
  readonly exactSize: boolean;
  /** How `--detect` brings a face to the model: the checkpoint's `align` setting, else "margin". */
  readonly align: "margin" | "similarity";
  /** Frees the model and the backend. */
  dispose(): void;
}

function configValue(config: unknown, key: string): unknown {
  return typeof config === "object" && config !== null && !Array.isArray(config)
    ? (config as Record<string, unknown>)[key]
    : undefined;
}

/**
 * Reads the model named by `--checkpoint` or `--pretrained` (exactly one of them).
 *
 * @param flags Parsed flags including {@link MODEL_FLAGS}.
 * @returns The checkpoint, where it came from, and the pretrained name if any.
 * @throws {UsageError} When neither or both are given, or the pretrained name is unknown.
 * @throws {Error} When the checkpoint cannot be read (a missing path also names the pretrained models).
 */
export async function readModelCheckpoint(
  flags: ParsedFlags,
): Promise<{ checkpoint: Checkpoint; source: string; pretrained?: string }> {
  const path = flags.values["checkpoint"] as string | undefined;
  const pretrained = flags.values["pretrained"] as string | undefined;
  if (path !== undefined && pretrained !== undefined) {
    throw new UsageError("Give --checkpoint or --pretrained, not both");
  }
  if (pretrained !== undefined) {
    try {
      return {
        checkpoint: await loadPretrained(pretrained),
        source: `pretrained:${pretrained}`,
        pretrained,
      };
    } catch (error) {
      if (error instanceof RangeError && error.message.startsWith("Unknown pretrained")) {
        throw new UsageError(`--pretrained: ${error.message}`);
      }
      throw error;
    }
  }
  if (path === undefined) {
    throw new UsageError(
      "--checkpoint is required (a ckpt-<step> folder or a run folder), or --pretrained NAME " +
        `(${PRETRAINED_NAMES.join(", ")})`,
    );
  }
  try {
    return { checkpoint: await loadCheckpoint(path), source: path };
  } catch (error) {
    const message = (error as Error).message;
    if (message.endsWith("does not exist")) {
      throw new Error(
        `${message}; pretrained models (--pretrained NAME): ${PRETRAINED_NAMES.join(", ")}`,
      );
    }
    throw error;
  }
}

/**
 * Loads the checkpoint named by `--checkpoint`, or the pretrained model named
 * by `--pretrained`, onto the backend named by `--backend`.
 *
 * @param flags Parsed flags including {@link MODEL_FLAGS}.
 * @returns The loaded model.
 * @throws {UsageError} When neither `--checkpoint` nor `--pretrained` is given, or
 *   `--image-size` differs from a pretrained model's size.
 * @throws {Error} When the checkpoint cannot be read or names an unknown model.
 */
export async function openModel(flags: ParsedFlags): Promise<LoadedModel> {
  const { checkpoint: { state, meta }, source: path, pretrained } = await readModelCheckpoint(
    flags,
  );
  if (!(MODEL_NAMES as readonly string[]).includes(meta.model)) {
    throw new Error(
      `${path}: the checkpoint's model "${meta.model}" is not one of ${MODEL_NAMES.join(", ")}`,
    );
  }
  const configured = configValue(meta.config, "imageSize");
  const requested = flags.values["image-size"] as number | undefined;
  if (pretrained !== undefined && requested !== undefined && requested !== configured) {
    throw new UsageError(
      `--image-size ${requested}: the pretrained ${pretrained} takes ${configured}x${configured} ` +
        `images, not ${requested}x${requested}`,
    );
  }
  const imageSize = requested ?? (typeof configured === "number" ? configured : undefined);
  const spec = modelSpec(meta.model as ModelName, {
    embeddingSize: meta.embeddingSize,
    ...(imageSize === undefined ? {} : { imageSize }),
  });
  const inputShape = spec.nodes.find((n) => n.op === "input") as
    | { shape?: readonly number[] }
    | undefined;
  const size = imageSize ?? inputShape?.shape?.[0] ?? 160;
  const configuredStd = configValue(meta.config, "standardize");
  const standardize = (flags.values["standardize"] as Standardization | undefined) ??
    (configuredStd === "prewhiten" || configuredStd === "none" ? configuredStd : "fixed");
  const backend = await openBackend(flags.values["backend"] as string, {
    device: flags.values["device"] as string | undefined,
    threads: flags.values["threads"] as number | undefined,
    purpose: "inference",
  });
  const useMovingAverage = state.ema !== null;
  const options: TrainingOptions = {
    loss: { kind: "triplet", alpha: 0.2 },
    optimizer: { name: state.optimizer.name },
    weightDecay: 0,
    movingAverageDecay: useMovingAverage ? 0.999 : null,
  };
  let model: Model;
  try {
    model = await backend.createModel(spec, state, options);
  } catch (error) {
    backend.dispose();
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  return {
    backend,
    model,
    name: meta.model,
    embeddingSize: meta.embeddingSize,
    imageSize: size,
    standardize,
    useMovingAverage,
    step: state.step,
    ...(meta.tensorsSha256 === undefined ? {} : { sha256: meta.tensorsSha256 }),
    ...(pretrained === undefined ? {} : { pretrained }),
    source: path,
    exactSize: pretrained !== undefined || configValue(meta.config, "pretrained") !== undefined,
    align: configValue(meta.config, "align") === "similarity" ? "similarity" : "margin",
    dispose() {
      model.dispose();
      backend.dispose();
    },
  };
}

/** Options of {@link embedFiles}. */
export interface EmbedFilesOptions {
  readonly batchSize: number;
  /** Resize every image to this many pixels before the centre crop or pad; undefined: none. */
  readonly resize?: number | undefined;
  /** Decoding workers. */
  readonly workers?: number;
  /** Also embed each mirrored image and concatenate (the reference implementation's `use_flipped_images`). */
  readonly flipped?: boolean;
  /** Called after each batch with the number of images embedded so far. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Where an image comes from (default: the path's file); not with workers. */
  readonly decode?: (ref: string) => Promise<RgbImage>;
}

/**
 * Embeds image files with a loaded model, in order.
 *
 * @param loaded The model.
 * @param paths Image files.
 * @param options Batch size, resizing, workers, flipped images, progress.
 * @returns One row per file (`2 x embeddingSize` columns with `flipped`).
 * @throws {Error} When an image cannot be read (the message names the file).
 */
export async function embedFiles(
  loaded: LoadedModel,
  paths: readonly string[],
  options: EmbedFilesOptions,
): Promise<Matrix> {
  const e = loaded.embeddingSize;
  const width = options.flipped ? 2 * e : e;
  const out = new Float32Array(paths.length * width);
  if (paths.length === 0) return { rows: 0, cols: width, data: out };
  const prepare: PrepareOptions = {
    ...(options.resize === undefined ? {} : { resize: options.resize }),
    size: loaded.imageSize,
    standardize: loaded.standardize,
    ...(loaded.exactSize ? { exactSize: true } : {}),
  };
  using loader = new ImageLoader({
    workers: options.decode === undefined ? options.workers ?? 0 : 0,
  });
  let row = 0;
  const embedOptions = { training: false, useMovingAverage: loaded.useMovingAverage };
  const batches = loader.loadBatches(paths, {
    batchSize: options.batchSize,
    prepare,
    ...(options.decode === undefined ? {} : { decode: options.decode }),
  });
  for await (const batch of batches) {
    const emb = await loaded.model.embed(batch, embedOptions);
    for (let i = 0; i < batch.n; i++) {
      out.set(emb.data.subarray(i * e, (i + 1) * e), (row + i) * width);
    }
    if (options.flipped) {
      const pixels = batch.height * batch.width * batch.channels;
      const data = new Float32Array(batch.data.length);
      for (let i = 0; i < batch.n; i++) {
        const image = {
          width: batch.width,
          height: batch.height,
          data: batch.data.subarray(i * pixels, (i + 1) * pixels),
        };
        data.set(flipLeftRight(image).data, i * pixels);
      }
      const mirrored = await loaded.model.embed({ ...batch, data }, embedOptions);
      for (let i = 0; i < batch.n; i++) {
        out.set(mirrored.data.subarray(i * e, (i + 1) * e), (row + i) * width + e);
      }
    }
    row += batch.n;
    options.onProgress?.(row, paths.length);
  }
  return { rows: paths.length, cols: width, data: out };
}

/** Images of a folder-per-identity dataset, flattened, with their labels. */
export interface LabelledImages {
  readonly dataset: Dataset;
  readonly paths: string[];
  readonly labels: Int32Array;
}

/**
 * Reads a folder-per-identity dataset, reporting skipped files and dropped
 * identities on stderr, and flattens it.
 *
 * @param dir The dataset folder.
 * @param minNrofImagesPerClass Identities with fewer images are dropped.
 * @param quiet Suppress the report.
 * @returns The dataset, image paths and labels (the identity index).
 * @throws {Error} When the folder does not exist or holds no identity.
 */
export async function loadLabelledImages(
  dir: string,
  minNrofImagesPerClass: number,
  quiet: boolean,
): Promise<LabelledImages> {
  const loaded = await loadDatasetFolder(dir, { minNrofImagesPerClass });
  if (!quiet) { for (const line of describeSkipped(loaded, 10)) console.error(line); }
  const { dataset } = loaded;
  if (dataset.length === 0) {
    throw new Error(
      `${dir} holds no identity with at least ${minNrofImagesPerClass} image${
        minNrofImagesPerClass === 1 ? "" : "s"
      } (expected one sub-folder of images per identity)`,
    );
  }
  const paths: string[] = [];
  const labels: number[] = [];
  dataset.forEach((cls, label) => {
    for (const image of cls.images) {
      paths.push(image);
      labels.push(label);
    }
  });
  return { dataset, paths, labels: Int32Array.from(labels) };
}

/**
 * A progress callback that rewrites one stderr line, or nothing when quiet.
 *
 * @param what What is being embedded.
 * @param quiet No output.
 * @returns The callback.
 */
export function embeddingProgress(
  what: string,
  quiet: boolean,
): ((done: number, total: number) => void) | undefined {
  if (quiet) return undefined;
  const encoder = new TextEncoder();
  const tty = Deno.stderr.isTerminal();
  return (done, total) => {
    if (tty) {
      Deno.stderr.writeSync(encoder.encode(`\rembedding ${what}: ${done}/${total}`));
      if (done === total) Deno.stderr.writeSync(encoder.encode("\n"));
    } else if (done === total) {
      console.error(`embedded ${total} ${what}`);
    }
  };
}
