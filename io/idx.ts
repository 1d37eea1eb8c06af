/**
 * IDX files (the MNIST and Fashion-MNIST format), plain or gzip-compressed,
 * and the Fashion-MNIST dataset as Debian's `dataset-fashion-mnist` package
 * installs it (`/usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz`).
 *
 * The format: two zero bytes, a type byte (0x08: unsigned byte, the only type
 * MNIST uses), the number of dimensions, then each dimension as a big-endian
 * uint32, then the data in row-major order.
 *
 * @module
 */

import { join } from "node:path";

/**
 * A parsed IDX file of unsigned bytes.
 *
 * @category Data
 */
export interface IdxArray {
  /** The dimensions, outermost first (images: `[count, rows, cols]`; labels: `[count]`). */
  readonly shape: readonly number[];
  /** The values, row-major. */
  readonly data: Uint8Array;
}

const UBYTE = 0x08;

/**
 * Parses the bytes of an (uncompressed) IDX file of unsigned bytes.
 *
 * @param bytes The file's content.
 * @param name The file's name, for error messages.
 * @returns The shape and the data (a view into `bytes`).
 * @throws {TypeError} When `bytes` is not a Uint8Array.
 * @throws {RangeError} When the magic number, the element type or the length is wrong.
 * @example
 * ```ts
 * import { parseIdx } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
 * const idx = parseIdx(bytes, "tiny");
 * assert.deepEqual(idx.shape, [2, 3]);
 * assert.deepEqual([...idx.data], [1, 2, 3, 4, 5, 6]);
 * ```
 *
 * @category Data
 */
export function parseIdx(bytes: Uint8Array, name = "<bytes>"): IdxArray {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`IDX bytes must be a Uint8Array, got ${typeof bytes}`);
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new RangeError(`${name} is not an IDX file (its first two bytes are not zero)`);
  }
  if (bytes[2] !== UBYTE) {
    throw new RangeError(
      `${name}: IDX element type 0x${(bytes[2] ?? 0).toString(16)} is not supported ` +
        `(only 0x08, unsigned byte)`,
    );
  }
  const dims = bytes[3] as number;
  if (dims < 1 || bytes.length < 4 + 4 * dims) {
    throw new RangeError(`${name}: IDX header announces ${dims} dimensions but is truncated`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let size = 1;
  for (let d = 0; d < dims; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    shape.push(n);
    size *= n;
  }
  const start = 4 + 4 * dims;
  if (bytes.length !== start + size) {
    throw new RangeError(
      `${name}: IDX shape ${shape.join("x")} needs ${size} data bytes, the file has ` +
        `${bytes.length - start}`,
    );
  }
  return { shape, data: bytes.subarray(start) };
}

/**
 * Reads an IDX file, decompressing it when its name ends in `.gz`.
 *
 * @param path The file.
 * @returns The parsed array.
 * @throws {RangeError} When the content is not an IDX file of unsigned bytes.
 * @example
 * ```ts
 * import { readIdxFile } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".idx" });
 * await Deno.writeFile(path, new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]));
 * assert.deepEqual([...(await readIdxFile(path)).data], [7, 9]);
 * await Deno.remove(path);
 * ```
 *
 * @category Data
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes = await Deno.readFile(path);
  if (path.endsWith(".gz")) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  }
  return parseIdx(bytes, path);
}

/**
 * Where Debian's `dataset-fashion-mnist` package puts the IDX files.
 *
 * @category Data
 */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/**
 * The ten Fashion-MNIST classes in label order, written as folder names
 * (label digit first, so that sorting the folders keeps the label order; no
 * whitespace, so that they can appear in an LFW pairs file).
 *
 * @category Data
 */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "0_tshirt_top",
  "1_trouser",
  "2_pullover",
  "3_dress",
  "4_coat",
  "5_sandal",
  "6_shirt",
  "7_sneaker",
  "8_bag",
  "9_ankle_boot",
];

/**
 * One split of an MNIST-style dataset: grayscale images and their labels.
 *
 * @category Data
 */
export interface LabelledImages {
  /** Number of images. */
  readonly count: number;
  /** Image height. */
  readonly rows: number;
  /** Image width. */
  readonly cols: number;
  /** `count x rows x cols` grayscale bytes. */
  readonly pixels: Uint8Array;
  /** One label per image. */
  readonly labels: Uint8Array;
}

/**
 * Reads one split of Fashion-MNIST (or MNIST) from a folder holding
 * `<split>-images-idx3-ubyte[.gz]` and `<split>-labels-idx1-ubyte[.gz]`.
 *
 * @param dir The folder (Debian: {@link FASHION_MNIST_DIR}).
 * @param split `"train"` (60000 images) or `"t10k"` (10000 images).
 * @returns The images and labels.
 * @throws {Error} When the files are missing (the message says how to install them).
 * @throws {RangeError} When the files are malformed or disagree in count.
 * @example
 * ```ts
 * import { readMnistSplit } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 5, 6]));
 * await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, new Uint8Array([0, 0, 8, 1, 0, 0, 0, 1, 4]));
 * const split = await readMnistSplit(dir, "t10k");
 * assert.deepEqual([split.count, split.rows, split.cols, split.labels[0]], [1, 1, 2, 4]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Data
 */
export async function readMnistSplit(
  dir: string,
  split: "train" | "t10k",
): Promise<LabelledImages> {
  if (split !== "train" && split !== "t10k") {
    throw new RangeError(`Split must be "train" or "t10k", got ${JSON.stringify(split)}`);
  }
  const find = async (stem: string): Promise<string> => {
    for (const name of [stem + ".gz", stem]) {
      try {
        await Deno.stat(join(dir, name));
        return join(dir, name);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    throw new Error(
      `${join(dir, stem)}[.gz] not found; on Debian: apt-get install dataset-fashion-mnist ` +
        `(installs ${FASHION_MNIST_DIR})`,
    );
  };
  const images = await readIdxFile(await find(`${split}-images-idx3-ubyte`));
  const labels = await readIdxFile(await find(`${split}-labels-idx1-ubyte`));
  if (images.shape.length !== 3) {
    throw new RangeError(`The images file has shape ${images.shape.join("x")}, expected 3 dims`);
  }
  if (labels.shape.length !== 1 || labels.shape[0] !== images.shape[0]) {
    throw new RangeError(
      `The labels file has shape ${labels.shape.join("x")}, expected [${images.shape[0]}]`,
    );
  }
  const [count, rows, cols] = images.shape as [number, number, number];
  return { count, rows, cols, pixels: images.data, labels: labels.data };
}
