/**
 * TensorFlow.js's wasm backend, pinned, and the URL of its entry module (its
 * `.wasm` binaries lie beside it).
 *
 * @module
 */
export * from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";

/** The resolved URL of the package's entry module (a file in Deno's npm cache). */
export const TFJS_BACKEND_WASM_URL: string = import.meta.resolve(
  "npm:@tensorflow/tfjs-backend-wasm@4.22.0",
);
