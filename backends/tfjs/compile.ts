/**
 * Compiles a {@link ModelSpec} to TensorFlow.js ops: one forward function over
 * named parameter tensors that tfjs autodiff differentiates. Semantics follow
 * the core's kernels (core/kernels.ts): TensorFlow padding, batch norm over
 * every axis but the last (training mode: batch mean and population
 * variance), dropout by multiplying with a mask the caller draws from the
 * core RNG, row-wise L2 normalization `x / sqrt(max(sum(x^2), eps))`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { ModelSpec, NodeSpec } from "../../core/model_spec.ts";

/** Default batch-norm decay (the seed's). */
export const DEFAULT_BN_DECAY = 0.995;
/** Default batch-norm epsilon (the seed's). */
export const DEFAULT_BN_EPSILON = 0.001;
/** Default L2-normalization epsilon (the seed's). */
export const DEFAULT_L2_EPSILON = 1e-10;

/** Inputs of one forward pass. */
export interface ForwardInputs {
  /** Images `[n, h, w, c]` (or features `[n, d]` for a flat input). */
  readonly x: tf.Tensor;
  /** Trainable parameters by name. */
  readonly params: Readonly<Record<string, tf.Tensor>>;
  /** Batch-norm moving statistics by name. */
  readonly stats: Readonly<Record<string, tf.Tensor>>;
  /** Training mode: batch statistics and active dropout. */
  readonly training: boolean;
  /**
   * Dropout masks in training mode: called once per dropout node, in node
   * order, with the node and the full shape of its input (batch included);
   * returns the multiplier (`0` or `1 / keepProbability` per unit).
   */
  readonly dropoutMask?: (node: NodeSpec & { op: "dropout" }, shape: number[]) => tf.Tensor;
}

/** Outputs of one forward pass. */
export interface ForwardOutputs {
  /** The L2-normalized embedding `[n, d]`. */
  readonly output: tf.Tensor2D;
  /** The bottleneck `[n, d]` before normalization. */
  readonly prelogits: tf.Tensor2D;
  /**
   * Training mode only: the batch statistics of each batch-norm node, by the
   * node's name (mean and population variance, `[c]` each). They are kept
   * out of `tf.tidy` (see {@linkcode batchNormTraining}): the caller disposes
   * them.
   */
  readonly batchStats: Readonly<Record<string, BatchNormStatistics>>;
}

/** Batch statistics of one batch-norm node in a training pass. */
export interface BatchNormStatistics {
  /** Batch mean per channel. */
  readonly mean: tf.Tensor1D;
  /** Population (biased) batch variance per channel. */
  readonly variance: tf.Tensor1D;
  /** Values per channel the statistics cover (batch x spatial positions). */
  readonly count: number;
  /** Whether the input was an image map `[n, h, w, c]` (not flat features). */
  readonly image: boolean;
}

/** Names of the parameters a node owns, trainable and statistics. */
export interface NodeParameterNames {
  readonly params: readonly string[];
  readonly stats: readonly string[];
}

/**
 * The parameter names a node owns, exactly as the core names them.
 *
 * @param node A node of a spec.
 * @returns Trainable parameter names and statistics names.
 * @example
 * ```ts
 * import { nodeParameterNames } from "./compile.ts";
 * import assert from "node:assert/strict";
 * const names = nodeParameterNames({ op: "batchNorm", name: "bn", input: "x" });
 * assert.deepEqual(names.params, ["bn/beta", "bn/gamma"]);
 * assert.deepEqual(names.stats, ["bn/moving_mean", "bn/moving_variance"]);
 * ```
 */
export function nodeParameterNames(node: NodeSpec): NodeParameterNames {
  switch (node.op) {
    case "conv2d":
      return {
        params: node.bias === true ? [`${node.name}/weights`, `${node.name}/biases`] : [
          `${node.name}/weights`,
        ],
        stats: [],
      };
    case "dense":
      return {
        params: node.bias === false ? [`${node.name}/weights`] : [
          `${node.name}/weights`,
          `${node.name}/biases`,
        ],
        stats: [],
      };
    case "batchNorm":
      return {
        params: node.scale === false
          ? [`${node.name}/beta`]
          : [`${node.name}/beta`, `${node.name}/gamma`],
        stats: [`${node.name}/moving_mean`, `${node.name}/moving_variance`],
      };
    default:
      return { params: [], stats: [] };
  }
}

function need(map: Readonly<Record<string, tf.Tensor>>, name: string, kind: string): tf.Tensor {
  const t = map[name];
  if (t === undefined) throw new RangeError(`Missing ${kind} "${name}"`);
  return t;
}

function kernelSize(kernel: number | readonly [number, number]): [number, number] {
  return typeof kernel === "number" ? [kernel, kernel] : [kernel[0], kernel[1]];
}

/**
 * A compiled model: the forward pass of a spec as tf ops.
 */
export interface CompiledModel {
  readonly spec: ModelSpec;
  /** All trainable parameter names, in node order. */
  readonly paramNames: readonly string[];
  /** All batch-norm statistics names, in node order. */
  readonly statNames: readonly string[];
  /**
   * Runs the graph. Call inside `tf.tidy` (or a gradient function): the
   * intermediate tensors are not disposed here.
   */
  forward(inputs: ForwardInputs): ForwardOutputs;
}

/**
 * Compiles a spec to a tfjs forward function.
 *
 * @param spec The model graph (nodes in topological order, one input node).
 * @returns The compiled model.
 * @throws {RangeError} When the spec has no or several input nodes, a node
 *   refers to an unknown input, or the prelogits/output nodes are unknown.
 * @example A dense layer and an L2 normalization
 * ```ts
 * import { compileModel } from "./compile.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const model = compileModel({
 *   name: "tiny",
 *   nodes: [
 *     { op: "input", name: "input", shape: [1, 1, 2] },
 *     { op: "flatten", name: "flat", input: "input" },
 *     { op: "dense", name: "fc", input: "flat", units: 2, bias: false },
 *     { op: "l2Normalize", name: "emb", input: "fc" },
 *   ],
 *   prelogits: "fc",
 *   output: "emb",
 * });
 * const out = tf.tidy(() =>
 *   model.forward({
 *     x: tf.tensor4d([3, 4], [1, 1, 1, 2]),
 *     params: { "fc/weights": tf.eye(2) },
 *     stats: {},
 *     training: false,
 *   }).output.arraySync()
 * );
 * assert.ok(Math.abs(out[0]![0]! - 0.6) < 1e-6 && Math.abs(out[0]![1]! - 0.8) < 1e-6);
 * ```
 */
export function compileModel(spec: ModelSpec): CompiledModel {
  const inputs = spec.nodes.filter((n) => n.op === "input");
  if (inputs.length !== 1) {
    throw new RangeError(
      `Spec "${spec.name}" must have exactly one input node, has ${inputs.length}`,
    );
  }
  const known = new Set<string>();
  for (const node of spec.nodes) {
    const refs = "inputs" in node ? node.inputs : "input" in node ? [node.input] : [];
    for (const r of refs) {
      if (!known.has(r)) {
        throw new RangeError(`Node "${node.name}" refers to unknown or later node "${r}"`);
      }
    }
    if (known.has(node.name)) throw new RangeError(`Duplicate node name "${node.name}"`);
    known.add(node.name);
  }
  for (const name of [spec.prelogits, spec.output]) {
    if (!known.has(name)) throw new RangeError(`Spec "${spec.name}" has no node "${name}"`);
  }
  const paramNames: string[] = [];
  const statNames: string[] = [];
  for (const node of spec.nodes) {
    const names = nodeParameterNames(node);
    paramNames.push(...names.params);
    statNames.push(...names.stats);
  }

  function forward(fi: ForwardInputs): ForwardOutputs {
    const values = new Map<string, tf.Tensor>();
    const batchStats: Record<string, BatchNormStatistics> = {};
    const get = (name: string): tf.Tensor => values.get(name)!;
    for (const node of spec.nodes) {
      let y: tf.Tensor;
      switch (node.op) {
        case "input":
          y = fi.x;
          break;
        case "conv2d": {
          const x = get(node.input) as tf.Tensor4D;
          const w = need(fi.params, `${node.name}/weights`, "parameter") as tf.Tensor4D;
          const [kh, kw] = kernelSize(node.kernel);
          if (w.shape[0] !== kh || w.shape[1] !== kw || w.shape[3] !== node.filters) {
            throw new RangeError(
              `Node "${node.name}": weights of shape [${w.shape}] do not match kernel ${kh}x${kw} with ${node.filters} filters`,
            );
          }
          // Every device: tfjs's own filter gradient is slow (cpu), missing
          // (wasm) or wrong at large batches (webgpu; see conv2dCpu).
          y = conv2dCpu(x, w, node.stride ?? 1, node.padding ?? "same");
          if (node.bias === true) {
            y = tf.add(y, need(fi.params, `${node.name}/biases`, "parameter"));
          }
          break;
        }
        case "batchNorm": {
          const x = get(node.input);
          const eps = node.epsilon ?? DEFAULT_BN_EPSILON;
          const beta = need(fi.params, `${node.name}/beta`, "parameter") as tf.Tensor1D;
          // Without a learned scale, a constant 1 (tfjs's batchNorm gradient
          // fails on an undefined scale).
          const gamma = node.scale === false
            ? tf.onesLike(beta)
            : need(fi.params, `${node.name}/gamma`, "parameter") as tf.Tensor1D;
          if (fi.training) {
            const out = batchNormTraining(x, gamma, beta, eps);
            batchStats[node.name] = {
              mean: out.mean,
              variance: out.variance,
              count: x.size / x.shape[x.rank - 1]!,
              image: x.rank === 4,
            };
            y = out.y;
          } else {
            const mean = need(fi.stats, `${node.name}/moving_mean`, "statistic") as tf.Tensor1D;
            const variance = need(
              fi.stats,
              `${node.name}/moving_variance`,
              "statistic",
            ) as tf.Tensor1D;
            y = tf.batchNorm(x, mean, variance, beta, gamma, eps);
          }
          break;
        }
        case "relu":
          y = tf.relu(get(node.input));
          break;
        case "maxPool":
          y = tf.maxPool(
            get(node.input) as tf.Tensor4D,
            node.size,
            node.stride,
            node.padding ?? "valid",
          );
          break;
        case "avgPool":
          y = tf.avgPool(
            get(node.input) as tf.Tensor4D,
            node.size,
            node.stride,
            node.padding ?? "valid",
          );
          break;
        case "globalAvgPool":
          y = tf.mean(get(node.input), [1, 2]);
          break;
        case "concat":
          y = node.inputs.length === 1 ? get(node.inputs[0]!) : tf.concat(node.inputs.map(get), -1);
          break;
        case "add": {
          const a = get(node.inputs[0]);
          const b = get(node.inputs[1]);
          const scale = node.scale ?? 1;
          y = scale === 1 ? tf.add(a, b) : tf.add(a, tf.mul(b, tf.scalar(scale)));
          break;
        }
        case "dense": {
          const x = get(node.input) as tf.Tensor2D;
          if (x.rank !== 2) {
            throw new RangeError(
              `Node "${node.name}": dense needs [n, d] features, got [${x.shape}]`,
            );
          }
          y = tf.matMul(x, need(fi.params, `${node.name}/weights`, "parameter") as tf.Tensor2D);
          if (node.bias !== false) {
            y = tf.add(y, need(fi.params, `${node.name}/biases`, "parameter"));
          }
          break;
        }
        case "dropout": {
          const x = get(node.input);
          if (fi.training && node.keepProbability < 1) {
            if (fi.dropoutMask === undefined) {
              throw new TypeError(`Node "${node.name}": dropout in training mode needs masks`);
            }
            y = tf.mul(x, fi.dropoutMask(node, x.shape));
          } else {
            y = x;
          }
          break;
        }
        case "flatten": {
          const x = get(node.input);
          y = tf.reshape(x, [x.shape[0]!, -1]);
          break;
        }
        case "l2Normalize":
          y = l2NormalizeRows(get(node.input), node.epsilon ?? DEFAULT_L2_EPSILON);
          break;
        default: {
          const unknown: never = node;
          throw new RangeError(`Unknown op "${(unknown as { op: string }).op}"`);
        }
      }
      values.set(node.name, y);
    }
    return {
      output: get(spec.output) as tf.Tensor2D,
      prelogits: get(spec.prelogits) as tf.Tensor2D,
      batchStats,
    };
  }

  return { spec, paramNames, statNames, forward };
}

/**
 * Row-wise L2 normalization `x / sqrt(max(sum(x^2), epsilon))` of `[n, d]`.
 *
 * @param x Rows to normalize.
 * @param epsilon Lower bound of the squared norm.
 * @returns The normalized rows.
 * @example
 * ```ts
 * import { l2NormalizeRows } from "./compile.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * const y = tf.tidy(() => l2NormalizeRows(tf.tensor2d([[0, 2]]), 1e-10));
 * assert.deepEqual(Array.from(y.dataSync()), [0, 1]);
 * ```
 */
export function l2NormalizeRows(x: tf.Tensor, epsilon: number): tf.Tensor {
  // Call inside tf.tidy: the intermediate tensors are not disposed here.
  const sq = tf.sum(tf.square(x), -1, true);
  return tf.mul(x, tf.rsqrt(tf.maximum(sq, tf.scalar(epsilon))));
}

/**
 * `tf.conv2d` with the filter gradient computed by a Conv2D kernel (a
 * convolution of the input with the output gradient, dilated by the stride),
 * used on every device: the cpu backend's Conv2DBackpropFilter is a naive
 * loop about 100x slower than its forward pass (over 300 s for one
 * inception-resnet-v1 step at 80x80 on two cores), the wasm backend has none
 * at all, and the webgpu backend's is wrong at large batches (measured on
 * Mesa's llvmpipe adapter: batch 90, 64x64x3 input, 3x3 stride 2 to 16
 * filters: off by 1.49 where the gradient reaches 2.38, while this
 * formulation stays within 4e-5 of tfjs cpu). Forward and input gradient are
 * tfjs's own kernels. Same values, TF padding.
 *
 * @param x Input `[n, h, w, cin]`.
 * @param filter Filter `[kh, kw, cin, cout]`.
 * @param stride Stride in both directions.
 * @param padding TF padding mode.
 * @returns The convolution `[n, ho, wo, cout]`.
 * @example
 * ```ts
 * import { conv2dCpu } from "./compile.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const x = tf.randomNormal([2, 5, 5, 3]) as tf.Tensor4D;
 * const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
 * const dy = tf.randomNormal([2, 3, 3, 4]);
 * const ours = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(conv2dCpu(x, f as tf.Tensor4D, 2, "same"), dy)))(w);
 * const theirs = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, 2, "same"), dy)))(w);
 * assert.ok(tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]! < 1e-4);
 * ```
 */
export function conv2dCpu(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  stride: number,
  padding: "same" | "valid",
): tf.Tensor4D {
  // TF's "same" padding made explicit (tf.pad's gradient is a slice): the
  // convolution itself is always "valid". tfjs-backend-wasm 4.22 returns
  // zeros for some "same" convolutions (e.g. a 1x2 kernel with stride 2).
  let input = x;
  if (padding === "same") {
    const [, h, w] = x.shape;
    const [kh, kw] = filter.shape;
    const padH = Math.max((Math.ceil(h / stride) - 1) * stride + kh - h, 0);
    const padW = Math.max((Math.ceil(w / stride) - 1) * stride + kw - w, 0);
    if (padH > 0 || padW > 0) {
      const top = Math.floor(padH / 2);
      const left = Math.floor(padW / 2);
      input = tf.pad(x, [[0, 0], [top, padH - top], [left, padW - left], [0, 0]]);
    }
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args[0] as tf.Tensor4D;
    const ws = args[1] as tf.Tensor4D;
    const save = args[2] as tf.GradSaveFunc;
    save([xs, ws]);
    return {
      value: tf.conv2d(xs, ws, stride, "valid"),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xv, wv] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dy4 = dy as tf.Tensor4D;
        const dx = tf.conv2dTranspose(dy4, wv, xv.shape, stride, "valid");
        return [dx, filterGradient(xv, dy4, wv.shape, stride, "valid")];
      },
    };
  });
  return f(input, filter) as tf.Tensor4D;
}

function filterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  stride: number,
  padding: "same" | "valid",
): tf.Tensor4D {
  const [, h, w, cin] = x.shape;
  const [, ho, wo, cout] = dy.shape;
  const [kh, kw] = filterShape;
  let xp = x;
  if (padding === "same") {
    const padH = Math.max((ho - 1) * stride + kh - h, 0);
    const padW = Math.max((wo - 1) * stride + kw - w, 0);
    const top = Math.floor(padH / 2);
    const left = Math.floor(padW / 2);
    if (padH > 0 || padW > 0) {
      xp = tf.pad(x, [[0, 0], [top, padH - top], [left, padW - left], [0, 0]]);
    }
  }
  // dW[i, j, ci, co] = sum over (n, y, x) of xp[n, y*s + i, x*s + j, ci] * dy[n, y, x, co]:
  // a convolution of xp (channels as batch, batch as channels) with dy as
  // the filter, dilated by the stride; tfjs's cpu Conv2D kernel is fast.
  const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [cin, hp, wp, n]
  const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [ho, wo, n, cout]
  let g = tf.conv2d(xT, dyT, 1, "valid", "NHWC", stride); // [cin, >= kh, >= kw, cout]
  if (g.shape[1] !== kh || g.shape[2] !== kw) g = tf.slice(g, [0, 0, 0, 0], [cin, kh, kw, cout]);
  return tf.transpose(g, [1, 2, 0, 3]);
}

/** Outputs of {@linkcode batchNormTraining}. */
export interface BatchNormTrainingOutput {
  /** The normalized, scaled and shifted values. */
  readonly y: tf.Tensor;
  /** Batch mean per channel; kept out of `tf.tidy`, the caller disposes it. */
  readonly mean: tf.Tensor1D;
  /** Population batch variance per channel; kept, the caller disposes it. */
  readonly variance: tf.Tensor1D;
}

/**
 * Batch normalization in training mode over every axis but the last, as one
 * op with a fused gradient (the core's `batchNormTrainBackward`):
 * `dx = gamma / sqrt(var + eps) * (dy - mean(dy) - xhat * mean(dy * xhat))`,
 * `dgamma = sum(dy * xhat)`, `dbeta = sum(dy)`. tfjs's own chain (moments,
 * then batchNorm) takes about three times as many kernels, which costs time
 * on the cpu device and dispatches on a GPU.
 *
 * @param x Input `[..., c]`.
 * @param gamma Scale `[c]` (ones when the spec has none).
 * @param beta Offset `[c]`.
 * @param epsilon Variance epsilon.
 * @returns The output and the batch statistics (kept; dispose them).
 * @example
 * ```ts
 * import { batchNormTraining } from "./compile.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const x = tf.tensor2d([[1], [3]]);
 * const out = batchNormTraining(x, tf.ones([1]), tf.zeros([1]), 0);
 * assert.deepEqual(Array.from(out.y.dataSync()), [-1, 1]);
 * assert.deepEqual(Array.from(out.variance.dataSync()), [1]);
 * out.mean.dispose();
 * out.variance.dispose();
 * ```
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): BatchNormTrainingOutput {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.rank - 1]!;
  let mean: tf.Tensor1D | null = null;
  let variance: tf.Tensor1D | null = null;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args[0] as tf.Tensor;
    const g = args[1] as tf.Tensor;
    const b = args[2] as tf.Tensor;
    const save = args[3] as tf.GradSaveFunc;
    const m = tf.mean(xs, axes);
    const centered = tf.sub(xs, m);
    const v = tf.mean(tf.square(centered), axes);
    const invStd = tf.rsqrt(tf.add(v, tf.scalar(epsilon)));
    const xhat = tf.mul(centered, invStd);
    mean = tf.keep(m) as tf.Tensor1D;
    variance = tf.keep(v) as tf.Tensor1D;
    save([xhat, invStd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, is, gs] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const dBeta = tf.sum(dy, axes);
        const dGamma = tf.sum(tf.mul(dy, xh), axes);
        const inner = tf.sub(
          tf.sub(dy, tf.div(dBeta, tf.scalar(count))),
          tf.mul(xh, tf.div(dGamma, tf.scalar(count))),
        );
        return [tf.mul(inner, tf.mul(gs, is)), dGamma, dBeta];
      },
    };
  });
  const y = f(x, gamma, beta);
  return { y, mean: mean!, variance: variance! };
}
