/**
 * Depthwise 2-D convolution, channel multiplier 1 (MobileNet/MobileFaceNet):
 * each channel convolved with its own `[kh, kw]` filter, TensorFlow padding
 * (asymmetric "same": the smaller half of the padding before).
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
 * Depthwise convolution; weights `[kh, kw, c, 1]` (TensorFlow's depthwise layout).
 *
 * @category Ops and kernels
 */
export interface DepthwiseConv2dNode {
  /** The operation. */
  readonly op: "depthwiseConv2d";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Kernel size, square or `[kh, kw]`. */
  readonly kernel: number | readonly [number, number];
  /** Stride (same in both directions); default 1. */
  readonly stride?: number;
  /** Default "same". */
  readonly padding?: Padding;
  /** Whether there is a bias `[c]`; default false (usually followed by batch norm). */
  readonly bias?: boolean;
}

/**
 * Defaults of the optional depthwise fields.
 *
 * @example
 * ```ts
 * import { DEPTHWISE_CONV2D_DEFAULTS } from "./depthwise_conv2d.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(DEPTHWISE_CONV2D_DEFAULTS, { stride: 1, padding: "same", bias: false });
 * ```
 */
export const DEPTHWISE_CONV2D_DEFAULTS = { stride: 1, padding: "same", bias: false } as const;

/** A depthwise node with every default filled in. */
export type ResolvedDepthwiseConv2d = ResolvedWindowedConv;

/**
 * The depthwise fields with their defaults.
 *
 * @param node The node.
 * @returns Kernel size, stride, padding and bias.
 * @example
 * ```ts
 * import { resolveDepthwiseConv2d } from "./depthwise_conv2d.ts";
 * import assert from "node:assert/strict";
 * const r = resolveDepthwiseConv2d({ op: "depthwiseConv2d", name: "d", input: "x", kernel: 3, stride: 2 });
 * assert.deepEqual(r, { kh: 3, kw: 3, stride: 2, padding: "same", bias: false });
 * ```
 */
export function resolveDepthwiseConv2d(node: DepthwiseConv2dNode): ResolvedDepthwiseConv2d {
  return resolveWindowedConv(node, DEPTHWISE_CONV2D_DEFAULTS);
}

const KERNELS: WindowedConvKernels = {
  forward: "depthwiseConv2d",
  input: "depthwiseConv2dBackpropInput",
  filter: "depthwiseConv2dBackpropFilter",
};

/**
 * The depthwiseConv2d op: parameters `weights [kh, kw, c, 1]` (Glorot:
 * fan-in `kh * kw * c`, fan-out `kh * kw`, TF's xavier on that shape; decayed
 * like every `* /weights`) and, with `bias`, `biases [c]`; backward reads its input.
 *
 * @example
 * ```ts
 * import { depthwiseConv2d } from "./depthwise_conv2d.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "depthwiseConv2d", name: "d", input: "x", kernel: 3, stride: 2 } as const;
 * const r = depthwiseConv2d.infer(node, inferContext(node, [[7, 7, 8]]));
 * assert.deepEqual(r.shape, [4, 4, 8]);
 * assert.deepEqual(r.params?.["weights"]?.shape, [3, 3, 8, 1]);
 * ```
 */
export const depthwiseConv2d: OpDef<DepthwiseConv2dNode> = {
  op: "depthwiseConv2d",
  summary: "Depthwise 2-D convolution (multiplier 1, TF padding), optional bias.",
  kernels: [
    "depthwiseConv2d",
    "depthwiseConv2dBackpropInput",
    "depthwiseConv2dBackpropFilter",
    "biasAdd",
    "sumToChannels",
  ],
  saves: { inputs: [0] },
  inputs: (node) => [node.input],
  infer(node, c) {
    const r = resolveDepthwiseConv2d(node);
    const g = c.window("kernel", r.kh, r.kw, r.stride, r.padding);
    const ch = g.c;
    return {
      shape: [g.oh, g.ow, ch],
      params: {
        weights: { shape: [r.kh, r.kw, ch, 1], init: "glorot" },
        ...(r.bias ? { biases: { shape: [ch], init: "zeros" } } : {}),
      },
      flops: 2 * g.oh * g.ow * ch * r.kh * r.kw,
    };
  },
  forward: (node, c) => windowedConvForward(resolveDepthwiseConv2d(node), KERNELS, c),
  backward: (node, c) => windowedConvBackward(resolveDepthwiseConv2d(node), KERNELS, c),
};
