/**
 * Scaled residual sum, `inputs[0] + scale * inputs[1]`.
 *
 * @module
 */

import type { OpDef } from "./op.ts";

/**
 * Scaled residual sum: `inputs[0] + scale * inputs[1]`.
 *
 * @category Ops and kernels
 */
export interface AddNode {
  /** The operation. */
  readonly op: "add";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The names of the input nodes. */
  readonly inputs: readonly [string, string];
  /** Scale of the second input; default 1. */
  readonly scale?: number;
}

/**
 * Defaults of the optional add fields.
 *
 * @example
 * ```ts
 * import { ADD_DEFAULTS } from "./add.ts";
 * import assert from "node:assert/strict";
 * assert.equal(ADD_DEFAULTS.scale, 1);
 * ```
 */
export const ADD_DEFAULTS = { scale: 1 } as const;

/**
 * The add op: two inputs of one shape.
 *
 * @example
 * ```ts
 * import { add } from "./add.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "add", name: "r", inputs: ["a", "b"], scale: 0.17 } as const;
 * assert.deepEqual(add.infer(node, inferContext(node, [[2, 2, 1], [2, 2, 1]])).shape, [2, 2, 1]);
 * ```
 */
export const add: OpDef<AddNode> = {
  op: "add",
  summary: "inputs[0] + scale * inputs[1].",
  kernels: ["add", "scale"],
  saves: {},
  inputs: (node) => node.inputs,
  infer(node, c) {
    if (!Array.isArray(node.inputs) || node.inputs.length !== 2) c.fail("needs exactly two inputs");
    const [a, b] = c.inputs as [readonly number[], readonly number[]];
    if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
      c.fail(
        `inputs "${node.inputs[0]}" [${a.join(", ")}] and "${node.inputs[1]}" [${
          b.join(", ")
        }] differ`,
      );
    }
    const scale = node.scale ?? ADD_DEFAULTS.scale;
    if (!Number.isFinite(scale)) c.fail(`scale must be finite, got ${node.scale}`);
    return { shape: a };
  },
  forward: (node, c) => c.kernels.add(c.inputs[0]!, c.inputs[1]!, node.scale ?? ADD_DEFAULTS.scale),
  backward: (node, c) => [
    c.kernels.scale(c.dy, 1),
    c.kernels.scale(c.dy, node.scale ?? ADD_DEFAULTS.scale),
  ],
};
