/**
 * NumPy `.npy` files, format version 1.0: write and read little-endian
 * float32 matrices (embeddings) and int32 vectors (labels), as `np.save` and
 * `np.load` do.
 *
 * The layout (NumPy's "format" specification): the magic string
 * `\x93NUMPY`, the version bytes `1, 0`, a little-endian uint16 header length,
 * then an ASCII header holding a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with
 * spaces and ended by `\n` so that the data starts at a multiple of 64 bytes,
 * then the raw C-order data. The writer reproduces NumPy's own header bytes
 * (including the 21-digit growth reserve NumPy adds after the dict), so files
 * are identical to `np.save` output.
 *
 * @module
 */

import { writeFileAtomic } from "./atomic.ts";
import type { Matrix } from "../core/types.ts";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;

/**
 * The element types this module reads and writes.
 *
 * @category Checkpoints and files
 */
export type NpyDtype = "float32" | "float64" | "int32" | "int64";

const DESCR: Record<NpyDtype, string> = {
  float32: "<f4",
  float64: "<f8",
  int32: "<i4",
  int64: "<i8",
};

/**
 * An array read from a `.npy` file. int64 values are returned as float64 numbers.
 *
 * @category Checkpoints and files
 */
export interface NpyArray {
  /** The stored element type. */
  readonly dtype: NpyDtype;
  /** The shape (an empty array for a scalar). */
  readonly shape: readonly number[];
  /** The values in C order. */
  readonly data: Float32Array | Float64Array | Int32Array;
}

/**
 * An error in a `.npy` file, naming the file.
 *
 * @example
 * ```ts
 * import { decodeNpy, NpyFormatError } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new NpyFormatError("a.npy", "bad header").message, "a.npy: bad header");
 * assert.throws(() => decodeNpy(new Uint8Array(4), "x.npy"), NpyFormatError);
 * ```
 *
 * @category Checkpoints and files
 */
export class NpyFormatError extends Error {
  /**
   * Creates the error.
   *
   * @param fileName The file (or a description of the bytes).
   * @param message What is wrong.
   */
  constructor(fileName: string, message: string) {
    super(`${fileName}: ${message}`);
    this.name = "NpyFormatError";
  }
}

function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

/**
 * The NumPy v1.0 header (magic, version, length and padded dict) for an array.
 *
 * @param dtype The element type.
 * @param shape The shape (non-negative integers).
 * @returns The header bytes; their length is a multiple of 64.
 * @throws {RangeError} When a dimension is not a non-negative integer or the header is too long.
 * @example
 * ```ts
 * import { npyHeader } from "./npy.ts";
 * import assert from "node:assert/strict";
 *
 * const header = npyHeader("float32", [3, 4]);
 * assert.equal(header.length, 128);
 * assert.equal(new TextDecoder().decode(header.subarray(10, 69)),
 *   "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
 * ```
 */
export function npyHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(
        `Shape entries must be non-negative integers, got [${shape.join(", ")}]`,
      );
    }
  }
  let dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) {
    dict += " ".repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  }
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1;
  const pad = (ALIGN - (unpadded % ALIGN)) % ALIGN;
  const text = dict + " ".repeat(pad) + "\n";
  if (text.length > 0xffff) {
    throw new RangeError(`The header is ${text.length} bytes, over the v1.0 limit of 65535`);
  }
  const out = new Uint8Array(MAGIC.length + 4 + text.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = text.length & 0xff;
  out[9] = text.length >>> 8;
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  return out;
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

function encodeArray(
  dtype: NpyDtype,
  shape: readonly number[],
  data: Float32Array | Int32Array,
): Uint8Array {
  const header = npyHeader(dtype, shape);
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new RangeError(`Data length ${data.length} does not match shape [${shape.join(", ")}]`);
  }
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header, 0);
  const view = new DataView(out.buffer, header.length);
  if (isLittleEndian()) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  } else {
    for (let i = 0; i < data.length; i++) {
      if (dtype === "float32") view.setFloat32(i * 4, data[i] as number, true);
      else view.setInt32(i * 4, data[i] as number, true);
    }
  }
  return out;
}

/**
 * Encodes a float32 matrix as `.npy` bytes (shape `(rows, cols)`, `<f4`).
 *
 * @param matrix The matrix.
 * @returns The file bytes, identical to `np.save` of the same float32 array.
 * @throws {RangeError} When `matrix.data` does not match its shape.
 * @example
 * ```ts
 * import { decodeNpy, encodeNpyMatrix } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeNpyMatrix({ rows: 1, cols: 2, data: new Float32Array([1.5, -2]) });
 * assert.equal(bytes.length, 128 + 8);
 * assert.deepEqual([...decodeNpy(bytes).data], [1.5, -2]);
 * ```
 *
 * @category Checkpoints and files
 */
export function encodeNpyMatrix(matrix: Matrix): Uint8Array {
  if (!(matrix.data instanceof Float32Array)) {
    throw new TypeError("Matrix data must be a Float32Array");
  }
  return encodeArray("float32", [matrix.rows, matrix.cols], matrix.data);
}

/**
 * Encodes an int32 vector as `.npy` bytes (shape `(n,)`, `<i4`), e.g. labels.
 *
 * @param values The values.
 * @returns The file bytes.
 * @example
 * ```ts
 * import { decodeNpy, encodeNpyInt32 } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const array = decodeNpy(encodeNpyInt32(new Int32Array([0, 0, 1])));
 * assert.equal(array.dtype, "int32");
 * assert.deepEqual(array.shape, [3]);
 * ```
 *
 * @category Checkpoints and files
 */
export function encodeNpyInt32(values: Int32Array): Uint8Array {
  if (!(values instanceof Int32Array)) throw new TypeError("Values must be an Int32Array");
  return encodeArray("int32", [values.length], values);
}

function parseHeaderDict(text: string, fileName: string): {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
} {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape || !text.trim().startsWith("{") || !text.trim().endsWith("}")) {
    throw new NpyFormatError(fileName, `malformed header ${JSON.stringify(text.trim())}`);
  }
  const dims = (shape[1] as string).split(",").map((s) => s.trim()).filter((s) => s !== "");
  const parsed = dims.map((s) => Number(s.replace(/L$/, "")));
  if (parsed.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new NpyFormatError(fileName, `bad shape (${shape[1]})`);
  }
  return { descr: descr[1] as string, fortranOrder: fortran[1] === "True", shape: parsed };
}

/**
 * Decodes `.npy` bytes (format versions 1.0, 2.0 and 3.0) holding a
 * C-order array of `<f4`, `<f8`, `<i4` or `<i8` (`|`-prefixed or
 * big-endian `>` variants are accepted too and converted).
 *
 * @param bytes The file bytes.
 * @param fileName Named in errors.
 * @returns The array.
 * @throws {NpyFormatError} For a bad magic string, version, header, dtype,
 *   Fortran order, or a data length that does not match the shape.
 * @example
 * ```ts
 * import { decodeNpy } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeNpy(new Uint8Array(4), "x.npy"), /x\.npy: not a \.npy file/);
 * ```
 *
 * @category Checkpoints and files
 */
export function decodeNpy(bytes: Uint8Array, fileName = "<bytes>"): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new NpyFormatError(fileName, "not a .npy file (bad magic string)");
  }
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyFormatError(fileName, "truncated header");
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new NpyFormatError(fileName, `unsupported format version ${major}.${bytes[7]}`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw new NpyFormatError(fileName, "truncated header");
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, dataStart),
  );
  const header = parseHeaderDict(text, fileName);
  if (header.fortranOrder) {
    throw new NpyFormatError(fileName, "Fortran-order arrays are not supported");
  }
  const match = /^([<>|=])([fi])([48])$/.exec(header.descr);
  if (!match) {
    throw new NpyFormatError(
      fileName,
      `unsupported dtype '${header.descr}' (expected <f4, <f8, <i4 or <i8)`,
    );
  }
  const little = match[1] !== ">";
  const kind = match[2] as "f" | "i";
  const size = Number(match[3]);
  const dtype: NpyDtype = kind === "f"
    ? (size === 4 ? "float32" : "float64")
    : (size === 4 ? "int32" : "int64");
  const count = header.shape.reduce((a, b) => a * b, 1);
  if (bytes.length - dataStart !== count * size) {
    throw new NpyFormatError(
      fileName,
      `data is ${bytes.length - dataStart} bytes, shape (${
        header.shape.join(", ")
      }) of ${header.descr} needs ${count * size}`,
    );
  }
  let data: Float32Array | Float64Array | Int32Array;
  if (dtype === "float32") {
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + 4 * i, little);
  } else if (dtype === "int32") {
    data = new Int32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getInt32(dataStart + 4 * i, little);
  } else if (dtype === "float64") {
    data = new Float64Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat64(dataStart + 8 * i, little);
  } else {
    data = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      data[i] = Number(view.getBigInt64(dataStart + 8 * i, little));
    }
  }
  return { dtype, shape: header.shape, data };
}

/**
 * Writes a float32 matrix to a `.npy` file.
 *
 * @param path The file path.
 * @param matrix The matrix.
 * @returns Resolves when written.
 * @example
 * ```ts
 * import { readNpyMatrix, writeNpyMatrix } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".npy" });
 * await writeNpyMatrix(path, { rows: 2, cols: 1, data: new Float32Array([1, 2]) });
 * assert.deepEqual([...(await readNpyMatrix(path)).data], [1, 2]);
 * await Deno.remove(path);
 * ```
 *
 * @category Checkpoints and files
 */
export async function writeNpyMatrix(path: string, matrix: Matrix): Promise<void> {
  await writeFileAtomic(path, encodeNpyMatrix(matrix));
}

/**
 * Reads a 2-D float array from a `.npy` file as a float32 matrix (float64
 * data is rounded to float32; a 1-D array becomes one row).
 *
 * @param path The file path.
 * @returns The matrix.
 * @throws {NpyFormatError} When the file is not a 1-D or 2-D float array.
 * @example
 * ```ts
 * import { readNpyMatrix, writeNpyMatrix } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".npy" });
 * await writeNpyMatrix(path, { rows: 1, cols: 3, data: new Float32Array([0, 1, 2]) });
 * assert.equal((await readNpyMatrix(path)).cols, 3);
 * await Deno.remove(path);
 * ```
 *
 * @category Checkpoints and files
 */
export async function readNpyMatrix(path: string): Promise<Matrix> {
  const array = decodeNpy(await Deno.readFile(path), path);
  if (array.dtype !== "float32" && array.dtype !== "float64") {
    throw new NpyFormatError(path, `expected a float array, got ${array.dtype}`);
  }
  if (array.shape.length !== 2 && array.shape.length !== 1) {
    throw new NpyFormatError(path, `expected a 2-D array, got shape (${array.shape.join(", ")})`);
  }
  const rows = array.shape.length === 2 ? array.shape[0] as number : 1;
  const cols = array.shape.length === 2 ? array.shape[1] as number : array.shape[0] as number;
  const data = array.data instanceof Float32Array ? array.data : Float32Array.from(array.data);
  return { rows, cols, data };
}
