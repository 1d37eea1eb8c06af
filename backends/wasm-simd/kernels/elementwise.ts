/**
 * The wasm-simd kernels of one family. Elementwise kernels
 * (assembly/elementwise.ts): scaled add, scale, multiply, relu, bias add and
 * channel sums.
 *
 * @module
 */

import type { Kernels } from "../../../core/kernels.ts";
import { type KernelContext, sameShape, type WasmTensor } from "./context.ts";

/**
 * The elementwise kernels on a kernel context.
 *
 * @param ctx The shared context (runtime, allocation, thread policy).
 * @returns The kernels of this family.
 */
export function elementwiseKernels(
  ctx: KernelContext,
): Pick<
  Kernels<WasmTensor>,
  "add" | "scale" | "multiply" | "relu" | "reluBackward" | "biasAdd" | "sumToChannels"
> {
  const { run, make, view, vector, channels, checkVector, channelSums, affine, elementwise2 } = ctx;
  return {
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
  };
}
