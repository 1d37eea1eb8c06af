/**
 * The wasm-simd kernels of one family. Per-channel kernels of MTCNN and
 * MobileFaceNet (assembly/depthwise.ts): parametric relu and depthwise
 * convolution.
 *
 * @module
 */

import type { Conv2dOptions, Kernels } from "../../../core/kernels.ts";
import { axis, checkStride, type KernelContext, sameShape, type WasmTensor } from "./context.ts";

/**
 * The depthwise kernels on a kernel context.
 *
 * @param ctx The shared context (runtime, allocation, thread policy).
 * @returns The kernels of this family.
 */
export function depthwiseKernels(
  ctx: KernelContext,
): Pick<
  Kernels<WasmTensor>,
  | "prelu"
  | "preluBackward"
  | "depthwiseConv2d"
  | "depthwiseConv2dBackpropInput"
  | "depthwiseConv2dBackpropFilter"
> {
  const {
    rt,
    threadsFor,
    run,
    make,
    release,
    vector,
    channels,
    checkVector,
    channelSums,
    checkShape,
  } = ctx;
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

  return {
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
  };
}
