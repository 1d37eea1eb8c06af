/**
 * The reference implementation's Inception-ResNet-v1 (Szegedy et al. 2016, as in Sandberg's
 * facenet `models/inception_resnet_v1.py`): 160x160x3 in, stem, 5x block35
 * (residual scale 0.17), reduction-A, 10x block17 (0.10), reduction-B, 5x
 * block8 (0.20) and one block8 without activation (scale 1), average pool,
 * flatten, dropout, and the "Bottleneck" fully connected layer to the
 * embedding size, followed by batch norm as the reference implementation's arg_scope puts on
 * every conv and fully connected layer (batch norm without gamma:
 * `scale=False`; the residual "up" convolutions have biases and no batch norm).
 * Node names follow the reference implementation's TF scopes
 * (`Repeat/block35_1/Branch_1/Conv2d_0b_3x3`).
 *
 * Size at 160x160: 22,779,312 trainable parameters at 128-d (plus 28,832
 * moving statistics), 23,467,824 at 512-d — OpenVINO's model zoo lists the
 * reference implementation's 512-d model 20180408-102900 at 23.469 MParams and 2.846 GFLOPs; we
 * count 2.835 GFLOPs (convolutions and dense layers only, multiply-add = 2).
 *
 * @module
 */

import type { ModelSpec } from "../model_spec.ts";
import { GraphBuilder } from "./_builder.ts";

/**
 * Options of {@link inceptionResnetV1}.
 *
 * @category Models
 */
export interface InceptionResnetV1Options {
  /** Bottleneck (embedding) size; the reference implementation's default 128. */
  readonly embeddingSize?: number;
  /** Dropout keep probability before the bottleneck; default 1 (the reference implementation's triplet default). */
  readonly keepProbability?: number;
  /** Square input size; default 160 (the reference implementation's). Must leave a >= 1x1 map before pooling. */
  readonly imageSize?: number;
}

function block35(g: GraphBuilder, scope: string, net: string, scale: number): string {
  const b0 = g.convUnit(`${scope}/Branch_0/Conv2d_1x1`, net, 32, 1);
  let b1 = g.convUnit(`${scope}/Branch_1/Conv2d_0a_1x1`, net, 32, 1);
  b1 = g.convUnit(`${scope}/Branch_1/Conv2d_0b_3x3`, b1, 32, 3);
  let b2 = g.convUnit(`${scope}/Branch_2/Conv2d_0a_1x1`, net, 32, 1);
  b2 = g.convUnit(`${scope}/Branch_2/Conv2d_0b_3x3`, b2, 32, 3);
  b2 = g.convUnit(`${scope}/Branch_2/Conv2d_0c_3x3`, b2, 32, 3);
  return residual(g, scope, net, [b0, b1, b2], 256, scale, true);
}

function block17(g: GraphBuilder, scope: string, net: string, scale: number): string {
  const b0 = g.convUnit(`${scope}/Branch_0/Conv2d_1x1`, net, 128, 1);
  let b1 = g.convUnit(`${scope}/Branch_1/Conv2d_0a_1x1`, net, 128, 1);
  b1 = g.convUnit(`${scope}/Branch_1/Conv2d_0b_1x7`, b1, 128, [1, 7]);
  b1 = g.convUnit(`${scope}/Branch_1/Conv2d_0c_7x1`, b1, 128, [7, 1]);
  return residual(g, scope, net, [b0, b1], 896, scale, true);
}

function block8(
  g: GraphBuilder,
  scope: string,
  net: string,
  scale: number,
  activation: boolean,
): string {
  const b0 = g.convUnit(`${scope}/Branch_0/Conv2d_1x1`, net, 192, 1);
  let b1 = g.convUnit(`${scope}/Branch_1/Conv2d_0a_1x1`, net, 192, 1);
  b1 = g.convUnit(`${scope}/Branch_1/Conv2d_0b_1x3`, b1, 192, [1, 3]);
  b1 = g.convUnit(`${scope}/Branch_1/Conv2d_0c_3x1`, b1, 192, [3, 1]);
  return residual(g, scope, net, [b0, b1], 1792, scale, activation);
}

/** `net + scale * up(concat(branches))`, then relu when `activation`. */
function residual(
  g: GraphBuilder,
  scope: string,
  net: string,
  branches: string[],
  channels: number,
  scale: number,
  activation: boolean,
): string {
  const mixed = g.add({ op: "concat", name: `${scope}/concat`, inputs: branches });
  const up = g.add({
    op: "conv2d",
    name: `${scope}/Conv2d_1x1`,
    input: mixed,
    filters: channels,
    kernel: 1,
    bias: true,
  });
  const sum = g.add({ op: "add", name: `${scope}/add`, inputs: [net, up], scale });
  return activation ? g.add({ op: "relu", name: `${scope}/Relu`, input: sum }) : sum;
}

/**
 * The reference implementation's Inception-ResNet-v1 as a {@link ModelSpec}.
 *
 * @param options Embedding size, dropout keep probability, input size.
 * @returns The spec; `prelogits` is the Bottleneck's batch norm, `output` its L2 normalization.
 * @throws {RangeError} When an option is out of range.
 * @example
 * ```ts
 * import { inceptionResnetV1 } from "@facenet-deno/facenet/pure";
 * import { inferShapes } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const spec = inceptionResnetV1({ embeddingSize: 128 });
 * assert.deepEqual(inferShapes(spec).nodes.get("Mixed_7a/concat"), [3, 3, 1792]);
 * ```
 *
 * @category Models
 */
export function inceptionResnetV1(options: InceptionResnetV1Options = {}): ModelSpec {
  const embeddingSize = options.embeddingSize ?? 128;
  const keep = options.keepProbability ?? 1;
  const size = options.imageSize ?? 160;
  if (!Number.isInteger(embeddingSize) || embeddingSize < 1) {
    throw new RangeError(`Embedding size must be a positive integer, got ${embeddingSize}`);
  }
  if (!(keep > 0 && keep <= 1)) {
    throw new RangeError(`Keep probability must be in (0, 1], got ${keep}`);
  }
  if (!Number.isInteger(size) || size < 75) {
    throw new RangeError(`Inception-ResNet-v1 needs an image size >= 75, got ${size}`);
  }
  const g = new GraphBuilder();
  let net = g.add({ op: "input", name: "input", shape: [size, size, 3] });
  // Stem: 160 -> 79 -> 77 -> 77 -> 38 -> 38 -> 36 -> 17.
  net = g.convUnit("Conv2d_1a_3x3", net, 32, 3, { stride: 2, padding: "valid" });
  net = g.convUnit("Conv2d_2a_3x3", net, 32, 3, { padding: "valid" });
  net = g.convUnit("Conv2d_2b_3x3", net, 64, 3);
  net = g.add({ op: "maxPool", name: "MaxPool_3a_3x3", input: net, size: 3, stride: 2 });
  net = g.convUnit("Conv2d_3b_1x1", net, 80, 1, { padding: "valid" });
  net = g.convUnit("Conv2d_4a_3x3", net, 192, 3, { padding: "valid" });
  net = g.convUnit("Conv2d_4b_3x3", net, 256, 3, { stride: 2, padding: "valid" });
  for (let i = 1; i <= 5; i++) net = block35(g, `Repeat/block35_${i}`, net, 0.17);
  // Reduction-A (k=192, l=192, m=256, n=384): 17 -> 8, 256 -> 896 channels.
  {
    const b0 = g.convUnit("Mixed_6a/Branch_0/Conv2d_1a_3x3", net, 384, 3, {
      stride: 2,
      padding: "valid",
    });
    let b1 = g.convUnit("Mixed_6a/Branch_1/Conv2d_0a_1x1", net, 192, 1);
    b1 = g.convUnit("Mixed_6a/Branch_1/Conv2d_0b_3x3", b1, 192, 3);
    b1 = g.convUnit("Mixed_6a/Branch_1/Conv2d_1a_3x3", b1, 256, 3, {
      stride: 2,
      padding: "valid",
    });
    const b2 = g.add({
      op: "maxPool",
      name: "Mixed_6a/Branch_2/MaxPool_1a_3x3",
      input: net,
      size: 3,
      stride: 2,
    });
    net = g.add({ op: "concat", name: "Mixed_6a/concat", inputs: [b0, b1, b2] });
  }
  for (let i = 1; i <= 10; i++) net = block17(g, `Repeat_1/block17_${i}`, net, 0.10);
  // Reduction-B: 8 -> 3, 896 -> 1792 channels.
  {
    let b0 = g.convUnit("Mixed_7a/Branch_0/Conv2d_0a_1x1", net, 256, 1);
    b0 = g.convUnit("Mixed_7a/Branch_0/Conv2d_1a_3x3", b0, 384, 3, {
      stride: 2,
      padding: "valid",
    });
    let b1 = g.convUnit("Mixed_7a/Branch_1/Conv2d_0a_1x1", net, 256, 1);
    b1 = g.convUnit("Mixed_7a/Branch_1/Conv2d_1a_3x3", b1, 256, 3, {
      stride: 2,
      padding: "valid",
    });
    let b2 = g.convUnit("Mixed_7a/Branch_2/Conv2d_0a_1x1", net, 256, 1);
    b2 = g.convUnit("Mixed_7a/Branch_2/Conv2d_0b_3x3", b2, 256, 3);
    b2 = g.convUnit("Mixed_7a/Branch_2/Conv2d_1a_3x3", b2, 256, 3, {
      stride: 2,
      padding: "valid",
    });
    const b3 = g.add({
      op: "maxPool",
      name: "Mixed_7a/Branch_3/MaxPool_1a_3x3",
      input: net,
      size: 3,
      stride: 2,
    });
    net = g.add({ op: "concat", name: "Mixed_7a/concat", inputs: [b0, b1, b2, b3] });
  }
  for (let i = 1; i <= 5; i++) net = block8(g, `Repeat_2/block8_${i}`, net, 0.20, true);
  net = block8(g, "Block8", net, 1.0, false);
  // The reference implementation pools over the whole remaining map (avg_pool2d with the map's
  // size, VALID).
  net = g.add({ op: "globalAvgPool", name: "AvgPool_1a_8x8", input: net });
  net = g.add({ op: "flatten", name: "Flatten", input: net });
  net = g.add({ op: "dropout", name: "Dropout", input: net, keepProbability: keep });
  net = g.add({ op: "dense", name: "Bottleneck", input: net, units: embeddingSize, bias: false });
  const prelogits = g.add({
    op: "batchNorm",
    name: "Bottleneck/BatchNorm",
    input: net,
    scale: false,
  });
  const output = g.add({ op: "l2Normalize", name: "embeddings", input: prelogits });
  return { name: "inception-resnet-v1", nodes: g.nodes, prelogits, output };
}
