/**
 * 2-D convolution with TensorFlow's padding, weights `[kh, kw, cin, cout]`
 * (HWIO) and an optional bias.
 *
 * @module
 */

import type { Padding } from "../types.ts";
import type { OpDef } from "./op.ts";
import {
  type ResolvedWindowedConv,
  resolveWindowedConv,
  windowedConvBackward,
  windowedConvForward,
  type WindowedConvKernels,
} from "./_windowed_conv.ts";

/**
 * 2-D convolution; weights `[kh, kw, cin, cout]` (TensorFlow's HWIO).
 *
 * @category Ops and kernels
 */
export interface Conv2dNode {
  /** The operation. */
  readonly op: "conv2d";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Number of output channels. */
  readonly filters: number;
  /** Kernel size, square or `[kh, kw]`. */
  readonly kernel: number | readonly [number, number];
  /** Stride (same in both directions); default 1. */
  readonly stride?: number;
  /** Default "same". */
  readonly padding?: Padding;
  /** Whether the conv has a bias; default false (it is usually followed by batch norm). */
  readonly bias?: boolean;
}

/**
 * Defaults of the optional conv2d fields.
 *
 * @example
 * ```ts
 * import { CONV2D_DEFAULTS } from "./conv2d.ts";
 * import assert from "node:assert/strict";
 * assert.equal(CONV2D_DEFAULTS.padding, "same");
 * ```
 */
export const CONV2D_DEFAULTS = { stride: 1, padding: "same", bias: false } as const;

/** A conv2d node with every default filled in. */
export type ResolvedConv2d = ResolvedWindowedConv;

/**
 * The conv2d fields with their defaults.
 *
 * @param node The node.
 * @returns Kernel size, stride, padding and bias.
 * @example
 * ```ts
 * import { resolveConv2d } from "./conv2d.ts";
 * import assert from "node:assert/strict";
 * const r = resolveConv2d({ op: "conv2d", name: "c", input: "x", filters: 2, kernel: [1, 3] });
 * assert.deepEqual(r, { kh: 1, kw: 3, stride: 1, padding: "same", bias: false });
 * ```
 */
export function resolveConv2d(node: Conv2dNode): ResolvedConv2d {
  return resolveWindowedConv(node, CONV2D_DEFAULTS);
}

const KERNELS: WindowedConvKernels = {
  forward: "conv2d",
  input: "conv2dBackpropInput",
  filter: "conv2dBackpropFilter",
};

/**
 * The conv2d op: parameters `weights [kh, kw, cin, cout]` (Glorot) and,
 * with `bias`, `biases [cout]` (zeros); backward reads its input.
 *
 * @example
 * ```ts
 * import { conv2d } from "./conv2d.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "conv2d", name: "c", input: "x", filters: 4, kernel: 3, stride: 2 } as const;
 * const r = conv2d.infer(node, inferContext(node, [[8, 8, 3]]));
 * assert.deepEqual(r.shape, [4, 4, 4]);
 * assert.deepEqual(r.params?.["weights"]?.shape, [3, 3, 3, 4]);
 * assert.equal(r.flops, 2 * 4 * 4 * 4 * 3 * 3 * 3);
 * ```
 */
export const conv2d: OpDef<Conv2dNode> = {
  op: "conv2d",
  summary: "2-D convolution (TF padding), optional bias.",
  kernels: ["conv2d", "conv2dBackpropInput", "conv2dBackpropFilter", "biasAdd", "sumToChannels"],
  saves: { inputs: [0] },
  inputs: (node) => [node.input],
  infer(node, c) {
    const r = resolveConv2d(node);
    const g = c.window("kernel", r.kh, r.kw, r.stride, r.padding);
    const cin = g.c;
    const filters = c.positiveInt("filters", node.filters);
    return {
      shape: [g.oh, g.ow, filters],
      params: {
        weights: { shape: [r.kh, r.kw, cin, filters], init: "glorot" },
        ...(r.bias ? { biases: { shape: [filters], init: "zeros" } } : {}),
      },
      flops: 2 * g.oh * g.ow * filters * r.kh * r.kw * cin,
    };
  },
  forward: (node, c) => windowedConvForward(resolveConv2d(node), KERNELS, c),
  backward: (node, c) => windowedConvBackward(resolveConv2d(node), KERNELS, c),
};
