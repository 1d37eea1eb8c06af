/**
 * The wasm-simd backend: our own WebAssembly SIMD (f32x4, relaxed-SIMD FMA
 * where the runtime supports it) kernels on a persistent pool of Workers over
 * one shared memory. Models run on the core's reverse-mode executor with the
 * wasm-simd {@link Kernels}; distances are a SIMD kernel; triplet selection
 * runs on the GEMM and a SIMD scan and equals the specification's (see
 * ./select_triplets.ts); the triplet loss is the core's (O(n·d), not worth a
 * kernel).
 *
 * @module
 */

import type { Backend, LossWithGradient, Model } from "../../core/backend.ts";
import type { Matrix } from "../../core/types.ts";
import { createExecutorModel } from "../../core/executor_model.ts";
import { tripletLoss } from "../../core/pure/losses.ts";
import { checkMatrix } from "../../core/pure/_matrix.ts";
import { createWasmSimdKernels } from "./kernels.ts";
import { selectTripletsWasm } from "./select_triplets.ts";
import { createWasmSimdRuntime, type SimdFlavor, type WasmSimdRuntime } from "./runtime.ts";

export { createWasmSimdKernels, type WasmSimdKernelsOptions, type WasmTensor } from "./kernels.ts";
export {
  createWasmSimdRuntime,
  type GemmOptions,
  type GemmProblem,
  // The kernel names the runtime's `run` takes (for code that drives the runtime itself).
  POOL_KERNELS,
  type PoolKernel,
  type SimdFlavor,
  WasmSimdRuntime,
  type WasmSimdRuntimeOptions,
} from "./runtime.ts";

/**
 * Options of {@linkcode createWasmSimdBackend}.
 *
 * @category Backends
 */
export interface WasmSimdBackendOptions {
  /** Threads (the caller plus pool workers); default `navigator.hardwareConcurrency`. */
  readonly threads?: number;
  /** Kernel build; default "auto" (relaxed SIMD where supported). */
  readonly flavor?: SimdFlavor;
  /** Microseconds a waiting pool thread polls before sleeping (default 50; see the runtime's option). */
  readonly pollMicroseconds?: number;
}

/**
 * The wasm-simd backend, with its runtime exposed for diagnostics (memory size, threads).
 *
 * @category Backends
 */
export interface WasmSimdBackend extends Backend {
  /** The runtime the backend's kernels run on. */
  readonly runtime: WasmSimdRuntime;
}

function distances(rt: WasmSimdRuntime, x: Matrix): Matrix {
  checkMatrix(x, "Embeddings");
  const n = x.rows;
  const input = rt.put(x.data);
  const out = rt.allocF32(n * n);
  try {
    rt.run(
      "pairwiseSquaredDistances",
      [input, out, n, x.cols],
      { threads: n * n * x.cols < 1 << 16 ? 1 : rt.threads },
    );
    return { rows: n, cols: n, data: rt.read(out, n * n) };
  } finally {
    rt.free(input);
    rt.free(out);
  }
}

/**
 * Creates the wasm-simd backend: instantiates the kernels and starts the
 * worker pool (once; every call of the backend reuses it).
 *
 * @param options Threads (default: the number of cores) and the kernel build.
 * @returns A {@link Backend} named "wasm-simd"; `dispose()` stops its workers.
 * @throws {RangeError} When `threads` is not a positive integer.
 * @throws {TypeError} When the runtime lacks WebAssembly SIMD or shared memory.
 * @example
 * ```ts
 * import { createWasmSimdBackend } from "@facenet-deno/facenet/wasm-simd";
 * import assert from "node:assert/strict";
 * const backend = await createWasmSimdBackend({ threads: 1 });
 * const d = await backend.pairwiseSquaredDistances({
 *   rows: 2,
 *   cols: 1,
 *   data: new Float32Array([0, 2]),
 * });
 * assert.deepEqual(Array.from(d.data), [0, 4, 4, 0]);
 * backend.dispose();
 * ```
 *
 * @category Backends
 */
export async function createWasmSimdBackend(
  options: WasmSimdBackendOptions = {},
): Promise<WasmSimdBackend> {
  const rt = await createWasmSimdRuntime(options);
  const kernels = createWasmSimdKernels(rt);
  const models = new Set<Model>();
  let disposed = false;
  const alive = () => {
    if (disposed) throw new TypeError("The wasm-simd backend was disposed");
  };
  return {
    name: "wasm-simd",
    device: `wasm-simd${rt.relaxed ? " (relaxed-simd FMA)" : ""} x${rt.threads}`,
    runtime: rt,
    pairwiseSquaredDistances(x) {
      return Promise.resolve().then(() => {
        alive();
        return distances(rt, x);
      });
    },
    selectTriplets(embeddings, numPerClass, selectOptions) {
      return Promise.resolve().then(() => {
        alive();
        return selectTripletsWasm(rt, embeddings, numPerClass, selectOptions);
      });
    },
    tripletLoss(embeddings, lossOptions): Promise<LossWithGradient> {
      return Promise.resolve().then(() => tripletLoss(embeddings, lossOptions));
    },
    createModel(spec, state, trainingOptions) {
      return Promise.resolve().then(() => {
        alive();
        const model = createExecutorModel(kernels, spec, state, trainingOptions);
        const wrapped: Model = {
          spec: model.spec,
          embed: (images, o) => model.embed(images, o),
          outputs: (images, o) => model.outputs(images, o),
          trainStep: (images, o) => model.trainStep(images, o),
          getState: () => model.getState(),
          dispose: () => {
            models.delete(wrapped);
            model.dispose();
          },
        };
        models.add(wrapped);
        return wrapped;
      });
    },
    dispose() {
      if (disposed) return;
      for (const model of [...models]) model.dispose();
      disposed = true;
      rt.dispose();
    },
  };
}
