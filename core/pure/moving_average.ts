/**
 * TF's `ExponentialMovingAverage` of the parameters with `num_updates`:
 * the decay actually used is `min(decay, (1 + n) / (10 + n))`, and
 * `shadow = decay * shadow + (1 - decay) * value`. The shadows start as the
 * initial parameter values.
 *
 * @module
 */

import type { NamedTensors } from "../types.ts";

/**
 * The decay TF uses at `numUpdates`: `min(decay, (1 + n) / (10 + n))`.
 *
 * @param decay The configured decay in [0, 1].
 * @param numUpdates The number of updates so far (the global step), >= 0.
 * @returns The effective decay.
 * @throws {RangeError} When a value is out of range.
 * @example
 * ```ts
 * import { effectiveDecay } from "./moving_average.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(effectiveDecay(0.9999, 0), 0.1);
 * assert.equal(effectiveDecay(0.5, 1000), 0.5);
 * ```
 */
export function effectiveDecay(decay: number, numUpdates: number): number {
  if (!(decay >= 0 && decay <= 1)) throw new RangeError(`Decay must be in [0, 1], got ${decay}`);
  if (!Number.isInteger(numUpdates) || numUpdates < 0) {
    throw new RangeError(`Number of updates must be a non-negative integer, got ${numUpdates}`);
  }
  return Math.min(decay, (1 + numUpdates) / (10 + numUpdates));
}

/**
 * One moving-average update of every shadow from the current values.
 *
 * @param shadows The current averages, by parameter name.
 * @param values The current parameter values (same names and sizes).
 * @param options `decay` and `numUpdates` (TF passes the global step).
 * @returns New shadows.
 * @throws {RangeError} When names or sizes disagree, or decay/numUpdates are out of range.
 * @example
 * ```ts
 * import { updateMovingAverage } from "./moving_average.ts";
 * import assert from "node:assert/strict";
 *
 * const shadows = { w: { shape: [1], data: new Float32Array([0]) } };
 * const values = { w: { shape: [1], data: new Float32Array([1]) } };
 * const r = updateMovingAverage(shadows, values, { decay: 0.9999, numUpdates: 0 });
 * assert.equal(r["w"]!.data[0], Math.fround(0.9));
 * ```
 */
export function updateMovingAverage(
  shadows: NamedTensors,
  values: NamedTensors,
  options: { readonly decay: number; readonly numUpdates: number },
): NamedTensors {
  const d = effectiveDecay(options.decay, options.numUpdates);
  const out: NamedTensors = {};
  for (const [name, s] of Object.entries(shadows)) {
    const v = values[name];
    if (v === undefined || v.data.length !== s.data.length) {
      throw new RangeError(`Moving average of "${name}" has no matching value`);
    }
    const data = new Float32Array(s.data.length);
    for (let i = 0; i < data.length; i++) data[i] = d * s.data[i]! + (1 - d) * v.data[i]!;
    out[name] = { shape: s.shape, data };
  }
  return out;
}
