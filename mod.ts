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
export {
  checkSelectionInputs,
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
  type ImageDataLike,
  imageDataToInput,
  type ImageDataToInputOptions,
  type InputStandardization,
  type ModelInputSpec,
  modelInputSpec,
} from "./core/pure/model_input.ts";

// --- model graph (core) ---
export type {
  BatchNormGradients,
  BatchNormTrainOutput,
  Conv2dOptions,
  Kernels,
  PoolOptions,
  PreluGradients,
} from "./core/kernels.ts";
export { BUILTIN_OPS, inferContext, opOf, opRegistry, OPS, sizeOf } from "./core/ops/mod.ts";
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
export { inferShapes, inputsOf } from "./core/shapes.ts";
export type { GraphShapes } from "./core/shapes.ts";
export { initParameters } from "./core/init.ts";
export type { InitializedParameters } from "./core/init.ts";
export { backward, forward, releaseTape } from "./core/executor.ts";
export type {
  BatchStatistics,
  ForwardOptions,
  ForwardResult,
  Gradients,
  Tape,
} from "./core/executor.ts";
export { updateMovingStatistics } from "./core/moving_statistics.ts";
export { CENTERS, copyTensors, initModelState, LOGITS } from "./core/model_state.ts";
export { softmaxHead } from "./core/softmax_head.ts";
export type { SoftmaxHeadResult } from "./core/softmax_head.ts";
export { createExecutorModel } from "./core/executor_model.ts";
export { createPureBackend } from "./core/pure_backend.ts";
export { MODEL_NAMES, modelSpec } from "./core/models/registry.ts";
export type { ModelName, ModelSpecOptions } from "./core/models/registry.ts";
export { nano } from "./core/models/nano.ts";
export type { NanoOptions } from "./core/models/nano.ts";
export { inceptionResnetV1 } from "./core/models/inception_resnet_v1.ts";
export type { InceptionResnetV1Options } from "./core/models/inception_resnet_v1.ts";
export { createPureKernels } from "./core/pure/kernels.ts";
export type { PureArray, PureKernelsOptions, PureTensor } from "./core/pure/kernels.ts";
export {
  addWeightDecay,
  applyOptimizer,
  initOptimizerState,
  isDecayed,
  resolveOptimizerConfig,
  weightDecayLoss,
} from "./core/pure/optimizers.ts";
export type { OptimizerUpdate, ResolvedOptimizerConfig } from "./core/pure/optimizers.ts";
export { exponentialDecay, parseSchedule, scheduledRate } from "./core/pure/schedule.ts";
export type { ExponentialDecayOptions, ScheduleEntry } from "./core/pure/schedule.ts";
export { effectiveDecay, updateMovingAverage } from "./core/pure/moving_average.ts";

// --- training (core) ---
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
  gatherImages,
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
  epochImageIndices,
  type LabeledImages,
  labeledImages,
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

// --- backends ---
export {
  createTfjsBackend,
  type TfjsBackend,
  type TfjsBackendOptions,
} from "./backends/tfjs/backend.ts";
export {
  activateDevice,
  type AdapterDescription,
  chooseDevice,
  type ChooseDeviceOptions,
  type DeviceChoice,
  probeWebGpuAdapter,
  TFJS_DEVICES,
  type TfjsDevice,
} from "./backends/tfjs/device.ts";
export type { ExportContext, TfjsExportAdapter, TfjsExportAdapters } from "./backends/tfjs/ops.ts";
export {
  buildGraphModelArtifacts,
  EXPORT_INPUT_NAME,
  EXPORT_OUTPUT_NAME,
  type ExportedModel,
  type ExportOptions,
  type LoadedExportedModel,
  loadExportedModel,
  writeExportedModel,
} from "./backends/tfjs/export.ts";
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
} from "./backends/onnx/export.ts";
export {
  applyOptimizerWasm,
  createWasmSimdBackend,
  createWasmSimdKernels,
  createWasmSimdRuntime,
  type GemmOptions,
  type GemmProblem,
  POOL_KERNELS,
  type PoolKernel,
  type SimdFlavor,
  updateMovingAverageWasm,
  type WasmSimdBackend,
  type WasmSimdBackendOptions,
  type WasmSimdKernelsOptions,
  WasmSimdRuntime,
  type WasmSimdRuntimeOptions,
  type WasmTensor,
} from "./backends/wasm-simd/mod.ts";

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
export { createKernelMtcnnNets } from "./core/detect/mtcnn_kernels.ts";
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

// --- io ---
export {
  applyOrientation,
  checkImageHeader,
  declaredImageSize,
  type DeclaredSize,
  decodeImage,
  type DecodeOptions,
  detectImageFormat,
  encodePng,
  IMAGE_TAIL_BYTES,
  ImageDecodeError,
  type ImageFormat,
  type ImageLimits,
  jpegOrientation,
  MAX_IMAGE_FILE_BYTES,
  MAX_IMAGE_PIXELS,
  probeImageFile,
  readImage,
} from "./io/images.ts";
export {
  appendJsonLines,
  readFileBounded,
  readJsonLines,
  replaceFolderAtomic,
  writeFileAtomic,
} from "./io/atomic.ts";
export {
  describeSkipped,
  type DroppedClass,
  type ImageVerification,
  loadDatasetFolder,
  type LoadDatasetOptions,
  type LoadedDataset,
  type SkippedFile,
} from "./io/dataset.ts";
export {
  ImageLoader,
  type ImageLoaderOptions,
  loadBatches,
  type LoadBatchesOptions,
  prepareImage,
  type PrepareOptions,
  type Standardization,
} from "./io/pipeline.ts";
export {
  formatPairs,
  type PairEntry,
  pairImageStem,
  type Pairs,
  parsePairs,
  type ResolvedPairs,
  resolvePairs,
  type ResolvePairsOptions,
} from "./io/pairs.ts";
export {
  buildPairs,
  type BuildPairsOptions,
  type BuiltPairs,
  type HeldOut,
  holdOutIdentities,
  type HoldOutOptions,
  pairsToRefs,
  validationIdentityCount,
} from "./io/validation_pairs.ts";
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  type IdxArray,
  type LabelledImages,
  parseIdx,
  readIdxFile,
  readMnistSplit,
} from "./io/idx.ts";
export {
  checkCompatible,
  type Checkpoint,
  CHECKPOINT_FILES,
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
  type ExpectedCheckpoint,
  type JsonValue,
  latestCheckpoint,
  loadCheckpoint,
  type NewCheckpointMeta,
  saveCheckpoint,
  type SaveCheckpointOptions,
} from "./io/checkpoint.ts";
export { decodeSafetensors, encodeSafetensors, type Safetensors } from "./io/safetensors.ts";
export {
  parseTflite,
  tfliteConstants,
  TfliteFormatError,
  type TfliteModel,
  type TfliteOperator,
  type TfliteOptions,
  type TfliteTensor,
  type TfliteType,
} from "./io/tflite.ts";
export {
  assetCacheDir,
  DEMO_PHOTOS_PACKAGE,
  MTCNN_WEIGHTS_PACKAGE,
  type NpmPackage,
  npmPackageFile,
  untarGzip,
} from "./io/npm_assets.ts";
export {
  appendSteps,
  type EpochRecord,
  identityOfRef,
  logEpoch,
  METRICS_FILE,
  readRunLog,
  type RunLog,
  type StepRecord,
  STEPS_FILE,
  VALIDATION_FILE,
  VALIDATION_FORMAT,
  type ValidationRecord,
  validationRecord,
  writeValidation,
} from "./io/run_log.ts";
export {
  MAP_IDENTITIES,
  renderReport,
  type ReportOptions,
  SERIES_COLORS,
} from "./io/report_html.ts";
export {
  decodeNpy,
  encodeNpyInt32,
  encodeNpyMatrix,
  type NpyArray,
  type NpyDtype,
  NpyFormatError,
  npyHeader,
  readNpyMatrix,
  writeNpyMatrix,
} from "./io/npy.ts";
