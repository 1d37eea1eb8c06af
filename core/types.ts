/**
 * Plain data that crosses every boundary of the framework: matrices, tensors,
 * named parameter sets, image batches and datasets. Nothing here depends on a
 * backend, a file or a clock.
 *
 * @module
 */

/**
 * Padding mode of convolutions and pools, as TensorFlow defines it.
 *
 * @category Data and contract
 */
export type Padding = "same" | "valid";

/**
 * A row-major float32 matrix. `data.length === rows * cols`.
 *
 * @category Data and contract
 */
export interface Matrix {
  /** Number of rows (e.g. images). */
  readonly rows: number;
  /** Number of columns (e.g. embedding dimensions). */
  readonly cols: number;
  /** Row-major values. */
  readonly data: Float32Array;
}

/**
 * A dense float32 tensor with an explicit shape (row-major, last axis fastest).
 *
 * @category Data and contract
 */
export interface Tensor {
  /** The shape; the product of its entries equals `data.length`. */
  readonly shape: readonly number[];
  /** Row-major values. */
  readonly data: Float32Array;
}

/**
 * Named tensors. Names come from model-spec node names (for example
 * `conv1/weights`), never from a backend, so a set written by one backend loads
 * in every other.
 *
 * @category Data and contract
 */
export type NamedTensors = Record<string, Tensor>;

/**
 * A batch of images in NHWC layout, float32.
 *
 * @category Data and contract
 */
export interface ImageBatch {
  /** Number of images. */
  readonly n: number;
  /** Height in pixels. */
  readonly height: number;
  /** Width in pixels. */
  readonly width: number;
  /** Channels (3 for RGB). */
  readonly channels: number;
  /** NHWC values, `n * height * width * channels` long. */
  readonly data: Float32Array;
}

/**
 * One identity of a dataset, in the reference implementation's layout: a name (the folder name) and
 * the references of its images (file paths, or synthetic image ids).
 *
 * @category Data and contract
 */
export interface ImageClass {
  /** The identity's name; classes are sorted by name and the index is the label. */
  readonly name: string;
  /** References to the identity's images (paths or ids), in a stable order. */
  readonly images: readonly string[];
}

/**
 * A dataset: the identities, sorted by name.
 *
 * @category Data and contract
 */
export type Dataset = readonly ImageClass[];

/**
 * The state of the seedable, splittable counter-based PRNG (Philox4x32-10): a
 * plain value that survives a JSON round trip. `key` selects the stream,
 * `counter` is the index of the next 32-bit word in that stream.
 *
 * @category Data and contract
 */
export interface RngState {
  /** Two unsigned 32-bit key words. */
  readonly key: readonly [number, number];
  /** Index of the next 32-bit output word (a non-negative safe integer). */
  readonly counter: number;
}

/**
 * Triplet selection strategies.
 *
 * @category Data and contract
 */
export type SelectionStrategy = "vggface" | "facenet" | "hard" | "all";

/**
 * Options of triplet selection.
 *
 * @category Data and contract
 */
export interface SelectTripletsOptions {
  /** The margin alpha (> 0). */
  readonly alpha: number;
  /** Default "vggface" (the reference implementation's). */
  readonly strategy?: SelectionStrategy;
  /**
   * How many leading classes serve as anchors (the reference implementation uses the first
   * `people_per_batch`); default all classes.
   */
  readonly anchorClasses?: number;
  /** Randomness for the negative picks and the final shuffle; required by "vggface" and "facenet". */
  readonly rng?: RngState;
  /** Whether to shuffle the selected triplets (the reference implementation does); default true. */
  readonly shuffle?: boolean;
}

/**
 * The outcome of triplet selection.
 *
 * @category Data and contract
 */
export interface TripletSelection {
  /** Row indices `[anchor, positive, negative]` into the embedding matrix. */
  readonly triplets: readonly (readonly [number, number, number])[];
  /** Number of anchor/positive pairs considered. */
  readonly pairs: number;
  /** Mean squared distance anchor-positive over the considered pairs. */
  readonly meanPosDist: number;
  /** Mean squared distance anchor-negative over all anchor/other-class pairs. */
  readonly meanNegDist: number;
  /** Fraction of pairs with no admissible negative. */
  readonly noCandidateFraction: number;
  /** The advanced RNG (unchanged when no draw was needed). */
  readonly rng: RngState | undefined;
}

/**
 * Optimizer names, the reference implementation's plus plain SGD.
 *
 * @category Data and contract
 */
export type OptimizerName = "SGD" | "ADAGRAD" | "ADADELTA" | "ADAM" | "RMSPROP" | "MOM";

/**
 * An optimizer and its hyper-parameters; unset values take the reference implementation's defaults
 * (Adagrad initial accumulator 0.1; Adadelta rho 0.9 eps 1e-6; Adam beta1 0.9
 * beta2 0.999 eps 0.1; RMSProp decay 0.9 momentum 0.9 eps 1.0; Momentum 0.9
 * with Nesterov).
 *
 * @category Data and contract
 */
export interface OptimizerConfig {
  /** The optimizer. */
  readonly name: OptimizerName;
  /** Momentum (MOM, RMSPROP). */
  readonly momentum?: number;
  /** Nesterov momentum (MOM). */
  readonly nesterov?: boolean;
  /** Decay of the squared-gradient average (ADADELTA). */
  readonly rho?: number;
  /** Numerical-stability epsilon (ADADELTA, ADAM, RMSPROP). */
  readonly epsilon?: number;
  /** First-moment decay (ADAM). */
  readonly beta1?: number;
  /** Second-moment decay (ADAM). */
  readonly beta2?: number;
  /** Decay of the squared-gradient average (RMSPROP). */
  readonly decay?: number;
  /** Initial accumulator value (ADAGRAD). */
  readonly initialAccumulator?: number;
}

/**
 * An optimizer's slots (accumulators, moments) per parameter, plus its step count.
 *
 * @category Data and contract
 */
export interface OptimizerState {
  /** The optimizer. */
  readonly name: OptimizerName;
  /** Slot name (e.g. "accumulator", "m", "v") to per-parameter tensors. */
  readonly slots: Readonly<Record<string, NamedTensors>>;
  /** Number of updates applied. */
  readonly iterations: number;
}
