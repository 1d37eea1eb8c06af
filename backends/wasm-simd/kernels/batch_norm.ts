/**
 * The wasm-simd kernels of one family. Batch normalization over every axis but
 * the last: f64 channel statistics (assembly/elementwise.ts channelSums) and
 * one affine pass.
 *
 * @module
 */

import type { BatchNormGradients, BatchNormTrainOutput, Kernels } from "../../../core/kernels.ts";
import { type KernelContext, sameShape, type WasmTensor } from "./context.ts";

/**
 * The batch norm kernels on a kernel context.
 *
 * @param ctx The shared context (runtime, allocation, thread policy).
 * @returns The kernels of this family.
 */
export function batchNormKernels(
  ctx: KernelContext,
): Pick<Kernels<WasmTensor>, "batchNormTrain" | "batchNormInference" | "batchNormTrainBackward"> {
  const { view, vector, channels, checkVector, channelSums, affine } = ctx;
  const normalizeCoefficients = (
    gamma: WasmTensor | null,
    beta: WasmTensor,
    variance: ArrayLike<number>,
    epsilon: number,
  ) => {
    const c = beta.size;
    const g = gamma === null ? null : view(gamma);
    const b = view(beta);
    const p = new Float64Array(c);
    for (let j = 0; j < c; j++) {
      p[j] = (g === null ? 1 : g[j]!) / Math.sqrt(variance[j]! + epsilon);
    }
    // y = (x - mean) * p + beta: centered, so a large mean does not cancel.
    return { p, q: Float64Array.from(b) };
  };

  return {
    batchNormTrain(x, gamma, beta, epsilon): BatchNormTrainOutput<WasmTensor> {
      const { c, rows } = channels(x);
      checkVector(beta, c, "Beta");
      if (gamma !== null) checkVector(gamma, c, "Gamma");
      if (rows === 0) throw new RangeError("Batch normalization needs at least one row");
      const first = channelSums(x, null, null, 0);
      const mean64 = first.s1.map((s) => s / rows);
      const mean = vector(Float32Array.from(mean64));
      const meanF32 = view(mean).slice();
      const second = channelSums(x, null, mean, 2);
      const var64 = second.s2.map((s, j) =>
        Math.max(0, s / rows - (mean64[j]! - meanF32[j]!) ** 2)
      );
      const variance = vector(Float32Array.from(var64));
      const { p, q } = normalizeCoefficients(gamma, beta, var64, epsilon);
      // Center on the float32 mean and move its rounding into the shift.
      for (let j = 0; j < c; j++) q[j] = q[j]! - (mean64[j]! - meanF32[j]!) * p[j]!;
      const y = affine(x, null, meanF32, p, q, null);
      return { y, mean, variance };
    },
    batchNormInference(x, gamma, beta, stats) {
      const { c } = channels(x);
      checkVector(beta, c, "Beta");
      checkVector(stats.mean, c, "Mean");
      checkVector(stats.variance, c, "Variance");
      if (gamma !== null) checkVector(gamma, c, "Gamma");
      const mean = view(stats.mean).slice();
      const { p, q } = normalizeCoefficients(gamma, beta, view(stats.variance), stats.epsilon);
      return affine(x, null, mean, p, q, null);
    },
    batchNormTrainBackward(dy, x, gamma, stats): BatchNormGradients<WasmTensor> {
      const { c, rows } = channels(x);
      if (!sameShape(dy.shape, x.shape)) {
        throw new RangeError(`Batch-norm gradient has shape [${dy.shape.join(", ")}]`);
      }
      checkVector(stats.mean, c, "Mean");
      checkVector(stats.variance, c, "Variance");
      if (gamma !== null) checkVector(gamma, c, "Gamma");
      const { s1: sumDy, s2: sumDyXmu } = channelSums(dy, x, stats.mean, 1);
      const mean = view(stats.mean).slice();
      const variance = view(stats.variance).slice();
      const g = gamma === null ? null : view(gamma).slice();
      const p = new Float64Array(c);
      const q = new Float64Array(c);
      const r = new Float64Array(c);
      const dGamma = new Float64Array(c);
      for (let j = 0; j < c; j++) {
        const inv = 1 / Math.sqrt(variance[j]! + stats.epsilon);
        const gj = g === null ? 1 : g[j]!;
        const sumDyXhat = sumDyXmu[j]! * inv;
        dGamma[j] = sumDyXhat;
        p[j] = gj * inv;
        q[j] = -gj * inv * inv * sumDyXhat / rows;
        r[j] = -gj * inv * sumDy[j]! / rows;
      }
      // dx = dy * p + (x - mean) * q + r, centered like the forward pass.
      const dx = affine(dy, x, mean, p, q, r);
      return {
        dx,
        dGamma: gamma === null ? null : vector(Float32Array.from(dGamma)),
        dBeta: vector(Float32Array.from(sumDy)),
      };
    },
  };
}
