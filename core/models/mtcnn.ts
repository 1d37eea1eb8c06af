/**
 * MTCNN's three networks (FaceNet (TensorFlow)'s `det1`, `det2`, `det3`) as
 * model specs, and the mapping of their pretrained TFLite constants to the
 * specs' parameters. Node names are the original TensorFlow scopes, so the
 * parameters read `pnet/conv1/weights`, `rnet/prelu1/alpha`, ...
 *
 * | net | layers | output |
 * |---|---|---|
 * | P-Net (any h x w >= 12) | conv 3x3 10, PReLU, max pool 2/2 SAME, conv 3x3 16, PReLU, conv 3x3 32, PReLU; heads conv 1x1 2 + softmax, conv 1x1 4 | `[(h-2)/2-4, ..., 2]`, `[..., 4]` |
 * | R-Net (24x24) | conv 3x3 28, PReLU, pool 3/2 SAME, conv 3x3 48, PReLU, pool 3/2 VALID, conv 2x2 64, PReLU, dense 128, PReLU; heads dense 2 + softmax, dense 4 | `[2]`, `[4]` |
 * | O-Net (48x48) | conv 3x3 32, PReLU, pool 3/2 SAME, conv 3x3 64, PReLU, pool 3/2 VALID, conv 3x3 64, PReLU, pool 2/2 SAME, conv 2x2 128, PReLU, dense 256, PReLU; heads dense 2 + softmax, dense 4, dense 10 | `[2]`, `[4]`, `[10]` |
 *
 * Every conv is VALID with a bias and no batch norm; dense layers read the
 * conv output flattened in height, width, channel order (as the TFLite files
 * do). The networks see transposed images (core/detect/mtcnn.ts). A spec
 * needs flat `prelogits`/`output` nodes: they name the face probability
 * (flattened for P-Net); the detector asks for the named heads.
 *
 * @module
 */

import type { ModelSpec, NodeSpec } from "../model_spec.ts";
import type { NamedTensors, Tensor } from "../types.ts";
import { toHwio, transpose2d } from "./_tflite_layout.ts";

/**
 * The nodes holding each net's outputs.
 *
 * @category Models
 */
export const MTCNN_OUTPUTS = {
  pnet: { prob: "pnet/prob1", reg: "pnet/conv4-2" },
  rnet: { prob: "rnet/prob1", reg: "rnet/conv5-2" },
  onet: { prob: "onet/prob1", reg: "onet/conv6-2", landmarks: "onet/conv6-3" },
} as const;

const conv = (name: string, input: string, filters: number, kernel: number): NodeSpec => ({
  op: "conv2d",
  name,
  input,
  filters,
  kernel,
  padding: "valid",
  bias: true,
});
const prelu = (name: string, input: string): NodeSpec => ({ op: "prelu", name, input });
const pool = (name: string, input: string, size: number, padding: "same" | "valid"): NodeSpec => ({
  op: "maxPool",
  name,
  input,
  size,
  stride: 2,
  padding,
});
const dense = (name: string, input: string, units: number): NodeSpec => ({
  op: "dense",
  name,
  input,
  units,
  bias: true,
});

/**
 * The P-Net spec for one input size (the net is fully convolutional; the
 * pipeline builds one per pyramid level).
 *
 * @param height Input height (>= 12).
 * @param width Input width (>= 12).
 * @returns The spec.
 * @throws {RangeError} When a side is below 12 pixels.
 * @example
 * ```ts
 * import { pnetSpec } from "@facenet-deno/facenet/pure";
 * import { inferShapes } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const shapes = inferShapes(pnetSpec(31, 24));
 * assert.deepEqual(shapes.nodes.get("pnet/prob1"), [11, 7, 2]); // 29x22 -> pool 15x11 -> 13x9 -> 11x7
 * assert.equal(shapes.parameterCount, 6632);
 * ```
 *
 * @category Models
 */
export function pnetSpec(height: number, width: number): ModelSpec {
  for (const [v, what] of [[height, "height"], [width, "width"]] as const) {
    if (!Number.isInteger(v) || v < 12) {
      throw new RangeError(`P-Net needs an integer input ${what} >= 12, got ${v}`);
    }
  }
  return {
    name: "mtcnn-pnet",
    nodes: [
      { op: "input", name: "pnet/input", shape: [height, width, 3] },
      conv("pnet/conv1", "pnet/input", 10, 3),
      prelu("pnet/PReLU1", "pnet/conv1"),
      pool("pnet/pool1", "pnet/PReLU1", 2, "same"),
      conv("pnet/conv2", "pnet/pool1", 16, 3),
      prelu("pnet/PReLU2", "pnet/conv2"),
      conv("pnet/conv3", "pnet/PReLU2", 32, 3),
      prelu("pnet/PReLU3", "pnet/conv3"),
      conv("pnet/conv4-1", "pnet/PReLU3", 2, 1),
      { op: "softmax", name: "pnet/prob1", input: "pnet/conv4-1" },
      conv("pnet/conv4-2", "pnet/PReLU3", 4, 1),
      { op: "flatten", name: "pnet/prob1_flat", input: "pnet/prob1" },
    ],
    prelogits: "pnet/prob1_flat",
    output: "pnet/prob1_flat",
  };
}

/**
 * The R-Net spec (24x24 input).
 *
 * @returns The spec.
 * @example
 * ```ts
 * import { rnetSpec } from "@facenet-deno/facenet/pure";
 * import { inferShapes } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.equal(inferShapes(rnetSpec()).parameterCount, 100178);
 * ```
 *
 * @category Models
 */
export function rnetSpec(): ModelSpec {
  return {
    name: "mtcnn-rnet",
    nodes: [
      { op: "input", name: "rnet/input", shape: [24, 24, 3] },
      conv("rnet/conv1", "rnet/input", 28, 3),
      prelu("rnet/prelu1", "rnet/conv1"),
      pool("rnet/pool1", "rnet/prelu1", 3, "same"),
      conv("rnet/conv2", "rnet/pool1", 48, 3),
      prelu("rnet/prelu2", "rnet/conv2"),
      pool("rnet/pool2", "rnet/prelu2", 3, "valid"),
      conv("rnet/conv3", "rnet/pool2", 64, 2),
      prelu("rnet/prelu3", "rnet/conv3"),
      { op: "flatten", name: "rnet/flatten", input: "rnet/prelu3" },
      dense("rnet/conv4", "rnet/flatten", 128),
      prelu("rnet/prelu4", "rnet/conv4"),
      dense("rnet/conv5-1", "rnet/prelu4", 2),
      { op: "softmax", name: "rnet/prob1", input: "rnet/conv5-1" },
      dense("rnet/conv5-2", "rnet/prelu4", 4),
    ],
    prelogits: "rnet/prob1",
    output: "rnet/prob1",
  };
}

/**
 * The O-Net spec (48x48 input).
 *
 * @returns The spec.
 * @example
 * ```ts
 * import { onetSpec } from "@facenet-deno/facenet/pure";
 * import { inferShapes } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const shapes = inferShapes(onetSpec());
 * assert.equal(shapes.parameterCount, 389040);
 * assert.deepEqual(shapes.nodes.get("onet/conv6-3"), [10]);
 * ```
 *
 * @category Models
 */
export function onetSpec(): ModelSpec {
  return {
    name: "mtcnn-onet",
    nodes: [
      { op: "input", name: "onet/input", shape: [48, 48, 3] },
      conv("onet/conv1", "onet/input", 32, 3),
      prelu("onet/prelu1", "onet/conv1"),
      pool("onet/pool1", "onet/prelu1", 3, "same"),
      conv("onet/conv2", "onet/pool1", 64, 3),
      prelu("onet/prelu2", "onet/conv2"),
      pool("onet/pool2", "onet/prelu2", 3, "valid"),
      conv("onet/conv3", "onet/pool2", 64, 3),
      prelu("onet/prelu3", "onet/conv3"),
      pool("onet/pool3", "onet/prelu3", 2, "same"),
      conv("onet/conv4", "onet/pool3", 128, 2),
      prelu("onet/prelu4", "onet/conv4"),
      { op: "flatten", name: "onet/flatten", input: "onet/prelu4" },
      dense("onet/conv5", "onet/flatten", 256),
      prelu("onet/prelu5", "onet/conv5"),
      dense("onet/conv6-1", "onet/prelu5", 2),
      { op: "softmax", name: "onet/prob1", input: "onet/conv6-1" },
      dense("onet/conv6-2", "onet/prelu5", 4),
      dense("onet/conv6-3", "onet/prelu5", 10),
    ],
    prelogits: "onet/prob1",
    output: "onet/prob1",
  };
}

/**
 * The parameters of the three specs from the float32 constants of the
 * TFLite files (io/tflite.ts `tfliteConstants`): conv weights turned from
 * `[out, kh, kw, in]` to HWIO, dense weights from `[out, in]` to `[in, out]`,
 * biases and PReLU slopes as they are.
 *
 * @param constants The constants of `pnet.tflite`, `rnet.tflite` and `onet.tflite` together.
 * @returns The parameters by spec name (`pnet/conv1/weights`, ...).
 * @throws {RangeError} When a tensor is missing or has an unexpected shape.
 * @example
 * ```ts
 * import { mtcnnParams } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => mtcnnParams({}), /no tensor "pnet\/conv1\/weights\/read"/);
 * ```
 *
 * @category Models
 */
export function mtcnnParams(constants: NamedTensors): NamedTensors {
  const get = (name: string): Tensor => {
    const t = constants[name];
    if (t === undefined) throw new RangeError(`The MTCNN weights have no tensor "${name}"`);
    return t;
  };
  const out: NamedTensors = {};
  for (const spec of [pnetSpec(12, 12), rnetSpec(), onetSpec()]) {
    for (const node of spec.nodes) {
      if (node.op === "conv2d") {
        out[`${node.name}/weights`] = toHwio(get(`${node.name}/weights/read`));
        out[`${node.name}/biases`] = get(`${node.name}/Conv2D_bias`);
      } else if (node.op === "dense") {
        const base = node.name.split("/").pop()!;
        out[`${node.name}/weights`] = transpose2d(get(`${node.name}/weights/read/transpose`));
        out[`${node.name}/biases`] = get(`${node.name}/${base}/MatMul_bias`);
      } else if (node.op === "prelu") {
        out[`${node.name}/alpha`] = get(`${node.name}/alpha/read`);
      }
    }
  }
  return out;
}

/**
 * The parameters a spec uses, out of {@link mtcnnParams}' result.
 *
 * @param spec One of the three specs.
 * @param params All MTCNN parameters.
 * @returns The subset named by the spec's nodes.
 * @example
 * ```ts
 * import { paramsOf, rnetSpec } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const t = { shape: [1], data: new Float32Array(1) };
 * assert.deepEqual(Object.keys(paramsOf(rnetSpec(), { "rnet/prelu1/alpha": t, "pnet/PReLU1/alpha": t })), [
 *   "rnet/prelu1/alpha",
 * ]);
 * ```
 *
 * @category Models
 */
export function paramsOf(spec: ModelSpec, params: NamedTensors): NamedTensors {
  const prefix = `${spec.nodes[0]!.name.split("/")[0]}/`;
  return Object.fromEntries(Object.entries(params).filter(([k]) => k.startsWith(prefix)));
}
