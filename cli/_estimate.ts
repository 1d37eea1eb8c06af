/**
 * Private helper of the train command: the expected duration of a run,
 * calibrated before the first epoch on a throwaway copy of the model (a
 * training step and an embedding, timed on their second run and scaled per
 * image), and the whole-run ETA of the progress line.
 *
 * @module
 */

import type { Backend, ModelState, TrainingOptions } from "../core/backend.ts";
import type { ModelSpec } from "../core/model_spec.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";

/** What one run costs per unit of work, measured on this machine. */
export interface RunCalibration {
  /** Seconds of a training step per image of its batch. */
  readonly stepSecondsPerImage: number;
  /** Seconds to embed one image (training-mode batch norm). */
  readonly embedSecondsPerImage: number;
}

/** The shape of a run, for {@link expectedRunSeconds}. */
export interface RunShape {
  /** Epochs still to train. */
  readonly epochs: number;
  /** Training steps per epoch. */
  readonly epochSize: number;
  /** Images per training step. */
  readonly batchSize: number;
  /** Images embedded per sampling round (0 for softmax losses). */
  readonly roundImages: number;
  /** Images embedded per validation (0 without validation). */
  readonly validationImages: number;
}

/** Images of the first calibration step and embedding (a multiple of 3). */
const CALIBRATION_IMAGES = 30;

/** A full-batch calibration is timed when a step is expected to take less than this. */
const FULL_BATCH_SECONDS = 2;

/**
 * Times a training step and an embedding on a throwaway model built from
 * `state` (disposed before returning); each runs twice and the second run
 * counts, so compilation and warm-up stay out. First at
 * {@link CALIBRATION_IMAGES} images; when a step of `batchSize` images then
 * looks cheaper than {@link FULL_BATCH_SECONDS}, again at `batchSize`
 * (small batches underrate multithreaded backends).
 *
 * @param backend The backend the run trains on.
 * @param spec The network.
 * @param state The initial state (copied by the model, not changed).
 * @param training The training options.
 * @param batchSize The run's images per training step.
 * @returns The calibration.
 */
export async function calibrateRun(
  backend: Backend,
  spec: ModelSpec,
  state: ModelState,
  training: TrainingOptions,
  batchSize: number = CALIBRATION_IMAGES,
): Promise<RunCalibration> {
  const [h, w, c] = spec.nodes[0]?.op === "input" ? spec.nodes[0].shape : [64, 64, 3];
  const images = (n: number) => {
    const [u] = uniforms(createRng(1), n * h * w * c);
    return { n, height: h, width: w, channels: c, data: Float32Array.from(u, (v) => 2 * v - 1) };
  };
  const model = await backend.createModel(spec, state, training);
  const time = async (n: number): Promise<RunCalibration> => {
    const batch = images(n);
    let stepSeconds = 0;
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      await model.trainStep(batch, {
        learningRate: 1e-9,
        rng: createRng(2),
        ...(training.loss.kind === "triplet" ? {} : { labels: new Int32Array(n) }),
      });
      stepSeconds = (performance.now() - t) / 1000;
    }
    let embedSeconds = 0;
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      await model.embed(batch, { training: true, rng: createRng(3) });
      embedSeconds = (performance.now() - t) / 1000;
    }
    return { stepSecondsPerImage: stepSeconds / n, embedSecondsPerImage: embedSeconds / n };
  };
  try {
    const first = await time(CALIBRATION_IMAGES);
    const full = Math.floor(batchSize / 3) * 3;
    if (full <= CALIBRATION_IMAGES || first.stepSecondsPerImage * full >= FULL_BATCH_SECONDS) {
      return first;
    }
    return await time(full);
  } finally {
    model.dispose();
  }
}

/**
 * The expected seconds of a run: steps, one sampling round per five steps
 * (the default run's rounds give 4-7 steps each), and the validations.
 *
 * @param calibration Measured costs.
 * @param shape The run.
 * @returns Seconds.
 */
export function expectedRunSeconds(calibration: RunCalibration, shape: RunShape): number {
  const rounds = shape.roundImages > 0 ? Math.ceil(shape.epochSize / 5) : 0;
  const perEpoch = shape.epochSize * shape.batchSize * calibration.stepSecondsPerImage +
    (rounds * shape.roundImages + shape.validationImages) * calibration.embedSecondsPerImage;
  return shape.epochs * perEpoch;
}

/**
 * The whole run's remaining seconds from its progress so far: the time per
 * step of this run (validations included) times the steps left.
 *
 * @param elapsedSeconds Seconds since the first epoch of this run started.
 * @param stepsDone Steps trained in this run.
 * @param stepsLeft Steps still to train.
 * @returns Seconds, NaN before the first step.
 */
export function runEtaSeconds(
  elapsedSeconds: number,
  stepsDone: number,
  stepsLeft: number,
): number {
  return stepsDone > 0 ? elapsedSeconds / stepsDone * stepsLeft : NaN;
}

/**
 * A line telling that another backend trains much faster on this machine,
 * or null: the pure backend is the specification (wasm-simd trains the
 * default run ~13x faster on two cores), and tfjs without a hardware GPU runs
 * on this CPU (tfjs cpu 7.6 img/s, tfjs wasm 74 img/s, wasm-simd ~930 img/s
 * for nano in the README's "Measured").
 *
 * @param backend The run's backend.
 * @returns The hint, or null when the backend is the fast one here.
 */
export function fasterBackendHint(backend: Backend): string | null {
  if (backend.name === "pure") {
    return "hint: the pure backend is the specification; --backend wasm-simd trains the same " +
      "network about 13x faster on a CPU (README, Measured)";
  }
  if (
    backend.name === "tfjs" &&
    (!backend.device.startsWith("webgpu") || /software|llvmpipe|swiftshader/i.test(backend.device))
  ) {
    return `hint: tfjs runs on this CPU (${
      backend.device.split(" ")[0]
    }); --backend wasm-simd trains nano ` +
      "about 12x faster than tfjs wasm and over 100x faster than tfjs cpu on two cores " +
      "(README, Measured)";
  }
  return null;
}
