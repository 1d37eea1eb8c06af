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
import {
  distance,
  evaluate,
  type EvaluateOptions,
  type EvaluationReport,
} from "./pure/evaluation.ts";
import { l2Normalize } from "./pure/distances.ts";

/**
 * A verification pair of image references.
 *
 * @category Evaluation
 */
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
 * import { validateOnPairs } from "@facenet-deno/facenet/pure";
 * import { createPureBackend } from "@facenet-deno/facenet/pure";
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import { renderSyntheticRef, syntheticPairs } from "@facenet-deno/facenet/pure";
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
 *
 * @category Evaluation
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
  return (await validateOnPairsDetailed(model, pairs, source, options)).report;
}

/**
 * What {@link validateOnPairsDetailed} returns: the report and what it was computed from.
 *
 * @category Evaluation
 */
export interface PairValidation {
  /** The evaluation report. */
  readonly report: EvaluationReport;
  /** The distinct image references, in order of first appearance in the pairs. */
  readonly refs: string[];
  /** One embedding row per reference of `refs`. */
  readonly embeddings: Matrix;
  /** The distance of each pair (the evaluation's metric, without mean subtraction). */
  readonly distances: Float64Array;
}

/**
 * Embeds the images of `pairs` and evaluates them, keeping the embeddings and
 * the pair distances (for plots of the embedding space and of the distances).
 *
 * @param model The model (evaluated with its moving averages when it keeps them).
 * @param pairs The pairs, fold after fold.
 * @param source Loads images by reference (inference mode: no augmentation).
 * @param options Chunk size, RNG for the source, and evaluation options.
 * @returns The report, the references with their embeddings, and the pair distances.
 *
 * @throws {RangeError} When no pairs are given.
 * @example
 * ```ts
 * import { validateOnPairsDetailed } from "@facenet-deno/facenet/pure";
 * import { createPureBackend } from "@facenet-deno/facenet/pure";
 * import { initModelState } from "@facenet-deno/facenet/pure";
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import { renderSyntheticRef, syntheticPairs } from "@facenet-deno/facenet/pure";
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
 * const v = await validateOnPairsDetailed(model, pairs, source, { chunk: 10, rng: createRng(3), useMovingAverage: false });
 * assert.equal(v.distances.length, pairs.length);
 * assert.equal(v.embeddings.rows, v.refs.length);
 * assert.equal(v.embeddings.cols, 8);
 * ```
 *
 * @category Evaluation
 */
export async function validateOnPairsDetailed(
  model: Model,
  pairs: readonly RefPair[],
  source: ImageSource,
  options: {
    readonly chunk: number;
    readonly rng: RngState;
    readonly useMovingAverage?: boolean;
    readonly evaluation?: EvaluateOptions;
  },
): Promise<PairValidation> {
  const index = refIndex(pairs);
  const refs = [...index.keys()];
  const images = await source(refs, { training: false, rng: options.rng });
  const { embeddings } = await embedInChunks(model, images, {
    training: false,
    chunk: options.chunk,
    rng: options.rng,
    useMovingAverage: options.useMovingAverage ?? true,
  });
  const evaluation = options.evaluation ?? {};
  const [e1, e2] = pairSides(embeddings, index, pairs);
  return {
    report: evaluate(e1, e2, pairs.map((p) => p.same), evaluation),
    refs,
    embeddings,
    distances: distance(e1, e2, evaluation.distanceMetric ?? "euclidean"),
  };
}

function refIndex(pairs: readonly RefPair[]): Map<string, number> {
  if (pairs.length === 0) throw new RangeError("No validation pairs were given");
  const index = new Map<string, number>();
  for (const pair of pairs) {
    for (const ref of [pair.a, pair.b]) if (!index.has(ref)) index.set(ref, index.size);
  }
  return index;
}

function pairSides(
  embeddings: Matrix,
  index: ReadonlyMap<string, number>,
  pairs: readonly RefPair[],
): [Matrix, Matrix] {
  const pick = (side: "a" | "b"): Matrix => {
    const cols = embeddings.cols;
    const data = new Float32Array(pairs.length * cols);
    pairs.forEach((pair, i) => {
      const row = index.get(pair[side]) as number;
      data.set(embeddings.data.subarray(row * cols, (row + 1) * cols), i * cols);
    });
    return { rows: pairs.length, cols, data };
  };
  return [pick("a"), pick("b")];
}

/**
 * The raw-pixel baseline of a validation: each image's pixels, exactly as the
 * source gives them to the network (cropped, standardized), flattened into
 * one vector and L2-normalized, then the same LFW protocol as
 * {@link validateOnPairs} on the same pairs. A network that does not beat it
 * has learned nothing its input did not already show.
 *
 * @param pairs The pairs, fold after fold.
 * @param source Loads images by reference (inference mode: no augmentation).
 * @param options RNG for the source, and evaluation options.
 * @returns The evaluation report of the pixel vectors.
 * @throws {RangeError} When no pairs are given.
 * @example Identical images are "same", opposite images are not
 * ```ts
 * import { validatePixelsOnPairs } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const value = (ref: string) => (ref.startsWith("x") ? 1 : -1);
 * const source = (refs: readonly string[]) =>
 *   Promise.resolve({
 *     n: refs.length,
 *     height: 1,
 *     width: 2,
 *     channels: 1,
 *     data: Float32Array.from(refs.flatMap((r) => [value(r), 2 * value(r)])),
 *   });
 * const pairs = [
 *   { a: "x1", b: "x2", same: true },
 *   { a: "x1", b: "y1", same: false },
 *   { a: "y1", b: "y2", same: true },
 *   { a: "x2", b: "y2", same: false },
 * ];
 * const report = await validatePixelsOnPairs(pairs, source, { rng: createRng(1), evaluation: { nrofFolds: 2 } });
 * assert.equal(report.accuracyMean, 1);
 * ```
 *
 * @category Evaluation
 */
export async function validatePixelsOnPairs(
  pairs: readonly RefPair[],
  source: ImageSource,
  options: { readonly rng: RngState; readonly evaluation?: EvaluateOptions },
): Promise<EvaluationReport> {
  const index = refIndex(pairs);
  const images = await source([...index.keys()], { training: false, rng: options.rng });
  const cols = images.data.length / images.n;
  const embeddings = l2Normalize({ rows: images.n, cols, data: images.data });
  const [e1, e2] = pairSides(embeddings, index, pairs);
  return evaluate(e1, e2, pairs.map((p) => p.same), options.evaluation ?? {});
}
