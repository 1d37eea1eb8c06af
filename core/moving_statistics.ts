/**
 * The moving-statistics update after a training-mode pass: every op that
 * owns statistics (batch norm: `moving = decay * moving + (1 - decay) *
 * batch` per channel, see core/ops/batch_norm.ts for which variance feeds
 * it) updates them from the batch statistics its forward step reported.
 *
 * @module
 */

import type { ModelSpec } from "./model_spec.ts";
import type { NamedTensors } from "./types.ts";
import type { BatchStatistics } from "./executor.ts";
import { inferShapes } from "./shapes.ts";
import { opOf, type OpRegistry } from "./ops/mod.ts";

/**
 * Applies the moving-statistics update of every node that has batch
 * statistics.
 *
 * @param spec The model spec (decays, and which inputs are image maps).
 * @param stats The current moving statistics.
 * @param batch Batch statistics by node name (from a training-mode `forward`).
 * @param ops The op registry (default: the built-in ops).
 * @returns New statistics (nodes without batch statistics are unchanged).
 * @throws {RangeError} When a statistic is missing or mis-sized.
 * @example
 * ```ts
 * import { updateMovingStatistics } from "./moving_statistics.ts";
 * import assert from "node:assert/strict";
 *
 * const spec = {
 *   name: "bn",
 *   nodes: [
 *     { op: "input", name: "x", shape: [1, 1, 1] },
 *     { op: "flatten", name: "f", input: "x" },
 *     { op: "batchNorm", name: "bn", input: "f", decay: 0.5 },
 *     { op: "l2Normalize", name: "e", input: "bn" },
 *   ],
 *   prelogits: "bn",
 *   output: "e",
 * } as const;
 * const stats = {
 *   "bn/moving_mean": { shape: [1], data: new Float32Array([0]) },
 *   "bn/moving_variance": { shape: [1], data: new Float32Array([1]) },
 * };
 * const batch = { bn: { mean: new Float32Array([2]), variance: new Float32Array([3]), count: 4 } };
 * const r = updateMovingStatistics(spec, stats, batch);
 * assert.deepEqual(Array.from(r["bn/moving_mean"]!.data), [1]);
 * assert.deepEqual(Array.from(r["bn/moving_variance"]!.data), [2]);
 * ```
 */
export function updateMovingStatistics(
  spec: ModelSpec,
  stats: NamedTensors,
  batch: Readonly<Record<string, BatchStatistics>>,
  ops?: OpRegistry,
): NamedTensors {
  const shapes = inferShapes(spec, ops);
  const out: NamedTensors = { ...stats };
  for (const node of spec.nodes) {
    const b = batch[node.name];
    if (b === undefined) continue;
    const op = opOf(node, ops);
    if (op.updateStatistics === undefined) continue;
    const prefix = `${node.name}/`;
    const own: NamedTensors = {};
    for (const [name, t] of Object.entries(stats)) {
      if (name.startsWith(prefix) && !name.slice(prefix.length).includes("/")) {
        own[name.slice(prefix.length)] = t;
      }
    }
    const updated = op.updateStatistics(node, {
      inputShape: shapes.nodes.get(op.inputs(node)[0]!)!,
      stats: own,
      batch: b,
    });
    for (const [suffix, t] of Object.entries(updated)) out[`${prefix}${suffix}`] = t;
  }
  return out;
}
