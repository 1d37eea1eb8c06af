// Loads the committed kernel builds (embedded as base64, so this works from any
// URL) and picks the relaxed-SIMD build where the runtime validates it.

import { RELAXED_WASM_BASE64, SIMD_WASM_BASE64 } from "./_wasm_simd.generated.ts";

/**
 * Which kernel build to use: "auto" prefers relaxed SIMD where supported.
 *
 * @category Backends
 */
export type SimdFlavor = "auto" | "relaxed" | "simd";

/** A compiled kernel module and whether it is the relaxed-SIMD build. */
export interface LoadedKernels {
  readonly module: WebAssembly.Module;
  readonly relaxed: boolean;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Whether this runtime supports the relaxed-SIMD build (it validates the build itself). */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(decodeBase64(RELAXED_WASM_BASE64));
}

/** Compiles the chosen build; throws a TypeError when the runtime lacks WebAssembly SIMD. */
export async function loadKernels(flavor: SimdFlavor): Promise<LoadedKernels> {
  const simd = decodeBase64(SIMD_WASM_BASE64);
  if (!WebAssembly.validate(simd)) {
    throw new TypeError("This runtime does not support WebAssembly SIMD with shared memory.");
  }
  const relaxedBytes = decodeBase64(RELAXED_WASM_BASE64);
  const relaxedOk = WebAssembly.validate(relaxedBytes);
  if (flavor === "relaxed" && !relaxedOk) {
    throw new TypeError("This runtime does not support WebAssembly relaxed SIMD.");
  }
  const relaxed = flavor === "relaxed" || (flavor === "auto" && relaxedOk);
  const module = await WebAssembly.compile(relaxed ? relaxedBytes : simd);
  return { module, relaxed };
}
