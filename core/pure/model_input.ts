/**
 * What an exported model expects as input, and the browser-side helper that
 * turns an image (an `ImageData` or anything shaped like it: RGBA bytes, row
 * after row) into exactly that input. `export` records a
 * {@link ModelInputSpec} in the model's metadata (tfjs: `model.json`
 * `userDefinedMetadata.facenet.input`; ONNX: the `facenet.input` metadata
 * entry), so a page needs nothing but the model to prepare its images.
 *
 * Pure: no DOM, no tfjs; it runs in a browser, a worker or Deno alike.
 *
 * @module
 */

import type { ImageBatch } from "../types.ts";
import { cropOrPad, resize, type RgbImage } from "./image_ops.ts";
import { fixedImageStandardization, prewhiten } from "./preprocess.ts";

/**
 * The input standardizations of training (see preprocess.ts).
 *
 * @category Images
 */
export type InputStandardization = "fixed" | "prewhiten" | "none";

/**
 * How a model wants its input: the size, the layout and the standardization.
 *
 * @category Images
 */
export interface ModelInputSpec {
  /** Image height in pixels. */
  readonly height: number;
  /** Image width in pixels. */
  readonly width: number;
  /** Colour channels (3 for RGB; a test network may have others). */
  readonly channels: number;
  /** Memory layout of the input tensor: batch, height, width, channels. */
  readonly layout: "NHWC";
  /** Element type of the input tensor. */
  readonly dtype: "float32";
  /** Channel order. */
  readonly colorOrder: "RGB";
  /** The standardization applied to 0..255 pixel values. */
  readonly standardization: InputStandardization;
  /** The standardization as a formula of a pixel value `x` in 0..255. */
  readonly formula: string;
}

const FORMULAS: Readonly<Record<InputStandardization, string>> = {
  fixed: "(x - 127.5) / 128",
  prewhiten: "(x - mean) / max(std, 1 / sqrt(N)) over each image's N values",
  none: "x",
};

/**
 * Describes a model input of the given size and standardization.
 *
 * @param input Height and width in pixels, channels (default 3) and the
 *   standardization of 0..255 pixel values (default "fixed").
 * @returns The input description.
 * @throws {RangeError} When a size is not a positive integer or the standardization is unknown.
 * @example
 * ```ts
 * import { modelInputSpec } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const input = modelInputSpec({ height: 160, width: 160 });
 * assert.equal(input.formula, "(x - 127.5) / 128");
 * assert.equal(input.layout, "NHWC");
 * ```
 *
 * @category Images
 */
export function modelInputSpec(input: {
  readonly height: number;
  readonly width: number;
  readonly channels?: number;
  readonly standardization?: InputStandardization;
}): ModelInputSpec {
  const { height, width, channels = 3, standardization = "fixed" } = input;
  for (const [name, v] of [["Height", height], ["Width", width], ["Channels", channels]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
  }
  if (!Object.hasOwn(FORMULAS, standardization)) {
    throw new RangeError(
      `Standardization must be "fixed", "prewhiten" or "none", got "${standardization}"`,
    );
  }
  return {
    height,
    width,
    channels,
    layout: "NHWC",
    dtype: "float32",
    colorOrder: "RGB",
    standardization,
    formula: FORMULAS[standardization],
  };
}

/**
 * An image as the browser's `ImageData` holds it: RGBA bytes, row after row.
 *
 * @category Images
 */
export interface ImageDataLike {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** `width * height * 4` values in 0..255 (R, G, B, A; alpha is ignored). */
  readonly data: ArrayLike<number>;
}

/**
 * Options of {@link imageDataToInput}.
 *
 * @category Images
 */
export interface ImageDataToInputOptions {
  /**
   * How an image of another size is brought to the model's: "resize"
   * (antialiased bilinear, the default; for face crops of any size) or
   * "crop" (centre crop or zero padding, as the CLI does without --resize).
   */
  readonly fit?: "resize" | "crop";
}

/**
 * Turns images (ImageData-like RGBA) into a model's input batch: alpha
 * dropped, brought to the model's size, standardized as the model was
 * trained. Pass the result's `data` with shape `[n, height, width, 3]` to the
 * exported model (tfjs: `tf.tensor4d(batch.data, [n, h, w, 3])`; ONNX
 * Runtime: `new ort.Tensor("float32", batch.data, [n, h, w, 3])`).
 *
 * @param images One image or several.
 * @param input The model's input description (from its metadata).
 * @param options How other sizes are fitted.
 * @returns The NHWC float32 batch.
 * @throws {RangeError} When an image's data length is not `width * height * 4`,
 *   no image is given, or the input description is not RGB NHWC float32.
 * @example A 2x1 image for a model with a 2x1 input, fixed standardization
 * ```ts
 * import { imageDataToInput, modelInputSpec } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const image = { width: 2, height: 1, data: new Uint8ClampedArray([255, 0, 127.5, 255, 0, 0, 0, 255]) };
 * const batch = imageDataToInput(image, modelInputSpec({ height: 1, width: 2 }));
 * assert.deepEqual([batch.n, batch.height, batch.width, batch.channels], [1, 1, 2, 3]);
 * assert.equal(batch.data[0], (255 - 127.5) / 128);
 * assert.equal(batch.data[3], -127.5 / 128);
 * ```
 *
 * @category Images
 */
export function imageDataToInput(
  images: ImageDataLike | readonly ImageDataLike[],
  input: ModelInputSpec,
  options: ImageDataToInputOptions = {},
): ImageBatch {
  const list: readonly ImageDataLike[] = Array.isArray(images)
    ? images as readonly ImageDataLike[]
    : [images as ImageDataLike];
  if (list.length === 0) throw new RangeError("No image was given");
  if (input.layout !== "NHWC" || input.channels !== 3 || input.colorOrder !== "RGB") {
    throw new RangeError(
      `Only RGB NHWC inputs are supported, got ${input.colorOrder} ${input.layout} with ${input.channels} channels`,
    );
  }
  const fit = options.fit ?? "resize";
  if (fit !== "resize" && fit !== "crop") {
    throw new RangeError(`Fit must be "resize" or "crop", got "${fit}"`);
  }
  const per = input.height * input.width * 3;
  const data = new Float32Array(list.length * per);
  list.forEach((image, i) => {
    const { width, height } = image;
    if (
      !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 ||
      image.data.length !== width * height * 4
    ) {
      throw new RangeError(
        `Image ${i} must hold width * height * 4 RGBA values (${width}x${height}), got ${image.data.length}`,
      );
    }
    const rgb = new Float32Array(width * height * 3);
    for (let p = 0; p < width * height; p++) {
      rgb[3 * p] = image.data[4 * p] as number;
      rgb[3 * p + 1] = image.data[4 * p + 1] as number;
      rgb[3 * p + 2] = image.data[4 * p + 2] as number;
    }
    let fitted: RgbImage = { width, height, data: rgb };
    if (width !== input.width || height !== input.height) {
      const size = { height: input.height, width: input.width };
      fitted = fit === "resize" ? resize(fitted, size) : cropOrPad(fitted, size);
    }
    const standardized = input.standardization === "fixed"
      ? fixedImageStandardization(fitted.data)
      : input.standardization === "prewhiten"
      ? prewhiten(fitted.data)
      : fitted.data;
    data.set(standardized, i * per);
  });
  return { n: list.length, height: input.height, width: input.width, channels: 3, data };
}
