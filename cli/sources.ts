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
  /**
   * Bytes of rendered training images kept for reuse, least recently used
   * dropped first (default {@link TRAINING_CACHE_BYTES}); validation images
   * (a fixed, small set) are all kept.
   */
  readonly cacheBytes?: number;
}

/**
 * The default budget of cached training images: 64 MiB, about 1,365 images
 * of 64 px. Caching all of the default run's 12,000 training images took
 * 590 MB; rendering one again costs a few milliseconds. The default run
 * peaked at 496-512 MiB with this budget against 562-592 MiB with 128 MiB, in
 * the same wall time (`/usr/bin/time -v deno task train`, 2026-11-29).
 *
 * @example
 * ```ts
 * import { TRAINING_CACHE_BYTES } from "./sources.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(TRAINING_CACHE_BYTES / (64 * 64 * 3 * 4) | 0, 1365); // 64 px images
 * ```
 */
export const TRAINING_CACHE_BYTES = 64 * 2 ** 20;

/**
 * A map that keeps at most `budget` bytes of arrays, dropping the least
 * recently used (a read counts as a use); an array larger than the whole
 * budget is not kept.
 *
 * @example
 * ```ts
 * import { LruCache } from "./sources.ts";
 * import assert from "node:assert/strict";
 *
 * const cache = new LruCache(32); // bytes: two arrays of 4 floats
 * cache.set("a", new Float32Array(4));
 * cache.set("b", new Float32Array(4));
 * cache.get("a"); // "a" is now the most recently used
 * cache.set("c", new Float32Array(4));
 * assert.equal(cache.get("b"), undefined);
 * assert.ok(cache.get("a") !== undefined && cache.get("c") !== undefined);
 * cache.set("huge", new Float32Array(9));
 * assert.equal(cache.get("huge"), undefined);
 * // Setting a key again replaces its array (and its bytes), evicting nothing.
 * cache.set("a", new Float32Array(4));
 * assert.ok(cache.get("a") !== undefined && cache.get("c") !== undefined);
 * ```
 */
export class LruCache {
  readonly #map = new Map<string, Float32Array>();
  readonly #budget: number;
  #bytes = 0;

  constructor(budget: number) {
    this.#budget = budget;
  }

  get(key: string): Float32Array | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: string, value: Float32Array): void {
    const previous = this.#map.get(key);
    if (previous !== undefined) {
      this.#map.delete(key);
      this.#bytes -= previous.byteLength;
    }
    if (value.byteLength > this.#budget) return;
    this.#map.set(key, value);
    this.#bytes += value.byteLength;
    for (const [oldest, old] of this.#map) {
      if (this.#bytes <= this.#budget) break;
      this.#map.delete(oldest);
      this.#bytes -= old.byteLength;
    }
  }
}

/**
 * A source that renders synthetic references at `size` pixels with fixed
 * image standardization `(x - 127.5) / 128`, caching rendered images (the
 * training images up to `cacheBytes`), and
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
  const cacheBytes = options.cacheBytes ?? TRAINING_CACHE_BYTES;
  if (!(cacheBytes >= 0)) {
    throw new RangeError(`Cache size must be a number of bytes >= 0, got ${cacheBytes}`);
  }
  const raw = new LruCache(cacheBytes);
  const trainingCache = new LruCache(cacheBytes);
  const validationCache = new Map<string, Float32Array>();
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
      const cache = training ? trainingCache : validationCache;
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
