/**
 * The shell's file formats and helpers: image decoding (JPEG, PNG, EXIF
 * orientation), dataset folders, LFW pairs files, checkpoints (safetensors +
 * JSON), `.npy` embeddings, run logs and the HTML training report, MNIST IDX
 * files, TFLite weights and npm-packaged assets. Deno only (files).
 *
 * @example Read a run directory and draw its report
 * ```ts
 * import { readRunLog, renderReport } from "@facenet-deno/facenet/io";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(join(dir, "steps.jsonl"), '{"epoch":1,"step":1,"loss":0.3,"triplets":5,"learningRate":0.1}\n');
 * const html = renderReport(await readRunLog(dir));
 * assert.ok(html.includes('data-chart="loss"'));
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

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
} from "./images.ts";
export {
  describeSkipped,
  type DroppedClass,
  type ImageVerification,
  loadDatasetFolder,
  type LoadDatasetOptions,
  type LoadedDataset,
  type SkippedFile,
} from "./dataset.ts";
export {
  ImageLoader,
  type ImageLoaderOptions,
  loadBatches,
  type LoadBatchesOptions,
  prepareImage,
  type PrepareOptions,
  type Standardization,
} from "./pipeline.ts";
export {
  formatPairs,
  type PairEntry,
  pairImageStem,
  type Pairs,
  parsePairs,
  type ResolvedPairs,
  resolvePairs,
  type ResolvePairsOptions,
} from "./pairs.ts";
export {
  buildPairs,
  type BuildPairsOptions,
  type BuiltPairs,
  type HeldOut,
  holdOutIdentities,
  type HoldOutOptions,
  pairsToRefs,
  validationIdentityCount,
} from "./validation_pairs.ts";
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  type IdxArray,
  type LabelledImages,
  parseIdx,
  readIdxFile,
  readMnistSplit,
} from "./idx.ts";
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
} from "./checkpoint.ts";
export { decodeSafetensors, encodeSafetensors, type Safetensors } from "./safetensors.ts";
export {
  parseTflite,
  tfliteConstants,
  TfliteFormatError,
  type TfliteModel,
  type TfliteOperator,
  type TfliteOptions,
  type TfliteTensor,
  type TfliteType,
} from "./tflite.ts";
export {
  loadPretrained,
  MOBILEFACENET_FILE,
  mobileFaceNetLayers,
  PRETRAINED_MODELS,
  PRETRAINED_NAMES,
  type PretrainedInfo,
  type PretrainedName,
} from "./pretrained.ts";
export {
  assetCacheDir,
  DEMO_PHOTOS_PACKAGE,
  MTCNN_WEIGHTS_PACKAGE,
  type NpmPackage,
  npmPackageFile,
  untarGzip,
} from "./npm_assets.ts";
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
} from "./run_log.ts";
export { MAP_IDENTITIES, renderReport, type ReportOptions, SERIES_COLORS } from "./report_html.ts";
export {
  decodeNpy,
  encodeNpyInt32,
  encodeNpyMatrix,
  type NpyArray,
  type NpyDtype,
  NpyFormatError,
  readNpyMatrix,
  writeNpyMatrix,
} from "./npy.ts";
