/**
 * The wasm-simd kernels of one family. Matrix products of 2-D tensors on the
 * GEMM (assembly/gemm.ts).
 *
 * @module
 */

import type { Kernels } from "../../../core/kernels.ts";
import { type KernelContext, type WasmTensor } from "./context.ts";

/**
 * The matmul kernels on a kernel context.
 *
 * @param ctx The shared context (runtime, allocation, thread policy).
 * @returns The kernels of this family.
 */
export function matmulKernels(
  ctx: KernelContext,
): Pick<Kernels<WasmTensor>, "matMul"> {
  const { make, gemm } = ctx;
  return {
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
  };
}
