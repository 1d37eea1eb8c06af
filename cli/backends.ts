/**
 * Opens a backend by name for the CLI. `auto` picks tfjs on a hardware
 * WebGPU adapter (or when a tfjs `--device` is named), else the wasm-simd
 * backend (the fastest CPU backend).
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { hasHardwareGpu as probeInProcess } from "../backends/webgpu_probe.ts";
import { FLAG_LIMITS, type FlagTable } from "./flags.ts";

/** The backend flags every command that runs a model shares. */
export const BACKEND_FLAGS: FlagTable = {
  "backend": {
    kind: "string",
    help: "compute backend; auto picks tfjs on a hardware GPU (or with --device), else wasm-simd",
    default: "auto",
    choices: ["auto", "pure", "tfjs", "wasm-simd"],
  },
  "device": {
    kind: "string",
    help: "tfjs device (with --backend auto: use tfjs on it)",
    choices: ["webgpu", "wasm", "cpu"],
    usedWhen: {
      when: (v) => v["backend"] === "tfjs" || v["backend"] === "auto",
      noEffect: "without --backend tfjs (or auto)",
    },
  },
  "threads": {
    kind: "number",
    help: "wasm-simd worker threads (default: all cores)",
    integer: true,
    min: 1,
    max: FLAG_LIMITS.threads,
    usedWhen: {
      when: (v) => v["backend"] === "wasm-simd" || v["backend"] === "auto",
      noEffect: "without --backend wasm-simd (or auto)",
    },
  },
};

/** Options of {@link openBackend}. */
export interface OpenBackendOptions {
  /** tfjs device override. */
  readonly device?: string | undefined;
  /** wasm-simd worker threads. */
  readonly threads?: number | undefined;
  /** What the backend is for; tfjs picks cpu to train and wasm to infer without a GPU. */
  readonly purpose?: "training" | "inference";
  /** The network to train: tfjs trains some on its faster wasm device (see chooseDevice). */
  readonly model?: string | undefined;
  /** Receives a warning when `auto` chose a backend that ignores `threads`; default: stderr. */
  readonly onWarning?: (message: string) => void;
}

const PROBE_URL = new URL("../backends/webgpu_probe.ts", import.meta.url).href;

/**
 * Whether Deno offers a WebGPU adapter that is real hardware (not a software
 * fallback), asked in a child Deno process where the permissions allow one:
 * requesting an adapter loads the Vulkan drivers, about 80 MB that stay
 * resident in the process that asked, also when the answer is a CPU backend
 * (the default training run then peaked 80 MB higher).
 *
 * @returns True for a hardware adapter.
 */
export async function hasHardwareGpu(): Promise<boolean> {
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const { hasHardwareGpu } = await import(${JSON.stringify(PROBE_URL)});` +
        "console.log((await hasHardwareGpu()) ? 1 : 0);",
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) return new TextDecoder().decode(out.stdout).trim() === "1";
  } catch {
    // No permission to run a child process (or no Deno binary): probe here.
  }
  return await probeInProcess();
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
  if (chosen === "auto") {
    chosen = options.device !== undefined || (await hasHardwareGpu()) ? "tfjs" : "wasm-simd";
    if (chosen === "tfjs" && options.threads !== undefined) {
      (options.onWarning ?? ((m: string) => console.error(`warning: ${m}`)))(
        `--threads has no effect: --backend auto chose tfjs`,
      );
    }
  }
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
        ...(options.model === undefined ? {} : { model: options.model }),
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
