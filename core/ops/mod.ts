/**
 * The op registry: every op of the model graph, one file each (see op.ts for
 * what an op is). The executor, shape inference, initialisation and the
 * moving-statistics update look ops up here; each backend keeps an adapter
 * table keyed by the same names, and tests/ops_registry_test.ts fails when
 * one lacks an entry.
 *
 * Adding an op: one file in core/ops/, one line in {@link OPS}, one adapter
 * per backend (tfjs compile and export tables; executor backends implement
 * the kernels the op lists).
 *
 * @module
 */

import type { AnyOpDef, BaseNode } from "./op.ts";
import { input } from "./input.ts";
import { conv2d } from "./conv2d.ts";
import { batchNorm } from "./batch_norm.ts";
import { relu } from "./relu.ts";
import { maxPool } from "./max_pool.ts";
import { avgPool } from "./avg_pool.ts";
import { globalAvgPool } from "./global_avg_pool.ts";
import { concat } from "./concat.ts";
import { add } from "./add.ts";
import { dense } from "./dense.ts";
import { dropout } from "./dropout.ts";
import { flatten } from "./flatten.ts";
import { l2Normalize } from "./l2_normalize.ts";
import { prelu } from "./prelu.ts";
import { softmax } from "./softmax.ts";
import { depthwiseConv2d } from "./depthwise_conv2d.ts";

export * from "./op.ts";

/**
 * Every built-in op, in one list.
 *
 * @example
 * ```ts
 * import { OPS } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 * assert.ok(OPS.some((op) => op.op === "conv2d"));
 * ```
 *
 * @category Ops and kernels
 */
export const OPS: readonly AnyOpDef[] = [
  input,
  conv2d,
  batchNorm,
  relu,
  maxPool,
  avgPool,
  globalAvgPool,
  concat,
  add,
  dense,
  dropout,
  flatten,
  l2Normalize,
  prelu,
  softmax,
  depthwiseConv2d,
];

/**
 * Ops by name.
 *
 * @category Ops and kernels
 */
export type OpRegistry = ReadonlyMap<string, AnyOpDef>;

/**
 * Builds a registry from a list of ops (e.g. {@link OPS} plus an op of one's own).
 *
 * @param ops The ops.
 * @returns The ops by name.
 * @throws {RangeError} When two ops share a name.
 * @example
 * ```ts
 * import { opRegistry, OPS } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 * assert.equal(opRegistry(OPS).get("relu")?.op, "relu");
 * ```
 *
 * @category Ops and kernels
 */
export function opRegistry(ops: readonly AnyOpDef[]): OpRegistry {
  const out = new Map<string, AnyOpDef>();
  for (const op of ops) {
    if (out.has(op.op)) throw new RangeError(`Op "${op.op}" is registered twice`);
    out.set(op.op, op);
  }
  return out;
}

/**
 * The registry of the built-in ops.
 *
 * @example
 * ```ts
 * import { BUILTIN_OPS } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 * assert.ok(BUILTIN_OPS.has("dense"));
 * ```
 *
 * @category Ops and kernels
 */
export const BUILTIN_OPS: OpRegistry = opRegistry(OPS);

/**
 * The op of a node.
 *
 * @param node The node.
 * @param registry The ops (default {@link BUILTIN_OPS}).
 * @returns Its op definition.
 * @throws {RangeError} When the op is unknown.
 * @example
 * ```ts
 * import { opOf } from "./mod.ts";
 * import assert from "node:assert/strict";
 * assert.equal(opOf({ op: "relu", name: "r" }).summary, "max(x, 0), elementwise.");
 * ```
 */
export function opOf(node: BaseNode, registry: OpRegistry = BUILTIN_OPS): AnyOpDef {
  const op = registry.get(node.op);
  if (op === undefined) {
    throw new RangeError(`Node "${String(node.name)}" has unknown op "${String(node.op)}"`);
  }
  return op;
}
