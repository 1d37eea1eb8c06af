// AssemblyScript entry (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.
// Every export is a kernel over raw pointers into the shared memory; kernels that
// run on the thread pool take `(…, tid, nt)` as their last two arguments.

export { debugTrap } from "./common";
export {
  convFilterGrad,
  convForward,
  gemm,
  gemmScratchBytes,
  packPanels,
  packPanelsTransposed,
  sumSlices,
} from "./gemm";
export {
  addScaled,
  channelAffine,
  channelSums,
  multiplyArrays,
  relu,
  reluBackward,
  scaleArray,
} from "./elementwise";
export { col2im, im2col } from "./conv";
export { globalAvgPool, globalAvgPoolBackward, pool, poolBackward } from "./pool";
export {
  l2Normalize,
  l2NormalizeBackward,
  pairwiseSquaredDistances,
  softmaxRows,
  softmaxRowsBackward,
} from "./rows";
export { movingAverage, optimizerStep } from "./optimizers";
export { selectTripletsScan } from "./select";
export {
  depthwiseBackpropFilter,
  depthwiseBackpropInput,
  depthwiseForward,
  prelu,
  preluBackward,
} from "./depthwise";
