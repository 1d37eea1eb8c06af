/**
 * Train face embeddings the way FaceNet does, in Deno: triplet loss with
 * online triplet mining, classifier training with center loss, LFW-protocol
 * validation, and the tools around them.
 *
 * The functional core (pure, typed specifications) is the reference; the
 * backends (pure, TensorFlow.js, WebAssembly SIMD) run the same contract.
 *
 * @module
 */

// --- plain data and the backend contract ---
export type {
  Dataset,
  ImageBatch,
  ImageClass,
  Matrix,
  NamedTensors,
  OptimizerConfig,
  OptimizerName,
  OptimizerState,
  RngState,
  SelectionStrategy,
  SelectTripletsOptions,
  Tensor,
  TripletSelection,
} from "./core/types.ts";
export type {
  Backend,
  BackendName,
  EmbedOptions,
  LossSpec,
  LossWithGradient,
  Model,
  ModelState,
  StepOptions,
  StepResult,
  TrainingOptions,
} from "./core/backend.ts";
export type * from "./core/model_spec.ts";

// --- specifications (core/pure) ---
export {
  createRng,
  nextUint32,
  normal,
  philox4x32,
  randomInt,
  shuffle,
  split,
  uint32s,
  uniform,
  uniformAt,
  uniforms,
} from "./core/pure/rng.ts";
export {
  l2Normalize,
  l2NormalizeVjp,
  pairwiseSquaredDistances,
  squaredDistanceRows,
} from "./core/pure/distances.ts";
export { samplePeople } from "./core/pure/sample_people.ts";
export type { SampledPeople, SamplePeopleOptions } from "./core/pure/sample_people.ts";
export { selectTriplets, selectTripletsFromDistances } from "./core/pure/select_triplets.ts";
export {
  arcfaceLogits,
  centerLoss,
  prelogitsNormLoss,
  softmaxCrossEntropy,
  tripletLoss,
} from "./core/pure/losses.ts";
export type {
  ArcfaceOptions,
  ArcfaceResult,
  CenterLossResult,
  LossAndGradient,
  TripletLossOptions,
} from "./core/pure/losses.ts";
export {
  areaUnderCurve,
  calculateRoc,
  calculateVal,
  distance,
  equalErrorRate,
  evaluate,
  formatReport,
  interpolateFarThreshold,
  kFoldSplits,
  ROC_THRESHOLDS,
  splitConsecutivePairs,
  VAL_THRESHOLDS,
} from "./core/pure/evaluation.ts";
export type {
  DistanceMetric,
  EvaluateOptions,
  EvaluationReport,
  Fold,
  RocResult,
  ValResult,
} from "./core/pure/evaluation.ts";
export {
  AUGMENT_DRAWS,
  augmentImage,
  type AugmentOptions,
  augmentRngAt,
  centerCrop,
  createRgbImage,
  crop,
  type CropBox,
  cropOrPad,
  flipLeftRight,
  type ImageSize,
  randomCrop,
  randomFlip,
  randomRotate,
  resize,
  type RgbImage,
  rotate,
  stackImages,
} from "./core/pure/image_ops.ts";

export { fixedImageStandardization, prewhiten, prewhitenBatch } from "./core/pure/preprocess.ts";

// --- model graph (core) ---

// --- training (core) ---
export {
  type FaceIdentity,
  type HairStyle,
  parseSyntheticRef,
  renderFace,
  renderSyntheticRef,
  type Rgb,
  syntheticDataset,
  type SyntheticDatasetOptions,
  syntheticIdentity,
  type SyntheticPair,
  syntheticPairs,
  type SyntheticPairs,
  type SyntheticPairsOptions,
  syntheticRef,
  type SyntheticSplit,
} from "./core/synthetic.ts";

// --- backends ---

// --- io ---
export {
  checkImageHeader,
  decodeImage,
  detectImageFormat,
  encodePng,
  IMAGE_TAIL_BYTES,
  ImageDecodeError,
  type ImageFormat,
  probeImageFile,
  readImage,
} from "./io/images.ts";
export {
  describeSkipped,
  type DroppedClass,
  type ImageVerification,
  type LoadDatasetOptions,
  loadDatasetFolder,
  type LoadedDataset,
  type SkippedFile,
} from "./io/dataset.ts";
export {
  ImageLoader,
  type ImageLoaderOptions,
  loadBatches,
  type LoadBatchesOptions,
  type PrepareOptions,
  prepareImage,
} from "./io/pipeline.ts";
export {
  formatPairs,
  type PairEntry,
  pairImageStem,
  type Pairs,
  parsePairs,
  resolvePairs,
  type ResolvedPairs,
  type ResolvePairsOptions,
} from "./io/pairs.ts";
export {
  CHECKPOINT_FILES,
  CHECKPOINT_FORMAT,
  type Checkpoint,
  type CheckpointMeta,
  checkCompatible,
  type ExpectedCheckpoint,
  type JsonValue,
  latestCheckpoint,
  loadCheckpoint,
  type NewCheckpointMeta,
  saveCheckpoint,
  type SaveCheckpointOptions,
} from "./io/checkpoint.ts";
export { decodeSafetensors, encodeSafetensors, type Safetensors } from "./io/safetensors.ts";
