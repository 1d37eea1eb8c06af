/**
 * The TensorFlow.js backend: training and embedding on a GPU through WebGPU
 * (or tfjs's `wasm` and `cpu` devices), and the export of a trained model as
 * a TensorFlow.js graph model that stock tfjs loads in a browser.
 *
 * @example Choose a device and build the backend (here: tfjs's plain `cpu`)
 * ```ts
 * import { createTfjsBackend } from "@facenet-deno/facenet/tfjs";
 * import assert from "node:assert/strict";
 *
 * const backend = await createTfjsBackend({ device: "cpu" });
 * const d = await backend.pairwiseSquaredDistances({ rows: 2, cols: 1, data: new Float32Array([0, 3]) });
 * assert.deepEqual([...d.data], [0, 9, 9, 0]);
 * backend.dispose();
 * ```
 *
 * @module
 */

export { createTfjsBackend, type TfjsBackend, type TfjsBackendOptions } from "./backend.ts";
export {
  activateDevice,
  type AdapterDescription,
  chooseDevice,
  type ChooseDeviceOptions,
  type DeviceChoice,
  probeWebGpuAdapter,
  TFJS_DEVICES,
  type TfjsDevice,
  WASM_TRAINING_MODELS,
} from "./device.ts";
export type { ExportContext, TfjsExportAdapter, TfjsExportAdapters } from "./ops.ts";
export {
  buildGraphModelArtifacts,
  EXPORT_INPUT_NAME,
  EXPORT_OUTPUT_NAME,
  type ExportedModel,
  type ExportOptions,
  type LoadedExportedModel,
  loadExportedModel,
} from "./export.ts";
export { createTfjsSpecRunner, type TfjsSpecRunner } from "./infer.ts";
