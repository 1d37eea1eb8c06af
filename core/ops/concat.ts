/**
 * Concatenation along the channel (last) axis.
 *
 * @module
 */

import type { OpDef } from "./op.ts";

/**
 * Concatenation along the channel (last) axis.
 *
 * @category Ops and kernels
 */
export interface ConcatNode {
  /** The operation. */
  readonly op: "concat";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The names of the input nodes. */
  readonly inputs: readonly string[];
}

/**
 * The concat op: inputs agree on every axis but the last; backward splits
 * the gradient.
 *
 * @example
 * ```ts
 * import { concat } from "./concat.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "concat", name: "c", inputs: ["a", "b"] } as const;
 * assert.deepEqual(concat.infer(node, inferContext(node, [[2, 2, 1], [2, 2, 3]])).shape, [2, 2, 4]);
 * ```
 */
export const concat: OpDef<ConcatNode> = {
  op: "concat",
  summary: "Concatenation along the last axis.",
  kernels: ["concat", "split"],
  saves: {},
  inputs: (node) => node.inputs,
  infer(node, c) {
    if (!Array.isArray(node.inputs) || node.inputs.length === 0) c.fail("needs at least one input");
    const first = c.inputs[0]!;
    let channels = 0;
    c.inputs.forEach((s, i) => {
      if (
        s.length !== first.length || s.length < 1 ||
        s.slice(0, -1).some((d, j) => d !== first[j])
      ) {
        c.fail(
          `inputs "${node.inputs[0]}" [${first.join(", ")}] and "${node.inputs[i]}" [${
            s.join(", ")
          }] differ outside the channel axis`,
        );
      }
      channels += s[s.length - 1]!;
    });
    return { shape: [...first.slice(0, -1), channels] };
  },
  forward: (_node, c) => c.kernels.concat(c.inputs),
  backward: (_node, c) => c.kernels.split(c.dy, c.inputShapes.map((s) => s[s.length - 1]!)),
};
