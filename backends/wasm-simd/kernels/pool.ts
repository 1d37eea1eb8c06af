/**
 * The wasm-simd kernels of one family. Max, average and global average pooling
 * with TensorFlow semantics (assembly/pool.ts).
 *
 * @module
 */

import type { Kernels, PoolOptions } from "../../../core/kernels.ts";
import { axis, checkStride, type KernelContext, sameShape, type WasmTensor } from "./context.ts";

/**
 * The pool kernels on a kernel context.
 *
 * @param ctx The shared context (runtime, allocation, thread policy).
 * @returns The kernels of this family.
 */
export function poolKernels(
  ctx: KernelContext,
): Pick<
  Kernels<WasmTensor>,
  | "maxPool"
  | "maxPoolBackward"
  | "avgPool"
  | "avgPoolBackward"
  | "globalAvgPool"
  | "globalAvgPoolBackward"
> {
  const { run, make, need4d } = ctx;
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
  /** The window arguments both pool entry points take after their pointers. */
  const windowArgs = (g: ReturnType<typeof poolGeometry>, options: PoolOptions, mode: 0 | 1) => [
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
  ];
  const poolForward = (x: WasmTensor, options: PoolOptions, mode: 0 | 1) => {
    const g = poolGeometry(x.shape, options);
    const out = make([g.n, g.oh, g.ow, g.c]);
    run("pool", [x.ptr, out.ptr, ...windowArgs(g, options, mode)], x.size);
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
    run("poolBackward", [dy.ptr, x?.ptr ?? 0, dx.ptr, ...windowArgs(g, options, mode)], dx.size);
    return dx;
  };

  return {
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
  };
}
