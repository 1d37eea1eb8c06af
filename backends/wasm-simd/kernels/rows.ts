/**
 * The wasm-simd kernels of one family. Row-wise L2 normalization and its
 * gradient (assembly/rows.ts).
 *
 * @module
 */

import type { Kernels } from "../../../core/kernels.ts";
import { type KernelContext, sameShape, type WasmTensor } from "./context.ts";

/**
 * The rows kernels on a kernel context.
 *
 * @param ctx The shared context (runtime, allocation, thread policy).
 * @returns The kernels of this family.
 */
export function rowsKernels(
  ctx: KernelContext,
): Pick<Kernels<WasmTensor>, "l2Normalize" | "l2NormalizeBackward"> {
  const { run, make } = ctx;
  return {
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
  };
}
