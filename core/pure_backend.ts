/**
 * The pure reference backend: the specifications run as they are written.
 * Distances, triplet selection and the triplet loss come from core/pure;
 * models run on the reverse-mode executor with the pure kernels (float32
 * storage, float64 accumulation). Single-threaded and deterministic.
 *
 * @module
 */

import type { Backend } from "./backend.ts";
import { createExecutorModel } from "./executor_model.ts";
import { createPureKernels } from "./pure/kernels.ts";
import { pairwiseSquaredDistances } from "./pure/distances.ts";
import { selectTriplets } from "./pure/select_triplets.ts";
import { tripletLoss } from "./pure/losses.ts";

/**
 * Creates the pure backend.
 *
 * @returns A {@link Backend} named "pure".
 * @example
 * ```ts
 * import { createPureBackend } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const backend = createPureBackend();
 * const d = await backend.pairwiseSquaredDistances({
 *   rows: 2,
 *   cols: 1,
 *   data: new Float32Array([0, 2]),
 * });
 * assert.deepEqual(Array.from(d.data), [0, 4, 4, 0]);
 * ```
 *
 * @category Backends
 */
export function createPureBackend(): Backend {
  const kernels = createPureKernels();
  return {
    name: "pure",
    device: "cpu (pure TypeScript, 1 thread)",
    pairwiseSquaredDistances(x) {
      return Promise.resolve().then(() => pairwiseSquaredDistances(x));
    },
    selectTriplets(embeddings, numPerClass, options) {
      return Promise.resolve().then(() => selectTriplets(embeddings, numPerClass, options));
    },
    tripletLoss(embeddings, options) {
      return Promise.resolve().then(() => tripletLoss(embeddings, options));
    },
    createModel(spec, state, options) {
      return Promise.resolve().then(() => createExecutorModel(kernels, spec, state, options));
    },
    dispose() {
      // Nothing is held.
    },
  };
}
