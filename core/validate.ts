/**
 * Validation on pairs with the LFW protocol: embed every image of the pairs
 * once (moving-average weights, batch norm in inference mode), then run the
 * core's evaluation specification.
 *
 * @module
 */

import type { Model } from "./backend.ts";
import type { Matrix, RngState } from "./types.ts";
import type { ImageSource } from "./train.ts";
import { embedInChunks } from "./train.ts";
import { evaluate, type EvaluateOptions, type EvaluationReport } from "./pure/evaluation.ts";

/** A verification pair of image references. */
export interface RefPair {
  /** The first image. */
  readonly a: string;
  /** The second image. */
  readonly b: string;
  /** Whether both show the same identity. */
  readonly same: boolean;
}

/**
 * Embeds the images of `pairs` and evaluates them.
 *
 * @param model The model (evaluated with its moving averages when it keeps them).
 * @param pairs The pairs, fold after fold.
 * @param source Loads images by reference (inference mode: no augmentation).
 * @param options Chunk size, RNG for the source, and evaluation options.
 * @returns The evaluation report.
 *
 * @throws {RangeError} When no pairs are given.
 * @example
 * ```ts
 * import { validateOnPairs } from "./validate.ts";
 * import { createPureBackend } from "./pure_backend.ts";
 * import { initModelState } from "./model_state.ts";
 * import { modelSpec } from "./models/registry.ts";
 * import { createRng } from "./pure/rng.ts";
 * import { renderSyntheticRef, syntheticPairs } from "./synthetic.ts";
 * import assert from "node:assert/strict";
 *
 * const spec = modelSpec("nano", { imageSize: 16, embeddingSize: 8 });
 * const options = {
 *   loss: { kind: "triplet", alpha: 0.2 },
 *   optimizer: { name: "SGD" },
 *   weightDecay: 0,
 *   movingAverageDecay: null,
 * } as const;
 * const model = await createPureBackend().createModel(spec, initModelState(spec, options, createRng(1)), options);
 * const source = (refs: readonly string[]) =>
 *   Promise.resolve({
 *     n: refs.length,
 *     height: 16,
 *     width: 16,
 *     channels: 3,
 *     data: Float32Array.from(refs.flatMap((r) => [...renderSyntheticRef(r, 16, 1)].map((x) => (x - 127.5) / 128))),
 *   });
 * const { pairs } = syntheticPairs({ seed: 1, identities: 20, imagesPerIdentity: 2, pairsPerFold: 1 });
 * const report = await validateOnPairs(model, pairs, source, { chunk: 10, rng: createRng(3), useMovingAverage: false });
 * assert.equal(report.accuracy.length, 10);
 * ```
 */
export async function validateOnPairs(
  model: Model,
  pairs: readonly RefPair[],
  source: ImageSource,
  options: {
    readonly chunk: number;
    readonly rng: RngState;
    readonly useMovingAverage?: boolean;
    readonly evaluation?: EvaluateOptions;
  },
): Promise<EvaluationReport> {
  if (pairs.length === 0) throw new RangeError("No validation pairs were given");
  const index = new Map<string, number>();
  for (const pair of pairs) {
    for (const ref of [pair.a, pair.b]) if (!index.has(ref)) index.set(ref, index.size);
  }
  const refs = [...index.keys()];
  const images = await source(refs, { training: false, rng: options.rng });
  const { embeddings } = await embedInChunks(model, images, {
    training: false,
    chunk: options.chunk,
    rng: options.rng,
    useMovingAverage: options.useMovingAverage ?? true,
  });
  const pick = (side: "a" | "b"): Matrix => {
    const cols = embeddings.cols;
    const data = new Float32Array(pairs.length * cols);
    pairs.forEach((pair, i) => {
      const row = index.get(pair[side]) as number;
      data.set(embeddings.data.subarray(row * cols, (row + 1) * cols), i * cols);
    });
    return { rows: pairs.length, cols, data };
  };
  return evaluate(pick("a"), pick("b"), pairs.map((p) => p.same), options.evaluation ?? {});
}
