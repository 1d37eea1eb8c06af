/**
 * A background image loading pipeline: image files are read, decoded and
 * prepared (resized, cropped, augmented) ahead of the consumer, so decoding
 * overlaps compute, and arrive as NHWC float32 batches in input order.
 *
 * Two ways to run the decoding:
 * - on the calling thread (`workers: 0`, the default): reads are asynchronous,
 *   decoding happens whenever the consumer awaits — this overlaps decoding with
 *   asynchronous compute (a GPU backend) but not with synchronous compute;
 * - in a pool of Web Workers (`workers: n`): decoding runs on other cores while
 *   the calling thread computes; each image's pixels come back as a transferred
 *   buffer (no copy).
 *
 * Measured with bench/image_pipeline.ts (300 JPEGs of 250x250 to 160x160,
 * batches of 30, 100 ms of synchronous compute per batch, 2 shared cores):
 * 2257 ms with no workers, 1786 ms with 1, 1384 ms with 2 (decoding alone:
 * about 4.5 ms per image on one thread). So use workers when the consumer
 * computes on the calling thread (the pure and wasm-simd backends); with an
 * idle calling thread they gain little.
 *
 * Randomness is reproducible and independent of scheduling: image `i` of a
 * list is augmented with `augmentRngAt(rng, i)` (core/pure/image_ops.ts).
 *
 * @module
 */

import type { ImageBatch, RngState } from "../core/types.ts";
import {
  augmentImage,
  augmentRngAt,
  type ImageSize,
  resize,
  type RgbImage,
  stackImages,
} from "../core/pure/image_ops.ts";
import { fixedImageStandardization, prewhiten } from "../core/pure/preprocess.ts";
import { ImageDecodeError, readImage } from "./images.ts";

/**
 * How each image is prepared after decoding; plain data, so it can run in a
 * worker. Order: resize, then random rotation, then a random or centre crop
 * (padding when smaller) to `size`, then a random flip, then standardization.
 *
 * @category Data
 */
export interface PrepareOptions {
  /** Resize every image to this size first (antialiased bilinear); default no resizing. */
  readonly resize?: ImageSize;
  /** Crop (or pad) to this size; default the image's own size (images must then share one size). */
  readonly size?: ImageSize;
  /** Crop a random window instead of the centre. */
  readonly randomCrop?: boolean;
  /** Mirror with probability 1/2. */
  readonly randomFlip?: boolean;
  /** Rotate by a uniform angle in `[-randomRotate, randomRotate)` degrees. */
  readonly randomRotate?: number;
  /** Randomness, required when a random option is on; image `i` uses `augmentRngAt(rng, i)`. */
  readonly rng?: RngState;
  /**
   * The reference implementation's input standardization, applied last (after cropping, as its
   * training and validation input pipelines do): `"fixed"` `(x - 127.5) / 128`,
   * `"prewhiten"` per-image `(x - mean) / max(std, 1/sqrt(n))`, or `"none"` (the default).
   */
  readonly standardize?: Standardization;
  /**
   * With `size` and no `resize`: refuse an image of another size (a RangeError naming both
   * sizes) instead of cropping or padding it, for models that need whole aligned faces.
   */
  readonly exactSize?: boolean;
}

/**
 * The input standardizations of the reference implementation (core/pure/preprocess.ts).
 *
 * @category Data
 */
export type Standardization = "none" | "fixed" | "prewhiten";

function standardizeImage(image: RgbImage, how: Standardization): RgbImage {
  if (how === "none") return image;
  const data = how === "fixed" ? fixedImageStandardization(image.data) : prewhiten(image.data);
  return { width: image.width, height: image.height, data };
}

function isRandom(prepare: PrepareOptions): boolean {
  return prepare.randomCrop === true || prepare.randomFlip === true ||
    (prepare.randomRotate ?? 0) > 0;
}

/**
 * Prepares one decoded image: resize, then the reference implementation's augmentation, then
 * standardization (see {@linkcode PrepareOptions}). With no options it returns
 * the image unchanged.
 *
 * @param image The decoded image.
 * @param prepare What to do.
 * @param index The image's position in its list (selects its random draws).
 * @returns The prepared image.
 * @throws {TypeError} When a random option is on but `rng` is missing.
 * @throws {RangeError} When an option is out of range.
 * @example
 * ```ts
 * import { prepareImage } from "@facenet-deno/facenet/io";
 * import { createRgbImage } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const out = prepareImage(createRgbImage(250, 250), { resize: 182, size: 160 }, 0);
 * assert.deepEqual([out.width, out.height], [160, 160]);
 * ```
 *
 * @category Data
 */
export function prepareImage(image: RgbImage, prepare: PrepareOptions, index: number): RgbImage {
  const how = prepare.standardize ?? "none";
  if (how !== "none" && how !== "fixed" && how !== "prewhiten") {
    throw new RangeError(`Standardization must be "none", "fixed" or "prewhiten", got ${how}`);
  }
  if (prepare.exactSize === true && prepare.resize === undefined && prepare.size !== undefined) {
    const want = typeof prepare.size === "number"
      ? { height: prepare.size, width: prepare.size }
      : prepare.size;
    if (image.height !== want.height || image.width !== want.width) {
      throw new RangeError(
        `The image is ${image.width}x${image.height} pixels but the model takes ` +
          `${want.width}x${want.height} images (align the faces at that size, or resize them)`,
      );
    }
  }
  let out = prepare.resize === undefined ? image : resize(image, prepare.resize);
  const random = isRandom(prepare);
  if (prepare.size === undefined && !random) return standardizeImage(out, how);
  if (random && prepare.rng === undefined) {
    throw new TypeError("Random crop, flip or rotation needs an rng");
  }
  const options = {
    size: prepare.size ?? { height: out.height, width: out.width },
    randomCrop: prepare.randomCrop === true,
    randomFlip: prepare.randomFlip === true,
    randomRotate: prepare.randomRotate ?? 0,
  };
  const rng = prepare.rng ?? { key: [0, 0] as const, counter: 0 };
  [out] = augmentImage(out, options, augmentRngAt(rng, index));
  return standardizeImage(out, how);
}

/**
 * Options of {@linkcode ImageLoader}.
 *
 * @category Data
 */
export interface ImageLoaderOptions {
  /**
   * Decode in this many Web Workers; 0 (the default) decodes on the calling
   * thread. Workers pay off when the consumer computes synchronously on the
   * calling thread and a spare core exists.
   */
  readonly workers?: number;
}

/**
 * Options of {@linkcode ImageLoader.prototype.loadBatches}.
 *
 * @category Data
 */
export interface LoadBatchesOptions {
  /** Images per batch (the last batch may be smaller). */
  readonly batchSize: number;
  /** How many batches are loaded ahead of the consumer; default 2. */
  readonly prefetch?: number;
  /** Preparation applied to every image (in the worker when workers are used). */
  readonly prepare?: PrepareOptions;
  /**
   * A last per-image step on the calling thread (for example standardization),
   * after `prepare`; it receives the image's position in the list.
   */
  readonly transform?: (image: RgbImage, index: number) => RgbImage;
  /**
   * Where an image comes from; default reads the reference as a file path.
   * Not allowed with workers (a function cannot be sent to a worker).
   */
  readonly decode?: (ref: string) => Promise<RgbImage>;
}

interface WorkerReply {
  readonly id: number;
  readonly width?: number;
  readonly height?: number;
  readonly data?: Float32Array;
  readonly error?: string;
  readonly file?: string;
}

interface Pending {
  readonly resolve: (image: RgbImage) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Loads image files as NHWC batches in the background, optionally with a
 * pool of decoding workers that lives as long as the loader. Close it when
 * done (or use `using`), which stops the workers.
 *
 * @example Batches arrive in order, prepared to one size
 * ```ts
 * import { ImageLoader } from "@facenet-deno/facenet/io";
 * import { encodePng } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const refs: string[] = [];
 * for (let i = 0; i < 5; i++) {
 *   refs.push(`${dir}/${i}.png`);
 *   await Deno.writeFile(refs[i]!, encodePng({ width: 3, height: 3, data: new Float32Array(27).fill(i) }));
 * }
 * using loader = new ImageLoader();
 * const firsts: number[] = [];
 * for await (const batch of loader.loadBatches(refs, { batchSize: 2, prepare: { size: 2 } })) {
 *   assert.equal(batch.height, 2);
 *   for (let i = 0; i < batch.n; i++) firsts.push(batch.data[i * 12]!);
 * }
 * assert.deepEqual(firsts, [0, 1, 2, 3, 4]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Data
 */
export class ImageLoader {
  #workers: Worker[] = [];
  #pending = new Map<number, Pending>();
  #nextId = 0;
  #nextWorker = 0;
  #closed = false;

  /**
   * Creates a loader, starting its decoding workers if any.
   *
   * @param options `workers`: the size of the decoding pool (0: none).
   * @throws {RangeError} When `workers` is not a non-negative integer.
   */
  constructor(options: ImageLoaderOptions = {}) {
    const workers = options.workers ?? 0;
    if (!Number.isSafeInteger(workers) || workers < 0) {
      throw new RangeError(`Worker count must be a non-negative integer, got ${workers}`);
    }
    for (let i = 0; i < workers; i++) {
      const worker = new Worker(new URL("./_image_worker.ts", import.meta.url).href, {
        type: "module",
      });
      worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#onReply(event.data);
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#failAll(new Error(`An image worker failed: ${event.message}`));
      };
      this.#workers.push(worker);
    }
  }

  /** The number of decoding workers. */
  get workers(): number {
    return this.#workers.length;
  }

  #onReply(reply: WorkerReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.error !== undefined) {
      pending.reject(
        reply.file !== undefined
          ? new ImageDecodeError(reply.file, reply.error)
          : new Error(reply.error),
      );
    } else {
      pending.resolve({ width: reply.width!, height: reply.height!, data: reply.data! });
    }
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  #loadOne(
    ref: string,
    index: number,
    options: LoadBatchesOptions,
  ): Promise<RgbImage> {
    const prepare = options.prepare ?? {};
    let image: Promise<RgbImage>;
    if (this.#workers.length > 0) {
      const id = this.#nextId++;
      const worker = this.#workers[this.#nextWorker++ % this.#workers.length]!;
      image = new Promise<RgbImage>((resolve, reject) => {
        this.#pending.set(id, { resolve, reject });
        worker.postMessage({ id, ref, prepare, index });
      });
    } else {
      const decode = options.decode ?? readImage;
      image = decode(ref).then((decoded) => {
        try {
          return prepareImage(decoded, prepare, index);
        } catch (error) {
          throw error instanceof RangeError ? new RangeError(`${ref}: ${error.message}`) : error;
        }
      });
    }
    const transform = options.transform;
    return transform === undefined ? image : image.then((img) => transform(img, index));
  }

  /**
   * Loads images as NHWC batches, in order, keeping `prefetch` batches in
   * flight ahead of the consumer. All images of a batch must end up the same
   * size (set `prepare.size`). Breaking out of the loop stops prefetching.
   *
   * @param refs Image references (file paths unless `decode` is given).
   * @param options Batch size, prefetch depth, preparation, a final transform, a custom source.
   * @returns An async iterator of batches.
   * @throws {ImageDecodeError} (from the iterator) When an image cannot be read; the message names the file.
   * @throws {RangeError} When an option is out of range, or images of one batch differ in size.
   * @throws {TypeError} When `decode` is combined with workers, or a random option lacks an rng.
   */
  async *loadBatches(
    refs: readonly string[],
    options: LoadBatchesOptions,
  ): AsyncGenerator<ImageBatch, void, undefined> {
    const { batchSize } = options;
    const prefetch = options.prefetch ?? 2;
    if (this.#closed) throw new Error("The image loader is closed");
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`Batch size must be a positive integer, got ${batchSize}`);
    }
    if (!Number.isSafeInteger(prefetch) || prefetch < 0) {
      throw new RangeError(`Prefetch must be a non-negative integer, got ${prefetch}`);
    }
    if (options.decode !== undefined && this.#workers.length > 0) {
      throw new TypeError("A custom decode function cannot run in workers; use workers: 0");
    }
    if (options.prepare !== undefined && isRandom(options.prepare) && !options.prepare.rng) {
      throw new TypeError("Random crop, flip or rotation needs prepare.rng");
    }
    const batches = Math.ceil(refs.length / batchSize);
    const inFlight: Promise<ImageBatch>[] = [];
    let next = 0;
    const start = () => {
      const b = next++;
      const images = refs.slice(b * batchSize, (b + 1) * batchSize).map((ref, j) =>
        this.#loadOne(ref, b * batchSize + j, options)
      );
      const batch = Promise.all(images).then((list) => {
        try {
          return stackImages(list);
        } catch (error) {
          throw new RangeError(
            `Images of batch ${b} differ in size (set prepare.size): ${(error as Error).message}`,
          );
        }
      });
      batch.catch(() => {}); // Reported when awaited; avoid an unhandled rejection if abandoned.
      inFlight.push(batch);
    };
    for (let k = 0; k < batches; k++) {
      while (next < batches && next <= k + prefetch) start();
      const batch = await inFlight.shift()!;
      yield batch;
    }
  }

  /**
   * Loads all images into one batch.
   *
   * @param refs Image references.
   * @param options As for {@linkcode ImageLoader.prototype.loadBatches}, without batching.
   * @returns One batch of `refs.length` images.
   * @throws {ImageDecodeError} When an image cannot be read; the message names the file.
   * @throws {RangeError} When `refs` is empty or the images differ in size.
   */
  async loadAll(
    refs: readonly string[],
    options: Omit<LoadBatchesOptions, "batchSize" | "prefetch"> = {},
  ): Promise<ImageBatch> {
    if (refs.length === 0) throw new RangeError("Cannot load an empty list of images");
    let out: ImageBatch | undefined;
    for await (const batch of this.loadBatches(refs, { ...options, batchSize: refs.length })) {
      out = batch;
    }
    return out!;
  }

  /** Stops the workers; pending loads fail. Closing twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of this.#workers) worker.terminate();
    this.#workers = [];
    this.#failAll(new Error("The image loader was closed"));
  }

  /** Same as {@linkcode ImageLoader.prototype.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Loads images as NHWC batches on the calling thread, prefetching ahead — a
 * shortcut for `new ImageLoader().loadBatches(refs, options)`.
 *
 * @param refs Image references (file paths unless `decode` is given).
 * @param options Batch size, prefetch depth, preparation, a final transform, a custom source.
 * @returns An async iterator of batches.
 * @throws {ImageDecodeError} (from the iterator) When an image cannot be read.
 * @example A custom source
 * ```ts
 * import { loadBatches } from "@facenet-deno/facenet/io";
 * import { createRgbImage } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const decode = (ref: string) => Promise.resolve(createRgbImage(2, 2, new Float32Array(12).fill(Number(ref))));
 * const sizes: number[] = [];
 * for await (const batch of loadBatches(["1", "2", "3"], { batchSize: 2, decode })) sizes.push(batch.n);
 * assert.deepEqual(sizes, [2, 1]);
 * ```
 *
 * @category Data
 */
export function loadBatches(
  refs: readonly string[],
  options: LoadBatchesOptions,
): AsyncGenerator<ImageBatch, void, undefined> {
  return new ImageLoader().loadBatches(refs, options);
}
