/**
 * Seeded, deterministic parameter initialization of a {@link ModelSpec}, as
 * FaceNet (TensorFlow) does it; each op states its tensors' initial values
 * (core/ops/): Xavier/Glorot uniform weights (TF's
 * `xavier_initializer()`, uniform in `±sqrt(6 / (fanIn + fanOut))` with
 * `fanIn = kh * kw * cin`, `fanOut = kh * kw * cout` for convolutions and
 * `d`, `units` for dense layers), zero biases and beta, gamma one; batch-norm
 * moving mean zero and moving variance one.
 *
 * Draw order: parameters in node order; each weight tensor takes
 * `size` consecutive uniforms from the RNG in row-major order. Biases, beta and
 * gamma draw nothing.
 *
 * @module
 */

import type { ModelSpec } from "./model_spec.ts";
import type { NamedTensors, RngState, Tensor } from "./types.ts";
import { inferShapes } from "./shapes.ts";
import type { Initializer, OpRegistry } from "./ops/mod.ts";
import { uniforms } from "./pure/rng.ts";

/** Initialized parameters and statistics. */
export interface InitializedParameters {
  /** Trainable parameters by name. */
  readonly params: NamedTensors;
  /** Batch-norm moving statistics by name. */
  readonly stats: NamedTensors;
  /** The advanced RNG. */
  readonly rng: RngState;
}

/**
 * Initializes every parameter and statistic of a spec from an RNG.
 *
 * @param spec The model spec (validated by shape inference).
 * @param rng The RNG; the same state gives the same values.
 * @param ops The op registry (default: the built-in ops).
 * @returns Parameters, statistics and the advanced RNG.
 * @throws {RangeError} When the spec is invalid (see `inferShapes`).
 * @example
 * ```ts
 * import { initParameters } from "./init.ts";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const { params, stats } = initParameters({
 *   name: "tiny",
 *   nodes: [
 *     { op: "input", name: "x", shape: [4, 4, 1] },
 *     { op: "conv2d", name: "conv", input: "x", filters: 2, kernel: 3 },
 *     { op: "batchNorm", name: "bn", input: "conv" },
 *     { op: "globalAvgPool", name: "pool", input: "bn" },
 *     { op: "l2Normalize", name: "emb", input: "pool" },
 *   ],
 *   prelogits: "pool",
 *   output: "emb",
 * }, createRng(1));
 * const limit = Math.sqrt(6 / (9 * 1 + 9 * 2));
 * assert.ok(params["conv/weights"]!.data.every((v) => Math.abs(v) <= limit));
 * assert.deepEqual(Array.from(params["bn/gamma"]!.data), [1, 1]);
 * assert.deepEqual(Array.from(stats["bn/moving_variance"]!.data), [1, 1]);
 * ```
 */
export function initParameters(
  spec: ModelSpec,
  rng: RngState,
  ops?: OpRegistry,
): InitializedParameters {
  const shapes = inferShapes(spec, ops);
  let state = rng;
  const make = (name: string, shape: readonly number[]): Tensor => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const init: Initializer = shapes.initializers[name] ?? "zeros";
    if (init === "glorot") {
      // Conv [kh, kw, cin, cout] or dense [d, units]: receptive field times channels.
      const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
      const fanIn = receptive * (shape[shape.length - 2] ?? 1);
      const fanOut = receptive * shape[shape.length - 1]!;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const [u, next] = uniforms(state, size);
      state = next;
      for (let i = 0; i < size; i++) data[i] = (2 * u[i]! - 1) * limit;
    } else if (init === "ones") {
      data.fill(1);
    } else if (init !== "zeros") {
      data.fill(init.constant);
    }
    return { shape: [...shape], data };
  };
  const params: NamedTensors = {};
  const stats: NamedTensors = {};
  for (const [name, shape] of Object.entries(shapes.params)) params[name] = make(name, shape);
  for (const [name, shape] of Object.entries(shapes.stats)) stats[name] = make(name, shape);
  return { params, stats, rng: state };
}
