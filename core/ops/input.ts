/**
 * The graph's image input: uploads the `[n, h, w, c]` batch.
 *
 * @module
 */

import type { OpDef } from "./op.ts";

/**
 * The graph's image input.
 *
 * @category Ops and kernels
 */
export interface InputNode {
  /** The operation. */
  readonly op: "input";
  /** The node name; parameter names derive from it. */
  readonly name: string;
  /** Per-example shape `[height, width, channels]`. */
  readonly shape: readonly [number, number, number];
}

/**
 * The input op: no inputs, the per-example shape its node states; its
 * gradient is the image gradient the executor returns on request.
 *
 * @example
 * ```ts
 * import { input } from "./input.ts";
 * import { inferContext } from "./op.ts";
 * import assert from "node:assert/strict";
 * const node = { op: "input", name: "x", shape: [4, 4, 3] } as const;
 * assert.deepEqual(input.infer(node, inferContext(node, [])).shape, [4, 4, 3]);
 * ```
 */
export const input: OpDef<InputNode> = {
  op: "input",
  summary: "The image batch [n, h, w, c].",
  kernels: ["upload"],
  saves: {},
  inputs: () => [],
  infer(node, c) {
    const shape: unknown = node.shape;
    if (!Array.isArray(shape) || shape.length !== 3) {
      c.fail(`shape must be [h, w, c], got ${JSON.stringify(shape)}`);
    }
    return { shape: node.shape.map((d, i) => c.positiveInt(`shape[${i}]`, d)) };
  },
  forward: (_node, c) => c.kernels.upload(c.images),
  backward: () => [],
};
