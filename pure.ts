/**
 * The pure specifications alone: plain TypeScript with no TensorFlow.js and
 * no `node:` import, so this entry point bundles for browsers and workers.
 * It holds the data types and the backend contract, the random streams,
 * people sampling and triplet selection, the losses, the LFW evaluation
 * protocol, image operations and standardization (with
 * {@link imageDataToInput} for an exported model's input), the classifier,
 * clustering and retrieval metrics, the model specs, the pure reference
 * backend, the training loops, validation, synthetic faces and the MTCNN
 * detection pipeline.
 *
 * @example Score two embeddings per pair with the LFW protocol
 * ```ts
 * import { evaluate } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const e1 = { rows: 4, cols: 2, data: new Float32Array([1, 0, 1, 0, 0, 1, 0, 1]) };
 * const e2 = { rows: 4, cols: 2, data: new Float32Array([1, 0, 0, 1, 0, 1, 1, 0]) };
 * const report = evaluate(e1, e2, [true, false, true, false], { nrofFolds: 2 });
 * assert.equal(report.accuracyMean, 1);
 * ```
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
  OutputOptions,
  StepOptions,
  StepResult,
  TrainingOptions,
} from "./core/backend.ts";
export type * from "./core/model_spec.ts";

// --- specifications (core/pure) ---
export {
  createRng,
  normal,
  randomInt,
  shuffle,
  split,
  uniform,
  uniforms,
} from "./core/pure/rng.ts";
export { l2Normalize, pairwiseSquaredDistances } from "./core/pure/distances.ts";
export { samplePeople } from "./core/pure/sample_people.ts";
export type { SampledPeople, SamplePeopleOptions } from "./core/pure/sample_people.ts";
export {
  MAX_TRIPLETS,
  selectTriplets,
  selectTripletsFromDistances,
} from "./core/pure/select_triplets.ts";
export type { SelectTripletsLimitOptions } from "./core/pure/select_triplets.ts";
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
  augmentImage,
  type AugmentOptions,
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
export {
  type ImageDataLike,
  imageDataToInput,
  type ImageDataToInputOptions,
  type InputStandardization,
  type ModelInputSpec,
  modelInputSpec,
} from "./core/pure/model_input.ts";
export {
  checkClassifier,
  type ClassPredictions,
  DEFAULT_L2,
  fitClassifier,
  type FitClassifierOptions,
  predictClasses,
  predictProbabilities,
  type SoftmaxClassifier,
} from "./core/pure/classifier.ts";
export {
  adjustedRandIndex,
  chineseWhispers,
  type ChineseWhispersOptions,
  type ChineseWhispersResult,
  clusterMembers,
  type ClusterPurity,
  clusterPurity,
  dbscan,
  type DbscanOptions,
  NOISE,
  renumberBySize,
} from "./core/pure/cluster.ts";
export { type RetrievalMetrics, retrievalMetrics } from "./core/pure/retrieval.ts";
export { pca, type PcaOptions, type PcaResult } from "./core/pure/pca.ts";
export {
  applyOptimizer,
  initOptimizerState,
  resolveOptimizerConfig,
} from "./core/pure/optimizers.ts";
export type { OptimizerUpdate, ResolvedOptimizerConfig } from "./core/pure/optimizers.ts";
export { exponentialDecay, parseSchedule, scheduledRate } from "./core/pure/schedule.ts";
export type { ExponentialDecayOptions, ScheduleEntry } from "./core/pure/schedule.ts";

// --- models and backends built on the shared executor ---
export { MODEL_NAMES, modelSpec } from "./core/models/registry.ts";
export type { ModelName, ModelSpecOptions } from "./core/models/registry.ts";
export { nano } from "./core/models/nano.ts";
export type { NanoOptions } from "./core/models/nano.ts";
export { inceptionResnetV1 } from "./core/models/inception_resnet_v1.ts";
export type { InceptionResnetV1Options } from "./core/models/inception_resnet_v1.ts";
export {
  mobileFaceNet,
  MOBILEFACENET_EMBEDDING_SIZE,
  MOBILEFACENET_IMAGE_SIZE,
  type MobileFaceNetLayers,
  type MobileFaceNetOptions,
  mobileFaceNetParams,
} from "./core/models/mobilefacenet.ts";
export { inferShapes } from "./core/shapes.ts";
export type { GraphShapes } from "./core/shapes.ts";
export { initModelState } from "./core/model_state.ts";
export { createPureBackend } from "./core/pure_backend.ts";
// For a new op or a new backend: the op registry, the kernel contract and the shared executor.
export { BUILTIN_OPS, opRegistry, OPS } from "./core/ops/mod.ts";
export type {
  AnyOpDef,
  BackwardContext,
  BaseNode,
  ForwardContext,
  InferContext,
  InferredNode,
  Initializer,
  KernelName,
  OpDef,
  OpRegistry,
  Saves,
  Shape,
  TensorInfo,
} from "./core/ops/mod.ts";
export type {
  BatchNormGradients,
  BatchNormTrainOutput,
  Conv2dOptions,
  Kernels,
  PoolOptions,
  PreluGradients,
} from "./core/kernels.ts";
export { createExecutorModel } from "./core/executor_model.ts";
export type { BatchStatistics } from "./core/executor.ts";
export { createPureKernels } from "./core/pure/kernels.ts";
export type { PureArray, PureKernelsOptions, PureTensor } from "./core/pure/kernels.ts";

// --- training and validation ---
export {
  type FaceIdentity,
  type HairStyle,
  parseSyntheticRef,
  renderFace,
  type RenderOptions,
  renderSyntheticRef,
  type Rgb,
  syntheticDataset,
  type SyntheticDatasetOptions,
  syntheticIdentity,
  type SyntheticPair,
  type SyntheticPairs,
  syntheticPairs,
  type SyntheticPairsOptions,
  syntheticRef,
  type SyntheticSplit,
} from "./core/synthetic/mod.ts";
export {
  checkTripletLoopConfig,
  embedInChunks,
  type EpochResult,
  type ImageSource,
  NonFiniteLossError,
  runTripletEpoch,
  type TrainEvent,
  type TripletLoopConfig,
} from "./core/train.ts";
export {
  type PairValidation,
  type RefPair,
  validateOnPairs,
  validateOnPairsDetailed,
  validatePixelsOnPairs,
} from "./core/validate.ts";
export {
  type DatasetSplit,
  runSoftmaxEpoch,
  type SoftmaxEpochResult,
  type SoftmaxLoopConfig,
  type SoftmaxLossSpec,
  type SoftmaxStepEvent,
  type SoftmaxValidation,
  splitDatasetByImages,
  type SplitOptions,
  validateSoftmax,
} from "./core/train_softmax.ts";

// --- face detection and alignment ---
export {
  type DetectedFace,
  detectFaces,
  type DetectOptions,
  type MtcnnNets,
  nms,
  type OnetOutput,
  type PnetOutput,
  pyramidScales,
  type RnetOutput,
} from "./core/detect/mtcnn.ts";
export {
  backendSpecRunner,
  createMtcnnNets,
  kernelSpecRunner,
  type SpecRunner,
} from "./core/detect/mtcnn_nets.ts";
export {
  MTCNN_OUTPUTS,
  mtcnnParams,
  onetSpec,
  paramsOf,
  pnetSpec,
  rnetSpec,
} from "./core/models/mtcnn.ts";
export { resizeArea, type SampleDepth } from "./core/detect/resample.ts";
export {
  type Affine,
  alignSimilarity,
  chooseCentralFace,
  FIVE_POINT_TEMPLATE_112,
  marginBox,
  marginCrop,
  similarityTransform,
  warpAffine,
} from "./core/detect/align.ts";
export { drawDetections, type DrawOptions } from "./core/detect/draw.ts";
