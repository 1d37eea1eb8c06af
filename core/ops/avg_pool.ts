/**
 * Average pooling with TensorFlow padding (padded cells not counted).
 *
 * @module
 */

import type { OpDef } from "./op.ts";
import { inferPool, type PoolNode, poolOptions } from "./pool.ts";

/**
 * Average pooling: padded cells are not counted (TensorFlow's rule).
 *
 * @example
 * ```ts
 * import { avgPool } from "./avg_pool.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "avgPool", name: "p", input: "x", size: 2, stride: 2 } as const;
 * assert.deepEqual(avgPool.infer(node, inferContext(node, [[5, 5, 2]])).shape, [2, 2, 2]);
 * ```
 */
export const avgPool: OpDef<PoolNode> = {
  op: "avgPool",
  summary: "Average pooling (TF padding, padded cells not counted).",
  kernels: ["avgPool", "avgPoolBackward"],
  saves: {},
  inputs: (node) => [node.input],
  infer: inferPool,
  forward: (node, c) => c.kernels.avgPool(c.inputs[0]!, poolOptions(node)),
  backward: (node, c) => [
    c.kernels.avgPoolBackward(c.dy, { ...poolOptions(node), inputShape: c.inputShapes[0]! }),
  ],
};
