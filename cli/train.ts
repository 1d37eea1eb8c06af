/**
 * `train`: the reference implementation's train_tripletloss as a command. Progress on stderr,
 * a summary line per epoch, `metrics.jsonl`, `steps.jsonl`, `validation.json`
 * (see io/run_log.ts) and checkpoints under `--out`,
 * `--resume` to continue a run.
 *
 * @module
 */

import { appendJsonLines, readTextFileBounded } from "../io/atomic.ts";
import { prepareRunFolder, reconcileMetrics } from "./_output.ts";
import { join } from "node:path";
import { UsageError } from "./flags.ts";
import { formatSeconds, Progress } from "./progress.ts";
import { calibrateRun, expectedRunSeconds, fasterBackendHint, runEtaSeconds } from "./_estimate.ts";
import { openBackend } from "./backends.ts";
import { fileSource, syntheticSource } from "./sources.ts";
import {
  describeChoices,
  epochLearningRate,
  fitPlanToData,
  type FolderSummary,
  parseTrainFlags,
  planTrain,
  trainHelp,
  trainingOptions,
  validatesHeldOut,
} from "./train_plan.ts";
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
import { validateOnPairsDetailed, validatePixelsOnPairs } from "../core/validate.ts";
import {
  buildPairs,
  holdOutIdentities,
  pairsToRefs,
  validationIdentityCount,
} from "../io/validation_pairs.ts";
import { readImage } from "../io/images.ts";
import type { EvaluationReport } from "../core/pure/evaluation.ts";
import { logEpoch, type StepRecord, STEPS_FILE } from "../io/run_log.ts";
import { syntheticDataset, syntheticPairs } from "../core/synthetic/mod.ts";
import { createRng, split } from "../core/pure/rng.ts";
import { copyTensors, initModelState } from "../core/model_state.ts";
import { initOptimizerState } from "../core/pure/optimizers.ts";
import { loadPretrained } from "../io/pretrained.ts";
import { parseSchedule, type ScheduleEntry } from "../core/pure/schedule.ts";
import { formatReport } from "../core/pure/evaluation.ts";
import {
  checkCompatible,
  latestCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "../io/checkpoint.ts";
import { describeSkipped, loadDatasetFolder } from "../io/dataset.ts";
import { formatPairs, parsePairs, resolvePairs } from "../io/pairs.ts";
import type { RefPair } from "../core/validate.ts";
import type { Dataset } from "../core/types.ts";
import type { RngState } from "../core/types.ts";

export { TRAIN_FLAGS, trainHelp } from "./train_plan.ts";

const METRICS_FILE = "metrics.jsonl";

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
  /** The raw-pixel baseline on the same pairs (pixel vectors, L2-normalized, same protocol). */
  baselineAccuracy?: number;
  baselineAuc?: number;
}

/** The held-out identities' pairs, written into the run folder. */
const HELD_OUT_PAIRS_FILE = "pairs.txt";

async function summarizeFolder(dataset: Dataset): Promise<FolderSummary> {
  // The size of the first image of up to 5 identities: one shared size or null.
  let size: { width: number; height: number } | null | undefined;
  for (const cls of dataset.slice(0, 5)) {
    const first = cls.images[0];
    if (first === undefined) continue;
    const image = await readImage(first);
    if (size === undefined) size = { width: image.width, height: image.height };
    else if (size !== null && (size.width !== image.width || size.height !== image.height)) {
      size = null;
    }
  }
  return {
    identities: dataset.length,
    imagesPerIdentity: dataset.map((c) => c.images.length),
    imageSize: size ?? null,
  };
}

/**
 * Runs `train` with the given arguments.
 *
 * @param args Arguments after `train`.
 * @returns The process exit code.
 */
export async function trainCommand(args: readonly string[]): Promise<number> {
  const flags = parseTrainFlags(args);
  if (flags.values["help"]) {
    console.log(trainHelp());
    return 0;
  }
  let plan = planTrain(flags);
  let s = plan.settings;
  const schedule = plan.learningRate.kind === "schedule"
    ? await readSchedule(plan.learningRate.file)
    : null;
  // Before any work: a fresh run never lands in a folder holding another run,
  // and a resumed one continues in its run folder, not inside ckpt-N.
  const out = await prepareRunFolder(plan.out, plan.resume);
  const progress = new Progress({ quiet: plan.quiet });

  const backend = await openBackend(plan.backend.name, {
    device: plan.backend.device,
    threads: plan.backend.threads,
    model: plan.settings.model,
  });
  progress.log(`backend ${backend.name} on ${backend.device}`);

  const softmax = plan.loss !== "triplet";
  let dataset: Dataset;
  let heldOutPairs: RefPair[] | null = null;
  if (plan.data.kind === "folder") {
    const dataDir = plan.data.dir;
    const loaded = await loadDatasetFolder(dataDir, {
      minNrofImagesPerClass: plan.data.minNrofImagesPerClass,
    });
    for (const line of describeSkipped(loaded, 20)) progress.log(line);
    dataset = loaded.dataset;
    if (dataset.length === 0) throw new Error(`${dataDir}: no identity with enough images`);
    progress.log(
      `${dataDir}: ${dataset.length} identities, ` +
        `${dataset.reduce((n, c) => n + c.images.length, 0)} images`,
    );
    if (plan.pairs.kind === "held-out") {
      const { request, seed, folds, pairsPerFold } = plan.pairs;
      let count;
      try {
        count = validationIdentityCount(dataset.length, request);
      } catch (error) {
        throw new UsageError(`--validation-identities: ${(error as Error).message}`);
      }
      // Its own stream (the third of the seed), so a resumed run holds out the same identities.
      const held = holdOutIdentities(dataset, { count, rng: split(split(createRng(seed))[1])[1] });
      const built = buildPairs(held.validation, { folds, pairsPerFold, rng: held.rng });
      const text = formatPairs(built.pairs);
      if (out !== undefined) {
        const file = join(out, HELD_OUT_PAIRS_FILE);
        const before = await Deno.readTextFile(file).catch(() => null);
        if (plan.resume !== undefined && before !== null && before !== text) {
          throw new Error(
            `${file} differs from the pairs this folder and seed give now; ` +
              `was ${dataDir} changed since the run started?`,
          );
        }
        await Deno.mkdir(out, { recursive: true });
        await Deno.writeTextFile(file, text);
      }
      heldOutPairs = pairsToRefs(built.pairs, held.validation);
      dataset = held.train;
      progress.log(
        `validation: ${count} identities held out (${
          held.validation.map((c) => c.name).join(", ")
        }), ` +
          `${built.pairs.pairs.length} pairs in ${folds} folds disjoint in ${built.disjoint}` +
          (out === undefined ? "" : `, written to ${join(out, HELD_OUT_PAIRS_FILE)}`),
      );
    }
    const fitted = fitPlanToData(plan, flags.explicit, await summarizeFolder(dataset));
    plan = fitted.plan;
    s = plan.settings;
    for (const line of describeChoices(fitted.choices)) progress.log(line);
  } else {
    dataset = syntheticDataset({
      seed: plan.data.seed,
      identities: plan.data.identities,
      imagesPerIdentity: plan.data.imagesPerIdentity,
      split: "train",
    });
  }
  // The reference implementation's validation split by images; its own stream, so a resumed run
  // splits alike.
  const datasetSplit = splitDatasetByImages(dataset, {
    ...plan.softmax.split,
    rng: split(createRng(s.seed))[1],
  });
  const heldOut = datasetSplit.validation.reduce((n, c) => n + c.images.length, 0);
  const spec = plan.spec;
  const training = trainingOptions(plan, { identities: dataset.length });
  let rng: RngState = createRng(s.seed);
  let initRng: RngState;
  [initRng, rng] = split(rng);
  let state = initModelState(spec, training, initRng);
  if (plan.pretrained !== undefined) {
    // The spec's parameters from the pretrained model; a softmax head (and centers) stay as
    // initialised; the optimizer's slots and the moving average start from the new parameters.
    const { state: pretrained, meta } = await loadPretrained(plan.pretrained);
    const params = { ...state.params, ...copyTensors(pretrained.params) };
    state = {
      ...state,
      params,
      optimizer: initOptimizerState(training.optimizer, params),
      ema: state.ema === null ? null : copyTensors(params),
    };
    progress.log(`starting from pretrained ${plan.pretrained} (${
      String(
        (meta.config as Record<string, unknown>)["source"],
      )
    })`);
  }
  let startEpoch = 0;
  let lastCheckpoint: string | undefined;
  let globalStep = state.step;
  const resume = plan.resume;
  if (resume !== undefined) {
    const checkpoint = await loadCheckpoint(resume);
    lastCheckpoint = (await latestCheckpoint(resume)) ?? resume;
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
    if (out !== undefined) {
      await reconcileMetrics(join(out, METRICS_FILE), startEpoch, checkpoint.meta.metrics);
      await reconcileMetrics(join(out, STEPS_FILE), startEpoch, undefined, { perEpoch: false });
    }
    progress.log(`resumed from ${resume} at epoch ${startEpoch}, step ${state.step}`);
  }

  let pairs: RefPair[] | null;
  let nrofFolds = s.lfwNrofFolds;
  if (plan.pairs.kind === "lfw") {
    const { pairsFile, dir } = plan.pairs;
    const parsed = parsePairs(await readTextFileBounded(pairsFile), pairsFile);
    const resolved = await resolvePairs(parsed, dir, { allowMissing: plan.pairs.allowMissing });
    if (resolved.skippedPairs > 0) {
      progress.log(
        `${pairsFile}: ${resolved.missing.length} images missing; validating on the remaining ` +
          `${resolved.paths.length} pairs (${resolved.skippedPairs} skipped)`,
      );
    }
    pairs = resolved.paths.map(([a, b], i) => ({ a, b, same: resolved.same[i] as boolean }));
    nrofFolds = plan.pairs.nrofFolds ?? parsed.folds;
  } else if (plan.pairs.kind === "held-out") {
    pairs = heldOutPairs;
  } else {
    const { seed, identities, imagesPerIdentity, folds, pairsPerFold } = plan.pairs;
    pairs = syntheticPairs({ seed, identities, imagesPerIdentity, folds, pairsPerFold }).pairs
      .slice();
  }
  const img = plan.images;
  const synthetic = () =>
    syntheticSource(s.seed, img.size, {
      nuisance: img.syntheticNuisance,
      randomRotate: img.randomRotate,
    });
  const source = plan.data.kind === "folder" || plan.pairs.kind === "lfw"
    ? fileSource({
      size: img.size,
      ...(img.resize === null ? {} : { resize: img.resize }),
      randomCrop: img.randomCrop,
      randomFlip: img.randomFlip,
      randomRotate: img.randomRotate,
    })
    : synthetic();
  const trainSource = plan.data.kind === "folder" ? source : synthetic();
  // The expected duration, measured on a throwaway model before the real one exists.
  const runEpochs = Math.max(0, s.maxNrofEpochs - startEpoch);
  if (!plan.quiet && runEpochs > 0) {
    const calibration = await calibrateRun(backend, spec, state, training, s.batchSize);
    const expected = expectedRunSeconds(calibration, {
      epochs: runEpochs,
      epochSize: s.epochSize,
      batchSize: s.batchSize,
      roundImages: softmax ? 0 : s.peoplePerBatch * s.imagesPerPerson,
      validationImages: pairs === null ? 0 : 2 * pairs.length,
    });
    progress.log(
      `expected run time: about ${formatSeconds(expected)} for ${runEpochs} epochs of ` +
        `${s.epochSize} steps (training steps at ${
          (1 / calibration.stepSecondsPerImage).toFixed(0)
        } img/s here)`,
    );
    const hint = fasterBackendHint(backend);
    if (hint !== null) progress.log(hint);
  }
  let baseline: EvaluationReport | null = null;
  if (pairs !== null) {
    baseline = await validatePixelsOnPairs(pairs, source, {
      rng: createRng(s.seed),
      evaluation: { nrofFolds },
    });
    progress.log(
      `pixel baseline (the input pixels, L2-normalized, same pairs): Accuracy: ${
        baseline.accuracyMean.toFixed(5)
      }+-${baseline.accuracyStd.toFixed(5)} | Area Under Curve (AUC): ${baseline.auc.toFixed(3)}`,
    );
  }
  const model = await backend.createModel(spec, state, training);
  const runStarted = performance.now();
  let runStepsDone = 0;

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
      const learningRate = epochLearningRate(plan.learningRate, {
        epoch,
        globalStep,
        schedule,
      });
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
      const steps: StepRecord[] = [];
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
          steps.push({
            epoch: epoch + 1,
            step: globalStep + event.step,
            loss: event.loss,
            triplets: softmax ? null : event.triplets,
            learningRate,
          });
          const seconds = (performance.now() - started) / 1000;
          progress.update({
            epoch: epoch + 1,
            step: event.step,
            total: s.epochSize,
            loss: event.loss,
            triplets: softmax ? null : lastTriplets,
            imagesPerSec: images / Math.max(seconds, 1e-9),
            runEta: runEtaSeconds(
              (performance.now() - runStarted) / 1000,
              runStepsDone + event.step,
              runEpochs * s.epochSize - (runStepsDone + event.step),
            ),
          });
        }
        if (interrupted) break;
      }
      if (interrupted || result === undefined) {
        progress.end();
        return 130;
      }
      rng = result.rng;
      runStepsDone += s.epochSize;
      const trainSeconds = (performance.now() - started) / 1000;
      const validation = pairs === null ? null : {
        pairs,
        result: await validateOnPairsDetailed(model, pairs, source, {
          chunk: s.batchSize,
          rng: createRng(s.seed),
          useMovingAverage: training.movingAverageDecay !== null,
          evaluation: { nrofFolds },
        }),
      };
      const report = validation?.result.report ?? null;
      let held: SoftmaxValidation | undefined;
      if (validatesHeldOut(plan, epoch, heldOut)) {
        held = await validateSoftmax({
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
        lossKind: plan.loss,
        ...(softmax ? { regularization } : {}),
        ...(held === undefined
          ? {}
          : { validationLoss: held.loss, validationAccuracy: held.accuracy }),
        ...(baseline === null
          ? {}
          : { baselineAccuracy: baseline.accuracyMean, baselineAuc: baseline.auc }),
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
        // Per-step log first, then the checkpoint (which repeats the metrics),
        // then the metrics line: on resume, steps past the checkpoint are
        // dropped and a metrics record lost to a kill is restored
        // (reconcileMetrics).
        await logEpoch(out, { epoch: epoch + 1, step: after.step, steps, validation });
        lastCheckpoint = await saveCheckpoint(out, {
          state: after,
          meta: {
            model: s.model,
            embeddingSize: s.embeddingSize,
            epoch: epoch + 1,
            rng,
            config: { ...s, loss: training.loss },
            metrics: JSON.parse(JSON.stringify(metrics)),
          },
        }, { keepLast: plan.keepCheckpoints });
        await appendJsonLines(join(out, METRICS_FILE), [metrics]);
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

async function readSchedule(file: string): Promise<ScheduleEntry[]> {
  let text;
  try {
    text = await readTextFileBounded(file);
  } catch (error) {
    throw new UsageError(
      `cannot read --learning-rate-schedule-file ${file}: ${(error as Error).message}`,
    );
  }
  try {
    return parseSchedule(text);
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
}
