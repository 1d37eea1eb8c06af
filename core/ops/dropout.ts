/**
 * Inverted dropout driven by the explicit RNG; the identity in inference mode.
 *
 * @module
 */

import type { OpDef } from "./op.ts";
import { sizeOf } from "./op.ts";

/**
 * Inverted dropout driven by the explicit RNG; identity in inference mode.
 *
 * @category Ops and kernels
 */
export interface DropoutNode {
  /** The operation. */
  readonly op: "dropout";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
  /** Probability of keeping a unit, in (0, 1]. */
  readonly keepProbability: number;
}

/**
 * The dropout multipliers from uniforms: a unit is kept when `u < keep` and
 * then scaled by `1 / keep`. Every backend draws one uniform per unit of the
 * node's `[n, ...]` input (row-major), dropout nodes in node order.
 *
 * @param u One uniform in [0, 1) per unit.
 * @param keep The keep probability.
 * @returns The multipliers (`0` or `1 / keep`).
 * @example
 * ```ts
 * import { dropoutMask } from "./dropout.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(Array.from(dropoutMask([0.1, 0.9], 0.5)), [2, 0]);
 * ```
 */
export function dropoutMask(u: ArrayLike<number>, keep: number): Float32Array {
  const m = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) m[i] = u[i]! < keep ? 1 / keep : 0;
  return m;
}

/**
 * The dropout op: in training mode with keep < 1 multiplies by a mask drawn
 * from the RNG ({@link dropoutMask}); otherwise a copy.
 *
 * @example
 * ```ts
 * import { dropout } from "./dropout.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "dropout", name: "d", input: "x", keepProbability: 0.8 } as const;
 * assert.deepEqual(dropout.infer(node, inferContext(node, [[7]])).shape, [7]);
 * ```
 */
export const dropout: OpDef<DropoutNode> = {
  op: "dropout",
  summary: "Inverted dropout (training mode), identity otherwise.",
  kernels: ["multiply", "reshape", "scale", "upload"],
  saves: {},
  inputs: (node) => [node.input],
  infer(node, c) {
    const k = node.keepProbability;
    if (!(k > 0 && k <= 1)) c.fail(`keep probability must be in (0, 1], got ${k}`);
    return { shape: c.inputs[0]! };
  },
  forward(node, c) {
    const k = c.kernels;
    const x = c.inputs[0]!;
    const shape = c.inputShapes[0]!;
    if (!c.training || node.keepProbability >= 1) return k.reshape(x, shape);
    const mask = k.upload({
      shape,
      data: dropoutMask(c.uniforms(sizeOf(shape)), node.keepProbability),
    });
    c.save(mask);
    return k.multiply(x, mask);
  },
  backward(_node, c) {
    const mask = c.saved[0];
    return [mask === undefined ? c.kernels.scale(c.dy, 1) : c.kernels.multiply(c.dy, mask)];
  },
};
