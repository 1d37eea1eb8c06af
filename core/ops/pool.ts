/**
 * What max and average pooling share: the node fields, defaults and shape
 * inference, with TensorFlow's padding (asymmetric "same": the smaller half
 * of the padding before). The ops are max_pool.ts and avg_pool.ts.
 *
 * @module
 */

import type { Padding } from "../types.ts";
import type { InferContext, InferredNode } from "./op.ts";

/**
 * Max or average pooling.
 *
 * @category Ops and kernels
 */
export interface PoolNode {
  /** The operation. */
  readonly op: "maxPool" | "avgPool";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Window size (square). */
  readonly size: number;
  /** Stride (same in both directions). */
  readonly stride: number;
  /** Default "valid". */
  readonly padding?: Padding;
}

/**
 * Defaults of the optional pooling fields.
 *
 * @example
 * ```ts
 * import { POOL_DEFAULTS } from "./pool.ts";
 * import assert from "node:assert/strict";
 * assert.equal(POOL_DEFAULTS.padding, "valid");
 * ```
 */
export const POOL_DEFAULTS = { padding: "valid" } as const;

/**
 * The pooling window of a node with its defaults.
 *
 * @param node The node.
 * @returns Size, stride and padding.
 * @example
 * ```ts
 * import { poolOptions } from "./pool.ts";
 * import assert from "node:assert/strict";
 * const o = poolOptions({ op: "maxPool", name: "p", input: "x", size: 3, stride: 2 });
 * assert.deepEqual(o, { size: 3, stride: 2, padding: "valid" });
 * ```
 */
export function poolOptions(
  node: PoolNode,
): { readonly size: number; readonly stride: number; readonly padding: Padding } {
  return { size: node.size, stride: node.stride, padding: node.padding ?? POOL_DEFAULTS.padding };
}

/**
 * Shape inference of a pooling node.
 *
 * @param node The node.
 * @param c The inference context.
 * @returns The output shape.
 * @example
 * ```ts
 * import { inferPool } from "./pool.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "avgPool", name: "p", input: "x", size: 3, stride: 2, padding: "same" } as const;
 * assert.deepEqual(inferPool(node, inferContext(node, [[6, 5, 1]])).shape, [3, 3, 1]);
 * ```
 */
export function inferPool(node: PoolNode, c: InferContext): InferredNode {
  const o = poolOptions(node);
  const g = c.window("window", o.size, o.size, o.stride, o.padding);
  return { shape: [g.oh, g.ow, g.c] };
}
