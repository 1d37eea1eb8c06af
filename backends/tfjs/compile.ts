/**
 * Compiles a {@link ModelSpec} to TensorFlow.js ops: one forward function over
 * named parameter tensors that tfjs autodiff differentiates. Each node runs
 * through its op's adapter (backends/tfjs/ops.ts, keyed by the core's op
 * names); semantics follow the core's ops (core/ops/): TensorFlow padding,
 * batch norm over every axis but the last (training mode: batch mean and
 * population variance), dropout by multiplying with a mask the caller draws
 * from the core RNG, row-wise L2 normalization `x / sqrt(max(sum(x^2), eps))`.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import type { ModelSpec, NodeSpec } from "../../core/model_spec.ts";
import { inferShapes, inputsOf } from "../../core/shapes.ts";
import type { OpRegistry } from "../../core/ops/mod.ts";
import {
  type BatchNormStatistics,
  TFJS_OPS,
  type TfjsOpAdapter,
  type TfjsOpAdapters,
} from "./ops.ts";

export { batchNormTraining, conv2dCpu, l2NormalizeRows } from "./compile_kernels.ts";
export type { BatchNormTrainingOutput } from "./compile_kernels.ts";
export type { BatchNormStatistics } from "./ops.ts";

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
  /** Nodes whose values to return in `values` besides output and prelogits. */
  readonly outputs?: readonly string[];
}

/** Outputs of one forward pass. */
export interface ForwardOutputs {
  /** The L2-normalized embedding `[n, d]`. */
  readonly output: tf.Tensor2D;
  /** The bottleneck `[n, d]` before normalization. */
  readonly prelogits: tf.Tensor2D;
  /** The values of the nodes named in `ForwardInputs.outputs`. */
  readonly values: Readonly<Record<string, tf.Tensor>>;
  /**
   * Training mode only: the batch statistics of each batch-norm node, by the
   * node's name (mean and population variance, `[c]` each). They are kept
   * out of `tf.tidy` (see {@linkcode batchNormTraining}): the caller disposes
   * them.
   */
  readonly batchStats: Readonly<Record<string, BatchNormStatistics>>;
}

/** Options of {@linkcode compileModel}. */
export interface CompileOptions {
  /** The op registry (default: the core's built-in ops). */
  readonly ops?: OpRegistry;
  /** The tfjs adapters by op name (default {@link TFJS_OPS}). */
  readonly adapters?: TfjsOpAdapters;
}

function need(map: Readonly<Record<string, tf.Tensor>>, name: string, kind: string): tf.Tensor {
  const t = map[name];
  if (t === undefined) throw new RangeError(`Missing ${kind} "${name}"`);
  return t;
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
 * @param options The op registry and the adapters (default: the built-in ones).
 * @returns The compiled model.
 * @throws {RangeError} When the spec is invalid (core/shapes.ts) or an op has no tfjs adapter.
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
export function compileModel(spec: ModelSpec, options: CompileOptions = {}): CompiledModel {
  const shapes = inferShapes(spec, options.ops);
  const table = options.adapters ?? TFJS_OPS;
  const adapters = spec.nodes.map((node) => {
    const a = table[node.op];
    if (a === undefined) {
      throw new RangeError(`Op "${node.op}" of node "${node.name}" has no tfjs adapter`);
    }
    return a as TfjsOpAdapter<NodeSpec>;
  });
  const paramNames = Object.keys(shapes.params);
  const statNames = Object.keys(shapes.stats);

  function forward(fi: ForwardInputs): ForwardOutputs {
    const values = new Map<string, tf.Tensor>();
    const batchStats: Record<string, BatchNormStatistics> = {};
    const get = (name: string): tf.Tensor => values.get(name)!;
    spec.nodes.forEach((node, idx) => {
      const y = adapters[idx]!.forward(node, {
        inputs: inputsOf(node, options.ops).map(get),
        x: fi.x,
        training: fi.training,
        param: (suffix) => need(fi.params, `${node.name}/${suffix}`, "parameter"),
        stat: (suffix) => need(fi.stats, `${node.name}/${suffix}`, "statistic"),
        dropoutMask(n, shape) {
          if (fi.dropoutMask === undefined) {
            throw new TypeError(`Node "${n.name}": dropout in training mode needs masks`);
          }
          return fi.dropoutMask(n, shape);
        },
        reportStatistics(statistics) {
          batchStats[node.name] = statistics;
        },
      });
      values.set(node.name, y);
    });
    const extra: Record<string, tf.Tensor> = {};
    for (const name of fi.outputs ?? []) {
      const v = values.get(name);
      if (v === undefined) throw new RangeError(`Requested output "${name}" is not a node`);
      extra[name] = v;
    }
    return {
      output: get(spec.output) as tf.Tensor2D,
      prelogits: get(spec.prelogits) as tf.Tensor2D,
      values: extra,
      batchStats,
    };
  }

  return { spec, paramNames, statNames, forward };
}
