/**
 * Row-wise L2 normalization `x / sqrt(max(sum(x^2), epsilon))`.
 *
 * @module
 */

import type { OpDef } from "./op.ts";

/**
 * Row-wise L2 normalization `x / sqrt(max(sum(x^2), epsilon))`.
 *
 * @category Ops and kernels
 */
export interface L2NormalizeNode {
  /** The operation. */
  readonly op: "l2Normalize";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Default 1e-10 (FaceNet (TensorFlow)'s). */
  readonly epsilon?: number;
}

/**
 * Defaults of the optional l2Normalize fields (FaceNet (TensorFlow)'s).
 *
 * @example
 * ```ts
 * import { L2_NORMALIZE_DEFAULTS } from "./l2_normalize.ts";
 * import assert from "node:assert/strict";
 * assert.equal(L2_NORMALIZE_DEFAULTS.epsilon, 1e-10);
 * ```
 */
export const L2_NORMALIZE_DEFAULTS = { epsilon: 1e-10 } as const;

/**
 * The l2Normalize op on flat features; backward reads its input.
 *
 * @example
 * ```ts
 * import { l2Normalize } from "./l2_normalize.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "l2Normalize", name: "e", input: "x" } as const;
 * assert.deepEqual(l2Normalize.infer(node, inferContext(node, [[8]])).shape, [8]);
 * ```
 */
export const l2Normalize: OpDef<L2NormalizeNode> = {
  op: "l2Normalize",
  summary: "x / sqrt(max(sum(x^2), epsilon)) per row.",
  kernels: ["l2Normalize", "l2NormalizeBackward"],
  saves: { inputs: [0] },
  inputs: (node) => [node.input],
  infer(node, c) {
    c.flat();
    const eps = node.epsilon ?? L2_NORMALIZE_DEFAULTS.epsilon;
    if (!(eps > 0)) c.fail(`epsilon must be positive, got ${node.epsilon}`);
    return { shape: c.inputs[0]! };
  },
  forward: (node, c) =>
    c.kernels.l2Normalize(c.inputs[0]!, node.epsilon ?? L2_NORMALIZE_DEFAULTS.epsilon),
  backward: (node, c) => [
    c.kernels.l2NormalizeBackward(
      c.dy,
      c.input(0),
      node.epsilon ?? L2_NORMALIZE_DEFAULTS.epsilon,
    ),
  ],
};
