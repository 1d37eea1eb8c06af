/**
 * Softmax over the last axis (MTCNN's face/non-face probabilities, per
 * pixel of P-Net's map or per crop of R/O-Net).
 *
 * @module
 */

import type { OpDef } from "./op.ts";

/**
 * Softmax over the last axis.
 *
 * @category Ops and kernels
 */
export interface SoftmaxNode {
  /** The operation. */
  readonly op: "softmax";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
}

/**
 * The softmax op: `exp(x - max) / sum(exp(x - max))` along the last axis, any
 * rank; backward reads its output.
 *
 * @example
 * ```ts
 * import { softmax } from "./softmax.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "softmax", name: "prob", input: "x" } as const;
 * assert.deepEqual(softmax.infer(node, inferContext(node, [[5, 5, 2]])).shape, [5, 5, 2]);
 * ```
 */
export const softmax: OpDef<SoftmaxNode> = {
  op: "softmax",
  summary: "Softmax over the last axis.",
  kernels: ["softmax", "softmaxBackward"],
  saves: { output: true },
  inputs: (node) => [node.input],
  infer(_node, c) {
    const s = c.inputs[0]!;
    if (s.length < 1) c.fail("needs an input of rank >= 1");
    return { shape: s, flops: 3 * s.reduce((a, b) => a * b, 1) };
  },
  forward: (_node, c) => c.kernels.softmax(c.inputs[0]!),
  backward: (_node, c) => [c.kernels.softmaxBackward(c.dy, c.output())],
};
