/**
 * Parametric relu with one trainable slope per channel (MTCNN's P/R/O-Nets,
 * Keras/TF `PReLU` with `shared_axes=[1, 2]`): `x > 0 ? x : alpha * x`.
 *
 * @module
 */

import type { OpDef } from "./op.ts";

/**
 * Parametric relu; parameter `<node>/alpha [c]`.
 *
 * @category Ops and kernels
 */
export interface PreluNode {
  /** The operation. */
  readonly op: "prelu";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** The name of the input node. */
  readonly input: string;
}

/**
 * Defaults of the prelu op: the initial slope (0.25, as PyTorch's PReLU and
 * the common MTCNN ports start).
 *
 * @example
 * ```ts
 * import { PRELU_DEFAULTS } from "./prelu.ts";
 * import assert from "node:assert/strict";
 * assert.equal(PRELU_DEFAULTS.initialAlpha, 0.25);
 * ```
 */
export const PRELU_DEFAULTS = { initialAlpha: 0.25 } as const;

/**
 * The prelu op: parameter `alpha [c]` (c = last axis, initially 0.25);
 * any input rank; backward reads its input.
 *
 * @example
 * ```ts
 * import { prelu } from "./prelu.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "prelu", name: "p", input: "x" } as const;
 * const r = prelu.infer(node, inferContext(node, [[4, 4, 10]]));
 * assert.deepEqual(r.shape, [4, 4, 10]);
 * assert.deepEqual(r.params?.["alpha"], { shape: [10], init: { constant: 0.25 } });
 * ```
 */
export const prelu: OpDef<PreluNode> = {
  op: "prelu",
  summary: "x > 0 ? x : alpha * x, one trainable alpha per channel.",
  kernels: ["prelu", "preluBackward"],
  saves: { inputs: [0] },
  inputs: (node) => [node.input],
  infer(_node, c) {
    const s = c.inputs[0]!;
    if (s.length < 1) c.fail("needs an input of rank >= 1");
    return {
      shape: s,
      params: {
        alpha: { shape: [s[s.length - 1]!], init: { constant: PRELU_DEFAULTS.initialAlpha } },
      },
    };
  },
  forward: (_node, c) => c.kernels.prelu(c.inputs[0]!, c.param("alpha")),
  backward(_node, c) {
    const g = c.kernels.preluBackward(c.dy, c.input(0), c.param("alpha"));
    c.paramGradient("alpha", g.dAlpha);
    return [g.dx];
  },
};
