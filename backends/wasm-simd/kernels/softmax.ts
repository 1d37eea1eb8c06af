/**
 * The wasm-simd kernels of one family. Softmax over the last axis: a PURE
 * FALLBACK, NOT SIMD (see below).
 *
 * @module
 */

import type { Kernels } from "../../../core/kernels.ts";
import { createPureKernels, type PureTensor } from "../../../core/pure/kernels.ts";
import { type KernelContext, type WasmTensor } from "./context.ts";

/**
 * The softmax kernels on a kernel context.
 *
 * @param ctx The shared context (runtime, allocation, thread policy).
 * @returns The kernels of this family.
 */
export function softmaxKernels(
  ctx: KernelContext,
): Pick<Kernels<WasmTensor>, "softmax" | "softmaxBackward"> {
  const { rt, make, view } = ctx;
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
    softmax(x) {
      return fromPure(pureKernels.softmax(toPure(x)));
    },
    softmaxBackward(dy, y) {
      return fromPure(pureKernels.softmaxBackward(toPure(dy), toPure(y)));
    },
  };
}
