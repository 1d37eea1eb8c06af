/**
 * `train`: the seed's train_tripletloss as a command. Progress on stderr,
 * a summary line per epoch, `metrics.jsonl` and checkpoints under `--out`,
 * `--resume` to continue a run.
 *
 * @module
 */

import { join } from "node:path";
import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import { Progress } from "./progress.ts";
import { type PresetName, PRESETS, type TrainSettings } from "./presets.ts";
import { openBackend } from "./backends.ts";
import { fileSource, syntheticSource } from "./sources.ts";
import type { TrainingOptions } from "../core/backend.ts";
import {
  type EpochResult,
  NonFiniteLossError,
  runTripletEpoch,
  type TrainEvent,
} from "../core/train.ts";
import {
  runSoftmaxEpoch,
  type SoftmaxValidation,
  splitDatasetByImages,
  validateSoftmax,
} from "../core/train_softmax.ts";
import { validateOnPairs } from "../core/validate.ts";
import { syntheticDataset, syntheticPairs } from "../core/synthetic.ts";
import { createRng, split } from "../core/pure/rng.ts";
import { modelSpec } from "../core/models/registry.ts";
import { initModelState } from "../core/model_state.ts";
import { parseSchedule, scheduledRate, type ScheduleEntry } from "../core/pure/schedule.ts";
import { formatReport } from "../core/pure/evaluation.ts";
import {
  checkCompatible,
  latestCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "../io/checkpoint.ts";
import { describeSkipped, loadDatasetFolder } from "../io/dataset.ts";
import { parsePairs, resolvePairs } from "../io/pairs.ts";
import type { RefPair } from "../core/validate.ts";
import type { Dataset } from "../core/types.ts";
import type { RngState } from "../core/types.ts";

const OPTIMIZERS = ["ADAGRAD", "ADADELTA", "ADAM", "RMSPROP", "MOM", "SGD"] as const;

/** The train command's flags. Numeric defaults come from the preset. */
export const TRAIN_FLAGS: FlagTable = {
  "preset": {
    kind: "string",
    help: "settings preset: small (nano on synthetic faces), seed (the seed's defaults), tiny",
    default: "small",
    choices: ["small", "seed", "tiny"],
  },
  "backend": {
    kind: "string",
    help: "compute backend; auto picks tfjs on a hardware GPU, else wasm-simd",
    default: "auto",
    choices: ["auto", "pure", "tfjs", "wasm-simd"],
  },
  "device": {
    kind: "string",
    help: "tfjs device override",
    choices: ["webgpu", "wasm", "cpu"],
  },
  "threads": {
    kind: "number",
    help: "wasm-simd worker threads (default: all cores)",
    integer: true,
    min: 1,
  },
  "model": { kind: "string", help: "network spec", choices: ["nano", "inception-resnet-v1"] },
  "image-size": { kind: "number", help: "input image size in pixels", integer: true, min: 8 },
  "embedding-size": { kind: "number", help: "embedding dimension", integer: true, min: 1 },
  "people-per-batch": {
    kind: "number",
    help: "identities sampled per round",
    integer: true,
    min: 1,
  },
  "images-per-person": {
    kind: "number",
    help: "images per sampled identity",
    integer: true,
    min: 2,
  },
  "alpha": { kind: "number", help: "triplet margin", min: 0, exclusiveMin: true },
  "batch-size": {
    kind: "number",
    help: "images per training step (multiple of 3)",
    integer: true,
    min: 3,
  },
  "epoch-size": { kind: "number", help: "training steps per epoch", integer: true, min: 1 },
  "max-nrof-epochs": { kind: "number", help: "epochs to train", integer: true, min: 1 },
  "optimizer": { kind: "string", help: "optimizer", choices: OPTIMIZERS },
  "learning-rate": { kind: "number", help: "initial learning rate (-1: use the schedule file)" },
  "learning-rate-decay-epochs": {
    kind: "number",
    help: "epochs between decays",
    integer: true,
    min: 1,
  },
  "learning-rate-decay-factor": { kind: "number", help: "staircase decay factor", min: 0 },
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
  "random-crop": { kind: "boolean", help: "random crop to --image-size (needs --data-dir)" },
  "random-flip": { kind: "boolean", help: "random horizontal flip (needs --data-dir)" },
  "selection": {
    kind: "string",
    help: "triplet selection",
    choices: ["vggface", "facenet", "hard", "all"],
  },
  "seed": { kind: "number", help: "random seed", integer: true, min: 0 },
  "synthetic-nuisance": {
    kind: "number",
    help: "strength of the synthetic faces' nuisances, 0..2",
    min: 0,
    max: 2,
  },
  "lfw-nrof-folds": { kind: "number", help: "validation folds", integer: true, min: 2 },
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
  },
  "lfw-dir": { kind: "string", help: "with --lfw-pairs: the folder of the pair images" },
  "lfw-pairs": {
    kind: "string",
    help: "validate each epoch on these pairs (LFW pairs.txt format)",
  },
  "allow-missing": {
    kind: "boolean",
    help: "validate on the pairs whose images exist instead of stopping",
  },
  "resize": {
    kind: "number",
    help: "with --data-dir: resize images to N pixels before cropping",
    integer: true,
    min: 1,
  },
  "out": { kind: "string", help: "run directory: metrics.jsonl and checkpoints" },
  "resume": { kind: "string", help: "continue the run in this directory (or checkpoint)" },
  "keep-checkpoints": {
    kind: "number",
    help: "checkpoints to keep",
    integer: true,
    min: 1,
    default: 3,
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
  },
  "center-loss-alfa": {
    kind: "number",
    help: "softmax/arcface: center update rate",
    min: 0,
    max: 1,
    default: 0.95,
  },
  "prelogits-norm-loss-factor": {
    kind: "number",
    help: "softmax/arcface: weight of the prelogits norm penalty",
    min: 0,
    default: 0,
  },
  "prelogits-norm-p": {
    kind: "number",
    help: "softmax/arcface: norm order of the prelogits penalty",
    min: 1,
    default: 1.0,
  },
  "margin": {
    kind: "number",
    help: "arcface: additive angular margin in radians",
    min: 0,
    max: Math.PI / 2,
    default: 0.5,
  },
  "scale": {
    kind: "number",
    help: "arcface: logit scale",
    min: 0,
    exclusiveMin: true,
    default: 64,
  },
  "validation-set-split-ratio": {
    kind: "number",
    help: "softmax/arcface: fraction of each identity's images held out for validation",
    min: 0,
    max: 0.99,
    default: 0,
  },
  "min-nrof-val-images-per-class": {
    kind: "number",
    help: "softmax/arcface: identities with fewer held-out images keep them all for training",
    integer: true,
    min: 0,
    default: 0,
  },
  "validate-every-n-epochs": {
    kind: "number",
    help: "softmax/arcface: epochs between held-out validations (and after the last epoch)",
    integer: true,
    min: 1,
    default: 1,
  },
  "batch-norm-decay": {
    kind: "number",
    help: "batch-norm moving-statistics decay of every layer (the seed's 0.995 " +
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
  for (const name of ["small", "seed", "tiny"] as PresetName[]) {
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

/** The metrics of one epoch, one line of metrics.jsonl. */
export interface EpochMetrics {
  epoch: number;
  step: number;
  loss: number;
  triplets: number;
  meanPosDist: number;
  meanNegDist: number;
  accuracy: number;
  accuracyStd: number;
  val: number;
  valStd: number;
  far: number;
  auc: number;
  eer: number;
  imagesPerSec: number;
  seconds: number;
  learningRate: number;
  backend: string;
  device: string;
  /** The loss: "triplet", "softmax" or "arcface". */
  lossKind?: string;
  /** Softmax losses: mean regularization (weight decay, center loss, norm penalty) over the epoch. */
  regularization?: number;
  /** Softmax losses, on validation epochs: cross-entropy and accuracy on the held-out images. */
  validationLoss?: number;
  validationAccuracy?: number;
}

/**
 * Runs `train` with the given arguments.
 *
 * @param args Arguments after `train`.
 * @returns The process exit code.
 */
export async function trainCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, TRAIN_FLAGS);
  if (flags.values["help"]) {
    console.log(trainHelp());
    return 0;
  }
  if (flags.positionals.length > 0) {
    throw new UsageError(`train takes no positional arguments, got "${flags.positionals[0]}"`);
  }
  const preset = PRESETS[flags.values["preset"] as PresetName];
  const settings: Record<string, unknown> = { ...preset };
  for (const [flag, key] of Object.entries(FLAG_TO_SETTING)) {
    if (flags.explicit.has(flag)) settings[key] = flags.values[flag];
  }
  const s = settings as unknown as TrainSettings;
  if (s.batchSize % 3 !== 0) {
    throw new UsageError(`--batch-size must be a multiple of 3, got ${s.batchSize}`);
  }
  const dataDir = flags.values["data-dir"] as string | undefined;
  const lfwPairs = flags.values["lfw-pairs"] as string | undefined;
  const lfwDir = flags.values["lfw-dir"] as string | undefined;
  if (dataDir === undefined && (flags.values["random-crop"] || flags.values["random-flip"])) {
    throw new UsageError("--random-crop and --random-flip need --data-dir");
  }
  if ((lfwPairs === undefined) !== (lfwDir === undefined)) {
    throw new UsageError("--lfw-pairs and --lfw-dir go together");
  }
  let schedule: ScheduleEntry[] | null = null;
  const scheduleFile = flags.values["learning-rate-schedule-file"] as string | undefined;
  if (scheduleFile !== undefined) {
    let text;
    try {
      text = await Deno.readTextFile(scheduleFile);
    } catch (error) {
      throw new UsageError(
        `cannot read --learning-rate-schedule-file ${scheduleFile}: ${(error as Error).message}`,
      );
    }
    try {
      schedule = parseSchedule(text);
    } catch (error) {
      throw new UsageError(`${scheduleFile}: ${(error as Error).message}`);
    }
  }
  const resume = flags.values["resume"] as string | undefined;
  const out = (flags.values["out"] as string | undefined) ?? resume;
  const quiet = flags.values["quiet"] === true;
  const progress = new Progress({ quiet });

  const backend = await openBackend(flags.values["backend"] as string, {
    device: flags.values["device"] as string | undefined,
    threads: flags.values["threads"] as number | undefined,
  });
  progress.log(`backend ${backend.name} on ${backend.device}`);

  const baseSpec = modelSpec(s.model, {
    embeddingSize: s.embeddingSize,
    keepProbability: s.keepProbability,
    imageSize: s.imageSize,
  });
  const bnDecay = s.batchNormDecay;
  const spec = {
    ...baseSpec,
    nodes: baseSpec.nodes.map((node) =>
      node.op === "batchNorm" ? { ...node, decay: bnDecay } : node
    ),
  };
  const lossKind = flags.values["loss"] as "triplet" | "softmax" | "arcface";
  const softmax = lossKind !== "triplet";
  let dataset: Dataset;
  if (dataDir !== undefined) {
    const loaded = await loadDatasetFolder(dataDir, {
      minNrofImagesPerClass: flags.values["min-nrof-images-per-class"] as number,
    });
    for (const line of describeSkipped(loaded, 20)) progress.log(line);
    dataset = loaded.dataset;
    if (dataset.length === 0) throw new Error(`${dataDir}: no identity with enough images`);
    progress.log(
      `${dataDir}: ${dataset.length} identities, ` +
        `${dataset.reduce((n, c) => n + c.images.length, 0)} images`,
    );
  } else {
    dataset = syntheticDataset({
      seed: s.seed,
      identities: s.trainIdentities,
      imagesPerIdentity: s.imagesPerIdentity,
      split: "train",
    });
  }
  // The seed's validation split by images; its own stream, so a resumed run splits alike.
  const datasetSplit = splitDatasetByImages(dataset, {
    ratio: flags.values["validation-set-split-ratio"] as number,
    minNrofValImagesPerClass: flags.values["min-nrof-val-images-per-class"] as number,
    rng: split(createRng(s.seed))[1],
  });
  const heldOut = datasetSplit.validation.reduce((n, c) => n + c.images.length, 0);
  if (heldOut > 0 && !softmax) {
    throw new UsageError("--validation-set-split-ratio needs --loss softmax or arcface");
  }
  const training: TrainingOptions = {
    loss: softmax
      ? {
        kind: "softmax",
        numClasses: dataset.length,
        centerLossFactor: flags.values["center-loss-factor"] as number,
        centerLossAlfa: flags.values["center-loss-alfa"] as number,
        prelogitsNormLossFactor: flags.values["prelogits-norm-loss-factor"] as number,
        prelogitsNormP: flags.values["prelogits-norm-p"] as number,
        ...(lossKind === "arcface"
          ? {
            arcface: {
              margin: flags.values["margin"] as number,
              scale: flags.values["scale"] as number,
            },
          }
          : {}),
      }
      : { kind: "triplet", alpha: s.alpha },
    optimizer: { name: s.optimizer },
    weightDecay: s.weightDecay,
    movingAverageDecay: s.movingAverageDecay > 0 ? s.movingAverageDecay : null,
  };
  let rng: RngState = createRng(s.seed);
  let initRng: RngState;
  [initRng, rng] = split(rng);
  let state = initModelState(spec, training, initRng);
  let startEpoch = 0;
  let lastCheckpoint: string | undefined;
  let globalStep = state.step;
  if (resume !== undefined) {
    lastCheckpoint = (await latestCheckpoint(resume)) ?? resume;
    const checkpoint = await loadCheckpoint(resume);
    checkCompatible(checkpoint.meta, {
      model: s.model,
      embeddingSize: s.embeddingSize,
      optimizer: s.optimizer,
    });
    state = checkpoint.state;
    globalStep = state.step;
    if (softmax && state.params["Logits/weights"]?.shape[1] !== dataset.length) {
      throw new UsageError(
        `--resume ${resume}: the checkpoint has no softmax head over ${dataset.length} identities ` +
          `(was it trained with --loss triplet or other data?)`,
      );
    }
    rng = checkpoint.meta.rng;
    startEpoch = checkpoint.meta.epoch;
    progress.log(`resumed from ${resume} at epoch ${startEpoch}, step ${state.step}`);
  }

  const randomRotate = flags.values["random-rotate"] === true ? 10 : 0;
  let pairs: RefPair[] | null;
  let nrofFolds = s.lfwNrofFolds;
  if (lfwPairs !== undefined && lfwDir !== undefined) {
    const parsed = parsePairs(await Deno.readTextFile(lfwPairs), lfwPairs);
    const resolved = await resolvePairs(parsed, lfwDir, {
      allowMissing: flags.values["allow-missing"] === true,
    });
    if (resolved.skippedPairs > 0) {
      progress.log(
        `${lfwPairs}: ${resolved.missing.length} images missing; validating on the remaining ` +
          `${resolved.paths.length} pairs (${resolved.skippedPairs} skipped)`,
      );
    }
    pairs = resolved.paths.map(([a, b], i) => ({ a, b, same: resolved.same[i] as boolean }));
    if (!flags.explicit.has("lfw-nrof-folds")) nrofFolds = parsed.folds;
  } else if (dataDir !== undefined) {
    pairs = null;
    progress.log("no --lfw-pairs: epochs are not validated on pairs");
  } else {
    pairs = syntheticPairs({
      seed: s.seed,
      identities: s.valIdentities,
      imagesPerIdentity: s.valImagesPerIdentity,
      folds: s.lfwNrofFolds,
      pairsPerFold: s.valPairsPerFold,
    }).pairs.slice();
  }
  const resize = flags.values["resize"] as number | undefined;
  const source = dataDir !== undefined || lfwDir !== undefined
    ? fileSource({
      size: s.imageSize,
      ...(resize === undefined ? {} : { resize }),
      randomCrop: flags.values["random-crop"] === true,
      randomFlip: flags.values["random-flip"] === true,
      randomRotate,
    })
    : syntheticSource(s.seed, s.imageSize, { nuisance: s.syntheticNuisance, randomRotate });
  const trainSource = dataDir !== undefined ? source : syntheticSource(s.seed, s.imageSize, {
    nuisance: s.syntheticNuisance,
    randomRotate,
  });
  const model = await backend.createModel(spec, state, training);

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    progress.log("interrupted: stopping; the last completed epoch's checkpoint is kept");
  };
  Deno.addSignalListener("SIGINT", onSigint);
  if (out !== undefined) await Deno.mkdir(out, { recursive: true });
  try {
    for (let epoch = startEpoch; epoch < s.maxNrofEpochs; epoch++) {
      const learningRate = schedule !== null ? scheduledRate(schedule, epoch) : s.learningRate *
        Math.pow(
          s.learningRateDecayFactor,
          Math.floor(globalStep / (s.learningRateDecayEpochs * s.epochSize)),
        );
      if (learningRate <= 0) {
        progress.log(
          `learning rate ${learningRate} at epoch ${epoch + 1}: training ends (schedule)`,
        );
        break;
      }
      const started = performance.now();
      progress.begin();
      const epochRng = rng;
      let regularization = NaN;
      const run = softmax
        ? (async function* (): AsyncGenerator<TrainEvent, EpochResult> {
          // The classifier loop (train_softmax) on the training split, as triplet-loop events.
          const inner = runSoftmaxEpoch({
            model,
            train: datasetSplit.train,
            source: trainSource,
            config: s,
            learningRate,
            rng: epochRng,
          });
          while (true) {
            const next = await inner.next();
            if (next.done) {
              regularization = next.value.meanRegularization;
              return { ...next.value, meanTriplets: 0, meanPosDist: NaN, meanNegDist: NaN };
            }
            yield { ...next.value, triplets: 0 };
          }
        })()
        : runTripletEpoch({
          backend,
          model,
          dataset,
          source: trainSource,
          config: s,
          learningRate,
          rng: epochRng,
        });
      let images = 0;
      let lastTriplets = 0;
      let result;
      while (true) {
        const next = await run.next();
        if (next.done) {
          result = next.value;
          break;
        }
        const event: TrainEvent = next.value;
        if (event.type === "selected") lastTriplets = event.triplets;
        if (event.type === "no-triplets") {
          progress.log(
            `epoch ${epoch + 1}: zero triplets selected (mean d(a,p) ${
              event.meanPosDist.toFixed(4)
            }, ` +
              `mean d(a,n) ${event.meanNegDist.toFixed(4)}, pairs without candidate ${
                (100 * event.noCandidateFraction).toFixed(1)
              }%); round skipped`,
          );
        }
        if (event.type === "step") {
          images += event.images;
          const seconds = (performance.now() - started) / 1000;
          progress.update({
            epoch: epoch + 1,
            step: event.step,
            total: s.epochSize,
            loss: event.loss,
            triplets: softmax ? null : lastTriplets,
            imagesPerSec: images / Math.max(seconds, 1e-9),
          });
        }
        if (interrupted) break;
      }
      if (interrupted || result === undefined) {
        progress.end();
        return 130;
      }
      rng = result.rng;
      const trainSeconds = (performance.now() - started) / 1000;
      const report = pairs === null ? null : await validateOnPairs(model, pairs, source, {
        chunk: s.batchSize,
        rng: createRng(s.seed),
        useMovingAverage: training.movingAverageDecay !== null,
        evaluation: { nrofFolds },
      });
      const every = flags.values["validate-every-n-epochs"] as number;
      let held: SoftmaxValidation | undefined;
      if (
        softmax && heldOut > 0 && ((epoch + 1) % every === 0 || epoch + 1 === s.maxNrofEpochs)
      ) {
        held = await validateSoftmax({
          backend,
          model,
          spec,
          options: training,
          validation: datasetSplit.validation,
          source: trainSource,
          chunk: s.batchSize,
          rng: createRng(s.seed),
          useMovingAverage: training.movingAverageDecay !== null,
        });
      }
      const after = await model.getState();
      globalStep = after.step;
      for (const [group, tensors] of [["params", after.params], ["stats", after.stats]] as const) {
        for (const [name, tensor] of Object.entries(tensors)) {
          const bad = tensor.data.find((v) => !Number.isFinite(v));
          if (bad !== undefined) {
            throw new NonFiniteLossError(result.steps, bad, `The ${group} tensor "${name}"`);
          }
        }
      }
      const metrics: EpochMetrics = {
        epoch: epoch + 1,
        step: after.step,
        loss: result.meanLoss,
        triplets: result.meanTriplets,
        meanPosDist: result.meanPosDist,
        meanNegDist: result.meanNegDist,
        accuracy: report?.accuracyMean ?? NaN,
        accuracyStd: report?.accuracyStd ?? NaN,
        val: report?.val ?? NaN,
        valStd: report?.valStd ?? NaN,
        far: report?.far ?? NaN,
        auc: report?.auc ?? NaN,
        eer: report?.eer ?? NaN,
        imagesPerSec: result.images / trainSeconds,
        seconds: (performance.now() - started) / 1000,
        learningRate,
        backend: backend.name,
        device: backend.device,
        lossKind,
        ...(softmax ? { regularization } : {}),
        ...(held === undefined
          ? {}
          : { validationLoss: held.loss, validationAccuracy: held.accuracy }),
      };
      progress.end(
        `epoch ${metrics.epoch} step ${metrics.step} loss ${metrics.loss.toFixed(4)} ` +
          (softmax
            ? `reg ${regularization.toFixed(4)}` +
              (held === undefined
                ? ""
                : ` held-out loss ${held.loss.toFixed(4)} accuracy ${held.accuracy.toFixed(4)}`)
            : `triplets ${metrics.triplets.toFixed(0)}`) +
          (report === null ? "" : ` | ` + formatReport(report).split("\n").join(" | ")),
      );
      if (out !== undefined) {
        await Deno.writeTextFile(join(out, "metrics.jsonl"), JSON.stringify(metrics) + "\n", {
          append: true,
        });
        lastCheckpoint = await saveCheckpoint(out, {
          state: after,
          meta: {
            model: s.model,
            embeddingSize: s.embeddingSize,
            epoch: epoch + 1,
            rng,
            config: { ...s, loss: training.loss },
          },
        }, { keepLast: flags.values["keep-checkpoints"] as number });
      }
    }
  } catch (error) {
    if (error instanceof NonFiniteLossError) {
      progress.end();
      console.error(
        `error: ${error.message} ` +
          (lastCheckpoint !== undefined
            ? `The last good checkpoint is ${lastCheckpoint}.`
            : "No checkpoint of this run was written (no epoch completed)."),
      );
      return 1;
    }
    throw error;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    model.dispose();
    backend.dispose();
  }
  return 0;
}
