/**
 * Export to ONNX: a trained model as a `model.onnx` that ONNX Runtime,
 * Triton, TensorRT and PyTorch (through onnx2torch) load. Pure TypeScript (a
 * small protobuf writer), so it also runs in a browser.
 *
 * @example
 * ```ts
 * import { buildOnnxModel } from "@facenet-deno/facenet/onnx";
 * import { createRng, initModelState, modelSpec } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const spec = modelSpec("nano", { imageSize: 16, embeddingSize: 4 });
 * const training = {
 *   loss: { kind: "triplet", alpha: 0.2 },
 *   optimizer: { name: "SGD" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * } as const;
 * const bytes = buildOnnxModel(spec, initModelState(spec, training, createRng(1)));
 * assert.ok(bytes.length > 1000);
 * ```
 *
 * @module
 */

export {
  buildOnnxModel,
  ONNX_INPUT_NAME,
  ONNX_IR_VERSION,
  ONNX_OPS,
  ONNX_OPSET,
  ONNX_OUTPUT_NAME,
  type OnnxAttribute,
  type OnnxExportContext,
  type OnnxExportOptions,
  type OnnxOpAdapter,
  type OnnxOpAdapters,
} from "./export.ts";
