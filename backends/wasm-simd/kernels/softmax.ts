/**
 * The wasm-simd kernels of one family. Softmax over the last axis and its
 * gradient (assembly/rows.ts): scalar per row, exponentials and sums in f64
 * as the pure kernels compute them (MTCNN's softmax is over 2 classes; there
 * is nothing for SIMD lanes to share).
 *
 * @module
 */

import type { Kernels } from "../../../core/kernels.ts";
import { type KernelContext, sameShape, type WasmTensor } from "./context.ts";

/**
 * The softmax kernels on a kernel context.
 *
 * @param ctx The shared context (runtime, allocation, thread policy).
 * @returns The kernels of this family.
 */
export function softmaxKernels(
  ctx: KernelContext,
): Pick<Kernels<WasmTensor>, "softmax" | "softmaxBackward"> {
  const { run, make, channels } = ctx;
  return {
    softmax(x) {
      const { c, rows } = channels(x);
      const out = make(x.shape);
      run("softmaxRows", [x.ptr, out.ptr, rows, c], x.size * 8);
      return out;
    },
    softmaxBackward(dy, y) {
      if (!sameShape(dy.shape, y.shape)) {
        throw new RangeError(
          `softmaxBackward needs equal shapes, got [${dy.shape.join(", ")}] and [${
            y.shape.join(", ")
          }]`,
        );
      }
      const { c, rows } = channels(y);
      const out = make(y.shape);
      run("softmaxRowsBackward", [dy.ptr, y.ptr, out.ptr, rows, c], y.size);
      return out;
    },
  };
}
