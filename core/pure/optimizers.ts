/**
 * The reference implementation's optimizers as pure update functions (state in, state out) with
 * TensorFlow 1.x semantics, and L2 weight decay. Every formula follows the
 * documented TF training op (tf.raw_ops.Apply*):
 *
 * - SGD: `var -= lr * g`.
 * - MOM (ApplyMomentum): `accum = momentum * accum + g`; Nesterov:
 *   `var -= lr * (g + momentum * accum)`, otherwise `var -= lr * accum`.
 *   Slot "momentum", zeros. The reference implementation uses momentum 0.9 with Nesterov.
 * - ADAGRAD (ApplyAdagrad): `acc += g^2; var -= lr * g / sqrt(acc)`. Slot
 *   "accumulator", initialized to 0.1 (tf.train.AdagradOptimizer's default).
 * - ADADELTA (ApplyAdadelta): `acc = rho * acc + (1 - rho) * g^2;
 *   update = sqrt(accUpdate + eps) / sqrt(acc + eps) * g;
 *   accUpdate = rho * accUpdate + (1 - rho) * update^2; var -= lr * update`.
 *   Slots "accum", "accum_update", zeros; rho 0.9, eps 1e-6.
 * - ADAM (ApplyAdam): with `t` the 1-based step,
 *   `lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)`,
 *   `m = beta1 * m + (1 - beta1) * g`, `v = beta2 * v + (1 - beta2) * g^2`,
 *   `var -= lr_t * m / (sqrt(v) + eps)`. Slots "m", "v", zeros; the reference implementation's
 *   beta1 0.9, beta2 0.999, eps 0.1.
 * - RMSPROP (ApplyRMSProp, not centered): `ms = decay * ms + (1 - decay) * g^2;
 *   mom = momentum * mom + lr * g / sqrt(ms + eps); var -= mom`. Slots "rms"
 *   initialized to ONES (tf.train.RMSPropOptimizer does so) and "momentum"
 *   zeros; the reference implementation's decay 0.9, momentum 0.9, eps 1.0.
 *
 * Arithmetic is float64 per element, stored as float32.
 *
 * @module
 */

import type {
  NamedTensors,
  OptimizerConfig,
  OptimizerName,
  OptimizerState,
  Tensor,
} from "../types.ts";

const NAMES: readonly OptimizerName[] = ["SGD", "ADAGRAD", "ADADELTA", "ADAM", "RMSPROP", "MOM"];

/**
 * An optimizer configuration with every default filled in.
 *
 * @category Training
 */
export interface ResolvedOptimizerConfig {
  /** The optimizer. */
  readonly name: OptimizerName;
  /** Momentum of MOM and RMSPROP (default 0.9). */
  readonly momentum: number;
  /** Nesterov momentum for MOM (default true, the reference implementation's). */
  readonly nesterov: boolean;
  /** Adadelta's decay (default 0.9). */
  readonly rho: number;
  /** Epsilon (defaults: Adadelta 1e-6, Adam 0.1, RMSProp 1.0). */
  readonly epsilon: number;
  /** Adam's first-moment decay (default 0.9). */
  readonly beta1: number;
  /** Adam's second-moment decay (default 0.999). */
  readonly beta2: number;
  /** RMSProp's mean-square decay (default 0.9). */
  readonly decay: number;
  /** Adagrad's initial accumulator (default 0.1). */
  readonly initialAccumulator: number;
}

/**
 * Fills in the reference implementation's defaults of an optimizer configuration.
 *
 * @param config The configuration.
 * @returns Every hyper-parameter, defaults applied (epsilon by optimizer: Adadelta 1e-6, Adam 0.1, RMSProp 1.0).
 * @throws {RangeError} When the name is unknown or a hyper-parameter is out of range.
 * @example
 * ```ts
 * import { resolveOptimizerConfig } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.equal(resolveOptimizerConfig({ name: "ADAM" }).epsilon, 0.1);
 * assert.equal(resolveOptimizerConfig({ name: "RMSPROP" }).epsilon, 1.0);
 * ```
 *
 * @category Training
 */
export function resolveOptimizerConfig(config: OptimizerConfig): ResolvedOptimizerConfig {
  if (!NAMES.includes(config.name)) {
    throw new RangeError(
      `Unknown optimizer "${String(config.name)}"; use one of ${NAMES.join(", ")}`,
    );
  }
  const defaultEpsilon = config.name === "ADAM"
    ? 0.1
    : config.name === "RMSPROP"
    ? 1.0
    : config.name === "ADADELTA"
    ? 1e-6
    : 1e-8;
  const r: ResolvedOptimizerConfig = {
    name: config.name,
    momentum: config.momentum ?? 0.9,
    nesterov: config.nesterov ?? true,
    rho: config.rho ?? 0.9,
    epsilon: config.epsilon ?? defaultEpsilon,
    beta1: config.beta1 ?? 0.9,
    beta2: config.beta2 ?? 0.999,
    decay: config.decay ?? 0.9,
    initialAccumulator: config.initialAccumulator ?? 0.1,
  };
  const unit = (v: number, what: string) => {
    if (!(v >= 0 && v < 1)) throw new RangeError(`Optimizer ${what} must be in [0, 1), got ${v}`);
  };
  unit(r.momentum, "momentum");
  unit(r.rho, "rho");
  unit(r.beta1, "beta1");
  unit(r.beta2, "beta2");
  unit(r.decay, "decay");
  if (!(r.epsilon > 0)) {
    throw new RangeError(`Optimizer epsilon must be positive, got ${r.epsilon}`);
  }
  if (!(r.initialAccumulator > 0)) {
    throw new RangeError(`Initial accumulator must be positive, got ${r.initialAccumulator}`);
  }
  return r;
}

/** Slot names and initial values per optimizer. */
function slotSpecs(c: ResolvedOptimizerConfig): [string, number][] {
  switch (c.name) {
    case "SGD":
      return [];
    case "MOM":
      return [["momentum", 0]];
    case "ADAGRAD":
      return [["accumulator", c.initialAccumulator]];
    case "ADADELTA":
      return [["accum", 0], ["accum_update", 0]];
    case "ADAM":
      return [["m", 0], ["v", 0]];
    case "RMSPROP":
      return [["rms", 1], ["momentum", 0]];
  }
}

/**
 * Creates the initial optimizer state (slots per parameter, zero iterations).
 *
 * @param config The optimizer configuration.
 * @param params The trainable parameters.
 * @returns The initial state.
 * @throws {RangeError} When the configuration is invalid.
 * @example
 * ```ts
 * import { initOptimizerState } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const s = initOptimizerState({ name: "ADAGRAD" }, {
 *   w: { shape: [2], data: new Float32Array(2) },
 * });
 * assert.deepEqual(Array.from(s.slots["accumulator"]!["w"]!.data), [0.10000000149011612, 0.10000000149011612]);
 * ```
 *
 * @category Training
 */
export function initOptimizerState(config: OptimizerConfig, params: NamedTensors): OptimizerState {
  const c = resolveOptimizerConfig(config);
  const slots: Record<string, NamedTensors> = {};
  for (const [slot, value] of slotSpecs(c)) {
    const tensors: NamedTensors = {};
    for (const [name, p] of Object.entries(params)) {
      tensors[name] = { shape: [...p.shape], data: new Float32Array(p.data.length).fill(value) };
    }
    slots[slot] = tensors;
  }
  return { name: c.name, slots, iterations: 0 };
}

/**
 * Whether L2 weight decay applies to a parameter: weights (`* /weights`)
 * only, never biases or batch-norm parameters.
 *
 * @param name A parameter name.
 * @returns True for `<node>/weights`.
 * @example
 * ```ts
 * import { isDecayed } from "./optimizers.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isDecayed("conv1/weights"), true);
 * assert.equal(isDecayed("conv1/biases"), false);
 * ```
 */
export function isDecayed(name: string): boolean {
  return name.endsWith("/weights");
}

/**
 * The L2 regularization loss of TF's `l2_regularizer(weightDecay)` summed
 * over the weights: `weightDecay * sum(w^2) / 2`. Its gradient is
 * `weightDecay * w` (see {@link addWeightDecay}).
 *
 * @param params The parameters.
 * @param weightDecay The factor (>= 0).
 * @returns The regularization loss.
 * @throws {RangeError} When `weightDecay` is negative or not finite.
 * @example
 * ```ts
 * import { weightDecayLoss } from "./optimizers.ts";
 * import assert from "node:assert/strict";
 *
 * const params = {
 *   "fc/weights": { shape: [2], data: new Float32Array([1, 2]) },
 *   "fc/biases": { shape: [1], data: new Float32Array([5]) },
 * };
 * assert.equal(weightDecayLoss(params, 0.1), 0.25);
 * ```
 */
export function weightDecayLoss(params: NamedTensors, weightDecay: number): number {
  checkDecay(weightDecay);
  if (weightDecay === 0) return 0;
  let s = 0;
  for (const [name, p] of Object.entries(params)) {
    if (!isDecayed(name)) continue;
    for (const v of p.data) s += v * v;
  }
  return weightDecay * s / 2;
}

function checkDecay(weightDecay: number): void {
  if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) {
    throw new RangeError(`Weight decay must be a non-negative number, got ${weightDecay}`);
  }
}

/**
 * Adds the weight-decay gradient `weightDecay * w` to the gradients of the
 * weights; biases and batch-norm parameters are returned unchanged.
 *
 * @param grads Gradients by parameter name.
 * @param params The parameters.
 * @param weightDecay The factor (>= 0).
 * @returns New gradients.
 * @throws {RangeError} When `weightDecay` is negative or a parameter is missing.
 * @example
 * ```ts
 * import { addWeightDecay } from "./optimizers.ts";
 * import assert from "node:assert/strict";
 *
 * const params = { "c/weights": { shape: [1], data: new Float32Array([2]) } };
 * const grads = { "c/weights": { shape: [1], data: new Float32Array([1]) } };
 * assert.deepEqual(Array.from(addWeightDecay(grads, params, 0.5)["c/weights"]!.data), [2]);
 * ```
 */
export function addWeightDecay(
  grads: NamedTensors,
  params: NamedTensors,
  weightDecay: number,
): NamedTensors {
  checkDecay(weightDecay);
  const out: NamedTensors = {};
  for (const [name, g] of Object.entries(grads)) {
    if (weightDecay === 0 || !isDecayed(name)) {
      out[name] = g;
      continue;
    }
    const p = params[name];
    if (p === undefined) throw new RangeError(`Gradient "${name}" has no parameter`);
    const data = new Float32Array(g.data.length);
    for (let i = 0; i < data.length; i++) data[i] = g.data[i]! + weightDecay * p.data[i]!;
    out[name] = { shape: g.shape, data };
  }
  return out;
}

/**
 * The outcome of {@link applyOptimizer}.
 *
 * @category Training
 */
export interface OptimizerUpdate {
  /** The updated parameters. */
  readonly params: NamedTensors;
  /** The updated optimizer state (iterations + 1). */
  readonly state: OptimizerState;
}

/**
 * Applies one optimizer step to every parameter that has a gradient
 * (parameters without one are unchanged, their slots too).
 *
 * @param config The optimizer configuration (must name the same optimizer as `state`).
 * @param state The optimizer state.
 * @param params The parameters.
 * @param grads Gradients by parameter name (weight decay already added).
 * @param learningRate The learning rate (> 0).
 * @returns New parameters and state; the inputs are not modified.
 * @throws {RangeError} When names or shapes disagree or the learning rate is not positive.
 * @example
 * ```ts
 * import { applyOptimizer, initOptimizerState } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const params = { w: { shape: [1], data: new Float32Array([1]) } };
 * const grads = { w: { shape: [1], data: new Float32Array([0.5]) } };
 * const cfg = { name: "SGD" } as const;
 * const r = applyOptimizer(cfg, initOptimizerState(cfg, params), params, grads, 0.1);
 * assert.equal(r.params["w"]!.data[0], Math.fround(0.95));
 * assert.equal(r.state.iterations, 1);
 * ```
 *
 * @category Training
 */
export function applyOptimizer(
  config: OptimizerConfig,
  state: OptimizerState,
  params: NamedTensors,
  grads: NamedTensors,
  learningRate: number,
): OptimizerUpdate {
  const c = resolveOptimizerConfig(config);
  if (state.name !== c.name) {
    throw new RangeError(`Optimizer state is for ${state.name}, the configuration for ${c.name}`);
  }
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) {
    throw new RangeError(`Learning rate must be positive, got ${learningRate}`);
  }
  const t = state.iterations + 1;
  const lrAdam = learningRate * Math.sqrt(1 - c.beta2 ** t) / (1 - c.beta1 ** t);
  const newParams: NamedTensors = { ...params };
  const newSlots: Record<string, NamedTensors> = {};
  for (const [slot, tensors] of Object.entries(state.slots)) newSlots[slot] = { ...tensors };
  const slotOf = (slot: string, name: string, p: Tensor): Float32Array => {
    const s = state.slots[slot]?.[name];
    if (s === undefined || s.data.length !== p.data.length) {
      throw new RangeError(`Optimizer slot "${slot}" of "${name}" is missing or mis-shaped`);
    }
    return Float32Array.from(s.data);
  };
  for (const [name, g] of Object.entries(grads)) {
    const p = params[name];
    if (p === undefined) throw new RangeError(`Gradient "${name}" has no parameter`);
    if (g.data.length !== p.data.length) {
      throw new RangeError(
        `Gradient of "${name}" has ${g.data.length} values, the parameter ${p.data.length}`,
      );
    }
    const v = Float32Array.from(p.data);
    const gd = g.data;
    const n = v.length;
    const lr = learningRate;
    const store = (slot: string, data: Float32Array) => {
      newSlots[slot]![name] = { shape: p.shape, data };
    };
    switch (c.name) {
      case "SGD":
        for (let i = 0; i < n; i++) v[i] = v[i]! - lr * gd[i]!;
        break;
      case "MOM": {
        const acc = slotOf("momentum", name, p);
        for (let i = 0; i < n; i++) {
          const a = c.momentum * acc[i]! + gd[i]!;
          acc[i] = a;
          v[i] = v[i]! - (c.nesterov ? lr * (gd[i]! + c.momentum * a) : lr * a);
        }
        store("momentum", acc);
        break;
      }
      case "ADAGRAD": {
        const acc = slotOf("accumulator", name, p);
        for (let i = 0; i < n; i++) {
          const a = acc[i]! + gd[i]! * gd[i]!;
          acc[i] = a;
          v[i] = v[i]! - lr * gd[i]! / Math.sqrt(a);
        }
        store("accumulator", acc);
        break;
      }
      case "ADADELTA": {
        const acc = slotOf("accum", name, p);
        const accUp = slotOf("accum_update", name, p);
        for (let i = 0; i < n; i++) {
          const a = c.rho * acc[i]! + (1 - c.rho) * gd[i]! * gd[i]!;
          const update = Math.sqrt(accUp[i]! + c.epsilon) / Math.sqrt(a + c.epsilon) * gd[i]!;
          acc[i] = a;
          accUp[i] = c.rho * accUp[i]! + (1 - c.rho) * update * update;
          v[i] = v[i]! - lr * update;
        }
        store("accum", acc);
        store("accum_update", accUp);
        break;
      }
      case "ADAM": {
        const m = slotOf("m", name, p);
        const s = slotOf("v", name, p);
        for (let i = 0; i < n; i++) {
          const mi = c.beta1 * m[i]! + (1 - c.beta1) * gd[i]!;
          const si = c.beta2 * s[i]! + (1 - c.beta2) * gd[i]! * gd[i]!;
          m[i] = mi;
          s[i] = si;
          v[i] = v[i]! - lrAdam * mi / (Math.sqrt(si) + c.epsilon);
        }
        store("m", m);
        store("v", s);
        break;
      }
      case "RMSPROP": {
        const ms = slotOf("rms", name, p);
        const mom = slotOf("momentum", name, p);
        for (let i = 0; i < n; i++) {
          const msi = c.decay * ms[i]! + (1 - c.decay) * gd[i]! * gd[i]!;
          const mi = c.momentum * mom[i]! + lr * gd[i]! / Math.sqrt(msi + c.epsilon);
          ms[i] = msi;
          mom[i] = mi;
          v[i] = v[i]! - mi;
        }
        store("rms", ms);
        store("momentum", mom);
        break;
      }
    }
    newParams[name] = { shape: p.shape, data: v };
  }
  return { params: newParams, state: { name: c.name, slots: newSlots, iterations: t } };
}
