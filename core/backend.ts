/**
 * The contract every backend (pure, tfjs, wasm-simd) fulfils. Plain data
 * crosses it; calls that may touch a device are async. Pure index work and
 * the random draws stay in the core, so every backend consumes the RNG
 * identically.
 *
 * @module
 */

import type {
  ImageBatch,
  Matrix,
  NamedTensors,
  OptimizerConfig,
  OptimizerState,
  RngState,
  TripletSelection,
} from "./types.ts";
import type { ModelSpec } from "./model_spec.ts";
import type { SelectTripletsLimitOptions } from "./pure/select_triplets.ts";

/**
 * Names of the shipped backends.
 *
 * @category Data and contract
 */
export type BackendName = "pure" | "tfjs" | "wasm-simd";

/**
 * What a model is trained with.
 * - `triplet`: the batch holds consecutive triplets `[a0, p0, n0, a1, p1, n1, ...]`;
 *   loss = mean(max(d(a,p) - d(a,n) + alpha, 0)) (or softplus when `softMargin`).
 * - `softmax`: a dense logits layer over `numClasses` identities on the
 *   prelogits, cross-entropy, optional center loss, prelogits norm penalty and
 *   additive angular margin (ArcFace).
 *
 * @category Data and contract
 */
export type LossSpec =
  | {
    /** The loss family. */
    readonly kind: "triplet";
    /** The triplet margin (> 0). */
    readonly alpha: number;
    /** Use softplus(d(a,p) - d(a,n)) instead of the hinge. */
    readonly softMargin?: boolean;
  }
  | {
    /** The loss family. */
    readonly kind: "softmax";
    /** Number of training identities. */
    readonly numClasses: number;
    /** Weight of the center loss; 0 disables it. */
    readonly centerLossFactor?: number;
    /** Center update rate (the reference implementation's 0.95). */
    readonly centerLossAlfa?: number;
    /** Weight of the prelogits norm penalty. */
    readonly prelogitsNormLossFactor?: number;
    /** The norm of the penalty. */
    readonly prelogitsNormP?: number;
    /** ArcFace: cos(theta + margin) scaled by `scale` on normalized weights/features. */
    readonly arcface?: { readonly margin: number; readonly scale: number };
  };

/**
 * Everything that defines a model's training besides its spec.
 *
 * @category Data and contract
 */
export interface TrainingOptions {
  /** The loss. */
  readonly loss: LossSpec;
  /** The optimizer and its hyper-parameters. */
  readonly optimizer: OptimizerConfig;
  /** L2 weight decay on weights (not on biases or batch-norm parameters). */
  readonly weightDecay: number;
  /** Decay of the exponential moving average of the parameters; null disables it. */
  readonly movingAverageDecay: number | null;
}

/**
 * All state of a model, as plain named tensors: what a checkpoint stores and
 * what moves a model from one backend to another.
 *
 * @category Data and contract
 */
export interface ModelState {
  /** Trainable parameters (weights, biases, beta, gamma, logits layer). */
  readonly params: NamedTensors;
  /** Non-trainable state: batch-norm moving mean/variance, center-loss centers. */
  readonly stats: NamedTensors;
  /** Optimizer slots. */
  readonly optimizer: OptimizerState;
  /** Exponential moving averages of `params`, or null when disabled. */
  readonly ema: NamedTensors | null;
  /** Number of training steps taken (TF's global step / num_updates). */
  readonly step: number;
}

/**
 * Options of one training step.
 *
 * @category Data and contract
 */
export interface StepOptions {
  /** The learning rate of this step. */
  readonly learningRate: number;
  /** Randomness for dropout; the advanced state is returned. */
  readonly rng: RngState;
  /** Class labels of the batch rows (softmax losses only). */
  readonly labels?: Int32Array;
}

/**
 * The outcome of one training step.
 *
 * @category Data and contract
 */
export interface StepResult {
  /** Total loss (data loss + regularization). */
  readonly loss: number;
  /** Regularization part of the loss (weight decay, center loss, norm penalty). */
  readonly regularization: number;
  /** The advanced RNG state. */
  readonly rng: RngState;
}

/**
 * Options of an embedding pass.
 *
 * @category Data and contract
 */
export interface EmbedOptions {
  /**
   * Training mode: batch norm uses batch statistics and updates its moving
   * statistics (as the reference implementation's embedding pass does); dropout is active and
   * needs `rng`. Inference mode uses the moving statistics.
   */
  readonly training: boolean;
  /** Use the moving-average parameters (evaluation); default false. */
  readonly useMovingAverage?: boolean;
  /** Randomness for dropout in training mode. */
  readonly rng?: RngState;
}

/**
 * Options of {@link Model.outputs}: an embedding pass that returns named values.
 *
 * @category Data and contract
 */
export interface OutputOptions extends EmbedOptions {
  /**
   * What to return: names of the spec's nodes (e.g. its `prelogits` and
   * `output`), and `"Logits"` (core/model_state.ts `LOGITS`) for the class
   * scores of a softmax model's head: `prelogits @ W + b`, or for ArcFace
   * the cosines between the normalized prelogits and class weights (no margin).
   */
  readonly outputs: readonly string[];
}

/**
 * A model instantiated on a backend.
 *
 * @category Data and contract
 */
export interface Model {
  /** The network spec. */
  readonly spec: ModelSpec;
  /** L2-normalized embeddings, one row per image. */
  embed(images: ImageBatch, options: EmbedOptions): Promise<Matrix>;
  /**
   * Values of any named nodes (batch axis first) of one pass, in the same
   * mode and with the same side effects as {@link Model.embed}.
   */
  outputs(images: ImageBatch, options: OutputOptions): Promise<NamedTensors>;
  /** One optimizer step on a batch. */
  trainStep(images: ImageBatch, options: StepOptions): Promise<StepResult>;
  /** A copy of the whole state, as plain data. */
  getState(): Promise<ModelState>;
  /** Frees device memory; the model is unusable afterwards. */
  dispose(): void;
}

/**
 * Loss value and gradient with respect to the inputs.
 *
 * @category Data and contract
 */
export interface LossWithGradient {
  /** The loss. */
  readonly loss: number;
  /** Gradient with respect to the inputs. */
  readonly gradient: Matrix;
}

/**
 * A compute backend.
 *
 * @category Data and contract
 */
export interface Backend {
  /** The backend. */
  readonly name: BackendName;
  /** Human-readable device description, e.g. "cpu", "webgpu (llvmpipe)", "wasm-simd x2". */
  readonly device: string;
  /** Squared euclidean distances between all rows: an `n x n` matrix. */
  pairwiseSquaredDistances(x: Matrix): Promise<Matrix>;
  /**
   * Triplet selection; the result equals the core specification's, the cap on
   * batch-all's triplets (`maxTriplets`) included.
   */
  selectTriplets(
    embeddings: Matrix,
    numPerClass: readonly number[],
    options: SelectTripletsLimitOptions,
  ): Promise<TripletSelection>;
  /**
   * Triplet loss of consecutive triplet rows `[a0, p0, n0, ...]` and its
   * gradient with respect to those rows.
   */
  tripletLoss(
    embeddings: Matrix,
    options: { readonly alpha: number; readonly softMargin?: boolean },
  ): Promise<LossWithGradient>;
  /** Instantiates a model from a spec and a full state. */
  createModel(spec: ModelSpec, state: ModelState, options: TrainingOptions): Promise<Model>;
  /** Frees everything the backend holds. */
  dispose(): void;
}
