/**
 * The tf-op building blocks the compiled ops use where tfjs's own kernels
 * fall short: a convolution with a fast, correct filter gradient on every
 * device, batch normalization with a fused gradient, row-wise L2
 * normalization.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import { windowGeometry } from "../../core/pure/_window.ts";

/**
 * Row-wise L2 normalization `x / sqrt(max(sum(x^2), epsilon))` of `[n, d]`.
 *
 * @param x Rows to normalize.
 * @param epsilon Lower bound of the squared norm.
 * @returns The normalized rows.
 * @example
 * ```ts
 * import { l2NormalizeRows } from "./compile_kernels.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * const y = tf.tidy(() => l2NormalizeRows(tf.tensor2d([[0, 2]]), 1e-10));
 * assert.deepEqual(Array.from(y.dataSync()), [0, 1]);
 * ```
 */
export function l2NormalizeRows(x: tf.Tensor, epsilon: number): tf.Tensor {
  // Call inside tf.tidy: the intermediate tensors are not disposed here.
  const sq = tf.sum(tf.square(x), -1, true);
  return tf.mul(x, tf.rsqrt(tf.maximum(sq, tf.scalar(epsilon))));
}

/**
 * `tf.conv2d` with the filter gradient computed by a Conv2D kernel (a
 * convolution of the input with the output gradient, dilated by the stride),
 * used on every device: the cpu backend's Conv2DBackpropFilter is a naive
 * loop about 100x slower than its forward pass (over 300 s for one
 * inception-resnet-v1 step at 80x80 on two cores), the wasm backend has none
 * at all, and the webgpu backend's is wrong at large batches (measured on
 * Mesa's llvmpipe adapter: batch 90, 64x64x3 input, 3x3 stride 2 to 16
 * filters: off by 1.49 where the gradient reaches 2.38, while this
 * formulation stays within 4e-5 of tfjs cpu). Forward and input gradient are
 * tfjs's own kernels. Same values, TF padding.
 *
 * @param x Input `[n, h, w, cin]`.
 * @param filter Filter `[kh, kw, cin, cout]`.
 * @param stride Stride in both directions.
 * @param padding TF padding mode.
 * @returns The convolution `[n, ho, wo, cout]`.
 * @example
 * ```ts
 * import { conv2dCpu } from "./compile_kernels.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const x = tf.randomNormal([2, 5, 5, 3]) as tf.Tensor4D;
 * const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
 * const dy = tf.randomNormal([2, 3, 3, 4]);
 * const ours = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(conv2dCpu(x, f as tf.Tensor4D, 2, "same"), dy)))(w);
 * const theirs = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, 2, "same"), dy)))(w);
 * assert.ok(tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]! < 1e-4);
 * ```
 */
export function conv2dCpu(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  stride: number,
  padding: "same" | "valid",
): tf.Tensor4D {
  // TF's "same" padding made explicit (tf.pad's gradient is a slice): the
  // convolution itself is always "valid". tfjs-backend-wasm 4.22 returns
  // zeros for some "same" convolutions (e.g. a 1x2 kernel with stride 2).
  const input = padSame(x, filter.shape[0], filter.shape[1], stride, padding);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args[0] as tf.Tensor4D;
    const ws = args[1] as tf.Tensor4D;
    const save = args[2] as tf.GradSaveFunc;
    save([xs, ws]);
    return {
      value: tf.conv2d(xs, ws, stride, "valid"),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xv, wv] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dy4 = dy as tf.Tensor4D;
        const dx = tf.conv2dTranspose(dy4, wv, xv.shape, stride, "valid");
        return [dx, filterGradient(xv, dy4, wv.shape, stride)];
      },
    };
  });
  return f(input, filter) as tf.Tensor4D;
}

/** The filter gradient of a "valid" convolution (the input is padded already). */
function filterGradient(
  xp: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  stride: number,
): tf.Tensor4D {
  const [, , , cin] = xp.shape;
  const [, , , cout] = dy.shape;
  const [kh, kw] = filterShape;
  // dW[i, j, ci, co] = sum over (n, y, x) of xp[n, y*s + i, x*s + j, ci] * dy[n, y, x, co]:
  // a convolution of xp (channels as batch, batch as channels) with dy as
  // the filter, dilated by the stride; tfjs's cpu Conv2D kernel is fast.
  const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [cin, hp, wp, n]
  const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [ho, wo, n, cout]
  let g = tf.conv2d(xT, dyT, 1, "valid", "NHWC", stride); // [cin, >= kh, >= kw, cout]
  if (g.shape[1] !== kh || g.shape[2] !== kw) g = tf.slice(g, [0, 0, 0, 0], [cin, kh, kw, cout]);
  return tf.transpose(g, [1, 2, 0, 3]);
}

/** Outputs of {@linkcode batchNormTraining}. */
export interface BatchNormTrainingOutput {
  /** The normalized, scaled and shifted values. */
  readonly y: tf.Tensor;
  /** Batch mean per channel; kept out of `tf.tidy`, the caller disposes it. */
  readonly mean: tf.Tensor1D;
  /** Population batch variance per channel; kept, the caller disposes it. */
  readonly variance: tf.Tensor1D;
}

/**
 * Batch normalization in training mode over every axis but the last, as one
 * op with a fused gradient (the core's `batchNormTrainBackward`):
 * `dx = gamma / sqrt(var + eps) * (dy - mean(dy) - xhat * mean(dy * xhat))`,
 * `dgamma = sum(dy * xhat)`, `dbeta = sum(dy)`. tfjs's own chain (moments,
 * then batchNorm) takes about three times as many kernels, which costs time
 * on the cpu device and dispatches on a GPU.
 *
 * @param x Input `[..., c]`.
 * @param gamma Scale `[c]` (ones when the spec has none).
 * @param beta Offset `[c]`.
 * @param epsilon Variance epsilon.
 * @returns The output and the batch statistics (kept; dispose them).
 * @example
 * ```ts
 * import { batchNormTraining } from "./compile_kernels.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const x = tf.tensor2d([[1], [3]]);
 * const out = batchNormTraining(x, tf.ones([1]), tf.zeros([1]), 0);
 * assert.deepEqual(Array.from(out.y.dataSync()), [-1, 1]);
 * assert.deepEqual(Array.from(out.variance.dataSync()), [1]);
 * out.mean.dispose();
 * out.variance.dispose();
 * ```
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): BatchNormTrainingOutput {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.rank - 1]!;
  let mean: tf.Tensor1D | null = null;
  let variance: tf.Tensor1D | null = null;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args[0] as tf.Tensor;
    const g = args[1] as tf.Tensor;
    const b = args[2] as tf.Tensor;
    const save = args[3] as tf.GradSaveFunc;
    const m = tf.mean(xs, axes);
    const centered = tf.sub(xs, m);
    const v = tf.mean(tf.square(centered), axes);
    const invStd = tf.rsqrt(tf.add(v, tf.scalar(epsilon)));
    const xhat = tf.mul(centered, invStd);
    mean = tf.keep(m) as tf.Tensor1D;
    variance = tf.keep(v) as tf.Tensor1D;
    save([xhat, invStd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, is, gs] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const dBeta = tf.sum(dy, axes);
        const dGamma = tf.sum(tf.mul(dy, xh), axes);
        const inner = tf.sub(
          tf.sub(dy, tf.div(dBeta, tf.scalar(count))),
          tf.mul(xh, tf.div(dGamma, tf.scalar(count))),
        );
        return [tf.mul(inner, tf.mul(gs, is)), dGamma, dBeta];
      },
    };
  });
  const y = f(x, gamma, beta);
  return { y, mean: mean!, variance: variance! };
}

function samePads(
  h: number,
  w: number,
  kh: number,
  kw: number,
  stride: number,
): [[number, number], [number, number]] {
  const gy = windowGeometry(h, kh, stride, "same");
  const gx = windowGeometry(w, kw, stride, "same");
  return [[gy.padBefore, gy.padAfter], [gx.padBefore, gx.padAfter]];
}

/**
 * `x` with TF's "same" padding made explicit (filled with `value`), so that
 * a "valid" window op over it equals the "same" one; `x` itself for "valid"
 * or when nothing needs padding.
 */
function padSame(
  x: tf.Tensor4D,
  kh: number,
  kw: number,
  stride: number,
  padding: "same" | "valid",
  value = 0,
): tf.Tensor4D {
  if (padding === "valid") return x;
  const [ph, pw] = samePads(x.shape[1], x.shape[2], kh, kw, stride);
  if (ph[0] + ph[1] + pw[0] + pw[1] === 0) return x;
  return tf.pad(x, [[0, 0], ph, pw, [0, 0]], value);
}

/**
 * The strided window tap `(ky, kx)` of `x`: `x[:, oy*s + ky, ox*s + kx, :]` for
 * every output cell, `[n, ho, wo, c]`.
 */
function tapOf(
  x: tf.Tensor4D,
  ky: number,
  kx: number,
  ho: number,
  wo: number,
  stride: number,
): tf.Tensor4D {
  const [n, , , c] = x.shape;
  return tf.stridedSlice(
    x,
    [0, ky, kx, 0],
    [n, ky + (ho - 1) * stride + 1, kx + (wo - 1) * stride + 1, c],
    [1, stride, stride, 1],
  ) as tf.Tensor4D;
}

/**
 * The adjoint of {@link tapOf}: `v [n, ho, wo, c]` placed at
 * `[oy*s + ky, ox*s + kx]` of an `[n, h, w, c]` map of zeros.
 */
function untap(
  v: tf.Tensor,
  ky: number,
  kx: number,
  h: number,
  w: number,
  stride: number,
): tf.Tensor4D {
  const [n, ho, wo, c] = v.shape as [number, number, number, number];
  let dil = v as tf.Tensor4D;
  if (stride > 1) {
    const e = tf.reshape(v, [n, ho, 1, wo, 1, c]);
    const p = tf.pad(e, [[0, 0], [0, 0], [0, stride - 1], [0, 0], [0, stride - 1], [0, 0]]);
    dil = tf.reshape(p, [n, ho * stride, wo * stride, c]);
  }
  const dh = dil.shape[1];
  const dw = dil.shape[2];
  const shifted = tf.pad(dil, [[0, 0], [ky, Math.max(0, h - ky - dh)], [
    kx,
    Math.max(0, w - kx - dw),
  ], [0, 0]]);
  return tf.slice(shifted, [0, 0, 0, 0], [n, h, w, c]);
}

/** The lowest float32: padding that never wins a max. */
const LOWEST_F32 = -3.4028234663852886e38;

/**
 * Max pooling with TF padding (made explicit: padded with the lowest
 * float32, then a "valid" pool). On tfjs-backend-wasm 4.22 the gradient is
 * composed of ops (or always, with `composedGradient`): its MaxPoolGrad
 * kernel sends the gradient of a window whose values are all negative to the
 * window's first cell instead of its maximum (measured: window [-3, -1, -2,
 * -4] gives [1, 0, 0, 0]). The composed gradient sends each window's
 * gradient to its first maximum in row-major window order, as the
 * specification does.
 *
 * @param x Input `[n, h, w, c]`.
 * @param size Window size.
 * @param stride Stride.
 * @param padding TF padding mode.
 * @param composedGradient Use the composed gradient on every backend.
 * @returns The pooled map.
 * @example
 * ```ts
 * import { maxPoolPadded } from "./compile_kernels.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const x = tf.tensor4d([-3, -1, -2, -4], [1, 2, 2, 1]);
 * const g = tf.grad((v: tf.Tensor) => tf.sum(maxPoolPadded(v as tf.Tensor4D, 2, 2, "valid", true)))(x);
 * assert.deepEqual(Array.from(g.dataSync()), [0, 1, 0, 0]);
 * ```
 */
export function maxPoolPadded(
  x: tf.Tensor4D,
  size: number,
  stride: number,
  padding: "same" | "valid",
  composedGradient = false,
): tf.Tensor4D {
  const input = padSame(x, size, size, stride, padding, LOWEST_F32);
  if (!composedGradient && tf.getBackend() !== "wasm") {
    return tf.maxPool(input, size, stride, "valid");
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args[0] as tf.Tensor4D;
    const save = args[1] as tf.GradSaveFunc;
    const y = tf.maxPool(xs, size, stride, "valid");
    save([xs, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xv, yv] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [, h, w] = xv.shape;
        const [, ho, wo] = yv.shape;
        let taken: tf.Tensor = tf.zerosLike(yv);
        let dx: tf.Tensor | null = null;
        for (let ky = 0; ky < size; ky++) {
          for (let kx = 0; kx < size; kx++) {
            const hit = tf.mul(
              tf.cast(tf.equal(tapOf(xv, ky, kx, ho, wo, stride), yv), "float32"),
              tf.sub(tf.scalar(1), taken),
            );
            taken = tf.add(taken, hit);
            const part = untap(tf.mul(dy, hit), ky, kx, h, w, stride);
            dx = dx === null ? part : tf.add(dx, part);
          }
        }
        return [dx!];
      },
    };
  });
  return f(input) as tf.Tensor4D;
}

/**
 * Depthwise convolution (channel multiplier 1) with TF padding made
 * explicit. Where the active tfjs backend lacks the depthwise gradient
 * kernels (tfjs-backend-wasm 4.22 has neither DepthwiseConv2dNativeBackpropInput
 * nor ...BackpropFilter), or when `composedGradient` is set, the gradients are
 * composed of ops every backend has: the filter gradient as `kh * kw` strided
 * slices of the input times the output gradient, summed; the input gradient
 * as the output gradient dilated by the stride, scaled per tap and shifted
 * into place.
 *
 * @param x Input `[n, h, w, c]`.
 * @param filter Filter `[kh, kw, c, 1]`.
 * @param stride Stride in both directions.
 * @param padding TF padding mode.
 * @param composedGradient Use the composed gradients even where tfjs has kernels.
 * @returns The convolution `[n, ho, wo, c]`.
 * @example
 * ```ts
 * import { depthwiseConv2dTf } from "./compile_kernels.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const x = tf.randomNormal([2, 5, 5, 3]) as tf.Tensor4D;
 * const w = tf.randomNormal([3, 3, 3, 1]) as tf.Tensor4D;
 * const dy = tf.randomNormal([2, 3, 3, 3]);
 * const f = (composed: boolean) => tf.grads((a: tf.Tensor, b: tf.Tensor) =>
 *   tf.sum(tf.mul(depthwiseConv2dTf(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same", composed), dy))
 * )([x, w]);
 * const [dx1, dw1] = f(true);
 * const [dx2, dw2] = f(false);
 * assert.ok(tf.max(tf.abs(tf.sub(dx1!, dx2!))).dataSync()[0]! < 1e-4);
 * assert.ok(tf.max(tf.abs(tf.sub(dw1!, dw2!))).dataSync()[0]! < 1e-4);
 * ```
 */
export function depthwiseConv2dTf(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  stride: number,
  padding: "same" | "valid",
  composedGradient = false,
): tf.Tensor4D {
  const [kh, kw] = filter.shape;
  const input = padSame(x, kh, kw, stride, padding);
  const backend = tf.getBackend();
  const native = !composedGradient &&
    tf.getKernel("DepthwiseConv2dNativeBackpropInput", backend) !== undefined &&
    tf.getKernel("DepthwiseConv2dNativeBackpropFilter", backend) !== undefined;
  if (native) return tf.depthwiseConv2d(input, filter, stride, "valid");
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args[0] as tf.Tensor4D;
    const ws = args[1] as tf.Tensor4D;
    const save = args[2] as tf.GradSaveFunc;
    save([xs, ws]);
    return {
      value: tf.depthwiseConv2d(xs, ws, stride, "valid"),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xv, wv] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [, hp, wp, c] = xv.shape;
        const [, ho, wo] = dy.shape as [number, number, number, number];
        const taps: tf.Tensor[] = [];
        let dx: tf.Tensor | null = null;
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            taps.push(tf.sum(tf.mul(tapOf(xv, ky, kx, ho, wo, stride), dy), [0, 1, 2]));
            const tap = tf.reshape(tf.slice(wv, [ky, kx, 0, 0], [1, 1, c, 1]), [c]);
            const part = untap(tf.mul(dy, tap), ky, kx, hp, wp, stride);
            dx = dx === null ? part : tf.add(dx, part);
          }
        }
        const dw = tf.reshape(tf.stack(taps), [kh, kw, c, 1]);
        return [dx!, dw];
      },
    };
  });
  return f(input, filter) as tf.Tensor4D;
}

/**
 * Average pooling with TF padding, padded cells not counted. For "same"
 * padding it is a "valid" pool of the zero-padded input times a constant map
 * `size^2 / (real cells of the window)`: tfjs 4.22's own AvgPoolGrad (cpu and
 * wasm) divides every window's gradient by `size^2` even where the forward
 * pass divided by fewer cells (measured: a 3x3 map, 2x2 window, stride 1,
 * "same"), so its gradient disagrees with its own forward pass there.
 *
 * @param x Input `[n, h, w, c]`.
 * @param size Window size.
 * @param stride Stride.
 * @param padding TF padding mode.
 * @returns The pooled map.
 * @example
 * ```ts
 * import { avgPoolPadded } from "./compile_kernels.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const x = tf.tensor4d([1, 2, 3], [1, 1, 3, 1]);
 * const g = tf.grad((v: tf.Tensor) => tf.sum(avgPoolPadded(v as tf.Tensor4D, 2, 2, "same")))(x);
 * assert.deepEqual(Array.from(avgPoolPadded(x, 2, 2, "same").dataSync()), [1.5, 3]);
 * assert.deepEqual(Array.from(g.dataSync()), [0.5, 0.5, 1]);
 * ```
 */
export function avgPoolPadded(
  x: tf.Tensor4D,
  size: number,
  stride: number,
  padding: "same" | "valid",
): tf.Tensor4D {
  if (padding === "valid") return tf.avgPool(x, size, stride, "valid");
  const [, h, w] = x.shape;
  const [ph, pw] = samePads(h, w, size, size, stride);
  if (ph[0] + ph[1] + pw[0] + pw[1] === 0) return tf.avgPool(x, size, stride, "valid");
  const ho = Math.ceil(h / stride);
  const wo = Math.ceil(w / stride);
  const real = (o: number, pad: number, extent: number) => {
    const start = o * stride - pad;
    return Math.min(start + size, extent) - Math.max(start, 0);
  };
  const corr = new Float32Array(ho * wo);
  for (let oy = 0; oy < ho; oy++) {
    for (let ox = 0; ox < wo; ox++) {
      corr[oy * wo + ox] = (size * size) / (real(oy, ph[0], h) * real(ox, pw[0], w));
    }
  }
  const pooled = tf.avgPool(tf.pad(x, [[0, 0], ph, pw, [0, 0]]), size, stride, "valid");
  return tf.mul(pooled, tf.tensor4d(corr, [1, ho, wo, 1]));
}
