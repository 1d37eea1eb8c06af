/**
 * The reference implementation of {@link Kernels} in plain TypeScript: the
 * specification every other kernel set is tested against. Values are stored
 * as float32 (or float64 for gradient checks); every sum over many terms is
 * accumulated in float64.
 *
 * @module
 */

import type { Tensor } from "../types.ts";
import type {
  BatchNormGradients,
  BatchNormTrainOutput,
  Conv2dOptions,
  Kernels,
  PoolOptions,
  PreluGradients,
} from "../kernels.ts";
import { windowGeometry } from "./_window.ts";

/**
 * Storage of a pure tensor.
 *
 * @category Ops and kernels
 */
export type PureArray = Float32Array | Float64Array;

/**
 * The pure kernels' tensor handle: a shape and its row-major values.
 *
 * @category Ops and kernels
 */
export interface PureTensor {
  /** The shape. */
  readonly shape: readonly number[];
  /** Row-major values, float32 or float64 by the kernels' precision. */
  readonly data: PureArray;
}

/**
 * Options of {@link createPureKernels}.
 *
 * @category Ops and kernels
 */
export interface PureKernelsOptions {
  /**
   * Storage precision: "float32" (default, what training uses) or "float64"
   * (for finite-difference gradient checks).
   */
  readonly precision?: "float32" | "float64";
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function dims4(x: PureTensor, what: string): [number, number, number, number] {
  const s = x.shape;
  if (s.length !== 4) {
    throw new RangeError(`Expected a rank-4 NHWC ${what}, got shape ${fmt(s)}`);
  }
  return [s[0]!, s[1]!, s[2]!, s[3]!];
}

function lastDim(x: PureTensor): number {
  if (x.shape.length === 0) throw new RangeError("Expected a tensor of rank >= 1, got a scalar");
  return x.shape[x.shape.length - 1]!;
}

/**
 * Creates the pure reference kernels.
 *
 * @param options Storage precision.
 * @returns A synchronous {@link Kernels} implementation over {@link PureTensor} handles.
 * @throws {RangeError} From every kernel, when shapes do not fit together.
 *
 * @example
 * ```ts
 * import { createPureKernels } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const k = createPureKernels();
 * const x = k.upload({ shape: [1, 2, 2, 1], data: new Float32Array([1, 2, 3, 4]) });
 * const w = k.upload({ shape: [1, 1, 1, 1], data: new Float32Array([2]) });
 * assert.deepEqual(Array.from(k.download(k.conv2d(x, w, { stride: 1, padding: "same" })).data), [
 *   2, 4, 6, 8,
 * ]);
 * ```
 *
 * @category Ops and kernels
 */
export function createPureKernels(options: PureKernelsOptions = {}): Kernels<PureTensor> {
  const precision = options.precision ?? "float32";
  if (precision !== "float32" && precision !== "float64") {
    throw new RangeError(`Unknown precision "${String(precision)}"`);
  }
  const alloc = (n: number): PureArray =>
    precision === "float64" ? new Float64Array(n) : new Float32Array(n);
  const make = (shape: readonly number[], data: PureArray): PureTensor => ({
    shape: [...shape],
    data,
  });
  const fromF64 = (shape: readonly number[], acc: Float64Array): PureTensor => {
    const out = alloc(acc.length);
    out.set(acc);
    return make(shape, out);
  };
  const requireSame = (a: PureTensor, b: PureTensor, op: string): void => {
    if (!sameShape(a.shape, b.shape)) {
      throw new RangeError(`${op}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`);
    }
  };
  const requireChannels = (v: PureTensor, c: number, what: string): void => {
    if (v.shape.length !== 1 || v.shape[0] !== c) {
      throw new RangeError(`Expected ${what} of shape [${c}], got ${fmt(v.shape)}`);
    }
  };

  function conv2dGeometry(
    xShape: readonly number[],
    fShape: readonly number[],
    o: Conv2dOptions,
  ) {
    const [n, h, w, ci] = xShape as [number, number, number, number];
    if (fShape.length !== 4) throw new RangeError(`Expected a rank-4 filter, got ${fmt(fShape)}`);
    const [kh, kw, fci, co] = fShape as [number, number, number, number];
    if (fci !== ci) {
      throw new RangeError(
        `Filter ${fmt(fShape)} expects ${fci} input channels, input ${fmt(xShape)} has ${ci}`,
      );
    }
    if (!Number.isInteger(o.stride) || o.stride < 1) {
      throw new RangeError(`Stride must be a positive integer, got ${o.stride}`);
    }
    const gy = windowGeometry(h, kh, o.stride, o.padding);
    const gx = windowGeometry(w, kw, o.stride, o.padding);
    if (gy.out < 1 || gx.out < 1) {
      throw new RangeError(`Filter ${fmt(fShape)} exceeds input ${fmt(xShape)}`);
    }
    return { n, h, w, ci, kh, kw, co, oh: gy.out, ow: gx.out, pt: gy.padBefore, pl: gx.padBefore };
  }

  function depthwiseGeometry(
    xShape: readonly number[],
    fShape: readonly number[],
    o: Conv2dOptions,
  ) {
    if (fShape.length !== 4 || fShape[3] !== 1) {
      throw new RangeError(`Expected a depthwise filter [kh, kw, c, 1], got ${fmt(fShape)}`);
    }
    const g = conv2dGeometry(xShape, fShape, o);
    return { ...g, c: g.ci };
  }

  function poolGeometry(shape: readonly number[], o: PoolOptions) {
    const [n, h, w, c] = shape as [number, number, number, number];
    if (!Number.isInteger(o.size) || o.size < 1 || !Number.isInteger(o.stride) || o.stride < 1) {
      throw new RangeError(
        `Pool size and stride must be positive integers, got ${o.size}, ${o.stride}`,
      );
    }
    const gy = windowGeometry(h, o.size, o.stride, o.padding);
    const gx = windowGeometry(w, o.size, o.stride, o.padding);
    if (gy.out < 1 || gx.out < 1) {
      throw new RangeError(`Pool window ${o.size} exceeds input ${fmt(shape)}`);
    }
    return { n, h, w, c, oh: gy.out, ow: gx.out, pt: gy.padBefore, pl: gx.padBefore };
  }

  function batchStats(x: PureTensor): { mean: Float64Array; variance: Float64Array; m: number } {
    const c = lastDim(x);
    const m = x.data.length / c;
    if (m < 1) throw new RangeError(`Batch norm needs at least one value per channel`);
    const mean = new Float64Array(c);
    const variance = new Float64Array(c);
    const d = x.data;
    for (let i = 0; i < d.length; i += c) {
      for (let j = 0; j < c; j++) mean[j]! += d[i + j]!;
    }
    for (let j = 0; j < c; j++) mean[j]! /= m;
    for (let i = 0; i < d.length; i += c) {
      for (let j = 0; j < c; j++) {
        const t = d[i + j]! - mean[j]!;
        variance[j]! += t * t;
      }
    }
    for (let j = 0; j < c; j++) variance[j]! /= m;
    return { mean, variance, m };
  }

  function normalize(
    x: PureTensor,
    gamma: PureTensor | null,
    beta: PureTensor,
    mean: ArrayLike<number>,
    variance: ArrayLike<number>,
    epsilon: number,
  ): PureTensor {
    const c = lastDim(x);
    if (gamma !== null) requireChannels(gamma, c, "gamma");
    requireChannels(beta, c, "beta");
    const mul = new Float64Array(c);
    const add = new Float64Array(c);
    for (let j = 0; j < c; j++) {
      const g = gamma === null ? 1 : gamma.data[j]!;
      mul[j] = g / Math.sqrt(variance[j]! + epsilon);
      add[j] = beta.data[j]! - mean[j]! * mul[j]!;
    }
    const d = x.data;
    const out = alloc(d.length);
    for (let i = 0; i < d.length; i += c) {
      for (let j = 0; j < c; j++) out[i + j] = d[i + j]! * mul[j]! + add[j]!;
    }
    return make(x.shape, out);
  }

  const kernels: Kernels<PureTensor> = {
    name: `pure ${precision}`,

    upload(tensor: Tensor | PureTensor): PureTensor {
      if (sizeOf(tensor.shape) !== tensor.data.length) {
        throw new RangeError(
          `Tensor of shape ${fmt(tensor.shape)} needs ${
            sizeOf(tensor.shape)
          } values, got ${tensor.data.length}`,
        );
      }
      const data = alloc(tensor.data.length);
      data.set(tensor.data);
      return make(tensor.shape, data);
    },
    download(x) {
      return { shape: [...x.shape], data: Float32Array.from(x.data) };
    },
    shape(x) {
      return x.shape;
    },
    dispose(_x) {
      // Garbage collected.
    },
    reshape(x, shape) {
      if (sizeOf(shape) !== x.data.length) {
        throw new RangeError(`Cannot reshape ${fmt(x.shape)} to ${fmt(shape)}`);
      }
      return make(shape, x.data);
    },

    add(a, b, scale) {
      requireSame(a, b, "add");
      const out = alloc(a.data.length);
      for (let i = 0; i < out.length; i++) out[i] = a.data[i]! + scale * b.data[i]!;
      return make(a.shape, out);
    },
    scale(x, s) {
      const out = alloc(x.data.length);
      for (let i = 0; i < out.length; i++) out[i] = s * x.data[i]!;
      return make(x.shape, out);
    },
    multiply(a, b) {
      requireSame(a, b, "multiply");
      const out = alloc(a.data.length);
      for (let i = 0; i < out.length; i++) out[i] = a.data[i]! * b.data[i]!;
      return make(a.shape, out);
    },
    relu(x) {
      const out = alloc(x.data.length);
      for (let i = 0; i < out.length; i++) {
        const v = x.data[i]!;
        out[i] = v > 0 ? v : 0;
      }
      return make(x.shape, out);
    },
    reluBackward(dy, y) {
      requireSame(dy, y, "reluBackward");
      const out = alloc(dy.data.length);
      for (let i = 0; i < out.length; i++) out[i] = y.data[i]! > 0 ? dy.data[i]! : 0;
      return make(dy.shape, out);
    },

    conv2d(x, filter, o) {
      dims4(x, "input");
      const g = conv2dGeometry(x.shape, filter.shape, o);
      const { n, h, w, ci, kh, kw, co, oh, ow, pt, pl } = g;
      const xd = x.data;
      const fd = filter.data;
      const out = alloc(n * oh * ow * co);
      const acc = new Float64Array(co);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            acc.fill(0);
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * o.stride - pt + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * o.stride - pl + kx;
                if (ix < 0 || ix >= w) continue;
                const xBase = ((b * h + iy) * w + ix) * ci;
                const fBase = (ky * kw + kx) * ci * co;
                for (let c = 0; c < ci; c++) {
                  const xv = xd[xBase + c]!;
                  if (xv === 0) continue;
                  const fo = fBase + c * co;
                  for (let k = 0; k < co; k++) acc[k]! += xv * fd[fo + k]!;
                }
              }
            }
            out.set(acc, ((b * oh + oy) * ow + ox) * co);
          }
        }
      }
      return make([n, oh, ow, co], out);
    },
    conv2dBackpropInput(dy, filter, o) {
      if (o.inputShape.length !== 4) {
        throw new RangeError(`Expected a rank-4 input shape, got ${fmt(o.inputShape)}`);
      }
      const g = conv2dGeometry(o.inputShape, filter.shape, o);
      const { n, h, w, ci, kh, kw, co, oh, ow, pt, pl } = g;
      if (!sameShape(dy.shape, [n, oh, ow, co])) {
        throw new RangeError(
          `Gradient ${fmt(dy.shape)} does not match output [${n}, ${oh}, ${ow}, ${co}]`,
        );
      }
      const dd = dy.data;
      const fd = filter.data;
      const dx = new Float64Array(n * h * w * ci);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            const dBase = ((b * oh + oy) * ow + ox) * co;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * o.stride - pt + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * o.stride - pl + kx;
                if (ix < 0 || ix >= w) continue;
                const xBase = ((b * h + iy) * w + ix) * ci;
                const fBase = (ky * kw + kx) * ci * co;
                for (let c = 0; c < ci; c++) {
                  const fo = fBase + c * co;
                  // Four partial sums break the addition chain (the loop is latency-bound).
                  let s0 = 0;
                  let s1 = 0;
                  let s2 = 0;
                  let s3 = 0;
                  let k = 0;
                  for (; k + 3 < co; k += 4) {
                    s0 += dd[dBase + k]! * fd[fo + k]!;
                    s1 += dd[dBase + k + 1]! * fd[fo + k + 1]!;
                    s2 += dd[dBase + k + 2]! * fd[fo + k + 2]!;
                    s3 += dd[dBase + k + 3]! * fd[fo + k + 3]!;
                  }
                  for (; k < co; k++) s0 += dd[dBase + k]! * fd[fo + k]!;
                  dx[xBase + c]! += (s0 + s1) + (s2 + s3);
                }
              }
            }
          }
        }
      }
      return fromF64(o.inputShape, dx);
    },
    conv2dBackpropFilter(x, dy, o) {
      dims4(x, "input");
      const g = conv2dGeometry(x.shape, o.filterShape, o);
      const { n, h, w, ci, kh, kw, co, oh, ow, pt, pl } = g;
      if (!sameShape(dy.shape, [n, oh, ow, co])) {
        throw new RangeError(
          `Gradient ${fmt(dy.shape)} does not match output [${n}, ${oh}, ${ow}, ${co}]`,
        );
      }
      const xd = x.data;
      const dd = dy.data;
      const df = new Float64Array(kh * kw * ci * co);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            const dBase = ((b * oh + oy) * ow + ox) * co;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * o.stride - pt + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * o.stride - pl + kx;
                if (ix < 0 || ix >= w) continue;
                const xBase = ((b * h + iy) * w + ix) * ci;
                const fBase = (ky * kw + kx) * ci * co;
                for (let c = 0; c < ci; c++) {
                  const xv = xd[xBase + c]!;
                  if (xv === 0) continue;
                  const fo = fBase + c * co;
                  for (let k = 0; k < co; k++) df[fo + k]! += xv * dd[dBase + k]!;
                }
              }
            }
          }
        }
      }
      return fromF64(o.filterShape, df);
    },
    biasAdd(x, bias) {
      const c = lastDim(x);
      requireChannels(bias, c, "bias");
      const out = alloc(x.data.length);
      for (let i = 0; i < out.length; i += c) {
        for (let j = 0; j < c; j++) out[i + j] = x.data[i + j]! + bias.data[j]!;
      }
      return make(x.shape, out);
    },
    sumToChannels(dy) {
      const c = lastDim(dy);
      const acc = new Float64Array(c);
      for (let i = 0; i < dy.data.length; i += c) {
        for (let j = 0; j < c; j++) acc[j]! += dy.data[i + j]!;
      }
      return fromF64([c], acc);
    },

    batchNormTrain(x, gamma, beta, epsilon): BatchNormTrainOutput<PureTensor> {
      const { mean, variance } = batchStats(x);
      const c = mean.length;
      return {
        y: normalize(x, gamma, beta, mean, variance, epsilon),
        mean: fromF64([c], mean),
        variance: fromF64([c], variance),
      };
    },
    batchNormInference(x, gamma, beta, stats) {
      const c = lastDim(x);
      requireChannels(stats.mean, c, "moving mean");
      requireChannels(stats.variance, c, "moving variance");
      return normalize(x, gamma, beta, stats.mean.data, stats.variance.data, stats.epsilon);
    },
    batchNormTrainBackward(dy, x, gamma, stats): BatchNormGradients<PureTensor> {
      requireSame(dy, x, "batchNormTrainBackward");
      const c = lastDim(x);
      const m = x.data.length / c;
      if (gamma !== null) requireChannels(gamma, c, "gamma");
      const mean = stats.mean.data;
      const invStd = new Float64Array(c);
      for (let j = 0; j < c; j++) {
        invStd[j] = 1 / Math.sqrt(stats.variance.data[j]! + stats.epsilon);
      }
      const dBeta = new Float64Array(c);
      const dGamma = new Float64Array(c);
      const xd = x.data;
      const dd = dy.data;
      for (let i = 0; i < xd.length; i += c) {
        for (let j = 0; j < c; j++) {
          const g = dd[i + j]!;
          dBeta[j]! += g;
          dGamma[j]! += g * (xd[i + j]! - mean[j]!) * invStd[j]!;
        }
      }
      const dx = alloc(xd.length);
      for (let i = 0; i < xd.length; i += c) {
        for (let j = 0; j < c; j++) {
          const g = gamma === null ? 1 : gamma.data[j]!;
          const xhat = (xd[i + j]! - mean[j]!) * invStd[j]!;
          dx[i + j] = (g * invStd[j]! / m) * (m * dd[i + j]! - dBeta[j]! - xhat * dGamma[j]!);
        }
      }
      return {
        dx: make(x.shape, dx),
        dGamma: gamma === null ? null : fromF64([c], dGamma),
        dBeta: fromF64([c], dBeta),
      };
    },

    maxPool(x, o) {
      dims4(x, "input");
      const { n, h, w, c, oh, ow, pt, pl } = poolGeometry(x.shape, o);
      const out = alloc(n * oh * ow * c);
      const best = new Float64Array(c);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            best.fill(-Infinity);
            for (let ky = 0; ky < o.size; ky++) {
              const iy = oy * o.stride - pt + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < o.size; kx++) {
                const ix = ox * o.stride - pl + kx;
                if (ix < 0 || ix >= w) continue;
                const base = ((b * h + iy) * w + ix) * c;
                for (let j = 0; j < c; j++) {
                  const v = x.data[base + j]!;
                  if (v > best[j]!) best[j] = v;
                }
              }
            }
            out.set(best, ((b * oh + oy) * ow + ox) * c);
          }
        }
      }
      return make([n, oh, ow, c], out);
    },
    maxPoolBackward(dy, x, o) {
      dims4(x, "input");
      const { n, h, w, c, oh, ow, pt, pl } = poolGeometry(x.shape, o);
      if (!sameShape(dy.shape, [n, oh, ow, c])) {
        throw new RangeError(
          `Gradient ${fmt(dy.shape)} does not match output [${n}, ${oh}, ${ow}, ${c}]`,
        );
      }
      const dx = new Float64Array(x.data.length);
      const best = new Float64Array(c);
      const arg = new Int32Array(c);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            best.fill(-Infinity);
            arg.fill(-1);
            for (let ky = 0; ky < o.size; ky++) {
              const iy = oy * o.stride - pt + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < o.size; kx++) {
                const ix = ox * o.stride - pl + kx;
                if (ix < 0 || ix >= w) continue;
                const base = ((b * h + iy) * w + ix) * c;
                for (let j = 0; j < c; j++) {
                  const v = x.data[base + j]!;
                  if (v > best[j]! || arg[j] === -1) {
                    best[j] = v;
                    arg[j] = base + j;
                  }
                }
              }
            }
            const dBase = ((b * oh + oy) * ow + ox) * c;
            for (let j = 0; j < c; j++) dx[arg[j]!]! += dy.data[dBase + j]!;
          }
        }
      }
      return fromF64(x.shape, dx);
    },
    avgPool(x, o) {
      dims4(x, "input");
      const { n, h, w, c, oh, ow, pt, pl } = poolGeometry(x.shape, o);
      const out = alloc(n * oh * ow * c);
      const acc = new Float64Array(c);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            acc.fill(0);
            let count = 0;
            for (let ky = 0; ky < o.size; ky++) {
              const iy = oy * o.stride - pt + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < o.size; kx++) {
                const ix = ox * o.stride - pl + kx;
                if (ix < 0 || ix >= w) continue;
                count++;
                const base = ((b * h + iy) * w + ix) * c;
                for (let j = 0; j < c; j++) acc[j]! += x.data[base + j]!;
              }
            }
            const oBase = ((b * oh + oy) * ow + ox) * c;
            for (let j = 0; j < c; j++) out[oBase + j] = acc[j]! / count;
          }
        }
      }
      return make([n, oh, ow, c], out);
    },
    avgPoolBackward(dy, o) {
      if (o.inputShape.length !== 4) {
        throw new RangeError(`Expected a rank-4 input shape, got ${fmt(o.inputShape)}`);
      }
      const { n, h, w, c, oh, ow, pt, pl } = poolGeometry(o.inputShape, o);
      if (!sameShape(dy.shape, [n, oh, ow, c])) {
        throw new RangeError(
          `Gradient ${fmt(dy.shape)} does not match output [${n}, ${oh}, ${ow}, ${c}]`,
        );
      }
      const dx = new Float64Array(n * h * w * c);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          const y0 = Math.max(oy * o.stride - pt, 0);
          const y1 = Math.min(oy * o.stride - pt + o.size, h);
          for (let ox = 0; ox < ow; ox++) {
            const x0 = Math.max(ox * o.stride - pl, 0);
            const x1 = Math.min(ox * o.stride - pl + o.size, w);
            const count = (y1 - y0) * (x1 - x0);
            const dBase = ((b * oh + oy) * ow + ox) * c;
            for (let iy = y0; iy < y1; iy++) {
              for (let ix = x0; ix < x1; ix++) {
                const base = ((b * h + iy) * w + ix) * c;
                for (let j = 0; j < c; j++) dx[base + j]! += dy.data[dBase + j]! / count;
              }
            }
          }
        }
      }
      return fromF64(o.inputShape, dx);
    },
    globalAvgPool(x) {
      const [n, h, w, c] = dims4(x, "input");
      const acc = new Float64Array(n * c);
      const hw = h * w;
      for (let b = 0; b < n; b++) {
        for (let p = 0; p < hw; p++) {
          const base = (b * hw + p) * c;
          for (let j = 0; j < c; j++) acc[b * c + j]! += x.data[base + j]!;
        }
      }
      for (let i = 0; i < acc.length; i++) acc[i]! /= hw;
      return fromF64([n, c], acc);
    },
    globalAvgPoolBackward(dy, inputShape) {
      if (inputShape.length !== 4) {
        throw new RangeError(`Expected a rank-4 input shape, got ${fmt(inputShape)}`);
      }
      const [n, h, w, c] = inputShape as [number, number, number, number];
      if (!sameShape(dy.shape, [n, c])) {
        throw new RangeError(`Gradient ${fmt(dy.shape)} does not match output [${n}, ${c}]`);
      }
      const hw = h * w;
      const out = alloc(n * hw * c);
      for (let b = 0; b < n; b++) {
        for (let p = 0; p < hw; p++) {
          const base = (b * hw + p) * c;
          for (let j = 0; j < c; j++) out[base + j] = dy.data[b * c + j]! / hw;
        }
      }
      return make(inputShape, out);
    },

    concat(xs) {
      const first = xs[0];
      if (first === undefined) throw new RangeError("Concat needs at least one input");
      const lead = first.shape.slice(0, -1);
      const widths = xs.map((t) => {
        if (!sameShape(t.shape.slice(0, -1), lead)) {
          throw new RangeError(
            `Concat inputs ${fmt(first.shape)} and ${fmt(t.shape)} differ outside the last axis`,
          );
        }
        return lastDim(t);
      });
      const total = widths.reduce((a, b) => a + b, 0);
      const rows = sizeOf(lead);
      const out = alloc(rows * total);
      let offset = 0;
      xs.forEach((t, k) => {
        const cw = widths[k]!;
        for (let r = 0; r < rows; r++) {
          out.set(t.data.subarray(r * cw, (r + 1) * cw), r * total + offset);
        }
        offset += cw;
      });
      return make([...lead, total], out);
    },
    split(x, sizes) {
      const total = lastDim(x);
      if (sizes.reduce((a, b) => a + b, 0) !== total || sizes.some((s) => s < 0)) {
        throw new RangeError(`Split sizes [${sizes.join(", ")}] do not add up to ${total}`);
      }
      const lead = x.shape.slice(0, -1);
      const rows = sizeOf(lead);
      let offset = 0;
      return sizes.map((cw) => {
        const out = alloc(rows * cw);
        for (let r = 0; r < rows; r++) {
          out.set(x.data.subarray(r * total + offset, r * total + offset + cw), r * cw);
        }
        offset += cw;
        return make([...lead, cw], out);
      });
    },

    matMul(a, b, options = {}) {
      if (a.shape.length !== 2 || b.shape.length !== 2) {
        throw new RangeError(`matMul needs 2-D tensors, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
      }
      const ta = options.transposeA ?? false;
      const tb = options.transposeB ?? false;
      const [ar, ac] = a.shape as [number, number];
      const [br, bc] = b.shape as [number, number];
      const m = ta ? ac : ar;
      const k = ta ? ar : ac;
      const kb = tb ? bc : br;
      const nn = tb ? br : bc;
      if (k !== kb) {
        throw new RangeError(
          `matMul inner sizes differ: ${fmt(a.shape)}${ta ? "^T" : ""} x ${fmt(b.shape)}${
            tb ? "^T" : ""
          }`,
        );
      }
      const ad = a.data;
      const bd = b.data;
      const out = alloc(m * nn);
      const acc = new Float64Array(nn);
      for (let i = 0; i < m; i++) {
        if (tb) {
          for (let j = 0; j < nn; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) {
              s += (ta ? ad[p * ac + i]! : ad[i * ac + p]!) * bd[j * bc + p]!;
            }
            acc[j] = s;
          }
        } else {
          acc.fill(0);
          for (let p = 0; p < k; p++) {
            const av = ta ? ad[p * ac + i]! : ad[i * ac + p]!;
            if (av === 0) continue;
            const row = p * bc;
            for (let j = 0; j < nn; j++) acc[j]! += av * bd[row + j]!;
          }
        }
        out.set(acc, i * nn);
      }
      return make([m, nn], out);
    },

    l2Normalize(x, epsilon) {
      if (x.shape.length !== 2) {
        throw new RangeError(`l2Normalize needs [n, d], got ${fmt(x.shape)}`);
      }
      const [n, d] = x.shape as [number, number];
      const out = alloc(n * d);
      for (let r = 0; r < n; r++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += x.data[r * d + j]! ** 2;
        const inv = 1 / Math.sqrt(Math.max(s, epsilon));
        for (let j = 0; j < d; j++) out[r * d + j] = x.data[r * d + j]! * inv;
      }
      return make(x.shape, out);
    },
    l2NormalizeBackward(dy, x, epsilon) {
      requireSame(dy, x, "l2NormalizeBackward");
      if (x.shape.length !== 2) {
        throw new RangeError(`l2Normalize needs [n, d], got ${fmt(x.shape)}`);
      }
      const [n, d] = x.shape as [number, number];
      const out = alloc(n * d);
      for (let r = 0; r < n; r++) {
        let s = 0;
        let dot = 0;
        for (let j = 0; j < d; j++) {
          const v = x.data[r * d + j]!;
          s += v * v;
          dot += v * dy.data[r * d + j]!;
        }
        // Below epsilon the denominator is the constant sqrt(epsilon) (TF's maximum passes
        // the gradient to the sum of squares on ties).
        const inv = 1 / Math.sqrt(Math.max(s, epsilon));
        const proj = s >= epsilon ? dot * inv * inv : 0;
        for (let j = 0; j < d; j++) {
          out[r * d + j] = inv * (dy.data[r * d + j]! - x.data[r * d + j]! * proj);
        }
      }
      return make(x.shape, out);
    },

    prelu(x, alpha) {
      const c = lastDim(x);
      requireChannels(alpha, c, "alpha");
      const a = alpha.data;
      const out = alloc(x.data.length);
      for (let i = 0; i < out.length; i++) {
        const v = x.data[i]!;
        out[i] = v > 0 ? v : a[i % c]! * v;
      }
      return make(x.shape, out);
    },
    preluBackward(dy, x, alpha): PreluGradients<PureTensor> {
      requireSame(dy, x, "preluBackward");
      const c = lastDim(x);
      requireChannels(alpha, c, "alpha");
      const a = alpha.data;
      const dx = alloc(x.data.length);
      const da = new Float64Array(c);
      for (let i = 0; i < dx.length; i++) {
        const v = x.data[i]!;
        const g = dy.data[i]!;
        if (v > 0) {
          dx[i] = g;
        } else {
          const j = i % c;
          dx[i] = a[j]! * g;
          da[j]! += g * v;
        }
      }
      return { dx: make(x.shape, dx), dAlpha: fromF64([c], da) };
    },
    softmax(x) {
      const c = lastDim(x);
      const d = x.data;
      const out = alloc(d.length);
      const e = new Float64Array(c);
      for (let i = 0; i < d.length; i += c) {
        let m = -Infinity;
        for (let j = 0; j < c; j++) m = Math.max(m, d[i + j]!);
        let s = 0;
        for (let j = 0; j < c; j++) {
          e[j] = Math.exp(d[i + j]! - m);
          s += e[j]!;
        }
        for (let j = 0; j < c; j++) out[i + j] = e[j]! / s;
      }
      return make(x.shape, out);
    },
    softmaxBackward(dy, y) {
      requireSame(dy, y, "softmaxBackward");
      const c = lastDim(y);
      const out = alloc(y.data.length);
      for (let i = 0; i < out.length; i += c) {
        let dot = 0;
        for (let j = 0; j < c; j++) dot += dy.data[i + j]! * y.data[i + j]!;
        for (let j = 0; j < c; j++) out[i + j] = y.data[i + j]! * (dy.data[i + j]! - dot);
      }
      return make(y.shape, out);
    },

    depthwiseConv2d(x, filter, o) {
      dims4(x, "input");
      const g = depthwiseGeometry(x.shape, filter.shape, o);
      const { n, h, w, c, kh, kw, oh, ow, pt, pl } = g;
      const xd = x.data;
      const fd = filter.data;
      const out = alloc(n * oh * ow * c);
      const acc = new Float64Array(c);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            acc.fill(0);
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * o.stride - pt + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * o.stride - pl + kx;
                if (ix < 0 || ix >= w) continue;
                const xBase = ((b * h + iy) * w + ix) * c;
                const fBase = (ky * kw + kx) * c;
                for (let k = 0; k < c; k++) acc[k]! += xd[xBase + k]! * fd[fBase + k]!;
              }
            }
            out.set(acc, ((b * oh + oy) * ow + ox) * c);
          }
        }
      }
      return make([n, oh, ow, c], out);
    },
    depthwiseConv2dBackpropInput(dy, filter, o) {
      if (o.inputShape.length !== 4) {
        throw new RangeError(`Expected a rank-4 input shape, got ${fmt(o.inputShape)}`);
      }
      const g = depthwiseGeometry(o.inputShape, filter.shape, o);
      const { n, h, w, c, kh, kw, oh, ow, pt, pl } = g;
      if (!sameShape(dy.shape, [n, oh, ow, c])) {
        throw new RangeError(
          `Gradient ${fmt(dy.shape)} does not match output [${n}, ${oh}, ${ow}, ${c}]`,
        );
      }
      const dd = dy.data;
      const fd = filter.data;
      const dx = new Float64Array(n * h * w * c);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            const dBase = ((b * oh + oy) * ow + ox) * c;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * o.stride - pt + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * o.stride - pl + kx;
                if (ix < 0 || ix >= w) continue;
                const xBase = ((b * h + iy) * w + ix) * c;
                const fBase = (ky * kw + kx) * c;
                for (let k = 0; k < c; k++) dx[xBase + k]! += dd[dBase + k]! * fd[fBase + k]!;
              }
            }
          }
        }
      }
      return fromF64(o.inputShape, dx);
    },
    depthwiseConv2dBackpropFilter(x, dy, o) {
      dims4(x, "input");
      const g = depthwiseGeometry(x.shape, o.filterShape, o);
      const { n, h, w, c, kh, kw, oh, ow, pt, pl } = g;
      if (!sameShape(dy.shape, [n, oh, ow, c])) {
        throw new RangeError(
          `Gradient ${fmt(dy.shape)} does not match output [${n}, ${oh}, ${ow}, ${c}]`,
        );
      }
      const xd = x.data;
      const dd = dy.data;
      const df = new Float64Array(kh * kw * c);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            const dBase = ((b * oh + oy) * ow + ox) * c;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * o.stride - pt + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * o.stride - pl + kx;
                if (ix < 0 || ix >= w) continue;
                const xBase = ((b * h + iy) * w + ix) * c;
                const fBase = (ky * kw + kx) * c;
                for (let k = 0; k < c; k++) df[fBase + k]! += xd[xBase + k]! * dd[dBase + k]!;
              }
            }
          }
        }
      }
      return fromF64(o.filterShape, df);
    },
  };
  return kernels;
}
