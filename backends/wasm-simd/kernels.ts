/**
 * The core's {@link Kernels} contract on the wasm-simd runtime: tensors live
 * in the shared WebAssembly memory, the heavy kernels (GEMM-based
 * convolutions and matrix products, batch norm, pooling, elementwise, row
 * normalization) are f32x4 SIMD AssemblyScript spread over the thread pool;
 * concat/split/reshape are plain memory copies.
 *
 * Accuracy: GEMMs accumulate in float32 (per element a K-term sum, relative
 * error about K * 6e-8 of the sum of |terms|); channel statistics and
 * reductions accumulate in float64 like the pure kernels.
 *
 * @module
 */

import type {
  BatchNormGradients,
  BatchNormTrainOutput,
  Conv2dOptions,
  Kernels,
  PoolOptions,
} from "../../core/kernels.ts";
import type { Padding } from "../../core/model_spec.ts";
import type { Tensor } from "../../core/types.ts";
import type { PoolKernel, WasmSimdRuntime } from "./runtime.ts";
import { createPureKernels, type PureTensor } from "../../core/pure/kernels.ts";
import { windowGeometry } from "../../core/pure/_window.ts";

/**
 * A tensor handle of the wasm-simd kernels: an address in the shared memory and a shape.
 *
 * @category Backends
 */
export interface WasmTensor {
  /** Byte address of the float32 values. */
  readonly ptr: number;
  /** The shape. */
  readonly shape: readonly number[];
  /** Number of values. */
  readonly size: number;
}

/**
 * Options of {@linkcode createWasmSimdKernels}.
 *
 * @category Backends
 */
export interface WasmSimdKernelsOptions {
  /**
   * Work (elements; multiply-adds / 16 for GEMMs) below which a kernel runs on
   * the calling thread only; default 32768. Tests set 0 to exercise the pool.
   */
  readonly parallelThreshold?: number;
}
/** Output pixels per indirection block of convForward (assembly/gemm.ts CONV_MC). */
const CONV_MC = 120;
/** Byte budget of one im2col buffer; larger batches are processed in image chunks. */
const IM2COL_BUDGET = 64 * 1024 * 1024;

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function axis(
  size: number,
  window: number,
  stride: number,
  padding: Padding,
): { out: number; pad: number } {
  const g = windowGeometry(size, window, stride, padding);
  return { out: g.out, pad: g.padBefore };
}

function checkStride(stride: number): void {
  if (!Number.isInteger(stride) || stride < 1) {
    throw new RangeError(`Stride must be a positive integer, got ${stride}`);
  }
}

/**
 * Creates the wasm-simd kernels on a runtime.
 *
 * @param rt The runtime (memory, kernels, thread pool); it stays owned by the caller.
 * @param options The parallelization threshold.
 * @returns A {@link Kernels} implementation over {@link WasmTensor} handles.
 * @example
 * ```ts
 * import { createWasmSimdKernels } from "@facenet-deno/facenet/wasm-simd";
 * import { createWasmSimdRuntime } from "@facenet-deno/facenet/wasm-simd";
 * import assert from "node:assert/strict";
 * const rt = await createWasmSimdRuntime({ threads: 1 });
 * const k = createWasmSimdKernels(rt);
 * const x = k.upload({ shape: [1, 2], data: new Float32Array([-1, 2]) });
 * const y = k.relu(x);
 * assert.deepEqual(Array.from(k.download(y).data), [0, 2]);
 * k.dispose(x);
 * k.dispose(y);
 * rt.dispose();
 * ```
 *
 * @category Backends
 */
export function createWasmSimdKernels(
  rt: WasmSimdRuntime,
  options: WasmSimdKernelsOptions = {},
): Kernels<WasmTensor> {
  const threshold = options.parallelThreshold ?? 32768;
  if (!(threshold >= 0)) {
    throw new RangeError(`Parallel threshold must be >= 0, got ${threshold}`);
  }
  const threadsFor = (work: number) => (work < threshold ? 1 : rt.threads);
  const run = (name: PoolKernel, args: readonly number[], work: number) =>
    rt.run(name, args, { threads: threadsFor(work) });

  const make = (shape: readonly number[]): WasmTensor => {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) {
        throw new RangeError(`Shape [${shape.join(", ")}] has an invalid dimension ${d}`);
      }
    }
    const size = product(shape);
    return { ptr: rt.alloc(size * 4), shape: [...shape], size };
  };
  const release = (t: WasmTensor) => rt.free(t.ptr);
  const view = (t: WasmTensor) => rt.f32(t.ptr, t.size);
  const vector = (values: ArrayLike<number>): WasmTensor => {
    const t = make([values.length]);
    view(t).set(values);
    return t;
  };
  /** A float64 vector in the shared memory; returns its address (free with rt.free). */
  const vector64 = (values: ArrayLike<number>): number => {
    const ptr = rt.alloc(values.length * 8);
    new Float64Array(rt.memory.buffer, ptr, values.length).set(values);
    return ptr;
  };
  const need4d = (x: WasmTensor, what: string) => {
    if (x.shape.length !== 4) {
      throw new RangeError(`${what} must be 4-D [n, h, w, c], got [${x.shape.join(", ")}]`);
    }
    return x.shape as readonly [number, number, number, number];
  };
  const channels = (x: WasmTensor) => {
    const c = x.shape[x.shape.length - 1] ?? 1;
    return { c, rows: c === 0 ? 0 : x.size / c };
  };
  const checkVector = (v: WasmTensor, c: number, what: string) => {
    if (v.shape.length !== 1 || v.shape[0] !== c) {
      throw new RangeError(`${what} must have shape [${c}], got [${v.shape.join(", ")}]`);
    }
  };

  /** Per-channel f64 sums (see channelSums in assembly/elementwise.ts). */
  const channelSums = (
    a: WasmTensor,
    b: WasmTensor | null,
    center: WasmTensor | null,
    mode: 0 | 1 | 2,
  ): { s1: Float64Array; s2: Float64Array } => {
    const { c, rows } = channels(a);
    const nt = Math.min(threadsFor(a.size), Math.max(1, rows));
    const partial = rt.alloc(nt * c * 16);
    try {
      rt.run("channelSums", [a.ptr, b?.ptr ?? 0, center?.ptr ?? 0, rows, c, partial, mode], {
        threads: nt,
      });
      const all = new Float64Array(rt.memory.buffer, partial, nt * 2 * c);
      const s1 = new Float64Array(c);
      const s2 = new Float64Array(c);
      for (let t = 0; t < nt; t++) {
        for (let j = 0; j < c; j++) {
          s1[j]! += all[t * 2 * c + j]!;
          s2[j]! += all[t * 2 * c + c + j]!;
        }
      }
      return { s1, s2 };
    } finally {
      rt.free(partial);
    }
  };

  /**
   * Centered per-channel affine maps in float64, rounded once (see
   * channelAffine in assembly/elementwise.ts): `(x - m) * p + q`, or with
   * `y`, `x * p + (y - m) * q + r`.
   */
  const affine = (
    x: WasmTensor,
    y: WasmTensor | null,
    m: ArrayLike<number>,
    p: ArrayLike<number>,
    q: ArrayLike<number>,
    r: ArrayLike<number> | null,
  ): WasmTensor => {
    const { c, rows } = channels(x);
    const out = make(x.shape);
    const mv = vector(m);
    const pv = vector64(p);
    const qv = vector64(q);
    const rv = r === null ? null : vector64(r);
    try {
      run("channelAffine", [
        x.ptr,
        y?.ptr ?? 0,
        out.ptr,
        rows,
        c,
        pv,
        qv,
        rv ?? 0,
        mv.ptr,
      ], x.size);
    } finally {
      release(mv);
      rt.free(pv);
      rt.free(qv);
      if (rv !== null) rt.free(rv);
    }
    return out;
  };

  const elementwise2 = (name: PoolKernel, a: WasmTensor, b: WasmTensor, what: string) => {
    if (!sameShape(a.shape, b.shape)) {
      throw new RangeError(
        `${what} needs equal shapes, got [${a.shape.join(", ")}] and [${b.shape.join(", ")}]`,
      );
    }
    const out = make(a.shape);
    run(name, [a.ptr, b.ptr, out.ptr, a.size], a.size);
    return out;
  };

  /** y [rows, cout] (+)= op(a) . op(b), the GEMM on handles' addresses. */
  const gemm = (
    m: number,
    n: number,
    k: number,
    a: number,
    b: number,
    c: number,
    options: { transA?: boolean; transB?: boolean; accumulate?: boolean },
  ) => rt.gemm({ m, n, k, a, b, c }, { ...options, threads: threadsFor(m * n * k / 16) });

  interface ConvGeometry {
    n: number;
    h: number;
    w: number;
    cin: number;
    kh: number;
    kw: number;
    cout: number;
    stride: number;
    oh: number;
    ow: number;
    padTop: number;
    padLeft: number;
    direct: boolean;
  }
  const convGeometry = (
    xShape: readonly number[],
    fShape: readonly number[],
    options: Conv2dOptions,
  ): ConvGeometry => {
    checkStride(options.stride);
    if (xShape.length !== 4 || fShape.length !== 4) {
      throw new RangeError(
        `conv2d needs a 4-D input and filter, got [${xShape.join(", ")}] and [${
          fShape.join(", ")
        }]`,
      );
    }
    const [n, h, w, cin] = xShape as [number, number, number, number];
    const [kh, kw, fin, cout] = fShape as [number, number, number, number];
    if (fin !== cin) {
      throw new RangeError(`Filter input channels ${fin} do not match input channels ${cin}`);
    }
    const ay = axis(h, kh, options.stride, options.padding);
    const ax = axis(w, kw, options.stride, options.padding);
    if (ay.out < 1 || ax.out < 1) {
      throw new RangeError(`The ${kh}x${kw} window does not fit the ${h}x${w} input`);
    }
    const direct = kh === 1 && kw === 1 && options.stride === 1 && ay.pad === 0 && ax.pad === 0;
    return {
      n,
      h,
      w,
      cin,
      kh,
      kw,
      cout,
      stride: options.stride,
      oh: ay.out,
      ow: ax.out,
      padTop: ay.pad,
      padLeft: ax.pad,
      direct,
    };
  };
  /** Image chunks whose im2col buffer fits the budget. */
  const chunks = (g: ConvGeometry): { start: number; count: number }[] => {
    const perImage = g.oh * g.ow * g.kh * g.kw * g.cin * 4;
    const size = Math.max(1, Math.floor(IM2COL_BUDGET / Math.max(1, perImage)));
    const out: { start: number; count: number }[] = [];
    for (let start = 0; start < g.n; start += size) {
      out.push({ start, count: Math.min(size, g.n - start) });
    }
    return out;
  };
  const colArgs = (g: ConvGeometry, count: number) => [
    count,
    g.h,
    g.w,
    g.cin,
    g.kh,
    g.kw,
    g.stride,
    g.padTop,
    g.padLeft,
    g.oh,
    g.ow,
  ];

  const poolGeometry = (x: readonly number[], options: PoolOptions) => {
    checkStride(options.stride);
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new RangeError(`Pool size must be a positive integer, got ${options.size}`);
    }
    if (x.length !== 4) throw new RangeError(`Pooling needs a 4-D input, got [${x.join(", ")}]`);
    const [n, h, w, c] = x as [number, number, number, number];
    const ay = axis(h, options.size, options.stride, options.padding);
    const ax = axis(w, options.size, options.stride, options.padding);
    if (ay.out < 1 || ax.out < 1) {
      throw new RangeError(`The ${options.size} pool window does not fit the ${h}x${w} input`);
    }
    return { n, h, w, c, oh: ay.out, ow: ax.out, padTop: ay.pad, padLeft: ax.pad };
  };
  const poolForward = (x: WasmTensor, options: PoolOptions, mode: 0 | 1) => {
    const g = poolGeometry(x.shape, options);
    const out = make([g.n, g.oh, g.ow, g.c]);
    run("pool", [
      x.ptr,
      out.ptr,
      g.n,
      g.h,
      g.w,
      g.c,
      options.size,
      options.stride,
      g.padTop,
      g.padLeft,
      g.oh,
      g.ow,
      mode,
    ], x.size);
    return out;
  };
  const poolBackward = (
    dy: WasmTensor,
    x: WasmTensor | null,
    inputShape: readonly number[],
    options: PoolOptions,
    mode: 0 | 1,
  ) => {
    const g = poolGeometry(inputShape, options);
    if (!sameShape(dy.shape, [g.n, g.oh, g.ow, g.c])) {
      throw new RangeError(
        `Pool gradient has shape [${dy.shape.join(", ")}], expected [${
          [g.n, g.oh, g.ow, g.c].join(", ")
        }]`,
      );
    }
    const dx = make(inputShape);
    run("poolBackward", [
      dy.ptr,
      x?.ptr ?? 0,
      dx.ptr,
      g.n,
      g.h,
      g.w,
      g.c,
      options.size,
      options.stride,
      g.padTop,
      g.padLeft,
      g.oh,
      g.ow,
      mode,
    ], dx.size);
    return dx;
  };

  const normalizeCoefficients = (
    gamma: WasmTensor | null,
    beta: WasmTensor,
    variance: ArrayLike<number>,
    epsilon: number,
  ) => {
    const c = beta.size;
    const g = gamma === null ? null : view(gamma);
    const b = view(beta);
    const p = new Float64Array(c);
    for (let j = 0; j < c; j++) {
      p[j] = (g === null ? 1 : g[j]!) / Math.sqrt(variance[j]! + epsilon);
    }
    // y = (x - mean) * p + beta: centered, so a large mean does not cancel.
    return { p, q: Float64Array.from(b) };
  };

  /** Geometry of a depthwise convolution, with the kernel's trailing arguments. */
  const depthwiseGeometry = (
    xShape: readonly number[],
    fShape: readonly number[],
    options: Conv2dOptions,
  ) => {
    checkStride(options.stride);
    if (xShape.length !== 4 || fShape.length !== 4 || fShape[3] !== 1) {
      throw new RangeError(
        `depthwiseConv2d needs a 4-D input and a [kh, kw, c, 1] filter, got [${
          xShape.join(", ")
        }] and [${fShape.join(", ")}]`,
      );
    }
    const [n, h, w, c] = xShape as [number, number, number, number];
    const [kh, kw, fc] = fShape as [number, number, number, number];
    if (fc !== c) {
      throw new RangeError(`Filter channels ${fc} do not match input channels ${c}`);
    }
    const ay = axis(h, kh, options.stride, options.padding);
    const ax = axis(w, kw, options.stride, options.padding);
    if (ay.out < 1 || ax.out < 1) {
      throw new RangeError(`The ${kh}x${kw} window does not fit the ${h}x${w} input`);
    }
    const args = [n, h, w, c, kh, kw, options.stride, ay.pad, ax.pad, ay.out, ax.out];
    return { n, h, w, c, kh, kw, oh: ay.out, ow: ax.out, args };
  };
  const checkShape = (t: WasmTensor, shape: readonly number[], what: string) => {
    if (!sameShape(t.shape, shape)) {
      throw new RangeError(
        `${what} has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`,
      );
    }
  };

  // The pure specification kernels, for softmax (no SIMD kernel; see below).
  const pureKernels = createPureKernels();
  const toPure = (x: WasmTensor): PureTensor =>
    pureKernels.upload({ shape: x.shape, data: rt.read(x.ptr, x.size) });
  const fromPure = (y: PureTensor): WasmTensor => {
    const out = make(y.shape);
    view(out).set(y.data);
    return out;
  };

  return {
    name: `wasm-simd${rt.relaxed ? " relaxed-simd" : ""} x${rt.threads}`,

    upload(tensor: Tensor): WasmTensor {
      if (product(tensor.shape) !== tensor.data.length) {
        throw new RangeError(
          `Tensor shape [${tensor.shape.join(", ")}] does not match ${tensor.data.length} values`,
        );
      }
      const t = make(tensor.shape);
      view(t).set(tensor.data);
      return t;
    },
    download(x) {
      return { shape: [...x.shape], data: rt.read(x.ptr, x.size) };
    },
    shape(x) {
      return x.shape;
    },
    dispose(x) {
      release(x);
    },
    reshape(x, shape) {
      if (product(shape) !== x.size) {
        throw new RangeError(
          `Cannot reshape [${x.shape.join(", ")}] to [${shape.join(", ")}]: sizes differ`,
        );
      }
      const out = make(shape);
      view(out).set(view(x));
      return out;
    },

    add(a, b, scale) {
      if (!sameShape(a.shape, b.shape)) {
        throw new RangeError(
          `add needs equal shapes, got [${a.shape.join(", ")}] and [${b.shape.join(", ")}]`,
        );
      }
      const out = make(a.shape);
      run("addScaled", [a.ptr, b.ptr, out.ptr, a.size, scale], a.size);
      return out;
    },
    scale(x, scale) {
      const out = make(x.shape);
      run("scaleArray", [x.ptr, out.ptr, x.size, scale], x.size);
      return out;
    },
    multiply(a, b) {
      return elementwise2("multiplyArrays", a, b, "multiply");
    },
    relu(x) {
      const out = make(x.shape);
      run("relu", [x.ptr, out.ptr, x.size], x.size);
      return out;
    },
    reluBackward(dy, y) {
      return elementwise2("reluBackward", dy, y, "reluBackward");
    },

    conv2d(x, filter, options) {
      const g = convGeometry(x.shape, filter.shape, options);
      const y = make([g.n, g.oh, g.ow, g.cout]);
      const k = g.kh * g.kw * g.cin;
      if (g.direct) {
        gemm(g.n * g.h * g.w, g.cout, g.cin, x.ptr, filter.ptr, y.ptr, {});
        return y;
      }
      if (g.kh * g.kw * CONV_MC * 4 + 1024 > rt.scratch.stride) {
        // Windows too large for the indirection buffer: im2col + GEMM in image chunks.
        for (const { start, count } of chunks(g)) {
          const pixels = count * g.oh * g.ow;
          const cols = rt.alloc(pixels * k * 4);
          try {
            const xp = x.ptr + start * g.h * g.w * g.cin * 4;
            run("im2col", [xp, cols, ...colArgs(g, count)], pixels * k);
            const yp = y.ptr + start * g.oh * g.ow * g.cout * 4;
            gemm(pixels, g.cout, k, cols, filter.ptr, yp, {});
          } finally {
            rt.free(cols);
          }
        }
        return y;
      }
      // Indirect convolution: the packed filter and per-tile input-row pointers, no im2col.
      const panels = Math.ceil(g.cout / 8) * 8;
      const packed = rt.alloc(k * panels * 4);
      const zeros = rt.alloc(g.cin * 4);
      try {
        rt.f32(zeros, g.cin).fill(0);
        run("packPanels", [filter.ptr, k, g.cout, packed], k * panels);
        const { base, stride } = rt.scratch;
        run("convForward", [
          x.ptr,
          packed,
          y.ptr,
          zeros,
          ...colArgs(g, g.n),
          g.cout,
          base,
          stride,
          0,
        ], y.size * k / 16);
      } finally {
        rt.free(packed);
        rt.free(zeros);
      }
      return y;
    },
    conv2dBackpropInput(dy, filter, options) {
      const g = convGeometry(options.inputShape, filter.shape, options);
      if (!sameShape(dy.shape, [g.n, g.oh, g.ow, g.cout])) {
        throw new RangeError(`conv2d gradient has shape [${dy.shape.join(", ")}]`);
      }
      const dx = make(options.inputShape);
      const k = g.kh * g.kw * g.cin;
      if (g.direct) {
        gemm(g.n * g.h * g.w, g.cin, g.cout, dy.ptr, filter.ptr, dx.ptr, { transB: true });
        return dx;
      }
      if (g.stride === 1 && g.kh * g.kw * CONV_MC * 4 + 1024 <= rt.scratch.stride) {
        // Stride 1: the input gradient is an indirect convolution of dy with
        // the transposed filter (no column buffer, no col2im).
        const taps = g.kh * g.kw;
        const panels = Math.ceil(g.cin / 8) * 8;
        const packed = rt.alloc(taps * g.cout * panels * 4);
        const zeros = rt.alloc(g.cout * 4);
        try {
          rt.f32(zeros, g.cout).fill(0);
          run(
            "packPanelsTransposed",
            [filter.ptr, taps, g.cin, g.cout, packed],
            taps * g.cout * panels,
          );
          const { base, stride } = rt.scratch;
          run("convForward", [
            dy.ptr,
            packed,
            dx.ptr,
            zeros,
            g.n,
            g.oh,
            g.ow,
            g.cout,
            g.kh,
            g.kw,
            1,
            g.padTop,
            g.padLeft,
            g.h,
            g.w,
            g.cin,
            base,
            stride,
            1,
          ], dx.size * taps * g.cout / 16);
        } finally {
          rt.free(packed);
          rt.free(zeros);
        }
        return dx;
      }
      for (const { start, count } of chunks(g)) {
        const pixels = count * g.oh * g.ow;
        const cols = rt.alloc(pixels * k * 4);
        try {
          const dyp = dy.ptr + start * g.oh * g.ow * g.cout * 4;
          gemm(pixels, k, g.cout, dyp, filter.ptr, cols, { transB: true });
          const dxp = dx.ptr + start * g.h * g.w * g.cin * 4;
          run("col2im", [cols, dxp, ...colArgs(g, count)], pixels * k);
        } finally {
          rt.free(cols);
        }
      }
      return dx;
    },
    conv2dBackpropFilter(x, dy, options) {
      const g = convGeometry(x.shape, options.filterShape, options);
      if (!sameShape(dy.shape, [g.n, g.oh, g.ow, g.cout])) {
        throw new RangeError(`conv2d gradient has shape [${dy.shape.join(", ")}]`);
      }
      const dw = make(options.filterShape);
      const k = g.kh * g.kw * g.cin;
      if (g.direct) {
        gemm(g.cin, g.cout, g.n * g.h * g.w, x.ptr, dy.ptr, dw.ptr, { transA: true });
        return dw;
      }
      // A GEMM whose column panels are gathered from x (no im2col buffer).
      const { base, stride } = rt.scratch;
      run("convFilterGrad", [
        x.ptr,
        dy.ptr,
        dw.ptr,
        ...colArgs(g, g.n),
        g.cout,
        base,
        stride,
      ], dy.size * k / 16);
      return dw;
    },
    biasAdd(x, bias) {
      const { c } = channels(x);
      checkVector(bias, c, "Bias");
      return affine(
        x,
        null,
        new Float32Array(c),
        new Float32Array(c).fill(1),
        view(bias).slice(),
        null,
      );
    },
    sumToChannels(dy) {
      const { c } = channels(dy);
      const { s1 } = channelSums(dy, null, null, 0);
      return vector(Float32Array.from(s1).subarray(0, c));
    },

    batchNormTrain(x, gamma, beta, epsilon): BatchNormTrainOutput<WasmTensor> {
      const { c, rows } = channels(x);
      checkVector(beta, c, "Beta");
      if (gamma !== null) checkVector(gamma, c, "Gamma");
      if (rows === 0) throw new RangeError("Batch normalization needs at least one row");
      const first = channelSums(x, null, null, 0);
      const mean64 = first.s1.map((s) => s / rows);
      const mean = vector(Float32Array.from(mean64));
      const meanF32 = view(mean).slice();
      const second = channelSums(x, null, mean, 2);
      const var64 = second.s2.map((s, j) =>
        Math.max(0, s / rows - (mean64[j]! - meanF32[j]!) ** 2)
      );
      const variance = vector(Float32Array.from(var64));
      const { p, q } = normalizeCoefficients(gamma, beta, var64, epsilon);
      // Center on the float32 mean and move its rounding into the shift.
      for (let j = 0; j < c; j++) q[j] = q[j]! - (mean64[j]! - meanF32[j]!) * p[j]!;
      const y = affine(x, null, meanF32, p, q, null);
      return { y, mean, variance };
    },
    batchNormInference(x, gamma, beta, stats) {
      const { c } = channels(x);
      checkVector(beta, c, "Beta");
      checkVector(stats.mean, c, "Mean");
      checkVector(stats.variance, c, "Variance");
      if (gamma !== null) checkVector(gamma, c, "Gamma");
      const mean = view(stats.mean).slice();
      const { p, q } = normalizeCoefficients(gamma, beta, view(stats.variance), stats.epsilon);
      return affine(x, null, mean, p, q, null);
    },
    batchNormTrainBackward(dy, x, gamma, stats): BatchNormGradients<WasmTensor> {
      const { c, rows } = channels(x);
      if (!sameShape(dy.shape, x.shape)) {
        throw new RangeError(`Batch-norm gradient has shape [${dy.shape.join(", ")}]`);
      }
      checkVector(stats.mean, c, "Mean");
      checkVector(stats.variance, c, "Variance");
      if (gamma !== null) checkVector(gamma, c, "Gamma");
      const { s1: sumDy, s2: sumDyXmu } = channelSums(dy, x, stats.mean, 1);
      const mean = view(stats.mean).slice();
      const variance = view(stats.variance).slice();
      const g = gamma === null ? null : view(gamma).slice();
      const p = new Float64Array(c);
      const q = new Float64Array(c);
      const r = new Float64Array(c);
      const dGamma = new Float64Array(c);
      for (let j = 0; j < c; j++) {
        const inv = 1 / Math.sqrt(variance[j]! + stats.epsilon);
        const gj = g === null ? 1 : g[j]!;
        const sumDyXhat = sumDyXmu[j]! * inv;
        dGamma[j] = sumDyXhat;
        p[j] = gj * inv;
        q[j] = -gj * inv * inv * sumDyXhat / rows;
        r[j] = -gj * inv * sumDy[j]! / rows;
      }
      // dx = dy * p + (x - mean) * q + r, centered like the forward pass.
      const dx = affine(dy, x, mean, p, q, r);
      return {
        dx,
        dGamma: gamma === null ? null : vector(Float32Array.from(dGamma)),
        dBeta: vector(Float32Array.from(sumDy)),
      };
    },

    maxPool(x, options) {
      return poolForward(x, options, 0);
    },
    maxPoolBackward(dy, x, options) {
      return poolBackward(dy, x, x.shape, options, 0);
    },
    avgPool(x, options) {
      return poolForward(x, options, 1);
    },
    avgPoolBackward(dy, options) {
      return poolBackward(dy, null, options.inputShape, options, 1);
    },
    globalAvgPool(x) {
      const [n, h, w, c] = need4d(x, "globalAvgPool input");
      const out = make([n, c]);
      run("globalAvgPool", [x.ptr, out.ptr, n, h * w, c], x.size);
      return out;
    },
    globalAvgPoolBackward(dy, inputShape) {
      if (inputShape.length !== 4) {
        throw new RangeError(
          `globalAvgPool input shape must be 4-D, got [${inputShape.join(", ")}]`,
        );
      }
      const [n, h, w, c] = inputShape as [number, number, number, number];
      if (!sameShape(dy.shape, [n, c])) {
        throw new RangeError(`globalAvgPool gradient has shape [${dy.shape.join(", ")}]`);
      }
      const dx = make(inputShape);
      run("globalAvgPoolBackward", [dy.ptr, dx.ptr, n, h * w, c], dx.size);
      return dx;
    },

    concat(xs) {
      const first = xs[0];
      if (first === undefined) throw new RangeError("concat needs at least one input");
      const lead = first.shape.slice(0, -1);
      const widths = xs.map((x) => {
        if (!sameShape(x.shape.slice(0, -1), lead)) {
          throw new RangeError(
            `concat inputs disagree: [${x.shape.join(", ")}] vs [${first.shape.join(", ")}]`,
          );
        }
        return x.shape[x.shape.length - 1]!;
      });
      const total = widths.reduce((s, w) => s + w, 0);
      const rows = product(lead);
      const out = make([...lead, total]);
      const dst = view(out);
      let offset = 0;
      xs.forEach((x, i) => {
        const w = widths[i]!;
        const src = view(x);
        for (let r = 0; r < rows; r++) {
          dst.set(src.subarray(r * w, r * w + w), r * total + offset);
        }
        offset += w;
      });
      return out;
    },
    split(x, sizes) {
      const total = x.shape[x.shape.length - 1]!;
      if (sizes.reduce((s, w) => s + w, 0) !== total) {
        throw new RangeError(`Split sizes [${sizes.join(", ")}] do not sum to ${total}`);
      }
      const lead = x.shape.slice(0, -1);
      const rows = product(lead);
      const src = view(x);
      let offset = 0;
      return sizes.map((w) => {
        const out = make([...lead, w]);
        const dst = view(out);
        for (let r = 0; r < rows; r++) {
          dst.set(src.subarray(r * total + offset, r * total + offset + w), r * w);
        }
        offset += w;
        return out;
      });
    },

    matMul(a, b, options = {}) {
      if (a.shape.length !== 2 || b.shape.length !== 2) {
        throw new RangeError(
          `matMul needs 2-D inputs, got [${a.shape.join(", ")}] and [${b.shape.join(", ")}]`,
        );
      }
      const transA = options.transposeA ?? false;
      const transB = options.transposeB ?? false;
      const [a0, a1] = a.shape as [number, number];
      const [b0, b1] = b.shape as [number, number];
      const m = transA ? a1 : a0;
      const k = transA ? a0 : a1;
      const kb = transB ? b1 : b0;
      const n = transB ? b0 : b1;
      if (k !== kb) {
        throw new RangeError(`matMul inner dimensions differ: ${k} and ${kb}`);
      }
      const out = make([m, n]);
      gemm(m, n, k, a.ptr, b.ptr, out.ptr, { transA, transB });
      return out;
    },

    l2Normalize(x, epsilon) {
      if (x.shape.length !== 2) {
        throw new RangeError(`l2Normalize needs [n, d], got [${x.shape.join(", ")}]`);
      }
      const [rows, d] = x.shape as [number, number];
      const out = make(x.shape);
      run("l2Normalize", [x.ptr, out.ptr, rows, d, epsilon], x.size);
      return out;
    },
    l2NormalizeBackward(dy, x, epsilon) {
      if (x.shape.length !== 2 || !sameShape(dy.shape, x.shape)) {
        throw new RangeError(
          `l2NormalizeBackward needs equal [n, d] shapes, got [${dy.shape.join(", ")}] and [${
            x.shape.join(", ")
          }]`,
        );
      }
      const [rows, d] = x.shape as [number, number];
      const dx = make(x.shape);
      run("l2NormalizeBackward", [dy.ptr, x.ptr, dx.ptr, rows, d, epsilon], x.size);
      return dx;
    },

    prelu(x, alpha) {
      const { c, rows } = channels(x);
      checkVector(alpha, c, "Alpha");
      const out = make(x.shape);
      run("prelu", [x.ptr, alpha.ptr, out.ptr, rows, c], x.size);
      return out;
    },
    preluBackward(dy, x, alpha) {
      if (!sameShape(dy.shape, x.shape)) {
        throw new RangeError(
          `preluBackward needs equal shapes, got [${dy.shape.join(", ")}] and [${
            x.shape.join(", ")
          }]`,
        );
      }
      const { c, rows } = channels(x);
      checkVector(alpha, c, "Alpha");
      const dx = make(x.shape);
      const t = make(x.shape);
      try {
        run("preluBackward", [dy.ptr, x.ptr, alpha.ptr, dx.ptr, t.ptr, rows, c], x.size);
        const { s1 } = channelSums(t, null, null, 0);
        return { dx, dAlpha: vector(Float32Array.from(s1).subarray(0, c)) };
      } finally {
        release(t);
      }
    },
    depthwiseConv2d(x, filter, options) {
      const g = depthwiseGeometry(x.shape, filter.shape, options);
      const y = make([g.n, g.oh, g.ow, g.c]);
      run("depthwiseForward", [x.ptr, filter.ptr, y.ptr, ...g.args], y.size * g.kh * g.kw / 4);
      return y;
    },
    depthwiseConv2dBackpropInput(dy, filter, options) {
      const g = depthwiseGeometry(options.inputShape, filter.shape, options);
      checkShape(dy, [g.n, g.oh, g.ow, g.c], "Output gradient");
      const dx = make(options.inputShape);
      run(
        "depthwiseBackpropInput",
        [dy.ptr, filter.ptr, dx.ptr, ...g.args],
        dx.size * g.kh * g.kw / 4,
      );
      return dx;
    },
    depthwiseConv2dBackpropFilter(x, dy, options) {
      const g = depthwiseGeometry(x.shape, options.filterShape, options);
      checkShape(dy, [g.n, g.oh, g.ow, g.c], "Output gradient");
      const df = make(options.filterShape);
      const nt = Math.min(threadsFor(dy.size * g.kh * g.kw / 4), g.kh * g.kw);
      const scratch = rt.alloc(nt * g.c * 8);
      try {
        rt.run("depthwiseBackpropFilter", [x.ptr, dy.ptr, df.ptr, ...g.args, scratch], {
          threads: nt,
        });
      } finally {
        rt.free(scratch);
      }
      return df;
    },

    // --- PURE FALLBACK, NOT SIMD: softmax copies its operands out of the
    // wasm memory, runs the pure specification kernel (core/pure/kernels.ts)
    // and copies the result back. Correct and tested by the conformance
    // suite, but no faster than the pure backend (MTCNN's softmax is over 2
    // classes, a negligible cost).
    softmax(x) {
      return fromPure(pureKernels.softmax(toPure(x)));
    },
    softmaxBackward(dy, y) {
      return fromPure(pureKernels.softmaxBackward(toPure(dy), toPure(y)));
    },
  };
}
