/**
 * Fully connected layer on flat features, weights `[d, units]`.
 *
 * @module
 */

import type { OpDef } from "./op.ts";

/**
 * Fully connected layer on `[d]` features; weights `[d, units]`.
 *
 * @category Ops and kernels
 */
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

/**
 * Defaults of the optional dense fields.
 *
 * @example
 * ```ts
 * import { DENSE_DEFAULTS } from "./dense.ts";
 * import assert from "node:assert/strict";
 * assert.equal(DENSE_DEFAULTS.bias, true);
 * ```
 */
export const DENSE_DEFAULTS = { bias: true } as const;

/**
 * The dense op: parameters `weights [d, units]` (Glorot) and, with `bias`,
 * `biases [units]` (zeros); backward reads its input. A spatial map must be
 * flattened first (flatten keeps NHWC's H, W, C order).
 *
 * @example
 * ```ts
 * import { dense } from "./dense.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "dense", name: "fc", input: "x", units: 2 } as const;
 * const r = dense.infer(node, inferContext(node, [[5]]));
 * assert.deepEqual(r.shape, [2]);
 * assert.deepEqual(r.params?.["weights"]?.shape, [5, 2]);
 * ```
 */
export const dense: OpDef<DenseNode> = {
  op: "dense",
  summary: "x @ weights + biases on [n, d] features.",
  kernels: ["matMul", "biasAdd", "sumToChannels"],
  saves: { inputs: [0] },
  inputs: (node) => [node.input],
  infer(node, c) {
    const d = c.flat();
    const units = c.positiveInt("units", node.units);
    return {
      shape: [units],
      params: {
        weights: { shape: [d, units], init: "glorot" },
        ...((node.bias ?? DENSE_DEFAULTS.bias)
          ? { biases: { shape: [units], init: "zeros" } }
          : {}),
      },
      flops: 2 * d * units,
    };
  },
  forward(node, c) {
    const k = c.kernels;
    const mm = k.matMul(c.inputs[0]!, c.param("weights"));
    if (!(node.bias ?? DENSE_DEFAULTS.bias)) return mm;
    const y = k.biasAdd(mm, c.param("biases"));
    k.dispose(mm);
    return y;
  },
  backward(node, c) {
    const k = c.kernels;
    c.paramGradient("weights", k.matMul(c.input(0), c.dy, { transposeA: true }));
    if (node.bias ?? DENSE_DEFAULTS.bias) c.paramGradient("biases", k.sumToChannels(c.dy));
    return [
      c.needsGradient(0) ? k.matMul(c.dy, c.param("weights"), { transposeB: true }) : null,
    ];
  },
};
