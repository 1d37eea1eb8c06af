/**
 * `[h, w, c]` to `[h * w * c]`, keeping NHWC's row-major H, W, C order (what
 * a TensorFlow `Flatten`/`Reshape` of an NHWC tensor gives).
 *
 * @module
 */

import type { OpDef } from "./op.ts";
import { sizeOf } from "./op.ts";

/**
 * `[h, w, c]` to `[h * w * c]`.
 *
 * @category Ops and kernels
 */
export interface FlattenNode {
  /** The operation. */
  readonly op: "flatten";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
}

/**
 * The flatten op: a reshape to `[n, size]`, values in H, W, C order.
 *
 * @example
 * ```ts
 * import { flatten } from "./flatten.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "flatten", name: "f", input: "x" } as const;
 * assert.deepEqual(flatten.infer(node, inferContext(node, [[3, 3, 2]])).shape, [18]);
 * ```
 */
export const flatten: OpDef<FlattenNode> = {
  op: "flatten",
  summary: "Reshape [h, w, c] to [h * w * c] (H, W, C order).",
  kernels: ["reshape"],
  saves: {},
  inputs: (node) => [node.input],
  infer: (_node, c) => ({ shape: [sizeOf(c.inputs[0]!)] }),
  forward(_node, c) {
    const shape = c.inputShapes[0]!;
    return c.kernels.reshape(c.inputs[0]!, [shape[0]!, sizeOf(shape.slice(1))]);
  },
  backward: (_node, c) => [c.kernels.reshape(c.dy, c.inputShapes[0]!)],
};
