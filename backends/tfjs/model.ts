/**
 * A {@link Model} on the tfjs device: the compiled spec, all state held in
 * tf variables (parameters, batch-norm statistics, optimizer slots, moving
 * averages), gradients by tfjs autodiff and the core's update rules written
 * with tf ops. A training step stays on the device from the image upload to
 * the one final read of the loss; every intermediate tensor is disposed.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import type {
  EmbedOptions,
  Model,
  ModelState,
  OutputOptions,
  StepOptions,
  StepResult,
  TrainingOptions,
} from "../../core/backend.ts";
import type { DropoutNode, ModelSpec } from "../../core/model_spec.ts";
import type { ImageBatch, Matrix, NamedTensors, RngState, Tensor } from "../../core/types.ts";
import { uniforms } from "../../core/pure/rng.ts";
import { type GraphShapes, inferShapes } from "../../core/shapes.ts";
import { type BatchNormStatistics, compileModel } from "./compile.ts";
import { TFJS_OPS, type TfjsOpAdapter } from "./ops.ts";
import { applyOptimizerUpdate } from "./optimizers.ts";
import { isDecayed, resolveOptimizerConfig } from "../../core/pure/optimizers.ts";
import { effectiveDecay } from "../../core/pure/moving_average.ts";
import { tripletLossTensor } from "./triplet_loss.ts";
import { headLogitsTensor, softmaxHeadLoss, updatedCenters } from "./softmax_loss.ts";
import { CENTERS, LOGITS } from "../../core/model_state.ts";

function toTensor(t: Tensor): tf.Tensor {
  return tf.tensor(t.data, [...t.shape], "float32");
}

function variables(named: NamedTensors, trainable = false): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [name, t] of Object.entries(named)) {
    out.set(name, tf.tidy(() => tf.variable(toTensor(t), trainable)));
  }
  return out;
}

async function download(vars: ReadonlyMap<string, tf.Variable>): Promise<NamedTensors> {
  const out: NamedTensors = {};
  for (const [name, v] of vars) {
    const data = await v.data();
    out[name] = { shape: [...v.shape], data: Float32Array.from(data) };
  }
  return out;
}

function checkImages(spec: ModelSpec, images: ImageBatch): void {
  const input = spec.nodes.find((n) => n.op === "input");
  if (input === undefined || input.op !== "input") {
    throw new RangeError(`Spec "${spec.name}" has no input node`);
  }
  const [h, w, c] = input.shape;
  if (images.height !== h || images.width !== w || images.channels !== c) {
    throw new RangeError(
      `Images are ${images.height}x${images.width}x${images.channels} but spec "${spec.name}" takes ${h}x${w}x${c}`,
    );
  }
  if (!Number.isInteger(images.n) || images.n < 1) {
    throw new RangeError(`Image count must be a positive integer, got ${images.n}`);
  }
  if (images.data.length !== images.n * h * w * c) {
    throw new RangeError(
      `Image data length ${images.data.length} does not match ${images.n}x${h}x${w}x${c}`,
    );
  }
}

/** Draws the dropout masks of a training pass: see {@linkcode dropoutMaskValues}. */
interface MaskPlan {
  readonly masks: Map<string, Float32Array>;
  readonly rng: RngState;
}

/**
 * The dropout multipliers of one training pass, drawn from the core RNG as
 * the core's executor draws them: for each dropout node with keep < 1, in
 * node order, one uniform per unit of its `[n, ...]` input (row-major); a
 * unit is kept when `u < keep` and then scaled by `1 / keep`.
 *
 * @param spec The model graph.
 * @param shapes The full input shape (batch included) of each dropout node.
 * @param rng The RNG state before the pass.
 * @returns The multipliers by node name and the advanced RNG.
 * @example
 * ```ts
 * import { dropoutMaskValues } from "./model.ts";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 * const spec = {
 *   name: "d",
 *   nodes: [
 *     { op: "input", name: "x", shape: [1, 1, 4] },
 *     { op: "flatten", name: "f", input: "x" },
 *     { op: "dropout", name: "drop", input: "f", keepProbability: 0.5 },
 *     { op: "l2Normalize", name: "e", input: "drop" },
 *   ],
 *   prelogits: "drop",
 *   output: "e",
 * } as const;
 * const plan = dropoutMaskValues(spec, new Map([["drop", [2, 4]]]), createRng(1));
 * assert.ok(plan.masks.get("drop")!.every((v) => v === 0 || v === 2));
 * assert.equal(plan.rng.counter, 16);
 * ```
 */
export function dropoutMaskValues(
  spec: ModelSpec,
  shapes: ReadonlyMap<string, readonly number[]>,
  rng: RngState,
): MaskPlan {
  const masks = new Map<string, Float32Array>();
  let state = rng;
  for (const node of spec.nodes) {
    if (node.op !== "dropout" || node.keepProbability >= 1) continue;
    const shape = shapes.get(node.name);
    if (shape === undefined) throw new RangeError(`No shape for dropout node "${node.name}"`);
    const size = shape.reduce((a, b) => a * b, 1);
    const [us, next] = uniforms(state, size);
    state = next;
    const keep = node.keepProbability;
    const mask = new Float32Array(size);
    for (let i = 0; i < size; i++) mask[i] = us[i]! < keep ? 1 / keep : 0;
    masks.set(node.name, mask);
  }
  return { masks, rng: state };
}

/**
 * Creates a model on the active tfjs device.
 *
 * @param spec The model graph.
 * @param state The full initial state.
 * @param options Loss, optimizer, weight decay, moving-average decay.
 * @returns The model.
 * @throws {RangeError} When the spec is invalid, the state lacks a
 *   parameter or statistic of the spec, or its optimizer differs from the
 *   options'.
 * @example One training step on a tiny graph
 * ```ts
 * import { createTfjsModel } from "./model.ts";
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const spec = {
 *   name: "tiny",
 *   nodes: [
 *     { op: "input", name: "input", shape: [2, 2, 1] },
 *     { op: "flatten", name: "flat", input: "input" },
 *     { op: "dense", name: "fc", input: "flat", units: 2 },
 *     { op: "l2Normalize", name: "emb", input: "fc" },
 *   ],
 *   prelogits: "fc",
 *   output: "emb",
 * } as const;
 * const options = {
 *   loss: { kind: "triplet", alpha: 1 },
 *   optimizer: { name: "SGD" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * } as const;
 * const model = createTfjsModel(spec, initModelState(spec, options, createRng(1)), options);
 * const images = { n: 3, height: 2, width: 2, channels: 1, data: Float32Array.from({ length: 12 }, (_, i) => i % 5) };
 * const r = await model.trainStep(images, { learningRate: 0.1, rng: createRng(2) });
 * assert.ok(Number.isFinite(r.loss));
 * assert.equal((await model.getState()).step, 1);
 * model.dispose();
 * ```
 */
export function createTfjsModel(
  spec: ModelSpec,
  state: ModelState,
  options: TrainingOptions,
): Model {
  return new TfjsModel(spec, state, options);
}

class TfjsModel implements Model {
  readonly spec: ModelSpec;
  readonly #compiled;
  readonly #options: TrainingOptions;
  readonly #opt;
  readonly #params: Map<string, tf.Variable>;
  readonly #stats: Map<string, tf.Variable>;
  readonly #slots: Map<string, Map<string, tf.Variable>>;
  readonly #ema: Map<string, tf.Variable> | null;
  readonly #extra: NamedTensors;
  #step: number;
  #iterations: number;
  readonly #shapes: GraphShapes;
  #disposed = false;

  constructor(spec: ModelSpec, state: ModelState, options: TrainingOptions) {
    this.spec = spec;
    this.#shapes = inferShapes(spec);
    this.#compiled = compileModel(spec);
    this.#options = options;
    this.#opt = resolveOptimizerConfig(options.optimizer);
    if (state.optimizer.name !== options.optimizer.name) {
      throw new RangeError(
        `The state's optimizer is ${state.optimizer.name} but the options ask for ${options.optimizer.name}`,
      );
    }
    for (const name of this.#compiled.paramNames) {
      if (state.params[name] === undefined) {
        throw new RangeError(`The state has no parameter "${name}"`);
      }
    }
    for (const name of this.#compiled.statNames) {
      if (state.stats[name] === undefined) {
        throw new RangeError(`The state has no statistic "${name}"`);
      }
    }
    this.#params = variables(state.params, true);
    this.#stats = variables(state.stats);
    this.#slots = new Map();
    for (const [slot, named] of Object.entries(state.optimizer.slots)) {
      this.#slots.set(slot, variables(named));
    }
    this.#ema = state.ema === null ? null : variables(state.ema);
    this.#extra = {};
    this.#step = state.step;
    this.#iterations = state.optimizer.iterations;
  }

  #check(): void {
    if (this.#disposed) throw new Error("The model was disposed");
  }

  #tensors(map: ReadonlyMap<string, tf.Variable>): Record<string, tf.Tensor> {
    return Object.fromEntries(map);
  }

  /** Shapes of the dropout inputs (keep < 1) for a batch of `n`. */
  #dropoutShapesFor(n: number): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const node of this.spec.nodes) {
      if (node.op !== "dropout" || node.keepProbability >= 1) continue;
      out.set(node.name, [n, ...this.#shapes.nodes.get(node.input)!]);
    }
    return out;
  }

  #maskFn(masks: Map<string, Float32Array>) {
    return (node: DropoutNode, shape: number[]): tf.Tensor => {
      const m = masks.get(node.name);
      if (m === undefined) throw new RangeError(`No dropout mask for "${node.name}"`);
      return tf.tensor(m, shape);
    };
  }

  /**
   * The core's moving-statistics rule (core/ops/batch_norm.ts), through each
   * op's tfjs adapter: `moving = decay * moving + (1 - decay) * batch`, the
   * variance of an image input Bessel-corrected as TF's fused batch norm.
   */
  #updateStats(batchStats: Readonly<Record<string, BatchNormStatistics>>) {
    for (const node of this.spec.nodes) {
      const stats = batchStats[node.name];
      if (stats === undefined) continue;
      const a = TFJS_OPS[node.op] as TfjsOpAdapter | undefined;
      a?.updateStatistics?.(node, stats, (suffix) => {
        const v = this.#stats.get(`${node.name}/${suffix}`);
        if (v === undefined) throw new RangeError(`Statistic "${node.name}/${suffix}" is missing`);
        return v;
      });
    }
  }

  async embed(images: ImageBatch, options: EmbedOptions): Promise<Matrix> {
    const out = await this.outputs(images, { ...options, outputs: [this.spec.output] });
    const t = out[this.spec.output]!;
    return { rows: t.shape[0]!, cols: t.shape[1]!, data: t.data };
  }

  async outputs(images: ImageBatch, options: OutputOptions): Promise<NamedTensors> {
    this.#check();
    checkImages(this.spec, images);
    if (options.useMovingAverage === true && this.#ema === null) {
      throw new RangeError("useMovingAverage needs a model trained with a moving average");
    }
    const loss = this.#options.loss;
    if (options.outputs.includes(LOGITS) && loss.kind !== "softmax") {
      throw new RangeError(`"${LOGITS}" needs a model with a softmax head`);
    }
    let masks = new Map<string, Float32Array>();
    if (options.training) {
      const shapes = this.#dropoutShapesFor(images.n);
      if (shapes.size > 0) {
        if (options.rng === undefined) {
          throw new TypeError("Embedding in training mode with dropout needs an rng");
        }
        masks = dropoutMaskValues(this.spec, shapes, options.rng).masks;
      }
    }
    // The moving averages replace the parameters they cover.
    const params = options.useMovingAverage === true
      ? new Map([...this.#params, ...this.#ema!])
      : this.#params;
    const nodes = options.outputs.filter((name) => name !== LOGITS);
    const outs = tf.tidy(() => {
      const x = tf.tensor4d(images.data, [images.n, images.height, images.width, images.channels]);
      const result = this.#compiled.forward({
        x,
        params: this.#tensors(params),
        stats: this.#tensors(this.#stats),
        training: options.training,
        dropoutMask: this.#maskFn(masks),
        outputs: nodes,
      });
      if (options.training) this.#updateStats(result.batchStats);
      // The batch statistics live outside tf.tidy (see compile.ts).
      for (const st of Object.values(result.batchStats)) {
        st.mean.dispose();
        st.variance.dispose();
      }
      return options.outputs.map((name) =>
        name === LOGITS && loss.kind === "softmax"
          ? headLogitsTensor(result.prelogits, this.#tensors(params), loss)
          : result.values[name]!
      );
    });
    const named: NamedTensors = {};
    for (let i = 0; i < outs.length; i++) {
      const t = outs[i]!;
      named[options.outputs[i]!] = { shape: [...t.shape], data: Float32Array.from(await t.data()) };
      t.dispose();
    }
    return named;
  }

  async trainStep(images: ImageBatch, options: StepOptions): Promise<StepResult> {
    this.#check();
    checkImages(this.spec, images);
    const lr = options.learningRate;
    if (!Number.isFinite(lr) || lr <= 0) {
      throw new RangeError(`Learning rate must be positive, got ${lr}`);
    }
    const loss = this.#options.loss;
    if (loss.kind === "triplet" && images.n % 3 !== 0) {
      throw new RangeError(`A triplet batch needs a multiple of 3 images, got ${images.n}`);
    }
    const labels = options.labels;
    if (loss.kind === "softmax") {
      if (!(labels instanceof Int32Array) || labels.length !== images.n) {
        throw new RangeError(
          `A softmax step needs ${images.n} Int32Array labels, got ${labels?.length ?? "none"}`,
        );
      }
      for (let i = 0; i < labels.length; i++) {
        if (!(labels[i]! >= 0 && labels[i]! < loss.numClasses)) {
          throw new RangeError(
            `Label ${labels[i]} at index ${i} is outside [0, ${loss.numClasses})`,
          );
        }
      }
    }
    const { masks, rng } = dropoutMaskValues(
      this.spec,
      this.#dropoutShapesFor(images.n),
      options.rng,
    );
    const weightDecay = this.#options.weightDecay;
    const paramNames = [...this.#params.keys()];
    const paramVars = paramNames.map((n) => this.#params.get(n)!);
    const step = this.#iterations + 1;
    const graphParams = new Set(this.#compiled.paramNames);
    // Tensors kept out of the gradient function's scope; disposed below.
    const kept: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => {
      kept.push(t);
      return tf.keep(t);
    };
    const result = tf.tidy(() => {
      const x = tf.tensor4d(images.data, [images.n, images.height, images.width, images.channels]);
      let batchStats: Record<string, BatchNormStatistics> = {};
      let regularization: tf.Scalar = tf.scalar(0);
      let prelogits: tf.Tensor2D | null = null;
      const labelsT = loss.kind === "softmax" ? tf.tensor1d(labels!, "int32") : null;
      const f = (): tf.Scalar => {
        const out = this.#compiled.forward({
          x,
          params: this.#tensors(this.#params),
          stats: this.#tensors(this.#stats),
          training: true,
          dropoutMask: this.#maskFn(masks),
        });
        batchStats = {};
        for (const [name, s] of Object.entries(out.batchStats)) {
          batchStats[name] = { ...s, mean: keep(s.mean), variance: keep(s.variance) };
        }
        let data: tf.Scalar;
        let reg: tf.Scalar = tf.scalar(0);
        if (loss.kind === "triplet") {
          data = tripletLossTensor(out.output, loss.alpha, loss.softMargin === true);
        } else {
          const head = softmaxHeadLoss(
            out.prelogits,
            labelsT!,
            this.#tensors(this.#params),
            this.#tensors(this.#stats),
            loss,
          );
          data = head.crossEntropy;
          reg = head.regularization;
          prelogits = keep(out.prelogits);
        }
        if (weightDecay > 0) {
          let decayed: tf.Scalar = tf.scalar(0);
          for (const name of paramNames) {
            if (!isDecayed(name)) continue;
            decayed = tf.add(decayed, tf.sum(tf.square(this.#params.get(name)!)));
          }
          reg = tf.add(reg, tf.mul(decayed, tf.scalar(weightDecay / 2)));
        }
        regularization = keep(reg);
        return tf.add(data, reg);
      };
      const { value, grads } = tf.variableGrads(f, paramVars);
      this.#updateStats(batchStats);
      if (loss.kind === "softmax" && (loss.centerLossFactor ?? 0) > 0 && prelogits !== null) {
        const centers = this.#stats.get(CENTERS);
        if (centers === undefined) {
          throw new RangeError(`Center loss needs the statistic "${CENTERS}"`);
        }
        centers.assign(updatedCenters(centers, prelogits, labelsT!, loss.centerLossAlfa ?? 0.95));
      }
      for (let i = 0; i < paramNames.length; i++) {
        const name = paramNames[i]!;
        const v = paramVars[i]!;
        // As the core: a graph parameter the loss does not reach gets a zero
        // gradient; a parameter outside the graph and the head is not updated.
        let g = grads[v.name];
        if (g === undefined) {
          if (!graphParams.has(name)) continue;
          g = tf.zerosLike(v);
        }
        const slots: Record<string, tf.Variable> = {};
        for (const [slot, vars] of this.#slots) {
          const sv = vars.get(name);
          if (sv !== undefined) slots[slot] = sv;
        }
        applyOptimizerUpdate(this.#opt, step, lr, v, g, slots);
      }
      if (this.#ema !== null && this.#options.movingAverageDecay !== null) {
        const numUpdates = this.#step + 1;
        const decay = effectiveDecay(this.#options.movingAverageDecay, numUpdates);
        const d = tf.scalar(decay);
        const oneMinus = tf.scalar(1 - decay);
        for (const [name, avg] of this.#ema) {
          const p = this.#params.get(name);
          if (p === undefined) throw new RangeError(`Moving average of "${name}" has no parameter`);
          avg.assign(tf.add(tf.mul(d, avg), tf.mul(oneMinus, p)));
        }
      }
      return tf.stack([value, regularization]);
    });
    for (const t of kept) t.dispose();
    this.#iterations = step;
    this.#step += 1;
    const values = await result.data();
    result.dispose();
    return { loss: values[0]!, regularization: values[1]!, rng };
  }

  async getState(): Promise<ModelState> {
    this.#check();
    const slots: Record<string, NamedTensors> = {};
    for (const [slot, vars] of this.#slots) slots[slot] = await download(vars);
    return {
      params: await download(this.#params),
      stats: { ...(await download(this.#stats)), ...this.#extra },
      optimizer: { name: this.#options.optimizer.name, slots, iterations: this.#iterations },
      ema: this.#ema === null ? null : await download(this.#ema),
      step: this.#step,
    };
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const all = [
      this.#params,
      this.#stats,
      ...this.#slots.values(),
      ...(this.#ema ? [this.#ema] : []),
    ];
    for (const map of all) for (const v of map.values()) v.dispose();
  }
}
