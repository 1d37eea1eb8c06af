/**
 * The declarative network description shared by every backend: a small DAG of
 * named nodes. One spec runs on the pure, tfjs and wasm-simd backends; its node
 * names give the parameter names (`<node>/weights`, `<node>/biases`,
 * `<node>/beta`, `<node>/gamma`, `<node>/moving_mean`, `<node>/moving_variance`).
 *
 * Shapes are per example (NHWC without N): an image input is `[h, w, c]`, a
 * flat feature vector is `[d]`. Each node type, its defaults and semantics
 * live in its op's file in core/ops/.
 *
 * @module
 */

import type { Padding } from "./types.ts";
import type { InputNode } from "./ops/input.ts";
import type { Conv2dNode } from "./ops/conv2d.ts";
import type { BatchNormNode } from "./ops/batch_norm.ts";
import type { ReluNode } from "./ops/relu.ts";
import type { PoolNode } from "./ops/pool.ts";
import type { GlobalAvgPoolNode } from "./ops/global_avg_pool.ts";
import type { ConcatNode } from "./ops/concat.ts";
import type { AddNode } from "./ops/add.ts";
import type { DenseNode } from "./ops/dense.ts";
import type { DropoutNode } from "./ops/dropout.ts";
import type { FlattenNode } from "./ops/flatten.ts";
import type { L2NormalizeNode } from "./ops/l2_normalize.ts";
import type { PreluNode } from "./ops/prelu.ts";
import type { SoftmaxNode } from "./ops/softmax.ts";
import type { DepthwiseConv2dNode } from "./ops/depthwise_conv2d.ts";

export type {
  AddNode,
  BatchNormNode,
  ConcatNode,
  Conv2dNode,
  DenseNode,
  DepthwiseConv2dNode,
  DropoutNode,
  FlattenNode,
  GlobalAvgPoolNode,
  InputNode,
  L2NormalizeNode,
  Padding,
  PoolNode,
  PreluNode,
  ReluNode,
  SoftmaxNode,
};

/**
 * Any node of a model graph.
 *
 * @category Models
 */
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
  | L2NormalizeNode
  | PreluNode
  | SoftmaxNode
  | DepthwiseConv2dNode;

/**
 * The name of a node operation.
 *
 * @category Models
 */
export type OpName = NodeSpec["op"];

/**
 * A whole network: nodes in topological order (each node's inputs appear
 * before it), exactly one input node, and the names of the bottleneck
 * (`prelogits`, un-normalized) and the embedding (`output`, L2-normalized).
 *
 * @category Models
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
