/**
 * The wasm-simd kernels of one family. 2-D convolution on GEMMs
 * (assembly/gemm.ts, assembly/conv.ts): forward through an indirection buffer
 * or im2col, input gradient through col2im, filter gradient as a GEMM over
 * gathered panels.
 *
 * @module
 */

import type { Conv2dOptions, Kernels } from "../../../core/kernels.ts";
import {
  axis,
  checkStride,
  CONV_MC,
  IM2COL_BUDGET,
  type KernelContext,
  sameShape,
  type WasmTensor,
} from "./context.ts";

/** The GEMM's depth block (assembly/gemm.ts KC). */
const GEMM_KC = 256;
/**
 * Forward convolutions with fewer input channels than this read a window row
 * as one cell (assembly/gemm.ts convForward, mergeRows).
 */
const MERGE_ROWS_BELOW_CHANNELS = 8;
/** Slices of a filter gradient's sum that the threads share out (see filterGradSlice). */
const FILTER_GRAD_SLICES = 16;

/**
 * Output pixels per slice of a filter gradient's sum: about 1/16 of them, a
 * multiple of the GEMM's depth block. It depends on the sizes alone, so the
 * sum, and the result, are the same for every thread count.
 */
function filterGradSlice(pixels: number): number {
  return Math.max(GEMM_KC, Math.ceil(pixels / FILTER_GRAD_SLICES / GEMM_KC) * GEMM_KC);
}

/**
 * The conv kernels on a kernel context.
 *
 * @param ctx The shared context (runtime, allocation, thread policy).
 * @returns The kernels of this family.
 */
export function convKernels(
  ctx: KernelContext,
): Pick<Kernels<WasmTensor>, "conv2d" | "conv2dBackpropInput" | "conv2dBackpropFilter"> {
  const { rt, run, make, gemm } = ctx;
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

  return {
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
      // Few input channels: a window row is one cell of kw * cin channels (mergeRows),
      // when its zero-padded border copies fit the thread's scratch.
      const merge = g.cin < MERGE_ROWS_BELOW_CHANNELS && g.kw > 1 &&
        g.kh * CONV_MC * 4 + 1024 + g.kh * CONV_MC * g.kw * g.cin * 4 <= rt.scratch.stride;
      const panels = Math.ceil(g.cout / 8) * 8;
      const packed = rt.alloc(k * panels * 4);
      const zeros = rt.alloc(g.kw * g.cin * 4);
      try {
        rt.f32(zeros, g.kw * g.cin).fill(0);
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
          merge ? 1 : 0,
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
            0,
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
      // A GEMM whose column panels are gathered from x (no im2col buffer), its
      // sum over output pixels cut into slices that depend on the sizes only.
      const pixels = g.n * g.oh * g.ow;
      const sliceK = filterGradSlice(pixels);
      const slices = Math.ceil(pixels / sliceK);
      const partial = slices === 1 ? dw.ptr : rt.alloc(slices * k * g.cout * 4);
      const { base, stride } = rt.scratch;
      try {
        run("convFilterGrad", [
          x.ptr,
          dy.ptr,
          partial,
          ...colArgs(g, g.n),
          g.cout,
          sliceK,
          base,
          stride,
        ], dy.size * k / 16);
        if (slices > 1) {
          run("sumSlices", [partial, slices, k * g.cout, dw.ptr], slices * k * g.cout);
        }
      } finally {
        if (slices > 1) rt.free(partial);
      }
      return dw;
    },
  };
}
