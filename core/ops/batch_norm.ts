/**
 * Batch normalization over every axis but the last, with moving statistics
 * (TF 1.x `slim.batch_norm` as FaceNet (TensorFlow) uses it).
 *
 * Which batch variance feeds the moving variance: the reference
 * implementation's `slim.batch_norm` (`fused=None`) takes the fused kernel
 * for 4-D inputs, whose training-mode variance output carries Bessel's
 * correction `m / (m - 1)` (see tensorflow/tensorflow#55545), and the
 * non-fused `tf.nn.moments` path (population variance) for 2-D inputs such as
 * the Bottleneck layer. We do the same: corrected when the normalized input
 * is an image map, population variance for flat features. Normalization
 * itself always uses the population variance.
 *
 * @module
 */

import type { OpDef } from "./op.ts";
import { sizeOf } from "./op.ts";

/**
 * Batch normalization over the last axis.
 *
 * @category Ops and kernels
 */
export interface BatchNormNode {
  /** The operation. */
  readonly op: "batchNorm";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Moving-average decay of the statistics; default 0.995 (FaceNet (TensorFlow)'s). */
  readonly decay?: number;
  /** Variance epsilon; default 0.001 (FaceNet (TensorFlow)'s). */
  readonly epsilon?: number;
  /** Whether a learned scale gamma exists; default true. */
  readonly scale?: boolean;
}

/**
 * Defaults of the optional batch-norm fields (FaceNet (TensorFlow)'s).
 *
 * @example
 * ```ts
 * import { BATCH_NORM_DEFAULTS } from "./batch_norm.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(BATCH_NORM_DEFAULTS, { decay: 0.995, epsilon: 0.001, scale: true });
 * ```
 */
export const BATCH_NORM_DEFAULTS = { decay: 0.995, epsilon: 0.001, scale: true } as const;

/** A batch-norm node with every default filled in. */
export interface ResolvedBatchNorm {
  /** Moving-average decay. */
  readonly decay: number;
  /** Variance epsilon. */
  readonly epsilon: number;
  /** Whether gamma exists. */
  readonly scale: boolean;
}

/**
 * The batch-norm fields with their defaults.
 *
 * @param node The node.
 * @returns Decay, epsilon and scale.
 * @example
 * ```ts
 * import { resolveBatchNorm } from "./batch_norm.ts";
 * import assert from "node:assert/strict";
 * const r = resolveBatchNorm({ op: "batchNorm", name: "bn", input: "x", scale: false });
 * assert.deepEqual(r, { decay: 0.995, epsilon: 0.001, scale: false });
 * ```
 */
export function resolveBatchNorm(node: BatchNormNode): ResolvedBatchNorm {
  return {
    decay: node.decay ?? BATCH_NORM_DEFAULTS.decay,
    epsilon: node.epsilon ?? BATCH_NORM_DEFAULTS.epsilon,
    scale: node.scale ?? BATCH_NORM_DEFAULTS.scale,
  };
}

/**
 * The Bessel correction applied to the batch variance before it enters the
 * moving variance: `count / (count - 1)` for image maps, 1 for flat features.
 *
 * @param imageInput Whether the normalized input is `[h, w, c]` per example.
 * @param count Values per channel the batch statistics cover.
 * @returns The factor.
 * @example
 * ```ts
 * import { movingVarianceCorrection } from "./batch_norm.ts";
 * import assert from "node:assert/strict";
 * assert.equal(movingVarianceCorrection(true, 4), 4 / 3);
 * assert.equal(movingVarianceCorrection(false, 4), 1);
 * ```
 */
export function movingVarianceCorrection(imageInput: boolean, count: number): number {
  return imageInput && count > 1 ? count / (count - 1) : 1;
}

/**
 * The batch-norm op: parameters `gamma [c]` (ones, when `scale`) and
 * `beta [c]` (zeros), statistics `moving_mean [c]` (zeros) and
 * `moving_variance [c]` (ones); training mode normalizes with the batch
 * statistics and reports them, inference mode uses the moving ones.
 *
 * @example
 * ```ts
 * import { batchNorm } from "./batch_norm.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "batchNorm", name: "bn", input: "x" } as const;
 * const r = batchNorm.infer(node, inferContext(node, [[2, 2, 3]]));
 * assert.deepEqual(Object.keys(r.params ?? {}), ["gamma", "beta"]);
 * assert.deepEqual(Object.keys(r.stats ?? {}), ["moving_mean", "moving_variance"]);
 * ```
 */
export const batchNorm: OpDef<BatchNormNode> = {
  op: "batchNorm",
  summary: "Batch normalization over all axes but the last, with moving statistics.",
  kernels: [
    "batchNormTrain",
    "batchNormInference",
    "batchNormTrainBackward",
    "download",
    "upload",
    "shape",
  ],
  saves: { inputs: [0] },
  inputs: (node) => [node.input],
  infer(node, c) {
    const s = c.inputs[0]!;
    if (s.length < 1) c.fail("needs an input of rank >= 1");
    const ch = s[s.length - 1]!;
    const r = resolveBatchNorm(node);
    if (!(r.decay >= 0 && r.decay < 1)) c.fail(`decay must be in [0, 1), got ${r.decay}`);
    if (!(r.epsilon > 0)) c.fail(`epsilon must be positive, got ${r.epsilon}`);
    return {
      shape: s,
      params: {
        ...(r.scale ? { gamma: { shape: [ch], init: "ones" } } : {}),
        beta: { shape: [ch], init: "zeros" },
      },
      stats: {
        moving_mean: { shape: [ch], init: "zeros" },
        moving_variance: { shape: [ch], init: "ones" },
      },
    };
  },
  forward(node, c) {
    const r = resolveBatchNorm(node);
    const k = c.kernels;
    const x = c.inputs[0]!;
    const gamma = r.scale ? c.param("gamma") : null;
    const beta = c.param("beta");
    if (c.training) {
      const out = k.batchNormTrain(x, gamma, beta, r.epsilon);
      const shape = c.inputShapes[0]!;
      c.reportStatistics({
        mean: k.download(out.mean).data,
        variance: k.download(out.variance).data,
        count: sizeOf(shape) / shape[shape.length - 1]!,
      });
      c.save(out.mean, out.variance);
      return out.y;
    }
    const mean = k.upload(c.stat("moving_mean"));
    const variance = k.upload(c.stat("moving_variance"));
    try {
      return k.batchNormInference(x, gamma, beta, { mean, variance, epsilon: r.epsilon });
    } finally {
      k.dispose(mean);
      k.dispose(variance);
    }
  },
  backward(node, c) {
    const r = resolveBatchNorm(node);
    const mean = c.saved[0]!;
    const variance = c.saved[1]!;
    const g = c.kernels.batchNormTrainBackward(
      c.dy,
      c.input(0),
      r.scale ? c.param("gamma") : null,
      { mean, variance, epsilon: r.epsilon },
    );
    if (g.dGamma !== null) c.paramGradient("gamma", g.dGamma);
    c.paramGradient("beta", g.dBeta);
    return [g.dx];
  },
  updateStatistics(node, u) {
    const decay = resolveBatchNorm(node).decay;
    const correction = movingVarianceCorrection(u.inputShape.length === 3, u.batch.count);
    const out: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
    const update = (suffix: string, values: Float32Array, factor: number) => {
      const s = u.stats[suffix];
      if (s === undefined || s.data.length !== values.length) {
        throw new RangeError(
          `Statistic "${node.name}/${suffix}" is missing or does not have ${values.length} values`,
        );
      }
      const data = new Float32Array(values.length);
      for (let i = 0; i < data.length; i++) {
        data[i] = decay * s.data[i]! + (1 - decay) * values[i]! * factor;
      }
      out[suffix] = { shape: s.shape, data };
    };
    update("moving_mean", u.batch.mean, 1);
    update("moving_variance", u.batch.variance, correction);
    return out;
  },
};
