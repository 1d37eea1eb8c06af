/**
 * The kernel contract of the reverse-mode executor (core/executor.ts): every
 * operation of a {@link ModelSpec} graph, forward and backward, on tensors held
 * behind an opaque handle type `T`. The pure backend implements it in plain
 * TypeScript (core/pure/kernels.ts, the specification); the wasm-simd backend
 * implements it with WebAssembly SIMD.
 *
 * Design:
 * - **Synchronous.** Every method returns its result directly. A WebAssembly
 *   backend instantiates its module once (async) when it is created; after
 *   that its calls are synchronous too. The async boundary is the `Model`
 *   (core/backend.ts), not the kernel.
 * - **Opaque handles.** `T` is whatever the implementation stores (the pure
 *   kernels use plain tensors, a wasm backend an offset into its memory).
 *   Data enters through {@link Kernels.upload} and leaves through
 *   {@link Kernels.download}. Every handle a method returns is new and owned by
 *   the caller, who releases it with {@link Kernels.dispose} exactly once.
 *   Inputs are never modified nor disposed by a kernel.
 * - **Layouts.** Images are NHWC (`[n, h, w, c]`), filters HWIO
 *   (`[kh, kw, cin, cout]`), dense weights `[d, units]`, features `[n, d]`,
 *   per-channel vectors `[c]`. "Channels" always means the last axis.
 * - **Semantics are TensorFlow's** ("same"/"valid" padding, average pooling
 *   that excludes padded cells, max pooling whose gradient goes to the first
 *   maximum of a window in row-major window order).
 * - Randomness never enters a kernel: dropout masks are drawn by the executor
 *   from the core RNG and applied with {@link Kernels.multiply}, so every
 *   backend consumes the RNG identically.
 *
 * @module
 */

import type { Tensor } from "./types.ts";
import type { Padding } from "./types.ts";

/**
 * Window geometry of a convolution.
 *
 * @category Ops and kernels
 */
export interface Conv2dOptions {
  /** Stride in both spatial directions (>= 1). */
  readonly stride: number;
  /** TensorFlow padding mode. */
  readonly padding: Padding;
}

/**
 * Window geometry of a pooling operation.
 *
 * @category Ops and kernels
 */
export interface PoolOptions {
  /** Window size in both spatial directions (>= 1). */
  readonly size: number;
  /** Stride in both spatial directions (>= 1). */
  readonly stride: number;
  /** TensorFlow padding mode. */
  readonly padding: Padding;
}

/**
 * Outputs of batch normalization in training mode.
 *
 * @category Ops and kernels
 */
export interface BatchNormTrainOutput<T> {
  /** The normalized, scaled and shifted values, shape of the input. */
  readonly y: T;
  /** Batch mean per channel, `[c]`. */
  readonly mean: T;
  /**
   * Batch variance per channel, `[c]`: the population (biased) variance used
   * for normalizing, `mean((x - mean)^2)`.
   */
  readonly variance: T;
}

/**
 * Gradients of parametric relu.
 *
 * @category Ops and kernels
 */
export interface PreluGradients<T> {
  /** Gradient with respect to the input. */
  readonly dx: T;
  /** Gradient with respect to alpha `[c]`. */
  readonly dAlpha: T;
}

/**
 * Gradients of batch normalization in training mode.
 *
 * @category Ops and kernels
 */
export interface BatchNormGradients<T> {
  /** Gradient with respect to the input. */
  readonly dx: T;
  /** Gradient with respect to gamma `[c]`, or null when there is no gamma. */
  readonly dGamma: T | null;
  /** Gradient with respect to beta `[c]`. */
  readonly dBeta: T;
}

/**
 * Every operation of the model graph, forward and backward, over tensor
 * handles of type `T`. All methods are synchronous; all returned handles are
 * new and owned by the caller. Implementations validate shapes and throw
 * `RangeError` on mismatches.
 *
 * Sums over many terms (convolutions, matrix products, reductions) should be
 * accumulated at a precision that keeps float32 results accurate to about
 * 1e-5 relative (the pure kernels accumulate in float64).
 *
 * @typeParam T The implementation's tensor handle.
 *
 * @example
 * ```ts
 * import { type Kernels } from "@facenet-deno/facenet/pure";
 * import { createPureKernels, type PureTensor } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const k: Kernels<PureTensor> = createPureKernels();
 * const x = k.upload({ shape: [1, 2], data: new Float32Array([-1, 2]) });
 * const y = k.relu(x);
 * assert.deepEqual(Array.from(k.download(y).data), [0, 2]);
 * k.dispose(x);
 * k.dispose(y);
 * ```
 *
 * @category Ops and kernels
 */
export interface Kernels<T> {
  /** A short description, e.g. "pure float32". */
  readonly name: string;

  // --- memory ---
  /** Copies a plain tensor into a new handle. */
  upload(tensor: Tensor): T;
  /** Copies a handle's values out as a plain float32 tensor. */
  download(x: T): Tensor;
  /** The shape of a handle. */
  shape(x: T): readonly number[];
  /** Releases a handle; it must not be used afterwards. */
  dispose(x: T): void;
  /** The same values under another shape of equal size, as a new handle. */
  reshape(x: T, shape: readonly number[]): T;

  // --- elementwise ---
  /** `a + scale * b` for equal shapes (residual add, gradient accumulation). */
  add(a: T, b: T, scale: number): T;
  /** `scale * x`. */
  scale(x: T, scale: number): T;
  /** Elementwise product of equal shapes (dropout masks). */
  multiply(a: T, b: T): T;
  /** `max(x, 0)`. */
  relu(x: T): T;
  /** `dy * (y > 0)`, where `y` is relu's output. */
  reluBackward(dy: T, y: T): T;
  /** Parametric relu with one `alpha [c]` per channel (last axis): `x > 0 ? x : alpha * x`. */
  prelu(x: T, alpha: T): T;
  /**
   * Gradients of {@link Kernels.prelu}: `dx = dy * (x > 0 ? 1 : alpha)`,
   * `dAlpha[c] = sum of dy * x over the cells of channel c where x <= 0`.
   */
  preluBackward(dy: T, x: T, alpha: T): PreluGradients<T>;
  /** Softmax over the last axis, `exp(x - max) / sum(exp(x - max))`. */
  softmax(x: T): T;
  /** Vector-Jacobian product of softmax given its output `y`: `y * (dy - sum(dy * y))` per row. */
  softmaxBackward(dy: T, y: T): T;

  // --- convolution and bias ---
  /** 2-D convolution of `x [n,h,w,cin]` with `filter [kh,kw,cin,cout]`. */
  conv2d(x: T, filter: T, options: Conv2dOptions): T;
  /** Gradient of conv2d with respect to its input, of shape `inputShape`. */
  conv2dBackpropInput(
    dy: T,
    filter: T,
    options: Conv2dOptions & { readonly inputShape: readonly number[] },
  ): T;
  /** Gradient of conv2d with respect to its filter, of shape `filterShape`. */
  conv2dBackpropFilter(
    x: T,
    dy: T,
    options: Conv2dOptions & { readonly filterShape: readonly number[] },
  ): T;
  /**
   * Depthwise 2-D convolution (channel multiplier 1) of `x [n,h,w,c]` with
   * `filter [kh,kw,c,1]`: output channel `c` convolves input channel `c` only.
   */
  depthwiseConv2d(x: T, filter: T, options: Conv2dOptions): T;
  /** Gradient of depthwiseConv2d with respect to its input, of shape `inputShape`. */
  depthwiseConv2dBackpropInput(
    dy: T,
    filter: T,
    options: Conv2dOptions & { readonly inputShape: readonly number[] },
  ): T;
  /** Gradient of depthwiseConv2d with respect to its filter, of shape `filterShape`. */
  depthwiseConv2dBackpropFilter(
    x: T,
    dy: T,
    options: Conv2dOptions & { readonly filterShape: readonly number[] },
  ): T;
  /** Adds `bias [c]` along the last axis. */
  biasAdd(x: T, bias: T): T;
  /** Sum over every axis but the last: the bias gradient, `[c]`. */
  sumToChannels(dy: T): T;

  // --- batch normalization over all axes but the last ---
  /**
   * Training mode: normalizes with the batch mean and population variance,
   * `y = gamma * (x - mean) / sqrt(variance + epsilon) + beta`; `gamma` null
   * means 1.
   */
  batchNormTrain(x: T, gamma: T | null, beta: T, epsilon: number): BatchNormTrainOutput<T>;
  /** Inference mode: the same formula with given (moving) statistics. */
  batchNormInference(
    x: T,
    gamma: T | null,
    beta: T,
    stats: { readonly mean: T; readonly variance: T; readonly epsilon: number },
  ): T;
  /**
   * Gradients of {@link Kernels.batchNormTrain} (the batch statistics depend on
   * `x`), given its input, `gamma` and the batch statistics it returned.
   */
  batchNormTrainBackward(
    dy: T,
    x: T,
    gamma: T | null,
    stats: { readonly mean: T; readonly variance: T; readonly epsilon: number },
  ): BatchNormGradients<T>;

  // --- pooling ---
  /** Max pooling of `x [n,h,w,c]`; padded cells never win. */
  maxPool(x: T, options: PoolOptions): T;
  /** Gradient of max pooling: each window's `dy` goes to its first maximum. */
  maxPoolBackward(dy: T, x: T, options: PoolOptions): T;
  /** Average pooling of `x [n,h,w,c]`; padded cells are not counted (TF). */
  avgPool(x: T, options: PoolOptions): T;
  /** Gradient of average pooling, of shape `inputShape`. */
  avgPoolBackward(dy: T, options: PoolOptions & { readonly inputShape: readonly number[] }): T;
  /** Mean over the spatial axes: `[n,h,w,c]` to `[n,c]`. */
  globalAvgPool(x: T): T;
  /** Gradient of global average pooling, of shape `inputShape`. */
  globalAvgPoolBackward(dy: T, inputShape: readonly number[]): T;

  // --- structure ---
  /** Concatenation along the last axis; all other axes must agree. */
  concat(xs: readonly T[]): T;
  /** Splits the last axis into consecutive parts of the given sizes (concat's gradient). */
  split(x: T, sizes: readonly number[]): T[];

  // --- dense ---
  /**
   * Matrix product of 2-D tensors, `op(a) @ op(b)`, where `op` transposes when
   * asked: dense forward is `matMul(x, w)`, its input gradient
   * `matMul(dy, w, {transposeB: true})`, its weight gradient
   * `matMul(x, dy, {transposeA: true})`.
   */
  matMul(
    a: T,
    b: T,
    options?: { readonly transposeA?: boolean; readonly transposeB?: boolean },
  ): T;

  // --- normalization of rows ---
  /** Row-wise `x / sqrt(max(sum(x^2), epsilon))` of `x [n,d]`. */
  l2Normalize(x: T, epsilon: number): T;
  /** Vector-Jacobian product of {@link Kernels.l2Normalize} at `x`. */
  l2NormalizeBackward(dy: T, x: T, epsilon: number): T;
}
