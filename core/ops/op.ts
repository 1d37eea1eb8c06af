/**
 * What an op of the model graph is, as data: its node fields and defaults,
 * the parameters and statistics it owns (names, shapes, initial values), its
 * shape inference and FLOPs, and its forward and backward steps written once
 * over the executor's {@link Kernels} contract. One file per op in core/ops/
 * holds one {@link OpDef}; core/ops/mod.ts lists them. The executor, shape
 * inference, initialisation and the moving-statistics update iterate that
 * list; each backend adds an adapter per op name.
 *
 * @module
 */

import type { Kernels } from "../kernels.ts";
import type { NamedTensors, Tensor } from "../types.ts";
import { windowGeometry } from "../pure/_window.ts";

/**
 * A per-example shape (no batch axis), or a full shape where stated.
 *
 * @category Ops and kernels
 */
export type Shape = readonly number[];

/**
 * The initial value of a parameter or statistic: Xavier/Glorot uniform
 * (`±sqrt(6 / (fanIn + fanOut))`, fans from the shape: receptive field times
 * the last two axes), zeros, ones, or a constant.
 *
 * @category Ops and kernels
 */
export type Initializer = "glorot" | "zeros" | "ones" | { readonly constant: number };

/**
 * A parameter or statistic an op owns: its shape and how it starts.
 *
 * @category Ops and kernels
 */
export interface TensorInfo {
  /** The shape. */
  readonly shape: Shape;
  /** The initial value. */
  readonly init: Initializer;
}

/**
 * The fields every node has.
 *
 * @category Ops and kernels
 */
export interface BaseNode {
  /** The operation. */
  readonly op: string;
  /** The node name; parameter names derive from it (`<name>/<suffix>`). */
  readonly name: string;
}

/**
 * What shape inference learns about one node.
 *
 * @category Ops and kernels
 */
export interface InferredNode {
  /** The node's per-example output shape. */
  readonly shape: Shape;
  /** Trainable parameters by suffix (the full name is `<node>/<suffix>`), in order. */
  readonly params?: Readonly<Record<string, TensorInfo>>;
  /** Non-trainable statistics by suffix, in order. */
  readonly stats?: Readonly<Record<string, TensorInfo>>;
  /** Forward FLOPs per example (a multiply-add counts 2); default 0. */
  readonly flops?: number;
}

/**
 * Helpers shape inference hands to {@link OpDef.infer}.
 *
 * @category Ops and kernels
 */
export interface InferContext {
  /** Per-example shapes of the node's inputs, in order. */
  readonly inputs: readonly Shape[];
  /** Throws a RangeError naming the node and its op. */
  fail(message: string): never;
  /** Checks a positive integer field. */
  positiveInt(what: string, value: unknown): number;
  /** The `[h, w, c]` shape of input `i` (default 0), or a failure. */
  image(i?: number): readonly [number, number, number];
  /** The size of the flat `[d]` input `i` (default 0), or a failure. */
  flat(i?: number): number;
  /**
   * The output size of a `kh x kw` window sliding over the `[h, w, c]`
   * input 0 with a stride and TF padding, after checking them (positive
   * integers, a known padding, a window that fits); `what` names the window
   * in messages ("kernel", "window").
   */
  window(
    what: string,
    kh: unknown,
    kw: unknown,
    stride: unknown,
    padding: unknown,
  ): { readonly oh: number; readonly ow: number; readonly c: number };
}

/**
 * Batch statistics of one normalizing node in a training-mode pass.
 *
 * @category Ops and kernels
 */
export interface BatchStatistics {
  /** Batch mean per channel. */
  readonly mean: Float32Array;
  /** Population (biased) batch variance per channel. */
  readonly variance: Float32Array;
  /** Number of values per channel the statistics were computed over. */
  readonly count: number;
}

/**
 * What the executor hands to {@link OpDef.forward}.
 *
 * @category Ops and kernels
 */
export interface ForwardContext<T> {
  /** The kernels. */
  readonly kernels: Kernels<T>;
  /** Values of the node's inputs (batch axis first); owned by the executor. */
  readonly inputs: readonly T[];
  /** Full shapes (batch axis first) of the inputs. */
  readonly inputShapes: readonly Shape[];
  /** Training mode (batch statistics, active dropout) or inference mode. */
  readonly training: boolean;
  /** Whether a tape for backward is being recorded. */
  readonly recording: boolean;
  /** The image batch `[n, h, w, c]` (what the input op uploads). */
  readonly images: Tensor;
  /** The handle of parameter `<node>/<suffix>`; owned by the executor. */
  param(suffix: string): T;
  /** The plain value of statistic `<node>/<suffix>`. */
  stat(suffix: string): Tensor;
  /** Draws `count` uniforms in [0, 1) from the pass's RNG (throws without one). */
  uniforms(count: number): Float64Array;
  /** Keeps handles for backward (disposed by the executor when not recording or after backward). */
  save(...handles: T[]): void;
  /** Reports batch statistics for the moving-statistics update. */
  reportStatistics(statistics: BatchStatistics): void;
}

/**
 * What the executor hands to {@link OpDef.backward}.
 *
 * @category Ops and kernels
 */
export interface BackwardContext<T> {
  /** The kernels. */
  readonly kernels: Kernels<T>;
  /** Gradient with respect to the node's output; owned by the executor. */
  readonly dy: T;
  /** Full shapes (batch axis first) of the inputs. */
  readonly inputShapes: readonly Shape[];
  /** Handles the forward step saved; disposed by the executor afterwards. */
  readonly saved: readonly T[];
  /** The saved value of input `i` (only those named in {@link OpDef.saves}). */
  input(i: number): T;
  /** The saved output value (only when {@link OpDef.saves} says so). */
  output(): T;
  /** The handle of parameter `<node>/<suffix>`. */
  param(suffix: string): T;
  /** Whether the gradient with respect to input `i` is needed. */
  needsGradient(i: number): boolean;
  /** Adds a gradient of parameter `<node>/<suffix>` (ownership passes to the executor). */
  paramGradient(suffix: string, gradient: T): void;
}

/**
 * Which values an op's backward step reads.
 *
 * @category Ops and kernels
 */
export interface Saves {
  /** Indices of inputs whose values backward reads. */
  readonly inputs?: readonly number[];
  /** Whether backward reads the op's own output. */
  readonly output?: boolean;
}

/**
 * The name of a method of the {@link Kernels} contract.
 *
 * @category Ops and kernels
 */
export type KernelName = Exclude<keyof Kernels<unknown>, "name">;

/**
 * One op of the model graph, as data.
 *
 * @typeParam N The op's node type.
 *
 * @category Ops and kernels
 */
export interface OpDef<N extends BaseNode> {
  /** The op name, as nodes spell it. */
  readonly op: N["op"];
  /** One line on what the op computes. */
  readonly summary: string;
  /** The kernels its forward and backward steps call (each executor backend implements them). */
  readonly kernels: readonly KernelName[];
  /** Which values backward reads. */
  readonly saves: Saves;
  /** The node names it reads, in order. */
  inputs(node: N): readonly string[];
  /** Validates the node against its input shapes and infers its own. */
  infer(node: N, context: InferContext): InferredNode;
  /** The forward step: the output value, a new handle. */
  forward<T>(node: N, context: ForwardContext<T>): T;
  /**
   * The backward step: the gradient of each input (new handles; null where
   * not needed), in input order.
   */
  backward<T>(node: N, context: BackwardContext<T>): (T | null)[];
  /**
   * The moving-statistics update after a training pass, given the batch
   * statistics the forward step reported: new values by statistic suffix.
   */
  updateStatistics?(
    node: N,
    update: {
      readonly inputShape: Shape;
      readonly stats: Readonly<Record<string, Tensor>>;
      readonly batch: BatchStatistics;
    },
  ): NamedTensors;
}

/**
 * An op of any node type (the registry's element type).
 *
 * @category Ops and kernels
 */
// deno-lint-ignore no-explicit-any
export type AnyOpDef = OpDef<any>;

function fmt(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/**
 * The inference context of one node: the helpers {@link OpDef.infer} uses.
 *
 * @param node The node.
 * @param inputs Per-example shapes of its inputs.
 * @param inputNames Names of its inputs (for messages).
 * @returns The context.
 * @example
 * ```ts
 * import { inferContext } from "./op.ts";
 * import { conv2d } from "./conv2d.ts";
 * import assert from "node:assert/strict";
 *
 * const node = { op: "conv2d", name: "c", input: "x", filters: 4, kernel: 3 } as const;
 * const r = conv2d.infer(node, inferContext(node, [[5, 5, 2]], ["x"]));
 * assert.deepEqual(r.shape, [5, 5, 4]);
 * ```
 */
export function inferContext(
  node: BaseNode,
  inputs: readonly Shape[],
  inputNames: readonly string[] = [],
): InferContext {
  const fail = (message: string): never => {
    throw new RangeError(`Node "${node.name}" (${node.op}): ${message}`);
  };
  const positiveInt = (what: string, v: unknown): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      fail(`${what} must be a positive integer, got ${String(v)}`);
    }
    return v as number;
  };
  const image = (i = 0): readonly [number, number, number] => {
    const s = inputs[i]!;
    if (s.length !== 3) {
      fail(`needs an [h, w, c] input, got ${fmt(s)} from "${inputNames[i] ?? i}"`);
    }
    return s as readonly [number, number, number];
  };
  return {
    inputs,
    fail,
    positiveInt,
    image,
    window(what, kh, kw, stride, padding) {
      const [h, w, c] = image();
      const y = positiveInt(`${what} height`, kh);
      const x = positiveInt(`${what} width`, kw);
      const s = positiveInt("stride", stride);
      if (padding !== "same" && padding !== "valid") fail(`unknown padding "${String(padding)}"`);
      const p = padding as "same" | "valid";
      const gy = windowGeometry(h, y, s, p);
      const gx = windowGeometry(w, x, s, p);
      if (gy.out < 1 || gx.out < 1) {
        fail(`${what} ${y}x${x} exceeds its input [${h}, ${w}, ${c}] with "${p}" padding`);
      }
      return { oh: gy.out, ow: gx.out, c };
    },
    flat(i = 0) {
      const s = inputs[i]!;
      if (s.length !== 1) {
        fail(
          `needs a flat [d] input, got ${fmt(s)} from "${
            inputNames[i] ?? i
          }" (add a flatten or pool)`,
        );
      }
      return s[0]!;
    },
  };
}

/**
 * The product of a shape's entries.
 *
 * @param shape The shape.
 * @returns The number of values.
 * @example
 * ```ts
 * import { sizeOf } from "./op.ts";
 * import assert from "node:assert/strict";
 * assert.equal(sizeOf([2, 3, 4]), 24);
 * ```
 */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
