/**
 * The safetensors file format for float32 tensors: an 8-byte little-endian
 * header length `N`, then `N` bytes of JSON header
 * `{"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
 * "__metadata__": {"<key>": "<string>"}}` (padded with spaces to a multiple of
 * 8 bytes), then the raw little-endian tensor data; offsets are relative to the
 * start of the data and the tensors cover it without holes or overlaps.
 *
 * Only the `F32` dtype is written and read: every tensor of the framework is
 * float32.
 *
 * @module
 */

import type { NamedTensors, Tensor } from "../core/types.ts";

/**
 * The decoded content of a safetensors file.
 *
 * @category Checkpoints and files
 */
export interface Safetensors {
  /** The tensors, by name. */
  readonly tensors: NamedTensors;
  /** The `__metadata__` string map (empty when the file has none). */
  readonly metadata: Readonly<Record<string, string>>;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const METADATA_KEY = "__metadata__";
/** Refuse absurd header lengths before allocating (the reference reader uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Encodes float32 tensors (and an optional string metadata map) as a
 * safetensors file. Tensors are stored in sorted name order.
 *
 * @param tensors The tensors by name; each `data.length` must equal the product of its shape.
 * @param metadata Optional `__metadata__` entries (strings only, as the format requires).
 * @returns The file's bytes.
 * @throws {TypeError} When a name is empty or `__metadata__`, or a metadata value is not a string.
 * @throws {RangeError} When a shape has a negative or non-integer entry or does not match the data length.
 *
 * @example Round trip
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeSafetensors(
 *   { w: { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } },
 *   { note: "hello" },
 * );
 * const back = decodeSafetensors(bytes, "w.safetensors");
 * assert.deepEqual(back.tensors.w?.shape, [2, 2]);
 * assert.deepEqual(Array.from(back.tensors.w?.data ?? []), [1, 2, 3, 4]);
 * assert.equal(back.metadata.note, "hello");
 * ```
 *
 * @category Checkpoints and files
 */
export function encodeSafetensors(
  tensors: NamedTensors,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw new TypeError(`Metadata value of "${key}" must be a string, got ${typeof value}`);
    }
  }
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = { ...metadata };
  let offset = 0;
  for (const name of names) {
    if (name.length === 0 || name === METADATA_KEY) {
      throw new TypeError(`Tensor name "${name}" is not allowed in a safetensors file`);
    }
    const t = tensors[name] as Tensor;
    for (const d of t.shape) {
      if (!Number.isInteger(d) || d < 0) {
        throw new RangeError(`Tensor "${name}" has an invalid shape [${t.shape.join(", ")}]`);
      }
    }
    const n = elementCount(t.shape);
    if (n !== t.data.length) {
      throw new RangeError(
        `Tensor "${name}" has shape [${
          t.shape.join(", ")
        }] (${n} values) but ${t.data.length} values`,
      );
    }
    header[name] = { dtype: "F32", shape: [...t.shape], data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padding = (8 - (headerBytes.length % 8)) % 8;
  if (padding > 0) {
    json += " ".repeat(padding);
    headerBytes = encoder.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const data = (tensors[name] as Tensor).data;
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    } else {
      for (let i = 0; i < data.length; i++) view.setFloat32(pos + 4 * i, data[i] as number, true);
    }
    pos += data.byteLength;
  }
  return out;
}

function corrupt(fileName: string, what: string): Error {
  return new Error(`Corrupt safetensors file ${fileName}: ${what}`);
}

/**
 * Decodes a safetensors file holding float32 tensors, checking its structure:
 * header length within the file, a JSON object header, `F32` dtypes, shapes
 * matching the byte ranges, and ranges covering the data exactly.
 *
 * @param bytes The file's bytes.
 * @param fileName The file's name, used in error messages.
 * @returns The tensors (fresh, aligned copies) and the metadata map.
 * @throws {Error} When the file is truncated or malformed; the message names `fileName`.
 *
 * @example A truncated file is refused
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeSafetensors({ b: { shape: [3], data: new Float32Array(3) } });
 * assert.throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 1), "m.safetensors"), /m\.safetensors/);
 * ```
 *
 * @category Checkpoints and files
 */
export function decodeSafetensors(bytes: Uint8Array, fileName: string): Safetensors {
  if (bytes.length < 8) {
    throw corrupt(fileName, `${bytes.length} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength64 = view.getBigUint64(0, true);
  if (headerLength64 > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw corrupt(
      fileName,
      `header length ${headerLength64} exceeds the ${
        bytes.length - 8
      } bytes after the length field`,
    );
  }
  const headerLength = Number(headerLength64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    ));
  } catch (e) {
    throw corrupt(fileName, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw corrupt(fileName, "header is not a JSON object");
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; shape: number[]; begin: number; end: number }> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        throw corrupt(fileName, "__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") throw corrupt(fileName, `metadata value "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof entry !== "object" || entry === null) {
      throw corrupt(fileName, `entry "${name}" is not an object`);
    }
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (dtype !== "F32") {
      throw corrupt(
        fileName,
        `tensor "${name}" has dtype ${JSON.stringify(dtype)}, expected "F32"`,
      );
    }
    if (
      !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    ) {
      throw corrupt(fileName, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((d) => Number.isSafeInteger(d) && (d as number) >= 0) ||
      (offsets[0] as number) > (offsets[1] as number)
    ) {
      throw corrupt(
        fileName,
        `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`,
      );
    }
    const [begin, end] = offsets as [number, number];
    const n = elementCount(shape as number[]);
    if (end - begin !== 4 * n) {
      throw corrupt(
        fileName,
        `tensor "${name}" has shape [${shape.join(", ")}] (${4 * n} bytes) but data_offsets span ${
          end - begin
        } bytes`,
      );
    }
    if (end > dataLength) {
      throw corrupt(
        fileName,
        `tensor "${name}" ends at byte ${end} of the data but the file holds only ${dataLength} data bytes (truncated?)`,
      );
    }
    entries.push({ name, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) {
      throw corrupt(
        fileName,
        `tensor "${e.name}" starts at byte ${e.begin} but the previous data ends at ${expected} (hole or overlap)`,
      );
    }
    expected = e.end;
  }
  if (expected !== dataLength) {
    throw corrupt(
      fileName,
      `tensors cover ${expected} data bytes but the file holds ${dataLength}`,
    );
  }
  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    const n = (e.end - e.begin) / 4;
    const data = new Float32Array(n);
    const start = dataStart + e.begin;
    if (LITTLE_ENDIAN_HOST) {
      new Uint8Array(data.buffer).set(bytes.subarray(start, start + 4 * n));
    } else {
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(start + 4 * i, true);
    }
    tensors[e.name] = { shape: e.shape, data };
  }
  return { tensors, metadata };
}
