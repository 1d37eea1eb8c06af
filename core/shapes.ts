/**
 * Shape inference over a {@link ModelSpec}: the per-example shape of every
 * node, the shapes of every parameter and batch-norm statistic, parameter
 * and FLOP counts. A bad spec is rejected here, before any compute, with a
 * message that names the node and the shapes.
 *
 * @module
 */

import type { ModelSpec, NodeSpec } from "./model_spec.ts";
import { BUILTIN_OPS, inferContext, type Initializer, opOf, type OpRegistry } from "./ops/mod.ts";

/**
 * What shape inference knows about a graph.
 *
 * @category Models
 */
export interface GraphShapes {
  /** Per-example output shape of every node (no batch axis), by node name. */
  readonly nodes: ReadonlyMap<string, readonly number[]>;
  /** Trainable parameter shapes by name (`<node>/weights`, `/biases`, `/gamma`, `/beta`), in node order. */
  readonly params: Readonly<Record<string, readonly number[]>>;
  /** Statistic shapes by name (`<node>/moving_mean`, `<node>/moving_variance`). */
  readonly stats: Readonly<Record<string, readonly number[]>>;
  /** The initial value of every parameter and statistic, by name. */
  readonly initializers: Readonly<Record<string, Initializer>>;
  /** Number of scalar trainable parameters. */
  readonly parameterCount: number;
  /**
   * Forward floating-point operations per example of the convolutions and
   * dense layers, counting a multiply-add as 2 (the usual convention).
   */
  readonly flops: number;
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The names of the nodes a node reads, in order.
 *
 * @param node A node of a spec.
 * @param ops The op registry (default: the built-in ops).
 * @returns Its input node names (empty for the input node).
 * @example
 * ```ts
 * import { inputsOf } from "./shapes.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(inputsOf({ op: "relu", name: "r", input: "x" }), ["x"]);
 * ```
 */
export function inputsOf(node: NodeSpec, ops: OpRegistry = BUILTIN_OPS): readonly string[] {
  return opOf(node, ops).inputs(node);
}

/**
 * Infers and checks the shapes of a whole graph.
 *
 * @param spec The model spec.
 * @param ops The op registry (default: the built-in ops).
 * @returns Node, parameter and statistic shapes, the parameter count and the FLOPs per example.
 * @throws {RangeError} When a node's shapes do not fit (the message names the
 * node and the shapes), a name repeats, an input is not defined before its
 * reader, an op is unknown, or `prelogits`/`output` are not flat nodes of one size.
 * @example
 * ```ts
 * import { inferShapes } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const shapes = inferShapes({
 *   name: "tiny",
 *   nodes: [
 *     { op: "input", name: "x", shape: [8, 8, 3] },
 *     { op: "conv2d", name: "conv", input: "x", filters: 4, kernel: 3, stride: 2 },
 *     { op: "flatten", name: "flat", input: "conv" },
 *     { op: "dense", name: "fc", input: "flat", units: 2 },
 *     { op: "l2Normalize", name: "emb", input: "fc" },
 *   ],
 *   prelogits: "fc",
 *   output: "emb",
 * });
 * assert.deepEqual(shapes.nodes.get("conv"), [4, 4, 4]);
 * assert.deepEqual(shapes.params["fc/weights"], [64, 2]);
 * assert.equal(shapes.parameterCount, 3 * 3 * 3 * 4 + 64 * 2 + 2);
 * ```
 *
 * @category Models
 */
export function inferShapes(spec: ModelSpec, ops: OpRegistry = BUILTIN_OPS): GraphShapes {
  const nodes = new Map<string, readonly number[]>();
  const params: Record<string, readonly number[]> = {};
  const stats: Record<string, readonly number[]> = {};
  const initializers: Record<string, Initializer> = {};
  let flops = 0;
  let inputs = 0;
  if (!Array.isArray(spec.nodes) || spec.nodes.length === 0) {
    throw new RangeError(`Model "${spec.name}" has no nodes`);
  }
  for (const node of spec.nodes) {
    if (typeof node.name !== "string" || node.name === "") {
      throw new RangeError(`A node of op "${String(node.op)}" has no name`);
    }
    if (nodes.has(node.name)) throw new RangeError(`Node name "${node.name}" is used twice`);
    const op = opOf(node, ops);
    const ins = op.inputs(node);
    if (ins.length === 0) {
      inputs++;
      if (inputs > 1) {
        throw new RangeError(
          `Node "${node.name}" (${node.op}): a graph has exactly one input node`,
        );
      }
    }
    const inShapes = ins.map((name) => {
      const s = nodes.get(name);
      if (s === undefined) {
        throw new RangeError(
          `Node "${node.name}" reads "${name}", which is not defined before it`,
        );
      }
      return s;
    });
    const r = op.infer(node, inferContext(node, inShapes, ins));
    for (const [suffix, info] of Object.entries(r.params ?? {})) {
      params[`${node.name}/${suffix}`] = info.shape;
      initializers[`${node.name}/${suffix}`] = info.init;
    }
    for (const [suffix, info] of Object.entries(r.stats ?? {})) {
      stats[`${node.name}/${suffix}`] = info.shape;
      initializers[`${node.name}/${suffix}`] = info.init;
    }
    flops += r.flops ?? 0;
    nodes.set(node.name, r.shape);
  }
  if (inputs !== 1 || spec.nodes[0]?.op !== "input") {
    throw new RangeError(`Model "${spec.name}" must start with its one input node`);
  }
  const pre = nodes.get(spec.prelogits);
  const emb = nodes.get(spec.output);
  if (pre === undefined) throw new RangeError(`Prelogits node "${spec.prelogits}" does not exist`);
  if (emb === undefined) throw new RangeError(`Output node "${spec.output}" does not exist`);
  if (pre.length !== 1 || emb.length !== 1 || pre[0] !== emb[0]) {
    throw new RangeError(
      `Prelogits "${spec.prelogits}" ${fmt(pre)} and output "${spec.output}" ${
        fmt(emb)
      } must be flat and of one size`,
    );
  }
  const parameterCount = Object.values(params).reduce((a, s) => a + sizeOf(s), 0);
  return { nodes, params, stats, initializers, parameterCount, flops };
}
