/**
 * Export of a trained model to ONNX (a `ModelProto`, opset 13, IR version 7),
 * the format ONNX Runtime, Triton, TensorRT and PyTorch (via onnx2torch)
 * load: a model trained here can be served or fine-tuned elsewhere.
 *
 * The graph is the inference-mode graph of the spec (batch norm with the
 * moving statistics, dropout removed, and by default the moving-average
 * parameters when the state has them), with one input `images` of shape
 * `[N, H, W, 3]` (NHWC float32, standardized as in training; the
 * `facenet.input` metadata entry says how) and one output `embeddings` of
 * shape `[N, D]`, L2-normalized. Inside, 4-D values are NCHW as ONNX's Conv
 * wants: the input is transposed once, and a flatten transposes back to NHWC
 * first so that the dense weights see the features in training's order.
 *
 * Initializers keep the checkpoint's tensor names (`Conv2d_1a_3x3/weights`,
 * `.../BatchNorm/moving_mean`, ...); convolution weights are transposed from
 * TensorFlow's HWIO to ONNX's OIHW, everything else is stored as trained.
 *
 * Ops written ({@link ONNX_OPS}, one adapter per op of the core's registry):
 * Transpose, Conv (with bias; grouped for depthwise), BatchNormalization,
 * Relu, PRelu, Softmax, MaxPool, AveragePool (padding excluded from the mean,
 * as TensorFlow's SAME), ReduceMean, Concat, Mul, Add, MatMul, Identity,
 * Reshape, ReduceSumSquare, Max, Sqrt, Div.
 *
 * @module
 */

import type { ModelSpec, NodeSpec } from "../../core/model_spec.ts";
import type { ModelState } from "../../core/backend.ts";
import type { Tensor } from "../../core/types.ts";
import { BUILTIN_OPS, type OpRegistry } from "../../core/ops/mod.ts";
import { resolveBatchNorm } from "../../core/ops/batch_norm.ts";
import { resolveConv2d } from "../../core/ops/conv2d.ts";
import { resolveDepthwiseConv2d } from "../../core/ops/depthwise_conv2d.ts";
import { poolOptions } from "../../core/ops/pool.ts";
import { ADD_DEFAULTS } from "../../core/ops/add.ts";
import { DENSE_DEFAULTS } from "../../core/ops/dense.ts";
import { L2_NORMALIZE_DEFAULTS } from "../../core/ops/l2_normalize.ts";
import { inferShapes, inputsOf } from "../../core/shapes.ts";
import { windowGeometry } from "../../core/pure/_window.ts";
import { type InputStandardization, modelInputSpec } from "../../core/pure/model_input.ts";
import { ProtoWriter } from "./_protobuf.ts";

/**
 * The ONNX operator set the export targets.
 *
 * @category Export
 */
export const ONNX_OPSET = 13;
/**
 * The ONNX IR version written (the one that goes with opset 13).
 *
 * @category Export
 */
export const ONNX_IR_VERSION = 7;
/**
 * Name of the graph's input.
 *
 * @category Export
 */
export const ONNX_INPUT_NAME = "images";
/**
 * Name of the graph's output.
 *
 * @category Export
 */
export const ONNX_OUTPUT_NAME = "embeddings";

/**
 * An ONNX attribute value: a float, an int, a string, or a list of ints.
 *
 * @category Export
 */
export type OnnxAttribute =
  | { readonly f: number }
  | { readonly i: number }
  | { readonly s: string }
  | { readonly ints: readonly number[] };

/**
 * What an adapter gets to write one node.
 *
 * @category Export
 */
export interface OnnxExportContext {
  /** The ONNX value names of the node's inputs. */
  readonly inputs: readonly string[];
  /**
   * Per-example shapes of the inputs in the spec's convention (NHWC for
   * images); in the ONNX graph, values of per-example rank 3 are NCHW.
   */
  readonly inputShapes: readonly (readonly number[])[];
  /** The per-example shape of the node's output (spec convention). */
  readonly outputShape: readonly number[];
  /** Adds a parameter of the node (`<node>/<suffix>`) as an initializer; returns its name. */
  param(suffix: string, transform?: (t: Tensor) => Tensor): string;
  /** Adds a statistic of the node as an initializer; returns its name. */
  stat(suffix: string): string;
  /** Adds a float32 constant initializer; returns its name. */
  constant(name: string, tensor: Tensor): string;
  /** Adds an int64 constant initializer of shape `[values.length]`; returns its name. */
  int64Constant(name: string, values: readonly number[]): string;
  /** Adds a node with one output named `output`; returns that name. */
  op(
    output: string,
    opType: string,
    inputs: readonly string[],
    attributes?: Readonly<Record<string, OnnxAttribute>>,
  ): string;
}

/**
 * How one op of the registry is written as ONNX nodes.
 *
 * @category Export
 */
export interface OnnxOpAdapter<N = NodeSpec> {
  /** Writes the node; returns the name of the value holding its output. */
  export(node: N, context: OnnxExportContext): string;
}

/**
 * ONNX adapters by op name.
 *
 * @category Export
 */
export type OnnxOpAdapters = Readonly<Record<string, OnnxOpAdapter<never>>>;

type Node<K extends NodeSpec["op"]> = Extract<NodeSpec, { op: K }>;

function adapter<N>(a: OnnxOpAdapter<N>): OnnxOpAdapter<never> {
  return a as OnnxOpAdapter<never>;
}

/** ONNX `pads` ([top, left, bottom, right]) of a window, TensorFlow's SAME or VALID. */
function pads(
  shape: readonly number[],
  kh: number,
  kw: number,
  stride: number,
  padding: "same" | "valid",
): number[] {
  const [h, w] = shape as [number, number];
  const gh = windowGeometry(h, kh, stride, padding);
  const gw = windowGeometry(w, kw, stride, padding);
  const afterH = Math.max((gh.out - 1) * stride + kh - h - gh.padBefore, 0);
  const afterW = Math.max((gw.out - 1) * stride + kw - w - gw.padBefore, 0);
  return [gh.padBefore, gw.padBefore, afterH, afterW];
}

/** HWIO (TensorFlow) to OIHW (ONNX). */
function hwioToOihw(t: Tensor): Tensor {
  const [kh, kw, cin, cout] = t.shape as [number, number, number, number];
  const out = new Float32Array(t.data.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) {
          out[((o * cin + i) * kh + y) * kw + x] = t.data[((y * kw + x) * cin + i) * cout + o]!;
        }
      }
    }
  }
  return { shape: [cout, cin, kh, kw], data: out };
}

function poolAdapter(kind: "MaxPool" | "AveragePool"): OnnxOpAdapter<never> {
  return adapter<Node<"maxPool" | "avgPool">>({
    export(node, c) {
      const o = poolOptions(node);
      return c.op(node.name, kind, [c.inputs[0]!], {
        kernel_shape: { ints: [o.size, o.size] },
        strides: { ints: [o.stride, o.stride] },
        pads: { ints: pads(c.inputShapes[0]!, o.size, o.size, o.stride, o.padding) },
        ...(kind === "AveragePool" ? { count_include_pad: { i: 0 } } : {}),
      });
    },
  });
}

/**
 * The ONNX adapter of every op of the core's registry.
 *
 * @example
 * ```ts
 * import { ONNX_OPS } from "@facenet-deno/facenet/onnx";
 * import { OPS } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 * assert.ok(OPS.every((op) => op.op in ONNX_OPS));
 * ```
 *
 * @category Export
 */
export const ONNX_OPS: OnnxOpAdapters = {
  input: adapter<Node<"input">>({
    export: (node, c) =>
      node.shape.length === 3
        ? c.op(node.name, "Transpose", [ONNX_INPUT_NAME], { perm: { ints: [0, 3, 1, 2] } })
        : c.op(node.name, "Identity", [ONNX_INPUT_NAME]),
  }),
  conv2d: adapter<Node<"conv2d">>({
    export(node, c) {
      const r = resolveConv2d(node);
      const inputs = [c.inputs[0]!, c.param("weights", hwioToOihw)];
      if (r.bias) inputs.push(c.param("biases"));
      return c.op(node.name, "Conv", inputs, {
        kernel_shape: { ints: [r.kh, r.kw] },
        strides: { ints: [r.stride, r.stride] },
        pads: { ints: pads(c.inputShapes[0]!, r.kh, r.kw, r.stride, r.padding) },
        dilations: { ints: [1, 1] },
      });
    },
  }),
  depthwiseConv2d: adapter<Node<"depthwiseConv2d">>({
    export(node, c) {
      const r = resolveDepthwiseConv2d(node);
      const shape = c.inputShapes[0]!;
      const channels = shape[shape.length - 1]!;
      // [kh, kw, c, 1] (TensorFlow) to [c, 1, kh, kw] (ONNX, one group per channel).
      const weights = c.param("weights", (t) => {
        const [kh, kw, ch] = t.shape as [number, number, number, number];
        const out = new Float32Array(t.data.length);
        for (let y = 0; y < kh; y++) {
          for (let x = 0; x < kw; x++) {
            for (let k = 0; k < ch; k++) {
              out[(k * kh + y) * kw + x] = t.data[(y * kw + x) * ch + k]!;
            }
          }
        }
        return { shape: [ch, 1, kh, kw], data: out };
      });
      const all = [c.inputs[0]!, weights];
      if (r.bias) all.push(c.param("biases"));
      return c.op(node.name, "Conv", all, {
        kernel_shape: { ints: [r.kh, r.kw] },
        strides: { ints: [r.stride, r.stride] },
        pads: { ints: pads(shape, r.kh, r.kw, r.stride, r.padding) },
        dilations: { ints: [1, 1] },
        group: { i: channels },
      });
    },
  }),
  batchNorm: adapter<Node<"batchNorm">>({
    export(node, c) {
      const r = resolveBatchNorm(node);
      const shape = c.inputShapes[0]!;
      const channels = shape[shape.length - 1]!;
      const gamma = r.scale ? c.param("gamma") : c.constant(`${node.name}/_ones`, {
        shape: [channels],
        data: new Float32Array(channels).fill(1),
      });
      return c.op(node.name, "BatchNormalization", [
        c.inputs[0]!,
        gamma,
        c.param("beta"),
        c.stat("moving_mean"),
        c.stat("moving_variance"),
      ], { epsilon: { f: r.epsilon } });
    },
  }),
  relu: adapter<Node<"relu">>({
    export: (node, c) => c.op(node.name, "Relu", [c.inputs[0]!]),
  }),
  prelu: adapter<Node<"prelu">>({
    export(node, c) {
      // One slope per channel; in NCHW it broadcasts as [c, 1, 1].
      const rank3 = c.inputShapes[0]!.length === 3;
      const alpha = c.param(
        "alpha",
        (t) => rank3 ? { shape: [t.shape[0]!, 1, 1], data: t.data } : t,
      );
      return c.op(node.name, "PRelu", [c.inputs[0]!, alpha]);
    },
  }),
  softmax: adapter<Node<"softmax">>({
    export: (node, c) =>
      // The last axis of the spec's shape: channels, which is axis 1 of an NCHW value.
      c.op(node.name, "Softmax", [c.inputs[0]!], {
        axis: { i: c.inputShapes[0]!.length === 3 ? 1 : -1 },
      }),
  }),
  maxPool: poolAdapter("MaxPool"),
  avgPool: poolAdapter("AveragePool"),
  globalAvgPool: adapter<Node<"globalAvgPool">>({
    export: (node, c) =>
      c.op(node.name, "ReduceMean", [c.inputs[0]!], {
        axes: { ints: [2, 3] },
        keepdims: { i: 0 },
      }),
  }),
  concat: adapter<Node<"concat">>({
    export(node, c) {
      if (c.inputs.length === 1) return c.op(node.name, "Identity", [c.inputs[0]!]);
      // The channel axis: 1 in NCHW, and the last (also 1) of [N, D] features.
      return c.op(node.name, "Concat", c.inputs, { axis: { i: 1 } });
    },
  }),
  add: adapter<Node<"add">>({
    export(node, c) {
      const scale = node.scale ?? ADD_DEFAULTS.scale;
      const b = scale === 1 ? c.inputs[1]! : c.op(`${node.name}/_scaled`, "Mul", [
        c.inputs[1]!,
        c.constant(`${node.name}/_scale`, { shape: [], data: new Float32Array([scale]) }),
      ]);
      return c.op(node.name, "Add", [c.inputs[0]!, b]);
    },
  }),
  dense: adapter<Node<"dense">>({
    export(node, c) {
      if (!(node.bias ?? DENSE_DEFAULTS.bias)) {
        return c.op(node.name, "MatMul", [c.inputs[0]!, c.param("weights")]);
      }
      const mm = c.op(`${node.name}/_matmul`, "MatMul", [c.inputs[0]!, c.param("weights")]);
      return c.op(node.name, "Add", [mm, c.param("biases")]);
    },
  }),
  dropout: adapter<Node<"dropout">>({
    export: (node, c) => c.op(node.name, "Identity", [c.inputs[0]!]),
  }),
  flatten: adapter<Node<"flatten">>({
    export(node, c) {
      const shape = c.inputShapes[0]!;
      const size = shape.reduce((a, b) => a * b, 1);
      // Back to NHWC first: training flattens height, width, channels in that order.
      const x = shape.length === 3
        ? c.op(`${node.name}/_nhwc`, "Transpose", [c.inputs[0]!], { perm: { ints: [0, 2, 3, 1] } })
        : c.inputs[0]!;
      return c.op(node.name, "Reshape", [x, c.int64Constant(`${node.name}/_shape`, [-1, size])]);
    },
  }),
  l2Normalize: adapter<Node<"l2Normalize">>({
    export(node, c) {
      const n = node.name;
      const x = c.inputs[0]!;
      const epsilon = node.epsilon ?? L2_NORMALIZE_DEFAULTS.epsilon;
      const sum = c.op(`${n}/_sum`, "ReduceSumSquare", [x], {
        axes: { ints: [-1] },
        keepdims: { i: 1 },
      });
      const clamped = c.op(`${n}/_max`, "Max", [
        sum,
        c.constant(`${n}/_epsilon`, { shape: [], data: new Float32Array([epsilon]) }),
      ]);
      const norm = c.op(`${n}/_norm`, "Sqrt", [clamped]);
      return c.op(n, "Div", [x, norm]);
    },
  }),
};

/**
 * Options of {@link buildOnnxModel}.
 *
 * @category Export
 */
export interface OnnxExportOptions {
  /** Export the moving averages of the parameters; default: true when the state has them. */
  readonly useMovingAverage?: boolean;
  /** The input standardization recorded in the metadata (default "fixed"). */
  readonly standardization?: InputStandardization;
  /** The op registry (default: the core's built-in ops). */
  readonly ops?: OpRegistry;
  /** The ONNX adapters by op name (default: {@link ONNX_OPS}). */
  readonly adapters?: OnnxOpAdapters;
}

const FLOAT = 1;
const INT64 = 7;

function tensorProto(name: string, shape: readonly number[], type: number, raw: Uint8Array) {
  return new ProtoWriter().packedInts(1, shape).int(2, type).string(8, name).bytes(9, raw);
}

function valueInfo(name: string, dims: readonly (number | string)[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) {
    shape.message(
      1,
      typeof d === "number" ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d),
    );
  }
  const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

function attribute(name: string, value: OnnxAttribute): ProtoWriter {
  const a = new ProtoWriter().string(1, name);
  if ("f" in value) return a.float(2, value.f).int(20, 1);
  if ("i" in value) return a.int(3, value.i).int(20, 2);
  if ("s" in value) return a.string(4, value.s).int(20, 3);
  for (const v of value.ints) a.int(8, v);
  return a.int(20, 7);
}

/**
 * Builds the ONNX model (a serialized `ModelProto`) of a spec and a state.
 *
 * @param spec The model graph.
 * @param state The trained state (parameters, statistics, optional EMA).
 * @param options Which parameters, the recorded standardization, custom ops.
 * @returns The bytes of the `.onnx` file.
 * @throws {RangeError} When the spec is invalid, an op has no ONNX adapter, a
 *   tensor of the spec is missing from the state, or a name is used twice.
 * @example A one-layer model: the file starts with ModelProto's ir_version field
 * ```ts
 * import { buildOnnxModel, ONNX_IR_VERSION } from "@facenet-deno/facenet/onnx";
 * import assert from "node:assert/strict";
 *
 * const spec = {
 *   name: "tiny",
 *   nodes: [
 *     { op: "input", name: "input", shape: [1, 1, 2] },
 *     { op: "flatten", name: "flat", input: "input" },
 *     { op: "dense", name: "fc", input: "flat", units: 2, bias: false },
 *     { op: "l2Normalize", name: "emb", input: "fc" },
 *   ],
 *   prelogits: "fc",
 *   output: "emb",
 * } as const;
 * const state = {
 *   params: { "fc/weights": { shape: [2, 2], data: new Float32Array([1, 0, 0, 1]) } },
 *   stats: {},
 *   optimizer: { name: "SGD", slots: {}, iterations: 0 },
 *   ema: null,
 *   step: 0,
 * } as const;
 * const bytes = buildOnnxModel(spec, state);
 * assert.deepEqual([...bytes.subarray(0, 2)], [0x08, ONNX_IR_VERSION]);
 * ```
 *
 * @category Export
 */
export function buildOnnxModel(
  spec: ModelSpec,
  state: ModelState,
  options: OnnxExportOptions = {},
): Uint8Array {
  const registry = options.ops ?? BUILTIN_OPS;
  const shapes = inferShapes(spec, registry);
  const table = options.adapters ?? ONNX_OPS;
  const useEma = options.useMovingAverage ?? state.ema !== null;
  if (useEma && state.ema === null) {
    throw new RangeError("Export with useMovingAverage needs a state with moving averages");
  }
  const params = useEma && state.ema !== null ? { ...state.params, ...state.ema } : state.params;
  const graph = new ProtoWriter();
  const initializers: ProtoWriter[] = [];
  const used = new Set<string>([ONNX_INPUT_NAME]);
  if (spec.nodes.some((n) => n.name === ONNX_OUTPUT_NAME && n.name !== spec.output)) {
    throw new RangeError(
      `Node "${ONNX_OUTPUT_NAME}" is not the spec's output, but ONNX's output takes that name`,
    );
  }
  const claim = (name: string): string => {
    if (used.has(name)) throw new RangeError(`ONNX value name "${name}" is used twice`);
    used.add(name);
    return name;
  };
  const constant = (name: string, tensor: Tensor): string => {
    const data = Float32Array.from(tensor.data);
    initializers.push(
      tensorProto(claim(name), tensor.shape, FLOAT, new Uint8Array(data.buffer)),
    );
    return name;
  };
  const int64Constant = (name: string, values: readonly number[]): string => {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    initializers.push(
      tensorProto(claim(name), [values.length], INT64, new Uint8Array(data.buffer)),
    );
    return name;
  };
  const op = (
    output: string,
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, OnnxAttribute>> = {},
  ): string => {
    const node = new ProtoWriter();
    for (const i of inputs) node.string(1, i);
    node.string(2, claim(output)).string(3, output).string(4, opType);
    for (const [name, value] of Object.entries(attributes)) node.message(5, attribute(name, value));
    graph.message(1, node);
    return output;
  };
  const out = new Map<string, string>();
  for (const node of spec.nodes) {
    const a = table[node.op] as OnnxOpAdapter | undefined;
    if (a === undefined) {
      throw new RangeError(`Op "${node.op}" of node "${node.name}" has no ONNX adapter`);
    }
    const ins = inputsOf(node, registry);
    out.set(
      node.name,
      a.export(node, {
        inputs: ins.map((name) => out.get(name)!),
        inputShapes: ins.map((name) => shapes.nodes.get(name)!),
        outputShape: shapes.nodes.get(node.name)!,
        param(suffix, transform) {
          const name = `${node.name}/${suffix}`;
          const t = params[name];
          if (t === undefined) throw new RangeError(`The state has no parameter "${name}"`);
          return constant(name, transform === undefined ? t : transform(t));
        },
        stat(suffix) {
          const name = `${node.name}/${suffix}`;
          const t = state.stats[name];
          if (t === undefined) throw new RangeError(`The state has no statistic "${name}"`);
          return constant(name, t);
        },
        constant,
        int64Constant,
        op,
      }),
    );
  }
  const outputShape = shapes.nodes.get(spec.output)!;
  // The output value is named `embeddings` (directly, when the spec's output node already is).
  if (out.get(spec.output) !== ONNX_OUTPUT_NAME) {
    op(ONNX_OUTPUT_NAME, "Identity", [out.get(spec.output)!]);
  }
  graph.string(2, spec.name);
  for (const init of initializers) graph.message(5, init);
  const inputNode = spec.nodes.find((node) => node.op === "input");
  const inputShape: readonly number[] = inputNode?.op === "input" ? inputNode.shape : [];
  graph.message(11, valueInfo(ONNX_INPUT_NAME, ["N", ...inputShape]));
  graph.message(12, valueInfo(ONNX_OUTPUT_NAME, ["N", ...outputShape]));

  const metadata: Record<string, string> = {
    "facenet.spec": spec.name,
    "facenet.input": JSON.stringify(modelInputSpec({
      height: inputShape[0] ?? 1,
      width: inputShape[1] ?? 1,
      channels: inputShape[2] ?? 3,
      standardization: options.standardization ?? "fixed",
    })),
    "facenet.embeddingSize": String(outputShape[0] ?? 0),
    "facenet.movingAverage": String(useEma),
    "facenet.step": String(state.step),
    "facenet.prelogits": spec.prelogits,
  };
  const model = new ProtoWriter()
    .int(1, ONNX_IR_VERSION)
    .string(2, "facenet-deno")
    .string(3, "1")
    .message(7, graph)
    .message(8, new ProtoWriter().string(1, "").int(2, ONNX_OPSET));
  for (const [key, value] of Object.entries(metadata)) {
    model.message(14, new ProtoWriter().string(1, key).string(2, value));
  }
  return model.finish();
}
