/**
 * Max pooling with TensorFlow padding.
 *
 * @module
 */

import type { OpDef } from "./op.ts";
import { inferPool, type PoolNode, poolOptions } from "./pool.ts";

/**
 * Max pooling: padded cells never win; the gradient of a window goes to its
 * first maximum in row-major window order. Backward reads the input.
 *
 * @example
 * ```ts
 * import { maxPool } from "./max_pool.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "maxPool", name: "p", input: "x", size: 3, stride: 2, padding: "same" } as const;
 * assert.deepEqual(maxPool.infer(node, inferContext(node, [[5, 5, 2]])).shape, [3, 3, 2]);
 * ```
 */
export const maxPool: OpDef<PoolNode> = {
  op: "maxPool",
  summary: "Max pooling (TF padding).",
  kernels: ["maxPool", "maxPoolBackward"],
  saves: { inputs: [0] },
  inputs: (node) => [node.input],
  infer: inferPool,
  forward: (node, c) => c.kernels.maxPool(c.inputs[0]!, poolOptions(node)),
  backward: (node, c) => [c.kernels.maxPoolBackward(c.dy, c.input(0), poolOptions(node))],
};
