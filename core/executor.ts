/**
 * The reverse-mode executor: runs a {@link ModelSpec} forward and backward on
 * any {@link Kernels} implementation. Plain tensors cross its boundary
 * (images, parameters, statistics in; node values, batch statistics and
 * gradients out); inside it works on the kernels' handles.
 *
 * - Training mode is explicit: batch norm uses batch statistics (and reports
 *   them for the moving-average update, see core/moving_statistics.ts),
 *   dropout draws its mask from the RNG. Inference mode uses the moving
 *   statistics and makes dropout the identity.
 * - Fan-out: a node read by several nodes receives the sum of their gradients.
 * - Memory: every value is reference-counted by the forward readers that
 *   still need it and by the backward steps that will read it; it is disposed
 *   as soon as the count reaches zero. Without `forBackward`, activations live
 *   only until their last reader has run.
 *
 * @module
 */

import type { ModelSpec, NodeSpec } from "./model_spec.ts";
import type { ImageBatch, NamedTensors, RngState, Tensor } from "./types.ts";
import type { Kernels } from "./kernels.ts";
import { inferShapes, inputsOf } from "./shapes.ts";
import { uniforms } from "./pure/rng.ts";

/** Batch statistics of one batch-norm node in a training-mode pass. */
export interface BatchStatistics {
  /** Batch mean per channel. */
  readonly mean: Float32Array;
  /** Population (biased) batch variance per channel. */
  readonly variance: Float32Array;
  /** Number of values per channel the statistics were computed over. */
  readonly count: number;
}

/** Options of {@link forward}. */
export interface ForwardOptions {
  /** Training mode (batch statistics, active dropout) or inference mode. */
  readonly training: boolean;
  /** Randomness for dropout; required in training mode when a dropout keeps less than 1. */
  readonly rng?: RngState;
  /** Nodes whose values to return (default: the spec's `output`). */
  readonly outputs?: readonly string[];
  /** Keep what {@link backward} needs (training mode only); default false. */
  readonly forBackward?: boolean;
}

/** What {@link backward} needs; opaque to callers. */
export interface Tape<T> {
  /** The kernels the forward pass ran on. */
  readonly kernels: Kernels<T>;
  /** The spec that ran. */
  readonly spec: ModelSpec;
  /** Handles of parameters, owned by the tape. */
  readonly params: Map<string, T>;
  /** Saved values (node outputs) with their remaining backward readers. */
  readonly saved: Map<string, { handle: T; refs: number }>;
  /** Per-node saved extras: dropout masks, batch statistics. */
  readonly extras: Map<string, T[]>;
  /** Per-example input shapes (with batch axis) of every node. */
  readonly inputShapes: Map<string, (readonly number[])[]>;
  /** Whether the tape was used by backward or released. */
  released: boolean;
}

/** The outcome of {@link forward}. */
export interface ForwardResult<T> {
  /** Values of the requested nodes, with the batch axis first. */
  readonly outputs: NamedTensors;
  /** Batch statistics of every batch-norm node (training mode only), by node name. */
  readonly batchStatistics: Readonly<Record<string, BatchStatistics>>;
  /** The advanced RNG (unchanged or undefined when nothing was drawn). */
  readonly rng: RngState | undefined;
  /** The tape for {@link backward}, or null without `forBackward`. */
  readonly tape: Tape<T> | null;
}

/** Gradients computed by {@link backward}. */
export interface Gradients {
  /** Gradient of every trainable parameter, by parameter name. */
  readonly params: NamedTensors;
  /** Gradient with respect to the input images (when asked for). */
  readonly input: Tensor | null;
}

/** Nodes whose backward step reads their input value (index 0). */
function savesInput(node: NodeSpec): boolean {
  return node.op === "conv2d" || node.op === "dense" || node.op === "batchNorm" ||
    node.op === "maxPool" || node.op === "l2Normalize";
}

function param<T>(params: Map<string, T>, name: string): T {
  const p = params.get(name);
  if (p === undefined) throw new RangeError(`Parameter "${name}" is missing`);
  return p;
}

function tensorOf(images: ImageBatch | Tensor): Tensor {
  if ("shape" in images) return images;
  return { shape: [images.n, images.height, images.width, images.channels], data: images.data };
}

/**
 * Runs a spec forward.
 *
 * @param kernels The kernel implementation.
 * @param spec The model spec.
 * @param state Parameters (every name of `inferShapes(spec).params`) and batch-norm statistics.
 * @param images The input batch (NHWC), as an image batch or a `[n, h, w, c]` tensor.
 * @param options Mode, RNG, requested outputs, whether to record a tape.
 * @returns The requested node values, batch statistics, the advanced RNG and the tape.
 * @throws {RangeError} When the spec is invalid, the images do not match the
 * input node's shape, a parameter is missing, or dropout needs an RNG that was not given.
 * @throws {TypeError} When a tape is asked for in inference mode.
 * @example
 * ```ts
 * import { forward } from "./executor.ts";
 * import { createPureKernels } from "./pure/kernels.ts";
 * import assert from "node:assert/strict";
 *
 * const spec = {
 *   name: "tiny",
 *   nodes: [
 *     { op: "input", name: "x", shape: [1, 1, 2] },
 *     { op: "flatten", name: "flat", input: "x" },
 *     { op: "l2Normalize", name: "emb", input: "flat" },
 *   ],
 *   prelogits: "flat",
 *   output: "emb",
 * } as const;
 * const images = { shape: [1, 1, 1, 2], data: new Float32Array([3, 4]) };
 * const r = forward(createPureKernels(), spec, { params: {}, stats: {} }, images, {
 *   training: false,
 * });
 * assert.deepEqual(Array.from(r.outputs["emb"]!.data), [0.6000000238418579, 0.800000011920929]);
 * ```
 */
export function forward<T>(
  kernels: Kernels<T>,
  spec: ModelSpec,
  state: { readonly params: NamedTensors; readonly stats: NamedTensors },
  images: ImageBatch | Tensor,
  options: ForwardOptions,
): ForwardResult<T> {
  const shapes = inferShapes(spec);
  const training = options.training;
  const record = options.forBackward ?? false;
  if (record && !training) {
    throw new TypeError("A tape for backward needs a training-mode forward pass");
  }
  const wanted = options.outputs ?? [spec.output];
  for (const name of wanted) {
    if (!shapes.nodes.has(name)) throw new RangeError(`Requested output "${name}" is not a node`);
  }
  const input = tensorOf(images);
  const inputNode = spec.nodes[0]!;
  const expected = shapes.nodes.get(inputNode.name)!;
  if (
    input.shape.length !== 4 || input.shape.slice(1).some((d, i) => d !== expected[i])
  ) {
    throw new RangeError(
      `Images of shape [${input.shape.join(", ")}] do not match input "${inputNode.name}" [${
        expected.join(", ")
      }]`,
    );
  }
  const n = input.shape[0]!;

  // Reference counts: forward readers, backward readers, requested outputs.
  const refs = new Map<string, number>();
  const bump = (name: string) => refs.set(name, (refs.get(name) ?? 0) + 1);
  const backwardRefs = new Map<string, number>();
  for (const node of spec.nodes) {
    for (const i of inputsOf(node)) bump(i);
    if (record) {
      const savedName = node.op === "relu"
        ? node.name
        : savesInput(node)
        ? inputsOf(node)[0]!
        : null;
      if (savedName !== null) {
        bump(savedName);
        backwardRefs.set(savedName, (backwardRefs.get(savedName) ?? 0) + 1);
      }
    }
  }
  for (const name of wanted) bump(name);

  const params = new Map<string, T>();
  const upload = (name: string): T => {
    const t = state.params[name];
    if (t === undefined) throw new RangeError(`Parameter "${name}" is missing`);
    const h = kernels.upload(t);
    params.set(name, h);
    return h;
  };
  for (const name of Object.keys(shapes.params)) upload(name);

  const values = new Map<string, T>();
  const extras = new Map<string, T[]>();
  const inputShapes = new Map<string, (readonly number[])[]>();
  const batchStatistics: Record<string, BatchStatistics> = {};
  const outputs: NamedTensors = {};
  let rng = options.rng;

  const release = (name: string) => {
    const r = (refs.get(name) ?? 0) - 1;
    refs.set(name, r);
    if (r <= 0) {
      const h = values.get(name);
      if (h !== undefined) kernels.dispose(h);
      values.delete(name);
    }
  };
  const valueOf = (name: string): T => {
    const v = values.get(name);
    if (v === undefined) throw new RangeError(`Value of node "${name}" is not available`);
    return v;
  };

  try {
    for (const node of spec.nodes) {
      const ins = inputsOf(node).map(valueOf);
      inputShapes.set(node.name, ins.map((h) => [...kernels.shape(h)]));
      let y: T;
      switch (node.op) {
        case "input":
          y = kernels.upload(input);
          break;
        case "conv2d": {
          const conv = kernels.conv2d(ins[0]!, param(params, `${node.name}/weights`), {
            stride: node.stride ?? 1,
            padding: node.padding ?? "same",
          });
          if (node.bias === true) {
            y = kernels.biasAdd(conv, param(params, `${node.name}/biases`));
            kernels.dispose(conv);
          } else {
            y = conv;
          }
          break;
        }
        case "batchNorm": {
          const gamma = (node.scale ?? true) ? param(params, `${node.name}/gamma`) : null;
          const beta = param(params, `${node.name}/beta`);
          const epsilon = node.epsilon ?? 0.001;
          if (training) {
            const out = kernels.batchNormTrain(ins[0]!, gamma, beta, epsilon);
            const shape = kernels.shape(ins[0]!);
            const c = shape[shape.length - 1]!;
            batchStatistics[node.name] = {
              mean: kernels.download(out.mean).data,
              variance: kernels.download(out.variance).data,
              count: shape.reduce((a, b) => a * b, 1) / c,
            };
            if (record) {
              extras.set(node.name, [out.mean, out.variance]);
            } else {
              kernels.dispose(out.mean);
              kernels.dispose(out.variance);
            }
            y = out.y;
          } else {
            const mean = kernels.upload(statOf(state.stats, `${node.name}/moving_mean`));
            const variance = kernels.upload(statOf(state.stats, `${node.name}/moving_variance`));
            y = kernels.batchNormInference(ins[0]!, gamma, beta, { mean, variance, epsilon });
            kernels.dispose(mean);
            kernels.dispose(variance);
          }
          break;
        }
        case "relu":
          y = kernels.relu(ins[0]!);
          break;
        case "maxPool":
        case "avgPool": {
          const o = { size: node.size, stride: node.stride, padding: node.padding ?? "valid" };
          y = node.op === "maxPool" ? kernels.maxPool(ins[0]!, o) : kernels.avgPool(ins[0]!, o);
          break;
        }
        case "globalAvgPool":
          y = kernels.globalAvgPool(ins[0]!);
          break;
        case "concat":
          y = kernels.concat(ins);
          break;
        case "add":
          y = kernels.add(ins[0]!, ins[1]!, node.scale ?? 1);
          break;
        case "dense": {
          const mm = kernels.matMul(ins[0]!, param(params, `${node.name}/weights`));
          if (node.bias ?? true) {
            y = kernels.biasAdd(mm, param(params, `${node.name}/biases`));
            kernels.dispose(mm);
          } else {
            y = mm;
          }
          break;
        }
        case "dropout": {
          const shape = kernels.shape(ins[0]!);
          if (!training || node.keepProbability >= 1) {
            y = kernels.reshape(ins[0]!, shape);
            break;
          }
          if (rng === undefined) {
            throw new RangeError(`Node "${node.name}": dropout in training mode needs an RNG`);
          }
          // Inverted dropout: keep with probability k (uniform u < k), scale by 1/k.
          const size = shape.reduce((a, b) => a * b, 1);
          const [u, next] = uniforms(rng, size);
          rng = next;
          const k = node.keepProbability;
          const m = new Float32Array(size);
          for (let i = 0; i < size; i++) m[i] = u[i]! < k ? 1 / k : 0;
          const mask = kernels.upload({ shape, data: m });
          y = kernels.multiply(ins[0]!, mask);
          if (record) extras.set(node.name, [mask]);
          else kernels.dispose(mask);
          break;
        }
        case "flatten": {
          const shape = kernels.shape(ins[0]!);
          y = kernels.reshape(ins[0]!, [n, shape.slice(1).reduce((a, b) => a * b, 1)]);
          break;
        }
        case "l2Normalize":
          y = kernels.l2Normalize(ins[0]!, node.epsilon ?? 1e-10);
          break;
        default:
          throw new RangeError(`Node "${(node as NodeSpec).name}" has an unknown op`);
      }
      values.set(node.name, y);
      if ((refs.get(node.name) ?? 0) <= 0) {
        kernels.dispose(y);
        values.delete(node.name);
      }
      for (const i of inputsOf(node)) release(i);
    }
    for (const name of wanted) {
      outputs[name] = kernels.download(valueOf(name));
      release(name);
    }
  } catch (e) {
    for (const h of values.values()) kernels.dispose(h);
    for (const hs of extras.values()) for (const h of hs) kernels.dispose(h);
    for (const h of params.values()) kernels.dispose(h);
    throw e;
  }

  if (!record) {
    for (const h of params.values()) kernels.dispose(h);
    return { outputs, batchStatistics, rng, tape: null };
  }
  // Only values saved for backward remain.
  const saved = new Map<string, { handle: T; refs: number }>();
  for (const [name, handle] of values) {
    saved.set(name, { handle, refs: backwardRefs.get(name) ?? 0 });
  }
  const tape: Tape<T> = {
    kernels,
    spec,
    params,
    saved,
    extras,
    inputShapes,
    released: false,
  };
  return { outputs, batchStatistics, rng, tape };
}

function statOf(stats: NamedTensors, name: string): Tensor {
  const t = stats[name];
  if (t === undefined) throw new RangeError(`Statistic "${name}" is missing`);
  return t;
}

/**
 * Runs the recorded graph backward from gradients of some node values, and
 * releases the tape.
 *
 * @param tape The tape of a training-mode {@link forward} with `forBackward`.
 * @param outputGradients Gradients with respect to node values (batch axis first), by node name.
 * @param options `inputGradient`: also return the gradient with respect to the images.
 * @returns The gradient of every trainable parameter (zeros where unreached) and optionally of the input.
 * @throws {TypeError} When the tape was already used or released.
 * @throws {RangeError} When a gradient names an unknown node or has the wrong shape.
 * @example
 * ```ts
 * import { backward, forward } from "./executor.ts";
 * import { createPureKernels } from "./pure/kernels.ts";
 * import assert from "node:assert/strict";
 *
 * const spec = {
 *   name: "linear",
 *   nodes: [
 *     { op: "input", name: "x", shape: [1, 1, 2] },
 *     { op: "flatten", name: "flat", input: "x" },
 *     { op: "dense", name: "fc", input: "flat", units: 1 },
 *     { op: "l2Normalize", name: "emb", input: "fc" },
 *   ],
 *   prelogits: "fc",
 *   output: "emb",
 * } as const;
 * const params = {
 *   "fc/weights": { shape: [2, 1], data: new Float32Array([1, 1]) },
 *   "fc/biases": { shape: [1], data: new Float32Array([0]) },
 * };
 * const images = { shape: [1, 1, 1, 2], data: new Float32Array([2, 3]) };
 * const r = forward(createPureKernels(), spec, { params, stats: {} }, images, {
 *   training: true,
 *   outputs: ["fc"],
 *   forBackward: true,
 * });
 * const g = backward(r.tape!, { fc: { shape: [1, 1], data: new Float32Array([1]) } });
 * assert.deepEqual(Array.from(g.params["fc/weights"]!.data), [2, 3]);
 * assert.deepEqual(Array.from(g.params["fc/biases"]!.data), [1]);
 * ```
 */
export function backward<T>(
  tape: Tape<T>,
  outputGradients: NamedTensors,
  options: { readonly inputGradient?: boolean } = {},
): Gradients {
  if (tape.released) throw new TypeError("This tape was already used or released");
  const k = tape.kernels;
  const spec = tape.spec;
  const grads = new Map<string, T>();
  const paramGrads = new Map<string, T>();
  const accumulate = (map: Map<string, T>, name: string, g: T) => {
    const prev = map.get(name);
    if (prev === undefined) {
      map.set(name, g);
    } else {
      map.set(name, k.add(prev, g, 1));
      k.dispose(prev);
      k.dispose(g);
    }
  };
  const savedOf = (name: string): T => {
    const s = tape.saved.get(name);
    if (s === undefined) throw new RangeError(`Value of node "${name}" was not saved`);
    return s.handle;
  };
  const unsave = (name: string) => {
    const s = tape.saved.get(name);
    if (s === undefined) return;
    s.refs--;
    if (s.refs <= 0) {
      k.dispose(s.handle);
      tape.saved.delete(name);
    }
  };
  let inputGradient: Tensor | null = null;
  try {
    const nodeNames = new Set(spec.nodes.map((node) => node.name));
    for (const [name, g] of Object.entries(outputGradients)) {
      if (!nodeNames.has(name)) throw new RangeError(`Gradient for unknown node "${name}"`);
      accumulate(grads, name, k.upload(g));
    }
    for (let idx = spec.nodes.length - 1; idx >= 0; idx--) {
      const node = spec.nodes[idx]!;
      const ins = inputsOf(node);
      const inShapes = tape.inputShapes.get(node.name) ?? [];
      const dy = grads.get(node.name);
      grads.delete(node.name);
      const extras = tape.extras.get(node.name) ?? [];
      tape.extras.delete(node.name);
      if (dy === undefined) {
        for (const h of extras) k.dispose(h);
        if (node.op === "relu") unsave(node.name);
        else if (savesInput(node)) unsave(ins[0]!);
        continue;
      }
      switch (node.op) {
        case "input":
          if (options.inputGradient ?? false) inputGradient = k.download(dy);
          break;
        case "conv2d": {
          const o = { stride: node.stride ?? 1, padding: node.padding ?? "same" } as const;
          const w = param(tape.params, `${node.name}/weights`);
          const x = savedOf(ins[0]!);
          accumulate(
            paramGrads,
            `${node.name}/weights`,
            k.conv2dBackpropFilter(x, dy, { ...o, filterShape: k.shape(w) }),
          );
          if (node.bias === true) {
            accumulate(paramGrads, `${node.name}/biases`, k.sumToChannels(dy));
          }
          if (ins[0] !== spec.nodes[0]!.name || (options.inputGradient ?? false)) {
            accumulate(
              grads,
              ins[0]!,
              k.conv2dBackpropInput(dy, w, { ...o, inputShape: inShapes[0]! }),
            );
          }
          unsave(ins[0]!);
          break;
        }
        case "batchNorm": {
          const [mean, variance] = extras as [T, T];
          const gamma = (node.scale ?? true) ? param(tape.params, `${node.name}/gamma`) : null;
          const r = k.batchNormTrainBackward(dy, savedOf(ins[0]!), gamma, {
            mean,
            variance,
            epsilon: node.epsilon ?? 0.001,
          });
          accumulate(grads, ins[0]!, r.dx);
          if (r.dGamma !== null) accumulate(paramGrads, `${node.name}/gamma`, r.dGamma);
          accumulate(paramGrads, `${node.name}/beta`, r.dBeta);
          k.dispose(mean);
          k.dispose(variance);
          unsave(ins[0]!);
          break;
        }
        case "relu":
          accumulate(grads, ins[0]!, k.reluBackward(dy, savedOf(node.name)));
          unsave(node.name);
          break;
        case "maxPool":
        case "avgPool": {
          const o = { size: node.size, stride: node.stride, padding: node.padding ?? "valid" };
          if (node.op === "maxPool") {
            accumulate(grads, ins[0]!, k.maxPoolBackward(dy, savedOf(ins[0]!), o));
            unsave(ins[0]!);
          } else {
            accumulate(grads, ins[0]!, k.avgPoolBackward(dy, { ...o, inputShape: inShapes[0]! }));
          }
          break;
        }
        case "globalAvgPool":
          accumulate(grads, ins[0]!, k.globalAvgPoolBackward(dy, inShapes[0]!));
          break;
        case "concat": {
          const parts = k.split(dy, inShapes.map((s) => s[s.length - 1]!));
          parts.forEach((p, i) => accumulate(grads, ins[i]!, p));
          break;
        }
        case "add":
          accumulate(grads, ins[0]!, k.scale(dy, 1));
          accumulate(grads, ins[1]!, k.scale(dy, node.scale ?? 1));
          break;
        case "dense": {
          const w = param(tape.params, `${node.name}/weights`);
          const x = savedOf(ins[0]!);
          accumulate(paramGrads, `${node.name}/weights`, k.matMul(x, dy, { transposeA: true }));
          if (node.bias ?? true) accumulate(paramGrads, `${node.name}/biases`, k.sumToChannels(dy));
          accumulate(grads, ins[0]!, k.matMul(dy, w, { transposeB: true }));
          unsave(ins[0]!);
          break;
        }
        case "dropout": {
          const mask = extras[0];
          if (mask === undefined) {
            accumulate(grads, ins[0]!, k.scale(dy, 1));
          } else {
            accumulate(grads, ins[0]!, k.multiply(dy, mask));
            k.dispose(mask);
          }
          break;
        }
        case "flatten":
          accumulate(grads, ins[0]!, k.reshape(dy, inShapes[0]!));
          break;
        case "l2Normalize":
          accumulate(
            grads,
            ins[0]!,
            k.l2NormalizeBackward(dy, savedOf(ins[0]!), node.epsilon ?? 1e-10),
          );
          unsave(ins[0]!);
          break;
      }
      k.dispose(dy);
    }
    const params: NamedTensors = {};
    for (const [name, h] of tape.params) {
      const g = paramGrads.get(name);
      if (g === undefined) {
        const shape = k.shape(h);
        params[name] = {
          shape: [...shape],
          data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
        };
      } else {
        params[name] = k.download(g);
      }
    }
    return { params, input: inputGradient };
  } finally {
    for (const h of grads.values()) k.dispose(h);
    for (const h of paramGrads.values()) k.dispose(h);
    releaseTape(tape);
  }
}

/**
 * Releases everything a tape holds without running backward (e.g. after an
 * error). Releasing twice is harmless.
 *
 * @param tape The tape.
 * @example
 * ```ts
 * import { forward, releaseTape } from "./executor.ts";
 * import { createPureKernels } from "./pure/kernels.ts";
 * import assert from "node:assert/strict";
 *
 * const spec = {
 *   name: "id",
 *   nodes: [
 *     { op: "input", name: "x", shape: [1, 1, 1] },
 *     { op: "flatten", name: "f", input: "x" },
 *     { op: "l2Normalize", name: "e", input: "f" },
 *   ],
 *   prelogits: "f",
 *   output: "e",
 * } as const;
 * const r = forward(createPureKernels(), spec, { params: {}, stats: {} }, {
 *   shape: [1, 1, 1, 1],
 *   data: new Float32Array([1]),
 * }, { training: true, forBackward: true });
 * releaseTape(r.tape!);
 * assert.equal(r.tape!.released, true);
 * ```
 */
export function releaseTape<T>(tape: Tape<T>): void {
  if (tape.released) return;
  const k = tape.kernels;
  for (const s of tape.saved.values()) k.dispose(s.handle);
  tape.saved.clear();
  for (const hs of tape.extras.values()) for (const h of hs) k.dispose(h);
  tape.extras.clear();
  for (const h of tape.params.values()) k.dispose(h);
  tape.params.clear();
  tape.released = true;
}
