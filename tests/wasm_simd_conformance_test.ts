import { backendConformance } from "./conformance.ts";
import { createWasmSimdBackend } from "../backends/wasm-simd/mod.ts";

// The wasm-simd backend against the specifications, with the suite's float32
// tolerances (DEFAULT_TOLERANCE): GEMMs accumulate in float32, reductions and
// batch-norm maps in float64. Two threads, so the worker pool takes part.
backendConformance("wasm-simd", () => createWasmSimdBackend({ threads: 2 }), {
  numRuns: 6,
});
