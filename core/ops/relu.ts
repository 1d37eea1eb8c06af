/**
 * Rectified linear unit, `max(x, 0)`.
 *
 * @module
 */

import type { OpDef } from "./op.ts";

/**
 * Rectified linear unit.
 *
 * @category Ops and kernels
 */
export interface ReluNode {
  /** The operation. */
  readonly op: "relu";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
}

/**
 * The relu op: any shape; backward reads its own output (`dy * (y > 0)`).
 *
 * @example
 * ```ts
 * import { relu } from "./relu.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "relu", name: "r", input: "x" } as const;
 * assert.deepEqual(relu.infer(node, inferContext(node, [[2, 3]])).shape, [2, 3]);
 * ```
 */
export const relu: OpDef<ReluNode> = {
  op: "relu",
  summary: "max(x, 0), elementwise.",
  kernels: ["relu", "reluBackward"],
  saves: { output: true },
  inputs: (node) => [node.input],
  infer: (_node, c) => ({ shape: c.inputs[0]! }),
  forward: (_node, c) => c.kernels.relu(c.inputs[0]!),
  backward: (_node, c) => [c.kernels.reluBackward(c.dy, c.output())],
};
