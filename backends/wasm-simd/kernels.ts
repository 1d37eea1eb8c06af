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

import type { Kernels } from "../../core/kernels.ts";
import type { WasmSimdRuntime } from "./runtime.ts";
import { createKernelContext, type WasmTensor } from "./kernels/context.ts";
import { memoryKernels } from "./kernels/memory.ts";
import { elementwiseKernels } from "./kernels/elementwise.ts";
import { convKernels } from "./kernels/conv.ts";
import { batchNormKernels } from "./kernels/batch_norm.ts";
import { poolKernels } from "./kernels/pool.ts";
import { matmulKernels } from "./kernels/matmul.ts";
import { rowsKernels } from "./kernels/rows.ts";
import { depthwiseKernels } from "./kernels/depthwise.ts";
import { softmaxKernels } from "./kernels/softmax.ts";

export type { WasmTensor };

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
  const ctx = createKernelContext(rt, threshold);
  return {
    name: `wasm-simd${rt.relaxed ? " relaxed-simd" : ""} x${rt.threads}`,
    ...memoryKernels(ctx),
    ...elementwiseKernels(ctx),
    ...convKernels(ctx),
    ...batchNormKernels(ctx),
    ...poolKernels(ctx),
    ...matmulKernels(ctx),
    ...rowsKernels(ctx),
    ...depthwiseKernels(ctx),
    ...softmaxKernels(ctx),
  };
}
