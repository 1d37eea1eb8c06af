/**
 * Image sources for the training loop: the built-in synthetic identities,
 * rendered on demand (and cached), standardized as the reference implementation does.
 *
 * @module
 */

import type { ImageSource } from "../core/train.ts";
import { renderSyntheticRef } from "../core/synthetic/mod.ts";
import { fixedImageStandardization } from "../core/pure/preprocess.ts";
import { augmentRngAt, createRgbImage, randomRotate } from "../core/pure/image_ops.ts";
import { ImageLoader } from "../io/pipeline.ts";

/** Options of {@link syntheticSource}. */
export interface SyntheticSourceOptions {
  /**
   * Training images only: rotate each by a uniform angle in `[-randomRotate,
   * randomRotate)` degrees before standardization (the reference implementation's `--random_rotate`
   * uses 10), image `i` drawing from `augmentRngAt(rng, i)`; 0 (default): none.
   */
  readonly randomRotate?: number;
  /** Strength of the per-image nuisances, 0..2 (default 1; see core/synthetic/render.ts). */
  readonly nuisance?: number;
}

/**
 * A source that renders synthetic references at `size` pixels with fixed
 * image standardization `(x - 127.5) / 128`, caching rendered images, and
 * optionally rotating training images at random (pixels rotated in from
 * outside the image are black, as in the reference implementation).
 *
 * @param seed The synthetic dataset seed.
 * @param size Image height and width.
 * @param options Augmentation.
 * @returns The source.
 */
export function syntheticSource(
  seed: number,
  size: number,
  options: SyntheticSourceOptions = {},
): ImageSource {
  const maxDegrees = options.randomRotate ?? 0;
  const nuisance = options.nuisance ?? 1;
  if (!(maxDegrees >= 0) || !Number.isFinite(maxDegrees)) {
    throw new RangeError(`Random rotation must be a finite number >= 0, got ${maxDegrees}`);
  }
  const raw = new Map<string, Float32Array>();
  const cache = new Map<string, Float32Array>();
  const pixels = size * size * 3;
  return (refs, { training, rng }) => {
    const data = new Float32Array(refs.length * pixels);
    refs.forEach((ref, i) => {
      if (training && maxDegrees > 0) {
        let pixelsOf = raw.get(ref);
        if (pixelsOf === undefined) {
          pixelsOf = renderSyntheticRef(ref, size, seed, { nuisance });
          raw.set(ref, pixelsOf);
        }
        const [turned] = randomRotate(
          createRgbImage(size, size, pixelsOf),
          maxDegrees,
          augmentRngAt(rng, i),
        );
        data.set(fixedImageStandardization(turned.data), i * pixels);
        return;
      }
      let image = cache.get(ref);
      if (image === undefined) {
        image = fixedImageStandardization(renderSyntheticRef(ref, size, seed, { nuisance }));
        cache.set(ref, image);
      }
      data.set(image, i * pixels);
    });
    return Promise.resolve({ n: refs.length, height: size, width: size, channels: 3, data });
  };
}

/** Options of {@link fileSource}. */
export interface FileSourceOptions {
  /** Model input size: images are centre-cropped (or padded) to it, or randomly cropped in training. */
  readonly size: number;
  /** Resize every image to this size before cropping (the reference implementation's aligned 182 px crops need none). */
  readonly resize?: number;
  /** Training images only: a random crop instead of the centre. */
  readonly randomCrop?: boolean;
  /** Training images only: mirror with probability 1/2. */
  readonly randomFlip?: boolean;
  /** Training images only: rotate by up to this many degrees. */
  readonly randomRotate?: number;
  /** The loader (decoding workers); one without workers by default. */
  readonly loader?: ImageLoader;
}

/**
 * A source that reads image files (JPEG or PNG) by path, prepares them as the
 * reference implementation's input pipeline does (augmentation in training only) and applies
 * fixed image standardization.
 *
 * @param options Size, resizing and augmentation.
 * @returns The source.
 */
export function fileSource(options: FileSourceOptions): ImageSource {
  const loader = options.loader ?? new ImageLoader();
  return (refs, { training, rng }) =>
    loader.loadAll(refs, {
      prepare: {
        size: options.size,
        ...(options.resize === undefined ? {} : { resize: options.resize }),
        randomCrop: training && (options.randomCrop ?? false),
        randomFlip: training && (options.randomFlip ?? false),
        randomRotate: training ? options.randomRotate ?? 0 : 0,
        rng,
        standardize: "fixed",
      },
    });
}
