/**
 * Train face embeddings the way FaceNet does, in Deno: triplet loss with
 * online triplet mining, classifier training with center loss, LFW-protocol
 * validation, and the tools around them.
 *
 * The functional core (pure, typed specifications) is the reference; the
 * backends (pure, TensorFlow.js, WebAssembly SIMD) run the same contract.
 * This module gathers the user-facing API; narrower entry points import
 * less:
 *
 * | entry point                       | what                                                        |
 * | --------------------------------- | ----------------------------------------------------------- |
 * | `@facenet-deno/facenet`           | everything below                                            |
 * | `@facenet-deno/facenet/pure`      | the specifications and the pure backend; bundles for browsers |
 * | `@facenet-deno/facenet/tfjs`      | the TensorFlow.js backend and the browser export             |
 * | `@facenet-deno/facenet/wasm-simd` | the WebAssembly SIMD backend                                 |
 * | `@facenet-deno/facenet/onnx`      | the ONNX export                                              |
 * | `@facenet-deno/facenet/io`        | files: images, datasets, pairs, checkpoints, reports         |
 *
 * @example Embed synthetic pairs with an untrained nano and score them
 * ```ts
 * import {
 *   createPureBackend,
 *   createRng,
 *   evaluate,
 *   initModelState,
 *   modelSpec,
 * } from "@facenet-deno/facenet";
 * import assert from "node:assert/strict";
 *
 * const spec = modelSpec("nano", { imageSize: 16, embeddingSize: 4 });
 * const training = {
 *   loss: { kind: "triplet", alpha: 0.2 },
 *   optimizer: { name: "SGD" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * } as const;
 * const model = await createPureBackend().createModel(
 *   spec,
 *   initModelState(spec, training, createRng(1)),
 *   training,
 * );
 * const images = { n: 4, height: 16, width: 16, channels: 3, data: new Float32Array(4 * 16 * 16 * 3).fill(0.5) };
 * const e = await model.embed(images, { training: false });
 * const pairs = { rows: 2, cols: 4, data: e.data.slice(0, 8) };
 * const report = evaluate(pairs, pairs, [true, false], { nrofFolds: 2 });
 * assert.equal(report.accuracy.length, 2);
 * ```
 *
 * @module
 */

export * from "./pure.ts";
export * from "./backends/tfjs/mod.ts";
export {
  createWasmSimdBackend,
  type SimdFlavor,
  type WasmSimdBackend,
  type WasmSimdBackendOptions,
} from "./backends/wasm-simd/mod.ts";
export * from "./backends/onnx/mod.ts";
export * from "./io/mod.ts";
