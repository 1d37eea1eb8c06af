/**
 * Export of a trained model for the browser, in TensorFlow.js's graph-model
 * format: a `model.json` whose `modelTopology` is a TensorFlow GraphDef (in
 * protobuf JSON form) plus binary weight shards (`group1-shard1ofN.bin`, 4 MB
 * each, the layout tfjs's own file handlers write). Stock tfjs loads it with
 * `tf.loadGraphModel(url)` and `model.predict(images)` returns the
 * L2-normalized embeddings; no code of this project is needed to run it.
 *
 * The graph is the inference-mode graph of the spec: batch norm with the
 * moving statistics, dropout removed, and (by default) the moving-average
 * parameters when the state has them, as the seed saves them.
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import type { ModelSpec, NodeSpec } from "../../core/model_spec.ts";
import type { ModelState } from "../../core/backend.ts";
import type { ImageBatch, Matrix, Tensor } from "../../core/types.ts";
import type { OpRegistry } from "../../core/ops/mod.ts";
import { inferShapes, inputsOf } from "../../core/shapes.ts";
import { type InputStandardization, modelInputSpec } from "../../core/pure/model_input.ts";
import { TFJS_OPS, type TfjsExportAdapter, type TfjsExportAdapters } from "./ops.ts";

/** Size of one weight shard, as tfjs's converter writes them. */
export const SHARD_BYTES = 4 * 1024 * 1024;

/**
 * Name of the graph's input placeholder and of its signature key.
 *
 * @example
 * ```ts
 * import { buildGraphModelArtifacts, EXPORT_INPUT_NAME } from "@facenet-deno/facenet/tfjs";
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
 * const { modelJson } = buildGraphModelArtifacts(spec, state);
 * const signature = modelJson.signature as {
 *   inputs: Record<string, { name: string }>;
 *   outputs: Record<string, { name: string }>;
 * };
 * assert.deepEqual(Object.keys(signature.inputs), [EXPORT_INPUT_NAME]);
 * assert.equal(signature.inputs[EXPORT_INPUT_NAME]?.name, `${EXPORT_INPUT_NAME}:0`);
 * ```
 *
 * @category Export
 */
export const EXPORT_INPUT_NAME = "images";
/**
 * Signature key of the embedding output.
 *
 * @example
 * ```ts
 * import { buildGraphModelArtifacts, EXPORT_OUTPUT_NAME } from "@facenet-deno/facenet/tfjs";
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
 * const { modelJson } = buildGraphModelArtifacts(spec, state);
 * const signature = modelJson.signature as {
 *   inputs: Record<string, { name: string }>;
 *   outputs: Record<string, { name: string }>;
 * };
 * assert.deepEqual(Object.keys(signature.outputs), [EXPORT_OUTPUT_NAME]);
 * assert.equal(signature.outputs[EXPORT_OUTPUT_NAME]?.name, "emb:0");
 * ```
 *
 * @category Export
 */
export const EXPORT_OUTPUT_NAME = "embeddings";

/**
 * Options of {@linkcode buildGraphModelArtifacts}.
 *
 * @category Export
 */
export interface ExportOptions {
  /**
   * Export the moving averages of the parameters (state.ema) instead of the
   * raw parameters; default: true when the state has them.
   */
  readonly useMovingAverage?: boolean;
  /** The op registry (default: the core's built-in ops). */
  readonly ops?: OpRegistry;
  /** The tfjs adapters by op name (default: the built-in ones). */
  readonly adapters?: TfjsExportAdapters;
  /**
   * The input standardization the model was trained with, recorded in the
   * metadata (default "fixed": `(x - 127.5) / 128`).
   */
  readonly standardization?: InputStandardization;
}

/**
 * An exported model in memory: the JSON and the binary shards.
 *
 * @category Export
 */
export interface ExportedModel {
  /** The content of `model.json`. */
  readonly modelJson: Record<string, unknown>;
  /** The weight shards, named as model.json's manifest lists them. */
  readonly shards: readonly { readonly name: string; readonly data: Uint8Array }[];
}

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

const FLOAT = { type: "DT_FLOAT" };

/**
 * Builds the graph-model artifacts of a spec and a state.
 *
 * @param spec The model graph.
 * @param state The trained state (parameters, statistics, optional EMA).
 * @param options Which parameters to export.
 * @returns model.json's content and the weight shards.
 * @throws {RangeError} When the spec is invalid (core/shapes.ts), a parameter
 *   or statistic of the spec is missing from the state, or a generated node
 *   name collides with a spec name.
 * @example A one-layer model
 * ```ts
 * import { buildGraphModelArtifacts } from "@facenet-deno/facenet/tfjs";
 * import assert from "node:assert/strict";
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
 * const exported = buildGraphModelArtifacts(spec, state);
 * assert.equal(exported.modelJson.format, "graph-model");
 * assert.equal(exported.shards.length, 1);
 * ```
 *
 * @category Export
 */
export function buildGraphModelArtifacts(
  spec: ModelSpec,
  state: ModelState,
  options: ExportOptions = {},
): ExportedModel {
  const shapes = inferShapes(spec, options.ops);
  const table = options.adapters ?? TFJS_OPS;
  const useEma = options.useMovingAverage ?? state.ema !== null;
  if (useEma && state.ema === null) {
    throw new RangeError("Export with useMovingAverage needs a state with moving averages");
  }
  // The moving averages replace the parameters they cover.
  const params = useEma && state.ema !== null ? { ...state.params, ...state.ema } : state.params;
  const nodes: GraphNode[] = [];
  const weights: { name: string; tensor: Tensor | { shape: number[]; data: Int32Array } }[] = [];
  const used = new Set<string>();
  const claim = (name: string): string => {
    if (used.has(name)) throw new RangeError(`Exported node name "${name}" is used twice`);
    used.add(name);
    return name;
  };
  const constant = (name: string, tensor: Tensor): string => {
    claim(name);
    nodes.push({
      name,
      op: "Const",
      attr: {
        dtype: FLOAT,
        value: {
          tensor: {
            dtype: "DT_FLOAT",
            tensorShape: { dim: tensor.shape.map((s) => ({ size: String(s) })) },
          },
        },
      },
    });
    weights.push({ name, tensor });
    return name;
  };
  const intConstant = (name: string, values: readonly number[]): string => {
    claim(name);
    nodes.push({
      name,
      op: "Const",
      attr: {
        dtype: { type: "DT_INT32" },
        value: {
          tensor: { dtype: "DT_INT32", tensorShape: { dim: [{ size: String(values.length) }] } },
        },
      },
    });
    weights.push({ name, tensor: { shape: [values.length], data: Int32Array.from(values) } });
    return name;
  };
  const scalar = (name: string, value: number): string =>
    constant(name, { shape: [], data: new Float32Array([value]) });
  const param = (name: string): string => {
    const t = params[name];
    if (t === undefined) throw new RangeError(`The state has no parameter "${name}"`);
    return constant(name, t);
  };
  const stat = (name: string): string => {
    const t = state.stats[name];
    if (t === undefined) throw new RangeError(`The state has no statistic "${name}"`);
    return constant(name, t);
  };
  const op = (
    name: string,
    opName: string,
    input: string[],
    attr: Record<string, unknown> = {},
  ) => {
    nodes.push({ name: claim(name), op: opName, input, attr: { T: FLOAT, ...attr } });
    return name;
  };
  const out = new Map<string, string>();
  const src = (name: string): string => out.get(name)!;
  for (const node of spec.nodes) {
    out.set(node.name, emit(node));
  }

  function emit(node: NodeSpec): string {
    const a = table[node.op] as TfjsExportAdapter | undefined;
    if (a === undefined) {
      throw new RangeError(`Op "${node.op}" of node "${node.name}" has no tfjs adapter`);
    }
    const ins = inputsOf(node, options.ops);
    return a.export(node, {
      inputs: ins.map(src),
      inputShapes: ins.map((name) => shapes.nodes.get(name)!),
      param: (suffix) => param(`${node.name}/${suffix}`),
      stat: (suffix) => stat(`${node.name}/${suffix}`),
      constant,
      intConstant,
      scalar,
      op,
      placeholder(shape) {
        nodes.push({
          name: claim(EXPORT_INPUT_NAME),
          op: "Placeholder",
          attr: {
            dtype: FLOAT,
            shape: { shape: { dim: [-1, ...shape].map((s) => ({ size: String(s) })) } },
          },
        });
        return EXPORT_INPUT_NAME;
      },
    });
  }

  // Weight data, concatenated in manifest order, then cut into shards.
  let total = 0;
  const blobs = weights.map((w) => {
    const bytes = new Uint8Array(
      w.tensor.data.buffer,
      w.tensor.data.byteOffset,
      w.tensor.data.byteLength,
    );
    total += bytes.byteLength;
    return bytes;
  });
  const all = new Uint8Array(total);
  let offset = 0;
  for (const b of blobs) {
    all.set(b, offset);
    offset += b.byteLength;
  }
  const shardCount = Math.max(1, Math.ceil(total / SHARD_BYTES));
  const shards = Array.from({ length: shardCount }, (_, i) => ({
    name: `group1-shard${i + 1}of${shardCount}.bin`,
    data: all.slice(i * SHARD_BYTES, Math.min(total, (i + 1) * SHARD_BYTES)),
  }));
  const shape = (t: { shape: readonly number[] }) => ({
    dim: t.shape.map((s) => ({ size: String(s) })),
  });
  const inputNode = spec.nodes.find((node) => node.op === "input")!;
  const inputShape: readonly number[] = inputNode.op === "input" ? inputNode.shape : [];
  const modelJson = {
    format: "graph-model",
    generatedBy: "facenet-deno",
    convertedBy: "facenet-deno export (backends/tfjs/export.ts)",
    modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{
      paths: shards.map((s) => s.name),
      weights: weights.map((w) => ({
        name: w.name,
        shape: [...w.tensor.shape],
        dtype: w.tensor.data instanceof Int32Array ? "int32" : "float32",
      })),
    }],
    signature: {
      inputs: {
        [EXPORT_INPUT_NAME]: {
          name: `${EXPORT_INPUT_NAME}:0`,
          dtype: "DT_FLOAT",
          tensorShape: shape({ shape: [-1, ...(inputNode.op === "input" ? inputNode.shape : [])] }),
        },
      },
      outputs: {
        [EXPORT_OUTPUT_NAME]: { name: `${src(spec.output)}:0`, dtype: "DT_FLOAT" },
      },
    },
    userDefinedMetadata: {
      facenet: {
        spec: spec.name,
        // How to prepare an image: size, layout, standardization (imageDataToInput uses it).
        input: modelInputSpec({
          height: inputShape[0] ?? 1,
          width: inputShape[1] ?? 1,
          channels: inputShape[2] ?? 3,
          standardization: options.standardization ?? "fixed",
        }),
        embeddingSize: shapes.nodes.get(spec.output)?.[0] ?? null,
        embeddingOutput: src(spec.output),
        prelogitsOutput: src(spec.prelogits),
        movingAverage: useEma,
        step: state.step,
      },
    },
  };
  return { modelJson, shards };
}

/**
 * An exported model loaded with stock tfjs, ready to embed images.
 *
 * @category Export
 */
export interface LoadedExportedModel {
  /** L2-normalized embeddings of NHWC float32 images, one row per image. */
  embed(images: ImageBatch): Promise<Matrix>;
  /** Frees the model's weights. */
  dispose(): void;
}

/**
 * Loads an exported model with stock tfjs (`tf.loadGraphModel`) on the active
 * tfjs backend. In a browser, stock tfjs alone does the same:
 * `const m = await tf.loadGraphModel(url); const e = m.predict(images);`.
 * Under Deno a `file://` URL works (the files are read with `fetch`).
 *
 * @param url The URL of model.json.
 * @returns The loaded model.
 * @throws {Error} When tfjs cannot fetch or parse the model.
 * @example Export a one-layer model and load it back
 * ```ts
 * import { buildGraphModelArtifacts, loadExportedModel } from "@facenet-deno/facenet/tfjs";
 * import assert from "node:assert/strict";
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
 * // `deno run -A cli.ts export` writes these files atomically; a scratch folder will do here.
 * const { modelJson, shards } = buildGraphModelArtifacts(spec, state);
 * const dir = await Deno.makeTempDir();
 * for (const shard of shards) await Deno.writeFile(`${dir}/${shard.name}`, shard.data);
 * await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(modelJson));
 * const model = await loadExportedModel(new URL(`file://${dir}/model.json`));
 * const e = await model.embed({ n: 1, height: 1, width: 1, channels: 2, data: new Float32Array([3, 4]) });
 * assert.ok(Math.abs(e.data[0]! - 0.6) < 1e-6 && Math.abs(e.data[1]! - 0.8) < 1e-6);
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Export
 */
export async function loadExportedModel(url: string | URL): Promise<LoadedExportedModel> {
  // The active backend must be initialized (a registered but never started WebGPU backend would
  // otherwise be picked without initialization); tf.ready() starts the best one that works.
  await tf.ready();
  const model = await tf.loadGraphModel(String(url), {
    fetchFunc: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init),
  });
  return {
    async embed(images: ImageBatch): Promise<Matrix> {
      const y = tf.tidy(() =>
        model.predict(
          tf.tensor4d(images.data, [images.n, images.height, images.width, images.channels]),
        ) as tf.Tensor2D
      );
      const data = Float32Array.from(await y.data());
      const [rows, cols] = y.shape;
      y.dispose();
      return { rows, cols, data };
    },
    dispose: () => model.dispose(),
  };
}
