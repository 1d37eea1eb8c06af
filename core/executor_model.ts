/**
 * A {@link Model} built from a {@link Kernels} implementation, the
 * reverse-mode executor and the pure training specifications (losses,
 * optimizers, weight decay, moving averages). The pure backend uses it with
 * the pure kernels; the wasm-simd backend with its own.
 *
 * One training step, as the reference implementation's graph does it:
 * 1. forward in training mode (batch statistics, dropout from `rng`);
 * 2. the loss on the embeddings (triplet) or on the prelogits (softmax head,
 *    core/softmax_head.ts) and its gradient;
 * 3. backward; L2 weight decay added to the gradients of `* /weights`;
 * 4. the optimizer update with the given learning rate;
 * 5. the batch-norm moving statistics updated from the batch;
 * 6. the moving average of the parameters updated with TF's num_updates
 *    rule, `num_updates` = the step count after this step (TF reads the global
 *    step after `apply_gradients` incremented it);
 * 7. step + 1.
 *
 * @module
 */

import type {
  EmbedOptions,
  Model,
  ModelState,
  OutputOptions,
  StepOptions,
  StepResult,
  TrainingOptions,
} from "./backend.ts";
import type { ModelSpec } from "./model_spec.ts";
import type { ImageBatch, Matrix, NamedTensors, Tensor } from "./types.ts";
import type { Kernels } from "./kernels.ts";
import { backward, forward, releaseTape } from "./executor.ts";
import { inferShapes } from "./shapes.ts";
import { copyTensors } from "./model_state.ts";
import { updateMovingStatistics } from "./moving_statistics.ts";
import { headLogits, softmaxHead } from "./softmax_head.ts";
import { LOGITS } from "./model_state.ts";
import { tripletLoss } from "./pure/losses.ts";
import { addWeightDecay, applyOptimizer, weightDecayLoss } from "./pure/optimizers.ts";
import { updateMovingAverage } from "./pure/moving_average.ts";

function toMatrix(t: Tensor): Matrix {
  const rows = t.shape[0]!;
  return { rows, cols: rows === 0 ? 0 : t.data.length / rows, data: t.data };
}

function checkState(spec: ModelSpec, state: ModelState): void {
  const shapes = inferShapes(spec);
  const check = (
    kind: string,
    expected: Readonly<Record<string, readonly number[]>>,
    got: NamedTensors,
  ) => {
    for (const [name, shape] of Object.entries(expected)) {
      const t = got[name];
      if (t === undefined) throw new RangeError(`State has no ${kind} "${name}"`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new RangeError(
          `State ${kind} "${name}" has shape [${t.shape.join(", ")}], the spec needs [${
            shape.join(", ")
          }]`,
        );
      }
    }
  };
  check("parameter", shapes.params, state.params);
  check("statistic", shapes.stats, state.stats);
}

/**
 * Creates a model that runs on the given kernels.
 *
 * @param kernels The kernel implementation.
 * @param spec The model spec.
 * @param state The full initial state (e.g. from `initModelState`); copied.
 * @param options The training options.
 * @returns A {@link Model}.
 * @throws {RangeError} When the state does not match the spec.
 * @example
 * ```ts
 * import { createExecutorModel } from "@facenet-deno/facenet/pure";
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import { createPureKernels } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const spec = modelSpec("nano", { embeddingSize: 8, imageSize: 16 });
 * const options = {
 *   loss: { kind: "triplet", alpha: 0.2 },
 *   optimizer: { name: "SGD" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * } as const;
 * const model = createExecutorModel(
 *   createPureKernels(),
 *   spec,
 *   initModelState(spec, options, createRng(1)),
 *   options,
 * );
 * const images = { n: 2, height: 16, width: 16, channels: 3, data: new Float32Array(2 * 16 * 16 * 3).fill(0.5) };
 * const emb = await model.embed(images, { training: false });
 * assert.equal(emb.rows, 2);
 * assert.equal(emb.cols, 8);
 * ```
 *
 * @category Ops and kernels
 */
export function createExecutorModel<T>(
  kernels: Kernels<T>,
  spec: ModelSpec,
  state: ModelState,
  options: TrainingOptions,
): Model {
  checkState(spec, state);
  let current: ModelState = {
    params: copyTensors(state.params),
    stats: copyTensors(state.stats),
    optimizer: {
      name: state.optimizer.name,
      slots: Object.fromEntries(
        Object.entries(state.optimizer.slots).map(([k, v]) => [k, copyTensors(v)]),
      ),
      iterations: state.optimizer.iterations,
    },
    ema: state.ema === null ? null : copyTensors(state.ema),
    step: state.step,
  };
  let disposed = false;
  const alive = () => {
    if (disposed) throw new TypeError("This model was disposed");
  };

  function outputs(images: ImageBatch, o: OutputOptions): NamedTensors {
    alive();
    let params = current.params;
    if (o.useMovingAverage ?? false) {
      if (current.ema === null) {
        throw new RangeError("The moving average is disabled for this model");
      }
      params = { ...current.params, ...current.ema };
    }
    const loss = options.loss;
    const wantLogits = o.outputs.includes(LOGITS);
    if (wantLogits && loss.kind !== "softmax") {
      throw new RangeError(`"${LOGITS}" needs a model with a softmax head`);
    }
    const nodes = o.outputs.filter((name) => name !== LOGITS);
    if (wantLogits && !nodes.includes(spec.prelogits)) nodes.push(spec.prelogits);
    const r = forward(kernels, spec, { params, stats: current.stats }, images, {
      training: o.training,
      outputs: nodes,
      ...(o.rng === undefined ? {} : { rng: o.rng }),
    });
    if (o.training) {
      current = {
        ...current,
        stats: updateMovingStatistics(spec, current.stats, r.batchStatistics),
      };
    }
    const out: NamedTensors = {};
    for (const name of o.outputs) {
      if (name === LOGITS && loss.kind === "softmax") {
        const s = headLogits(toMatrix(r.outputs[spec.prelogits]!), params, loss);
        out[name] = { shape: [s.rows, s.cols], data: s.data };
      } else {
        out[name] = r.outputs[name]!;
      }
    }
    return out;
  }

  function embed(images: ImageBatch, o: EmbedOptions): Matrix {
    return toMatrix(outputs(images, { ...o, outputs: [spec.output] })[spec.output]!);
  }

  function trainStep(images: ImageBatch, o: StepOptions): StepResult {
    alive();
    const loss = options.loss;
    const target = loss.kind === "triplet" ? spec.output : spec.prelogits;
    const r = forward(kernels, spec, { params: current.params, stats: current.stats }, images, {
      training: true,
      rng: o.rng,
      outputs: [target],
      forBackward: true,
    });
    const value = toMatrix(r.outputs[target]!);
    const bad = value.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      // Diverged weights: report the non-finite value as the loss (the training
      // loop stops on it) and leave the state untouched.
      if (r.tape !== null) releaseTape(r.tape);
      return { loss: value.data[bad] as number, regularization: NaN, rng: r.rng ?? o.rng };
    }
    let dataLoss: number;
    let extraRegularization = 0;
    let gradient: Matrix;
    let headGrads: NamedTensors = {};
    let stats = current.stats;
    try {
      if (loss.kind === "triplet") {
        const t = tripletLoss(value, {
          alpha: loss.alpha,
          ...(loss.softMargin === undefined ? {} : { softMargin: loss.softMargin }),
        });
        dataLoss = t.loss;
        gradient = t.gradient;
      } else {
        if (o.labels === undefined) throw new RangeError("A softmax step needs labels");
        const h = softmaxHead(value, o.labels, current.params, current.stats, loss);
        dataLoss = h.loss;
        extraRegularization = h.regularization;
        gradient = h.gradient;
        headGrads = h.paramGradients;
        stats = { ...stats, ...h.stats };
      }
    } catch (e) {
      if (r.tape !== null) releaseTape(r.tape);
      throw e;
    }
    const g = backward(r.tape!, {
      [target]: { shape: [gradient.rows, gradient.cols], data: gradient.data },
    });
    const grads = addWeightDecay(
      { ...g.params, ...headGrads },
      current.params,
      options.weightDecay,
    );
    const regularization = weightDecayLoss(current.params, options.weightDecay) +
      extraRegularization;
    const update = applyOptimizer(
      options.optimizer,
      current.optimizer,
      current.params,
      grads,
      o.learningRate,
    );
    const step = current.step + 1;
    const decay = options.movingAverageDecay;
    current = {
      params: update.params,
      stats: updateMovingStatistics(spec, stats, r.batchStatistics),
      optimizer: update.state,
      ema: current.ema === null || decay === null
        ? current.ema
        : updateMovingAverage(current.ema, update.params, { decay, numUpdates: step }),
      step,
    };
    return { loss: dataLoss + regularization, regularization, rng: r.rng ?? o.rng };
  }

  return {
    spec,
    embed(images, o) {
      return Promise.resolve().then(() => embed(images, o));
    },
    outputs(images, o) {
      return Promise.resolve().then(() => outputs(images, o));
    },
    trainStep(images, o) {
      return Promise.resolve().then(() => trainStep(images, o));
    },
    getState() {
      alive();
      const s = current;
      return Promise.resolve({
        params: copyTensors(s.params),
        stats: copyTensors(s.stats),
        optimizer: {
          name: s.optimizer.name,
          slots: Object.fromEntries(
            Object.entries(s.optimizer.slots).map(([k, v]) => [k, copyTensors(v)]),
          ),
          iterations: s.optimizer.iterations,
        },
        ema: s.ema === null ? null : copyTensors(s.ema),
        step: s.step,
      });
    },
    dispose() {
      disposed = true;
    },
  };
}
