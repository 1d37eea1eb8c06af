/**
 * Device choice of the TensorFlow.js backend: a hardware WebGPU adapter when
 * Deno offers one; with only a software (fallback) adapter such as llvmpipe,
 * or none, tfjs's `cpu` backend for training and its `wasm` backend for
 * inference (`purpose`). (tfjs's wasm backend has no Conv2DBackpropFilter
 * kernel; this backend computes that gradient with Conv2D itself, see
 * compile.ts, so wasm can train too: about 10x tfjs's `cpu` on nano and it
 * passes the conformance suite, but its gradients drift from the
 * specification by a few percent of a step on inception-resnet-v1's stem.)
 * An explicit device (`webgpu`, `wasm`, `cpu`) overrides the choice.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import "../../_deps/tfjs_backend_webgpu.ts";
import { setWasmPaths, TFJS_BACKEND_WASM_URL } from "../../_deps/tfjs_backend_wasm.ts";
import { type AdapterDescription, probeWebGpuAdapter } from "../webgpu_probe.ts";

export { type AdapterDescription, probeWebGpuAdapter } from "../webgpu_probe.ts";

/**
 * The tfjs devices this backend runs on.
 *
 * @category Backends
 */
export type TfjsDevice = "webgpu" | "wasm" | "cpu";

/**
 * The devices, for validating user input.
 *
 * @example
 * ```ts
 * import { chooseDevice, TFJS_DEVICES } from "@facenet-deno/facenet/tfjs";
 * import assert from "node:assert/strict";
 *
 * assert.ok(TFJS_DEVICES.includes("cpu"));
 * await assert.rejects(chooseDevice({ device: "tpu" as "cpu" }), RangeError);
 * ```
 *
 * @category Backends
 */
export const TFJS_DEVICES: readonly TfjsDevice[] = ["webgpu", "wasm", "cpu"];

/**
 * The outcome of the device choice.
 *
 * @category Backends
 */
export interface DeviceChoice {
  /** The tfjs backend name to run on. */
  readonly device: TfjsDevice;
  /** The WebGPU adapter found, or null when Deno offers none. */
  readonly adapter: AdapterDescription | null;
  /** Human-readable description, e.g. "webgpu (llvmpipe ..., software adapter)". */
  readonly description: string;
}

/**
 * Options of {@linkcode chooseDevice}.
 *
 * @category Backends
 */
export interface ChooseDeviceOptions {
  /** Forces a device (the CLI's `--device`); default: automatic. */
  readonly device?: TfjsDevice;
  /**
   * What the backend is for, when no hardware adapter exists: "training"
   * (default) picks `cpu`, whose kernels match the specification closely on
   * deep nets; "inference" picks the faster `wasm`.
   */
  readonly purpose?: "training" | "inference";
  /**
   * The network to train (its registry name): models in
   * {@link WASM_TRAINING_MODELS} train on the faster `wasm` device when no
   * hardware adapter exists, the others on `cpu`.
   */
  readonly model?: string;
}

/**
 * Models that train on tfjs's `wasm` device when there is no hardware GPU: it
 * trains nano ~10x faster than `cpu` here (74 against 7.6 img/s) and passes
 * the conformance suite's nano step; one SGD step of nano (batch 30, 64 px)
 * moves every parameter within 1.1% of its layer's largest move from the
 * specification's (tfjs cpu: 0.012%). inception-resnet-v1 is not listed: its
 * stem's filter gradients (long float32 sums in XNNPACK) differ by up to ~5%
 * of the step (tests/tfjs_wasm_test.ts), so it trains on `cpu`.
 *
 * @example
 * ```ts
 * import { WASM_TRAINING_MODELS } from "@facenet-deno/facenet/tfjs";
 * import assert from "node:assert/strict";
 * assert.ok(WASM_TRAINING_MODELS.includes("nano"));
 * assert.ok(!WASM_TRAINING_MODELS.includes("inception-resnet-v1"));
 * ```
 *
 * @category Backends
 */
export const WASM_TRAINING_MODELS: readonly string[] = ["nano"];

/**
 * Chooses the tfjs device: an explicit `device` wins; else a hardware WebGPU
 * adapter; else `wasm` for inference and for training the models of
 * {@link WASM_TRAINING_MODELS}, `cpu` for training the others.
 *
 * @param options The override.
 * @returns The device, the adapter and a description to print at start.
 * @throws {RangeError} When `options.device` is not a known device.
 * @example Forcing the cpu device
 * ```ts
 * import { chooseDevice } from "@facenet-deno/facenet/tfjs";
 * import assert from "node:assert/strict";
 * const choice = await chooseDevice({ device: "cpu" });
 * assert.equal(choice.device, "cpu");
 * assert.match(choice.description, /^cpu/);
 * ```
 *
 * @category Backends
 */
export async function chooseDevice(options: ChooseDeviceOptions = {}): Promise<DeviceChoice> {
  const forced = options.device;
  if (forced !== undefined && !TFJS_DEVICES.includes(forced)) {
    throw new RangeError(
      `Device must be one of ${TFJS_DEVICES.join(", ")}, got ${JSON.stringify(forced)}`,
    );
  }
  // A forced cpu/wasm device needs no adapter: skip the (slow, noisy) probe.
  const probe = forced === undefined || forced === "webgpu";
  const adapter = probe ? await probeWebGpuAdapter() : null;
  const adapterText = !probe
    ? "WebGPU not probed"
    : adapter === null
    ? "no WebGPU adapter"
    : `${adapter.description}${adapter.isFallbackAdapter ? ", software adapter" : ""}`;
  let device: TfjsDevice;
  let reason: string;
  if (forced !== undefined) {
    device = forced;
    reason = "requested";
  } else if (adapter !== null && !adapter.isFallbackAdapter) {
    device = "webgpu";
    reason = "hardware adapter";
  } else if (options.purpose === "inference") {
    device = "wasm";
    reason = "no hardware adapter; inference";
  } else if (options.model !== undefined && WASM_TRAINING_MODELS.includes(options.model)) {
    device = "wasm";
    reason = `no hardware adapter; training ${options.model}`;
  } else {
    // tfjs wasm trains here too (the filter gradient runs as a convolution),
    // but its gradients drift from the specification by a few percent of a
    // step in inception-resnet-v1's stem; cpu stays within 1e-4.
    device = "cpu";
    reason = "no hardware adapter; training";
  }
  const description = device === "webgpu"
    ? `webgpu (${adapterText}; ${reason})`
    : `${device} (${reason}; ${adapterText})`;
  return { device, adapter, description };
}

/**
 * The folder holding tfjs-backend-wasm's `.wasm` binaries, resolved through
 * Deno's npm resolution (a path into Deno's npm cache).
 *
 * @returns An absolute path ending with a path separator.
 * @example
 * ```ts
 * import { wasmBinaryDirectory } from "./device.ts";
 * import assert from "node:assert/strict";
 * assert.ok(wasmBinaryDirectory().endsWith("/"));
 * ```
 */
export function wasmBinaryDirectory(): string {
  const entry = TFJS_BACKEND_WASM_URL;
  const url = new URL(".", entry);
  if (url.protocol !== "file:") return url.href;
  const path = decodeURIComponent(url.pathname);
  // Windows: "/C:/..." to "C:/...".
  return /^\/[A-Za-z]:\//.test(path) ? path.slice(1) : path;
}

let wasmPathsSet = false;

/**
 * Makes `device` the active tfjs backend (PROD mode, wasm binaries located in
 * the npm cache).
 *
 * @param device The tfjs device.
 * @returns Resolves when the backend is ready.
 * @throws {Error} When tfjs cannot initialize the device (e.g. no adapter).
 * @example
 * ```ts
 * import { activateDevice } from "@facenet-deno/facenet/tfjs";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await activateDevice("cpu");
 * assert.equal(tf.getBackend(), "cpu");
 * ```
 *
 * @category Backends
 */
export async function activateDevice(device: TfjsDevice): Promise<void> {
  if (!TFJS_DEVICES.includes(device)) {
    throw new RangeError(`Device must be one of ${TFJS_DEVICES.join(", ")}, got ${device}`);
  }
  tf.env().set("PROD", true);
  if (device === "wasm" && !wasmPathsSet) {
    setWasmPaths(wasmBinaryDirectory());
    wasmPathsSet = true;
  }
  if (tf.getBackend() === device) return;
  const ok = await tf.setBackend(device);
  if (!ok) throw new Error(`TensorFlow.js could not initialize the ${device} device`);
  await tf.ready();
}
