/**
 * Shape inference over a {@link ModelSpec}: the per-example shape of every
 * node, the shapes of every parameter and batch-norm statistic, parameter
 * and FLOP counts. A bad spec is rejected here, before any compute, with a
 * message that names the node and the shapes.
 *
 * @module
 */

import type { ModelSpec, NodeSpec } from "./model_spec.ts";
import { windowGeometry } from "./pure/_window.ts";

/** What shape inference knows about a graph. */
export interface GraphShapes {
  /** Per-example output shape of every node (no batch axis), by node name. */
  readonly nodes: ReadonlyMap<string, readonly number[]>;
  /** Trainable parameter shapes by name (`<node>/weights`, `/biases`, `/gamma`, `/beta`), in node order. */
  readonly params: Readonly<Record<string, readonly number[]>>;
  /** Batch-norm statistic shapes by name (`<node>/moving_mean`, `<node>/moving_variance`). */
  readonly stats: Readonly<Record<string, readonly number[]>>;
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

function positiveInt(node: NodeSpec, what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new RangeError(
      `Node "${node.name}" (${node.op}): ${what} must be a positive integer, got ${String(v)}`,
    );
  }
  return v;
}

function nodeInputs(node: NodeSpec): readonly string[] {
  switch (node.op) {
    case "input":
      return [];
    case "concat":
    case "add":
      return node.inputs;
    default:
      return [(node as { input: string }).input];
  }
}

/**
 * The names of the nodes a node reads, in order.
 *
 * @param node A node of a spec.
 * @returns Its input node names (empty for the input node).
 * @example
 * ```ts
 * import { inputsOf } from "./shapes.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(inputsOf({ op: "relu", name: "r", input: "x" }), ["x"]);
 * ```
 */
export function inputsOf(node: NodeSpec): readonly string[] {
  return nodeInputs(node);
}

/**
 * Infers and checks the shapes of a whole graph.
 *
 * @param spec The model spec.
 * @returns Node, parameter and statistic shapes, the parameter count and the FLOPs per example.
 * @throws {RangeError} When a node's shapes do not fit (the message names the
 * node and the shapes), a name repeats, an input is not defined before its
 * reader, an op is unknown, or `prelogits`/`output` are not flat nodes of one size.
 * @example
 * ```ts
 * import { inferShapes } from "./shapes.ts";
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
 */
export function inferShapes(spec: ModelSpec): GraphShapes {
  const nodes = new Map<string, readonly number[]>();
  const params: Record<string, readonly number[]> = {};
  const stats: Record<string, readonly number[]> = {};
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
    const ins = node.op === "input" ? [] : nodeInputs(node);
    const inShapes = ins.map((name) => {
      const s = nodes.get(name);
      if (s === undefined) {
        throw new RangeError(
          `Node "${node.name}" reads "${name}", which is not defined before it`,
        );
      }
      return s;
    });
    const bad = (msg: string): never => {
      throw new RangeError(`Node "${node.name}" (${node.op}): ${msg}`);
    };
    const image = (i = 0): [number, number, number] => {
      const s = inShapes[i]!;
      if (s.length !== 3) bad(`needs an [h, w, c] input, got ${fmt(s)} from "${ins[i]}"`);
      return s as [number, number, number];
    };
    const flat = (): number => {
      const s = inShapes[0]!;
      if (s.length !== 1) {
        bad(`needs a flat [d] input, got ${fmt(s)} from "${ins[0]}" (add a flatten or pool)`);
      }
      return s[0]!;
    };
    let out: readonly number[];
    switch (node.op) {
      case "input": {
        inputs++;
        if (inputs > 1) bad("a graph has exactly one input node");
        const shape: unknown = node.shape;
        if (!Array.isArray(shape) || shape.length !== 3) {
          bad(`shape must be [h, w, c], got ${JSON.stringify(shape)}`);
        }
        out = (node.shape as readonly number[]).map((d: number, i: number) =>
          positiveInt(node, `shape[${i}]`, d)
        );
        break;
      }
      case "conv2d": {
        const [h, w, c] = image();
        const [kh, kw] = typeof node.kernel === "number" ? [node.kernel, node.kernel] : node.kernel;
        positiveInt(node, "kernel height", kh);
        positiveInt(node, "kernel width", kw);
        const stride = positiveInt(node, "stride", node.stride ?? 1);
        const filters = positiveInt(node, "filters", node.filters);
        const padding = node.padding ?? "same";
        if (padding !== "same" && padding !== "valid") bad(`unknown padding "${String(padding)}"`);
        const gy = windowGeometry(h, kh, stride, padding);
        const gx = windowGeometry(w, kw, stride, padding);
        if (gy.out < 1 || gx.out < 1) {
          bad(`kernel ${kh}x${kw} exceeds its input ${fmt([h, w, c])} with "${padding}" padding`);
        }
        out = [gy.out, gx.out, filters];
        params[`${node.name}/weights`] = [kh, kw, c, filters];
        if (node.bias === true) params[`${node.name}/biases`] = [filters];
        flops += 2 * gy.out * gx.out * filters * kh * kw * c;
        break;
      }
      case "batchNorm": {
        const s = inShapes[0]!;
        if (s.length < 1) bad("needs an input of rank >= 1");
        const c = s[s.length - 1]!;
        if (node.scale ?? true) params[`${node.name}/gamma`] = [c];
        params[`${node.name}/beta`] = [c];
        stats[`${node.name}/moving_mean`] = [c];
        stats[`${node.name}/moving_variance`] = [c];
        const decay = node.decay ?? 0.995;
        const eps = node.epsilon ?? 0.001;
        if (!(decay >= 0 && decay < 1)) bad(`decay must be in [0, 1), got ${decay}`);
        if (!(eps > 0)) bad(`epsilon must be positive, got ${eps}`);
        out = s;
        break;
      }
      case "relu":
        out = inShapes[0]!;
        break;
      case "maxPool":
      case "avgPool": {
        const [h, w, c] = image();
        const size = positiveInt(node, "size", node.size);
        const stride = positiveInt(node, "stride", node.stride);
        const padding = node.padding ?? "valid";
        if (padding !== "same" && padding !== "valid") bad(`unknown padding "${String(padding)}"`);
        const gy = windowGeometry(h, size, stride, padding);
        const gx = windowGeometry(w, size, stride, padding);
        if (gy.out < 1 || gx.out < 1) {
          bad(
            `window ${size}x${size} exceeds its input ${fmt([h, w, c])} with "${padding}" padding`,
          );
        }
        out = [gy.out, gx.out, c];
        break;
      }
      case "globalAvgPool": {
        const [, , c] = image();
        out = [c];
        break;
      }
      case "concat": {
        if (!Array.isArray(node.inputs) || node.inputs.length === 0) {
          bad("needs at least one input");
        }
        const first = inShapes[0]!;
        let channels = 0;
        inShapes.forEach((s, i) => {
          if (
            s.length !== first.length || s.length < 1 ||
            s.slice(0, -1).some((d, j) => d !== first[j])
          ) {
            bad(
              `inputs "${ins[0]}" ${fmt(first)} and "${ins[i]}" ${
                fmt(s)
              } differ outside the channel axis`,
            );
          }
          channels += s[s.length - 1]!;
        });
        out = [...first.slice(0, -1), channels];
        break;
      }
      case "add": {
        if (!Array.isArray(node.inputs) || node.inputs.length !== 2) {
          bad("needs exactly two inputs");
        }
        const [a, b] = inShapes as [readonly number[], readonly number[]];
        if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
          bad(`inputs "${ins[0]}" ${fmt(a)} and "${ins[1]}" ${fmt(b)} differ`);
        }
        if (!Number.isFinite(node.scale ?? 1)) bad(`scale must be finite, got ${node.scale}`);
        out = a;
        break;
      }
      case "dense": {
        const d = flat();
        const units = positiveInt(node, "units", node.units);
        params[`${node.name}/weights`] = [d, units];
        if (node.bias ?? true) params[`${node.name}/biases`] = [units];
        flops += 2 * d * units;
        out = [units];
        break;
      }
      case "dropout": {
        const k = node.keepProbability;
        if (!(k > 0 && k <= 1)) bad(`keep probability must be in (0, 1], got ${k}`);
        out = inShapes[0]!;
        break;
      }
      case "flatten":
        out = [sizeOf(inShapes[0]!)];
        break;
      case "l2Normalize": {
        flat();
        if (!((node.epsilon ?? 1e-10) > 0)) bad(`epsilon must be positive, got ${node.epsilon}`);
        out = inShapes[0]!;
        break;
      }
      default: {
        const unknown = node as { name: string; op: unknown };
        throw new RangeError(`Node "${unknown.name}" has unknown op "${String(unknown.op)}"`);
      }
    }
    nodes.set(node.name, out);
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
  return { nodes, params, stats, parameterCount, flops };
}
