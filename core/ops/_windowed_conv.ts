/**
 * What conv2d and depthwiseConv2d share: their window fields with defaults
 * filled in, and forward/backward steps that differ only in the three
 * kernels they call (convolution, input gradient, filter gradient), each
 * followed by an optional bias.
 *
 * @module
 */

import type { Padding } from "../types.ts";
import type { BackwardContext, ForwardContext } from "./op.ts";

/** A windowed conv's fields with every default filled in. */
export interface ResolvedWindowedConv {
  /** Kernel height. */
  readonly kh: number;
  /** Kernel width. */
  readonly kw: number;
  /** Stride. */
  readonly stride: number;
  /** Padding. */
  readonly padding: Padding;
  /** Whether there is a bias. */
  readonly bias: boolean;
}

/** The optional fields of a windowed conv node. */
interface WindowedConvFields {
  readonly kernel: number | readonly [number, number];
  readonly stride?: number;
  readonly padding?: Padding;
  readonly bias?: boolean;
}

/** Kernel size (square or `[kh, kw]`), stride, padding and bias with their defaults. */
export function resolveWindowedConv(
  node: WindowedConvFields,
  defaults: { readonly stride: number; readonly padding: Padding; readonly bias: boolean },
): ResolvedWindowedConv {
  const [kh, kw] = typeof node.kernel === "number" ? [node.kernel, node.kernel] : node.kernel;
  return {
    kh,
    kw,
    stride: node.stride ?? defaults.stride,
    padding: node.padding ?? defaults.padding,
    bias: node.bias ?? defaults.bias,
  };
}

/** The kernels of one windowed conv: forward, input gradient, filter gradient. */
export interface WindowedConvKernels {
  /** The convolution. */
  readonly forward: "conv2d" | "depthwiseConv2d";
  /** Its gradient with respect to the input. */
  readonly input: "conv2dBackpropInput" | "depthwiseConv2dBackpropInput";
  /** Its gradient with respect to the filter. */
  readonly filter: "conv2dBackpropFilter" | "depthwiseConv2dBackpropFilter";
}

/** The convolution of `weights` over the input, plus `biases` when `r.bias`. */
export function windowedConvForward<T>(
  r: ResolvedWindowedConv,
  names: WindowedConvKernels,
  c: ForwardContext<T>,
): T {
  const k = c.kernels;
  const conv = k[names.forward](c.inputs[0]!, c.param("weights"), {
    stride: r.stride,
    padding: r.padding,
  });
  if (!r.bias) return conv;
  const y = k.biasAdd(conv, c.param("biases"));
  k.dispose(conv);
  return y;
}

/** The weights' (and biases') gradients; returns the input's gradient where needed. */
export function windowedConvBackward<T>(
  r: ResolvedWindowedConv,
  names: WindowedConvKernels,
  c: BackwardContext<T>,
): (T | null)[] {
  const k = c.kernels;
  const o = { stride: r.stride, padding: r.padding };
  const w = c.param("weights");
  c.paramGradient(
    "weights",
    k[names.filter](c.input(0), c.dy, { ...o, filterShape: k.shape(w) }),
  );
  if (r.bias) c.paramGradient("biases", k.sumToChannels(c.dy));
  return [
    c.needsGradient(0) ? k[names.input](c.dy, w, { ...o, inputShape: c.inputShapes[0]! }) : null,
  ];
}
