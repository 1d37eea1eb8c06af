/**
 * The declarative network description shared by every backend: a small DAG of
 * named nodes. One spec runs on the pure, tfjs and wasm-simd backends; its node
 * names give the parameter names (`<node>/weights`, `<node>/biases`,
 * `<node>/beta`, `<node>/gamma`, `<node>/moving_mean`, `<node>/moving_variance`).
 *
 * Shapes are per example (NHWC without N): an image input is `[h, w, c]`, a
 * flat feature vector is `[d]`.
 *
 * @module
 */

/** Padding mode of convolutions and pools, as TensorFlow defines it. */
export type Padding = "same" | "valid";

/** The graph's image input. */
export interface InputNode {
  /** The operation. */
  readonly op: "input";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** Per-example shape `[height, width, channels]`. */
  readonly shape: readonly [number, number, number];
}

/** 2-D convolution; weights `[kh, kw, cin, cout]` (TensorFlow's HWIO). */
export interface Conv2dNode {
  /** The operation. */
  readonly op: "conv2d";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Number of output channels. */
  readonly filters: number;
  /** Kernel size, square or `[kh, kw]`. */
  readonly kernel: number | readonly [number, number];
  /** Stride (same in both directions); default 1. */
  readonly stride?: number;
  /** Default "same". */
  readonly padding?: Padding;
  /** Whether the conv has a bias; default false (it is usually followed by batch norm). */
  readonly bias?: boolean;
}

/** Batch normalization over the last axis. */
export interface BatchNormNode {
  /** The operation. */
  readonly op: "batchNorm";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Moving-average decay of the statistics; default 0.995 (the seed's). */
  readonly decay?: number;
  /** Variance epsilon; default 0.001 (the seed's). */
  readonly epsilon?: number;
  /** Whether a learned scale gamma exists; default true. */
  readonly scale?: boolean;
}

/** Rectified linear unit. */
export interface ReluNode {
  /** The operation. */
  readonly op: "relu";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
}

/** Max or average pooling. */
export interface PoolNode {
  /** The operation. */
  readonly op: "maxPool" | "avgPool";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Window size (square). */
  readonly size: number;
  /** Stride (same in both directions). */
  readonly stride: number;
  /** Default "valid". */
  readonly padding?: Padding;
}

/** Mean over the spatial axes: `[h, w, c]` to `[c]`. */
export interface GlobalAvgPoolNode {
  /** The operation. */
  readonly op: "globalAvgPool";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
}

/** Concatenation along the channel (last) axis. */
export interface ConcatNode {
  /** The operation. */
  readonly op: "concat";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The names of the input nodes. */
  readonly inputs: readonly string[];
}

/** Scaled residual sum: `inputs[0] + scale * inputs[1]`. */
export interface AddNode {
  /** The operation. */
  readonly op: "add";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The names of the input nodes. */
  readonly inputs: readonly [string, string];
  /** Scale of the second input; default 1. */
  readonly scale?: number;
}

/** Fully connected layer on `[d]` features; weights `[d, units]`. */
export interface DenseNode {
  /** The operation. */
  readonly op: "dense";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Number of output features. */
  readonly units: number;
  /** Default true. */
  readonly bias?: boolean;
}

/** Inverted dropout driven by the explicit RNG; identity in inference mode. */
export interface DropoutNode {
  /** The operation. */
  readonly op: "dropout";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Probability of keeping a unit, in (0, 1]. */
  readonly keepProbability: number;
}

/** `[h, w, c]` to `[h * w * c]`. */
export interface FlattenNode {
  /** The operation. */
  readonly op: "flatten";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
}

/** Row-wise L2 normalization `x / sqrt(max(sum(x^2), epsilon))`. */
export interface L2NormalizeNode {
  /** The operation. */
  readonly op: "l2Normalize";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Default 1e-10 (the seed's). */
  readonly epsilon?: number;
}

/** Any node of a model graph. */
export type NodeSpec =
  | InputNode
  | Conv2dNode
  | BatchNormNode
  | ReluNode
  | PoolNode
  | GlobalAvgPoolNode
  | ConcatNode
  | AddNode
  | DenseNode
  | DropoutNode
  | FlattenNode
  | L2NormalizeNode;

/** The name of a node operation. */
export type OpName = NodeSpec["op"];

/**
 * A whole network: nodes in topological order (each node's inputs appear
 * before it), exactly one input node, and the names of the bottleneck
 * (`prelogits`, un-normalized) and the embedding (`output`, L2-normalized).
 */
export interface ModelSpec {
  /** The spec's name, e.g. "nano" or "inception-resnet-v1". */
  readonly name: string;
  /** The nodes in topological order. */
  readonly nodes: readonly NodeSpec[];
  /** The node whose value is the bottleneck (prelogits), shape `[embeddingSize]`. */
  readonly prelogits: string;
  /** The node whose value is the L2-normalized embedding, shape `[embeddingSize]`. */
  readonly output: string;
}
