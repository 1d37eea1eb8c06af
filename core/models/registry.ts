/**
 * The shipped model specs by name.
 *
 * @module
 */

import type { ModelSpec } from "../model_spec.ts";
import { nano } from "./nano.ts";
import { inceptionResnetV1 } from "./inception_resnet_v1.ts";
import { mobileFaceNet } from "./mobilefacenet.ts";

/**
 * Names of the shipped model specs.
 *
 * @category Models
 */
export type ModelName = "nano" | "inception-resnet-v1" | "mobilefacenet" | "mobilefacenet-bn";

/**
 * The names accepted by {@link modelSpec}.
 *
 * @example
 * ```ts
 * import { MODEL_NAMES, modelSpec } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(MODEL_NAMES.map((name) => modelSpec(name).name), MODEL_NAMES);
 * ```
 *
 * @category Models
 */
export const MODEL_NAMES: readonly ModelName[] = [
  "nano",
  "inception-resnet-v1",
  "mobilefacenet",
  "mobilefacenet-bn",
];

/**
 * Options shared by the shipped specs.
 *
 * @category Models
 */
export interface ModelSpecOptions {
  /** Bottleneck (embedding) size; default 128. */
  readonly embeddingSize?: number;
  /** Dropout keep probability before the bottleneck; default 1. */
  readonly keepProbability?: number;
  /** Square input size; default the model's own (nano 64, inception-resnet-v1 160, mobilefacenet 112). */
  readonly imageSize?: number;
}

/**
 * A shipped model spec by name.
 *
 * @param name "nano" (64x64x3, the CPU default), "inception-resnet-v1" (160x160x3, the reference
 * implementation's) or "mobilefacenet" (112x112x3, the pretrained embedder's architecture).
 * @param options Embedding size, keep probability, input size.
 * @returns The spec.
 * @throws {RangeError} When the name is unknown or an option is out of range.
 * @example
 * ```ts
 * import { modelSpec } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const spec = modelSpec("nano", { embeddingSize: 64 });
 * assert.equal(spec.name, "nano");
 * assert.throws(() => modelSpec("resnet" as "nano"), RangeError);
 * ```
 *
 * @category Models
 */
export function modelSpec(name: ModelName, options: ModelSpecOptions = {}): ModelSpec {
  switch (name) {
    case "nano":
      return nano(options);
    case "inception-resnet-v1":
      return inceptionResnetV1(options);
    case "mobilefacenet":
    case "mobilefacenet-bn":
      if (options.keepProbability !== undefined && options.keepProbability !== 1) {
        throw new RangeError(
          `MobileFaceNet has no dropout; keep probability must be 1, got ${options.keepProbability}`,
        );
      }
      return mobileFaceNet({
        ...(options.embeddingSize === undefined ? {} : { embeddingSize: options.embeddingSize }),
        ...(options.imageSize === undefined ? {} : { imageSize: options.imageSize }),
        batchNorm: name === "mobilefacenet-bn",
      });
    default:
      throw new RangeError(
        `Unknown model "${String(name)}"; use one of ${MODEL_NAMES.join(", ")}`,
      );
  }
}
