/**
 * Global average pooling, `[h, w, c]` to `[c]`.
 *
 * @module
 */

import type { OpDef } from "./op.ts";

/**
 * Mean over the spatial axes: `[h, w, c]` to `[c]`.
 *
 * @category Ops and kernels
 */
export interface GlobalAvgPoolNode {
  /** The operation. */
  readonly op: "globalAvgPool";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
}

/**
 * Global average pooling, `[h, w, c]` to `[c]`.
 *
 * @example
 * ```ts
 * import { globalAvgPool } from "./global_avg_pool.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "globalAvgPool", name: "g", input: "x" } as const;
 * assert.deepEqual(globalAvgPool.infer(node, inferContext(node, [[5, 5, 2]])).shape, [2]);
 * ```
 */
export const globalAvgPool: OpDef<GlobalAvgPoolNode> = {
  op: "globalAvgPool",
  summary: "Mean over the spatial axes.",
  kernels: ["globalAvgPool", "globalAvgPoolBackward"],
  saves: {},
  inputs: (node) => [node.input],
  infer: (_node, c) => ({ shape: [c.image()[2]] }),
  forward: (_node, c) => c.kernels.globalAvgPool(c.inputs[0]!),
  backward: (_node, c) => [c.kernels.globalAvgPoolBackward(c.dy, c.inputShapes[0]!)],
};
