// AssemblyScript entry (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.
// Every export is a kernel over raw pointers into the shared memory; kernels that
// run on the thread pool take `(…, tid, nt)` as their last two arguments.

export { debugTrap } from "./common";
export { gemm, gemmScratchBytes } from "./gemm";
