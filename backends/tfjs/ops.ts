/**
 * The tfjs backend's adapter per op of the core's registry (core/ops/): how
 * the compiler (compile.ts) runs a node as tf ops, and how the exporter
 * (export.ts) writes it as TensorFlow GraphDef nodes. Fields and defaults
 * come from the op files; nothing is re-validated here (shape inference
 * already did). tests/ops_registry_test.ts fails when an op of the registry
 * has no entry.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import type { DropoutNode, NodeSpec } from "../../core/model_spec.ts";
import type { Shape } from "../../core/ops/op.ts";
import type { Tensor } from "../../core/types.ts";
import { resolveConv2d } from "../../core/ops/conv2d.ts";
import { movingVarianceCorrection, resolveBatchNorm } from "../../core/ops/batch_norm.ts";
import { poolOptions } from "../../core/ops/pool.ts";
import { ADD_DEFAULTS } from "../../core/ops/add.ts";
import { DENSE_DEFAULTS } from "../../core/ops/dense.ts";
import { L2_NORMALIZE_DEFAULTS } from "../../core/ops/l2_normalize.ts";
import { resolveDepthwiseConv2d } from "../../core/ops/depthwise_conv2d.ts";
import {
  avgPoolPadded,
  batchNormTraining,
  conv2dCpu,
  depthwiseConv2dTf,
  l2NormalizeRows,
  maxPoolPadded,
} from "./compile_kernels.ts";

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

/** What the compiler hands to {@link TfjsOpAdapter.forward}. */
export interface TfjsForwardContext {
  /** Values of the node's inputs. */
  readonly inputs: readonly tf.Tensor[];
  /** The images `[n, h, w, c]` (the input op's value). */
  readonly x: tf.Tensor;
  /** Training mode. */
  readonly training: boolean;
  /** Parameter `<node>/<suffix>`. */
  param(suffix: string): tf.Tensor;
  /** Statistic `<node>/<suffix>`. */
  stat(suffix: string): tf.Tensor;
  /** The dropout multiplier of a dropout node for an input of `shape` (training mode). */
  dropoutMask(node: DropoutNode, shape: number[]): tf.Tensor;
  /** Reports training-mode batch statistics (kept out of `tf.tidy`; the caller disposes them). */
  reportStatistics(statistics: BatchNormStatistics): void;
}

/**
 * What the exporter hands to {@link TfjsOpAdapter.export}.
 *
 * @category Export
 */
export interface ExportContext {
  /** Graph names of the node's inputs. */
  readonly inputs: readonly string[];
  /** Per-example shapes of the node's inputs. */
  readonly inputShapes: readonly Shape[];
  /** Adds parameter `<node>/<suffix>` as a Const; returns its graph name. */
  param(suffix: string): string;
  /** Adds statistic `<node>/<suffix>` as a Const; returns its graph name. */
  stat(suffix: string): string;
  /** Adds a float Const of the given name; returns it. */
  constant(name: string, tensor: Tensor): string;
  /** Adds an int32 vector Const; returns its name. */
  intConstant(name: string, values: readonly number[]): string;
  /** Adds a float scalar Const; returns its name. */
  scalar(name: string, value: number): string;
  /** Adds a float op node (attribute `T` set); returns its name. */
  op(name: string, opName: string, inputs: string[], attr?: Record<string, unknown>): string;
  /** Adds the graph's input placeholder; returns its name. */
  placeholder(shape: readonly number[]): string;
}

/**
 * How the exporter writes one op.
 *
 * @typeParam N The op's node type.
 *
 * @category Export
 */
export interface TfjsExportAdapter<N = NodeSpec> {
  /** The node as GraphDef nodes (inference mode); returns the output's graph name. */
  export(node: N, context: ExportContext): string;
}

/**
 * Export adapters by op name.
 *
 * @category Export
 */
export type TfjsExportAdapters = Readonly<Record<string, TfjsExportAdapter<never>>>;

/**
 * One op on the tfjs backend.
 *
 * @typeParam N The op's node type.
 */
export interface TfjsOpAdapter<N = NodeSpec> extends TfjsExportAdapter<N> {
  /** The node's value as tf ops (inside `tf.tidy` or a gradient function). */
  forward(node: N, context: TfjsForwardContext): tf.Tensor;
  /**
   * The moving-statistics update of a training pass, with tf ops on the
   * statistics' variables (the core op's `updateStatistics`).
   */
  updateStatistics?(
    node: N,
    statistics: BatchNormStatistics,
    variable: (suffix: string) => tf.Variable,
  ): void;
}

/** Adapters by op name. */
export type TfjsOpAdapters = Readonly<Record<string, TfjsOpAdapter<never>>>;

function base64(text: string): string {
  return btoa(text);
}

function ints(values: readonly number[]): { list: { i: string[] } } {
  return { list: { i: values.map((v) => String(v)) } };
}

const NHWC = { s: base64("NHWC") };

function adapter<N>(a: TfjsOpAdapter<N>): TfjsOpAdapter<never> {
  return a as TfjsOpAdapter<never>;
}

type Node<K extends NodeSpec["op"]> = Extract<NodeSpec, { op: K }>;

function poolAdapter(kind: "maxPool" | "avgPool"): TfjsOpAdapter<never> {
  return adapter<Node<"maxPool" | "avgPool">>({
    forward(node, c) {
      const o = poolOptions(node);
      const x = c.inputs[0] as tf.Tensor4D;
      // Both pad explicitly: tfjs's gradients of "same" pooling are wrong
      // (see maxPoolPadded, avgPoolPadded).
      return kind === "maxPool"
        ? maxPoolPadded(x, o.size, o.stride, o.padding)
        : avgPoolPadded(x, o.size, o.stride, o.padding);
    },
    export(node, c) {
      const o = poolOptions(node);
      return c.op(node.name, kind === "maxPool" ? "MaxPool" : "AvgPool", [c.inputs[0]!], {
        ksize: ints([1, o.size, o.size, 1]),
        strides: ints([1, o.stride, o.stride, 1]),
        padding: { s: base64(o.padding.toUpperCase()) },
        data_format: NHWC,
      });
    },
  });
}

/**
 * conv2d and depthwiseConv2d: the convolution `run` plus an optional bias;
 * exported as `tfOp` (then BiasAdd with a bias).
 */
function convAdapter<N extends Node<"conv2d" | "depthwiseConv2d">>(
  resolve: (node: N) => ReturnType<typeof resolveConv2d>,
  run: (x: tf.Tensor4D, w: tf.Tensor4D, stride: number, padding: "same" | "valid") => tf.Tensor4D,
  tfOp: "Conv2D" | "DepthwiseConv2dNative",
): TfjsOpAdapter<never> {
  return adapter<N>({
    forward(node, c) {
      const r = resolve(node);
      const y = run(
        c.inputs[0] as tf.Tensor4D,
        c.param("weights") as tf.Tensor4D,
        r.stride,
        r.padding,
      );
      return r.bias ? tf.add(y, c.param("biases")) : y;
    },
    export(node, c) {
      const r = resolve(node);
      const attr = {
        strides: ints([1, r.stride, r.stride, 1]),
        padding: { s: base64(r.padding.toUpperCase()) },
        data_format: NHWC,
        dilations: ints([1, 1, 1, 1]),
      };
      const n = node.name;
      const inputs = [c.inputs[0]!, c.param("weights")];
      if (!r.bias) return c.op(n, tfOp, inputs, attr);
      const conv = c.op(`${n}/_conv`, tfOp, inputs, attr);
      return c.op(n, "BiasAdd", [conv, c.param("biases")], { data_format: NHWC });
    },
  });
}

/**
 * The tfjs adapter of every op of the core's registry.
 *
 * @example
 * ```ts
 * import { TFJS_OPS } from "./ops.ts";
 * import { OPS } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 * assert.ok(OPS.every((op) => op.op in TFJS_OPS));
 * ```
 */
export const TFJS_OPS: TfjsOpAdapters = {
  prelu: adapter<Node<"prelu">>({
    forward: (_node, c) => tf.prelu(c.inputs[0]!, c.param("alpha")),
    export: (node, c) => c.op(node.name, "Prelu", [c.inputs[0]!, c.param("alpha")]),
  }),
  softmax: adapter<Node<"softmax">>({
    forward: (_node, c) => tf.softmax(c.inputs[0]!),
    export: (node, c) => c.op(node.name, "Softmax", [c.inputs[0]!]),
  }),
  depthwiseConv2d: convAdapter<Node<"depthwiseConv2d">>(
    resolveDepthwiseConv2d,
    depthwiseConv2dTf,
    "DepthwiseConv2dNative",
  ),
  input: adapter<Node<"input">>({
    forward: (_node, c) => c.x,
    export: (node, c) => c.placeholder(node.shape),
  }),
  // Every device: tfjs's own filter gradient is slow (cpu), missing (wasm) or
  // wrong at large batches (webgpu; see conv2dCpu).
  conv2d: convAdapter<Node<"conv2d">>(resolveConv2d, conv2dCpu, "Conv2D"),
  batchNorm: adapter<Node<"batchNorm">>({
    forward(node, c) {
      const r = resolveBatchNorm(node);
      const x = c.inputs[0]!;
      const beta = c.param("beta") as tf.Tensor1D;
      // Without a learned scale, a constant 1 (tfjs's batchNorm gradient
      // fails on an undefined scale).
      const gamma = r.scale ? c.param("gamma") as tf.Tensor1D : tf.onesLike(beta);
      if (c.training) {
        const out = batchNormTraining(x, gamma, beta, r.epsilon);
        c.reportStatistics({
          mean: out.mean,
          variance: out.variance,
          count: x.size / x.shape[x.rank - 1]!,
          image: x.rank === 4,
        });
        return out.y;
      }
      return tf.batchNorm(
        x,
        c.stat("moving_mean") as tf.Tensor1D,
        c.stat("moving_variance") as tf.Tensor1D,
        beta,
        gamma,
        r.epsilon,
      );
    },
    export(node, c) {
      const r = resolveBatchNorm(node);
      const n = node.name;
      const beta = c.param("beta");
      const mean = c.stat("moving_mean");
      const variance = c.stat("moving_variance");
      const channels = c.inputShapes[0]![c.inputShapes[0]!.length - 1]!;
      const gamma = r.scale
        ? c.param("gamma")
        : c.constant(`${n}/_ones`, { shape: [channels], data: new Float32Array(channels).fill(1) });
      return c.op(n, "FusedBatchNormV3", [c.inputs[0]!, gamma, beta, mean, variance], {
        epsilon: { f: r.epsilon },
        data_format: NHWC,
        is_training: { b: false },
      });
    },
    updateStatistics(node, s, variable) {
      const decay = resolveBatchNorm(node).decay;
      const d = tf.scalar(decay);
      const oneMinus = tf.scalar(1 - decay);
      const correction = movingVarianceCorrection(s.image, s.count);
      const mm = variable("moving_mean");
      const mv = variable("moving_variance");
      mm.assign(tf.add(tf.mul(d, mm), tf.mul(oneMinus, s.mean)));
      const variance = correction === 1 ? s.variance : tf.mul(s.variance, tf.scalar(correction));
      mv.assign(tf.add(tf.mul(d, mv), tf.mul(oneMinus, variance)));
    },
  }),
  relu: adapter<Node<"relu">>({
    forward: (_node, c) => tf.relu(c.inputs[0]!),
    export: (node, c) => c.op(node.name, "Relu", [c.inputs[0]!]),
  }),
  maxPool: poolAdapter("maxPool"),
  avgPool: poolAdapter("avgPool"),
  globalAvgPool: adapter<Node<"globalAvgPool">>({
    forward: (_node, c) => tf.mean(c.inputs[0]!, [1, 2]),
    export: (node, c) =>
      c.op(node.name, "Mean", [c.inputs[0]!, c.intConstant(`${node.name}/_axes`, [1, 2])], {
        keep_dims: { b: false },
        Tidx: { type: "DT_INT32" },
      }),
  }),
  concat: adapter<Node<"concat">>({
    forward: (_node, c) =>
      c.inputs.length === 1 ? c.inputs[0]! : tf.concat(c.inputs as tf.Tensor[], -1),
    export(node, c) {
      const n = node.name;
      if (c.inputs.length === 1) return c.op(n, "Identity", [c.inputs[0]!]);
      return c.op(n, "ConcatV2", [
        ...c.inputs,
        c.intConstant(`${n}/_axis`, [c.inputShapes[0]!.length]),
      ], { N: { i: String(c.inputs.length) }, Tidx: { type: "DT_INT32" } });
    },
  }),
  add: adapter<Node<"add">>({
    forward(node, c) {
      const [a, b] = c.inputs as [tf.Tensor, tf.Tensor];
      const scale = node.scale ?? ADD_DEFAULTS.scale;
      return scale === 1 ? tf.add(a, b) : tf.add(a, tf.mul(b, tf.scalar(scale)));
    },
    export(node, c) {
      const n = node.name;
      const scale = node.scale ?? ADD_DEFAULTS.scale;
      const b = scale === 1
        ? c.inputs[1]!
        : c.op(`${n}/_scaled`, "Mul", [c.inputs[1]!, c.scalar(`${n}/_scale`, scale)]);
      return c.op(n, "AddV2", [c.inputs[0]!, b]);
    },
  }),
  dense: adapter<Node<"dense">>({
    forward(node, c) {
      const x = c.inputs[0] as tf.Tensor2D;
      if (x.rank !== 2) {
        throw new RangeError(`Node "${node.name}": dense needs [n, d] features, got [${x.shape}]`);
      }
      const y = tf.matMul(x, c.param("weights") as tf.Tensor2D);
      return (node.bias ?? DENSE_DEFAULTS.bias) ? tf.add(y, c.param("biases")) : y;
    },
    export(node, c) {
      const n = node.name;
      const attr = { transpose_a: { b: false }, transpose_b: { b: false } };
      if (!(node.bias ?? DENSE_DEFAULTS.bias)) {
        return c.op(n, "MatMul", [c.inputs[0]!, c.param("weights")], attr);
      }
      const mm = c.op(`${n}/_matmul`, "MatMul", [c.inputs[0]!, c.param("weights")], attr);
      return c.op(n, "BiasAdd", [mm, c.param("biases")], { data_format: NHWC });
    },
  }),
  dropout: adapter<Node<"dropout">>({
    forward(node, c) {
      const x = c.inputs[0]!;
      if (!c.training || node.keepProbability >= 1) return x;
      return tf.mul(x, c.dropoutMask(node, x.shape));
    },
    export: (node, c) => c.op(node.name, "Identity", [c.inputs[0]!]),
  }),
  flatten: adapter<Node<"flatten">>({
    forward(_node, c) {
      const x = c.inputs[0]!;
      return tf.reshape(x, [x.shape[0]!, -1]);
    },
    export(node, c) {
      const size = c.inputShapes[0]!.reduce((a, b) => a * b, 1);
      return c.op(
        node.name,
        "Reshape",
        [c.inputs[0]!, c.intConstant(`${node.name}/_shape`, [-1, size])],
        { Tshape: { type: "DT_INT32" } },
      );
    },
  }),
  l2Normalize: adapter<Node<"l2Normalize">>({
    forward: (node, c) =>
      l2NormalizeRows(c.inputs[0]!, node.epsilon ?? L2_NORMALIZE_DEFAULTS.epsilon),
    export(node, c) {
      const n = node.name;
      const x = c.inputs[0]!;
      const sq = c.op(`${n}/_square`, "Square", [x]);
      const sum = c.op(`${n}/_sum`, "Sum", [sq, c.intConstant(`${n}/_axes`, [-1])], {
        keep_dims: { b: true },
        Tidx: { type: "DT_INT32" },
      });
      const clamped = c.op(`${n}/_max`, "Maximum", [
        sum,
        c.scalar(`${n}/_epsilon`, node.epsilon ?? L2_NORMALIZE_DEFAULTS.epsilon),
      ]);
      const inv = c.op(`${n}/_rsqrt`, "Rsqrt", [clamped]);
      return c.op(n, "Mul", [x, inv]);
    },
  }),
} satisfies Record<NodeSpec["op"], TfjsOpAdapter<never>>;
