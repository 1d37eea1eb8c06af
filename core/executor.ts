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

import type { ModelSpec } from "./model_spec.ts";
import type { ImageBatch, NamedTensors, RngState, Tensor } from "./types.ts";
import type { Kernels } from "./kernels.ts";
import { inferShapes } from "./shapes.ts";
import { uniforms } from "./pure/rng.ts";
import {
  type AnyOpDef,
  type BatchStatistics,
  BUILTIN_OPS,
  opOf,
  type OpRegistry,
  type Shape,
} from "./ops/mod.ts";

export type { BatchStatistics };

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
  /** The op registry (default: the built-in ops, core/ops/mod.ts). */
  readonly ops?: OpRegistry;
}

/** What {@link backward} needs; opaque to callers. */
export interface Tape<T> {
  /** The kernels the forward pass ran on. */
  readonly kernels: Kernels<T>;
  /** The spec that ran. */
  readonly spec: ModelSpec;
  /** The op of every node, in node order. */
  readonly ops: readonly AnyOpDef[];
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

/** The node values an op's backward step reads. */
function savedNames(op: AnyOpDef, name: string, ins: readonly string[]): string[] {
  const out = (op.saves.inputs ?? []).map((i) => ins[i]!);
  if (op.saves.output === true) out.push(name);
  return out;
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
 * import { createPureKernels } from "@facenet-deno/facenet/pure";
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
  const registry = options.ops ?? BUILTIN_OPS;
  const shapes = inferShapes(spec, registry);
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
  const ops = spec.nodes.map((node) => opOf(node, registry));

  // Reference counts: forward readers, backward readers, requested outputs.
  const refs = new Map<string, number>();
  const bump = (name: string) => refs.set(name, (refs.get(name) ?? 0) + 1);
  const backwardRefs = new Map<string, number>();
  spec.nodes.forEach((node, idx) => {
    const ins = ops[idx]!.inputs(node);
    for (const i of ins) bump(i);
    if (record) {
      for (const savedName of savedNames(ops[idx]!, node.name, ins)) {
        bump(savedName);
        backwardRefs.set(savedName, (backwardRefs.get(savedName) ?? 0) + 1);
      }
    }
  });
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
  const inputShapes = new Map<string, Shape[]>();
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
    spec.nodes.forEach((node, idx) => {
      const op = ops[idx]!;
      const inNames = op.inputs(node);
      const ins = inNames.map(valueOf);
      const inShapes = ins.map((h) => [...kernels.shape(h)]);
      inputShapes.set(node.name, inShapes);
      const kept: T[] = [];
      extras.set(node.name, kept);
      const y = op.forward(node, {
        kernels,
        inputs: ins,
        inputShapes: inShapes,
        training,
        recording: record,
        images: input,
        param: (suffix) => param(params, `${node.name}/${suffix}`),
        stat: (suffix) => statOf(state.stats, `${node.name}/${suffix}`),
        uniforms(count) {
          if (rng === undefined) {
            throw new RangeError(
              `Node "${node.name}": ${node.op} in training mode needs an RNG`,
            );
          }
          const [u, next] = uniforms(rng, count);
          rng = next;
          return u;
        },
        save: (...handles) => kept.push(...handles),
        reportStatistics(statistics) {
          batchStatistics[node.name] = statistics;
        },
      });
      if (!record) {
        for (const h of kept) kernels.dispose(h);
        extras.delete(node.name);
      }
      values.set(node.name, y);
      if ((refs.get(node.name) ?? 0) <= 0) {
        kernels.dispose(y);
        values.delete(node.name);
      }
      for (const i of inNames) release(i);
    });
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
    ops,
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
 * import { createPureKernels } from "@facenet-deno/facenet/pure";
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
    const inputName = spec.nodes[0]!.name;
    const wantInput = options.inputGradient ?? false;
    for (let idx = spec.nodes.length - 1; idx >= 0; idx--) {
      const node = spec.nodes[idx]!;
      const op = tape.ops[idx]!;
      const ins = op.inputs(node);
      const inShapes = tape.inputShapes.get(node.name) ?? [];
      const dy = grads.get(node.name);
      grads.delete(node.name);
      const extras = tape.extras.get(node.name) ?? [];
      tape.extras.delete(node.name);
      const reads = savedNames(op, node.name, ins);
      if (dy === undefined) {
        for (const h of extras) k.dispose(h);
        for (const name of reads) unsave(name);
        continue;
      }
      try {
        if (idx === 0) {
          if (wantInput) inputGradient = k.download(dy);
        } else {
          const dxs = op.backward(node, {
            kernels: k,
            dy,
            inputShapes: inShapes,
            saved: extras,
            input: (i) => savedOf(ins[i]!),
            output: () => savedOf(node.name),
            param: (suffix) => param(tape.params, `${node.name}/${suffix}`),
            needsGradient: (i) => ins[i] !== inputName || wantInput,
            paramGradient: (suffix, g) => accumulate(paramGrads, `${node.name}/${suffix}`, g),
          });
          dxs.forEach((g, i) => {
            if (g !== null) accumulate(grads, ins[i]!, g);
          });
        }
      } finally {
        for (const h of extras) k.dispose(h);
        for (const name of reads) unsave(name);
        k.dispose(dy);
      }
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
 * import { createPureKernels } from "@facenet-deno/facenet/pure";
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
