/**
 * The batch-norm moving-statistics update after a training-mode pass:
 * `moving = decay * moving + (1 - decay) * batch` per channel, with the
 * node's decay (default 0.995, the seed's).
 *
 * Which batch variance feeds the moving variance: the seed's `slim.batch_norm`
 * (TF 1.x, `fused=None`) takes the fused kernel for 4-D inputs, whose
 * training-mode variance output carries Bessel's correction `m / (m - 1)`
 * (see tensorflow/tensorflow#55545), and the non-fused `tf.nn.moments` path
 * (population variance) for 2-D inputs such as the Bottleneck layer. We do
 * the same: corrected when the normalized input is an image map (the
 * statistics were taken over `n * h * w` values of an NHWC tensor), population
 * variance for flat features. Normalization itself always uses the population
 * variance.
 *
 * @module
 */

import type { ModelSpec } from "./model_spec.ts";
import type { NamedTensors } from "./types.ts";
import type { BatchStatistics } from "./executor.ts";
import { inferShapes } from "./shapes.ts";

/**
 * Applies the moving-average update of every batch-norm node that has batch
 * statistics.
 *
 * @param spec The model spec (decays, and which inputs are image maps).
 * @param stats The current moving statistics.
 * @param batch Batch statistics by node name (from a training-mode `forward`).
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
): NamedTensors {
  const shapes = inferShapes(spec);
  const out: NamedTensors = { ...stats };
  for (const node of spec.nodes) {
    if (node.op !== "batchNorm") continue;
    const b = batch[node.name];
    if (b === undefined) continue;
    const decay = node.decay ?? 0.995;
    const imageInput = shapes.nodes.get(node.input)!.length === 3;
    const correction = imageInput && b.count > 1 ? b.count / (b.count - 1) : 1;
    const update = (suffix: string, values: Float32Array, factor: number) => {
      const name = `${node.name}/${suffix}`;
      const s = stats[name];
      if (s === undefined || s.data.length !== values.length) {
        throw new RangeError(
          `Statistic "${name}" is missing or does not have ${values.length} values`,
        );
      }
      const data = new Float32Array(values.length);
      for (let i = 0; i < data.length; i++) {
        data[i] = decay * s.data[i]! + (1 - decay) * values[i]! * factor;
      }
      out[name] = { shape: s.shape, data };
    };
    update("moving_mean", b.mean, 1);
    update("moving_variance", b.variance, correction);
  }
  return out;
}
