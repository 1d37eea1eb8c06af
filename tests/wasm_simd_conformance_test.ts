import { backendConformance } from "./conformance.ts";
import { createWasmSimdBackend } from "../backends/wasm-simd/mod.ts";

// The wasm-simd backend against the specifications, with the suite's float32
// tolerances (DEFAULT_TOLERANCE): GEMMs accumulate in float32, reductions and
// batch-norm maps in float64. Two threads, so the worker pool takes part.
backendConformance("wasm-simd", () => createWasmSimdBackend({ threads: 2 }), {
  numRuns: 6,
  skip: [{
    reason: "its random graphs put a bias and a batch norm in front of a 3-row batch norm, so " +
      "those gradients are zero in exact arithmetic and float32 rounding noise (about 2e-6 " +
      "after the step, for the pure float32 reference as well; the float64 pure kernels give " +
      "exactly 0) is compared against noise at an absolute 1e-6: it fails about 1 run in 50. " +
      "Batch norm forward and backward are covered by tests/wasm_simd_kernels_test.ts against " +
      "the pure kernels and by the nano step here.",
    tests: ["op:batchNorm"],
  }],
});
