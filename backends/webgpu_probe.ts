/**
 * The one WebGPU adapter probe, free of tfjs (the CLI asks it before
 * deciding whether to load tfjs at all): what Deno's WebGPU offers, and
 * whether it is real hardware.
 *
 * @module
 */

/**
 * What Deno's WebGPU reports about an adapter.
 *
 * @category Backends
 */
export interface AdapterDescription {
  /** Driver description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  readonly description: string;
  /** Vendor id or name as the driver reports it. */
  readonly vendor: string;
  /** Architecture name, often empty. */
  readonly architecture: string;
  /** True for a software (fallback) adapter such as llvmpipe. */
  readonly isFallbackAdapter: boolean;
}

/**
 * Asks Deno's WebGPU for a high-performance adapter and describes it.
 *
 * @returns The adapter's description, or null when WebGPU offers no adapter.
 * @example Probing never throws
 * ```ts
 * import { probeWebGpuAdapter } from "@facenet-deno/facenet/tfjs";
 * import assert from "node:assert/strict";
 * const adapter = await probeWebGpuAdapter();
 * assert.ok(adapter === null || typeof adapter.description === "string");
 * ```
 *
 * @category Backends
 */
export async function probeWebGpuAdapter(): Promise<AdapterDescription | null> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (gpu === undefined) return null;
  // Mesa's Vulkan loader complains on stderr when probing an adapter without a runtime
  // directory (root shells, containers, tools run in process); give it one.
  try {
    if (Deno.env.get("XDG_RUNTIME_DIR") === undefined) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
  } catch {
    // Without env permission, probe as is.
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
  if (adapter === null) return null;
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return {
    description: info.description || info.device || "unknown adapter",
    vendor: info.vendor,
    architecture: info.architecture,
    isFallbackAdapter: info.isFallbackAdapter === true ||
      (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true,
  };
}

/**
 * Whether Deno offers a WebGPU adapter that is real hardware (not a software fallback).
 *
 * @returns True for a hardware adapter.
 * @example
 * ```ts
 * import { hasHardwareGpu } from "./webgpu_probe.ts";
 * import assert from "node:assert/strict";
 * assert.equal(typeof await hasHardwareGpu(), "boolean");
 * ```
 */
export async function hasHardwareGpu(): Promise<boolean> {
  const adapter = await probeWebGpuAdapter();
  return adapter !== null && !adapter.isFallbackAdapter;
}
