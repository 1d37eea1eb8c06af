/**
 * Opens a backend by name for the CLI. `auto` picks tfjs on a hardware
 * WebGPU adapter, else the wasm-simd backend (the fastest CPU backend).
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import { createPureBackend } from "../core/pure_backend.ts";

/** Options of {@link openBackend}. */
export interface OpenBackendOptions {
  /** tfjs device override. */
  readonly device?: string | undefined;
  /** wasm-simd worker threads. */
  readonly threads?: number | undefined;
  /** What the backend is for; tfjs picks cpu to train and wasm to infer without a GPU. */
  readonly purpose?: "training" | "inference";
}

/** Whether Deno offers a WebGPU adapter that is real hardware (not a software fallback). */
export async function hasHardwareGpu(): Promise<boolean> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (gpu === undefined) return false;
  try {
    const adapter = await gpu.requestAdapter() as { info?: { isFallbackAdapter?: boolean } } | null;
    return adapter !== null && adapter.info?.isFallbackAdapter !== true;
  } catch {
    return false;
  }
}

/**
 * Opens the named backend.
 *
 * @param name "auto", "pure", "tfjs" or "wasm-simd".
 * @param options tfjs device override and wasm-simd thread count.
 * @returns The backend.
 */
export async function openBackend(
  name: string,
  options: OpenBackendOptions = {},
): Promise<Backend> {
  let chosen = name;
  if (chosen === "auto") chosen = (await hasHardwareGpu()) ? "tfjs" : "wasm-simd";
  switch (chosen) {
    case "pure":
      return createPureBackend();
    case "tfjs": {
      const { createTfjsBackend } = await import("../backends/tfjs/backend.ts");
      return await createTfjsBackend({
        ...(options.device === undefined
          ? {}
          : { device: options.device as "webgpu" | "wasm" | "cpu" }),
        purpose: options.purpose ?? "training",
      });
    }
    case "wasm-simd": {
      const { createWasmSimdBackend } = await import("../backends/wasm-simd/mod.ts");
      return await createWasmSimdBackend(
        options.threads === undefined ? {} : { threads: options.threads },
      );
    }
    default:
      throw new RangeError(`Unknown backend "${name}"`);
  }
}
