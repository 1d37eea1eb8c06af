/**
 * A small reader of TensorFlow Lite model files (the `TFL3` flatbuffer): the
 * tensors of the first subgraph (name, shape, type, constant data), its
 * operator list with the options of the operators MTCNN's nets use, and the
 * float32 constants as named tensors, so pretrained weights become an
 * ordinary {@link NamedTensors} map.
 *
 * Only the tables these files need are read (Model, SubGraph, Tensor, Buffer,
 * OperatorCode, Operator and a few option tables); every offset is bounds
 * checked, so a truncated or corrupt file is a {@link TfliteFormatError}
 * naming the file, never an out-of-range read. Quantized files (int8/uint8
 * weights) are refused with a clear message: only float32 models are read.
 *
 * @module
 */

import type { NamedTensors } from "../core/types.ts";

/**
 * An element type of a TFLite tensor (the schema's `TensorType`).
 *
 * @category Pretrained weights
 */
export type TfliteType =
  | "float32"
  | "float16"
  | "int32"
  | "uint8"
  | "int64"
  | "string"
  | "bool"
  | "int16"
  | "complex64"
  | "int8"
  | "float64"
  | `type ${number}`;

const TYPE_NAMES: readonly TfliteType[] = [
  "float32",
  "float16",
  "int32",
  "uint8",
  "int64",
  "string",
  "bool",
  "int16",
  "complex64",
  "int8",
  "float64",
];

/** The builtin operators this reader names; others read as `BUILTIN_<code>`. */
const OP_NAMES: Readonly<Record<number, string>> = {
  0: "ADD",
  1: "AVERAGE_POOL_2D",
  2: "CONCATENATION",
  3: "CONV_2D",
  4: "DEPTHWISE_CONV_2D",
  9: "FULLY_CONNECTED",
  14: "LOGISTIC",
  17: "MAX_POOL_2D",
  18: "MUL",
  19: "RELU",
  22: "RESHAPE",
  25: "SOFTMAX",
  32: "CUSTOM",
  34: "PAD",
  39: "TRANSPOSE",
  40: "MEAN",
  41: "SUB",
  42: "DIV",
  43: "SQUEEZE",
  47: "EXP",
  54: "PRELU",
  55: "MAXIMUM",
  59: "NEG",
  74: "SUM",
  82: "REDUCE_MAX",
  101: "ABS",
};

/**
 * One tensor of the graph.
 *
 * @category Pretrained weights
 */
export interface TfliteTensor {
  /** The tensor's name (the TensorFlow scope path for these files). */
  readonly name: string;
  /** Its shape. */
  readonly shape: readonly number[];
  /** Its element type. */
  readonly type: TfliteType;
  /** Constant content (float32 or int32), or null for an activation. */
  readonly data: Float32Array | Int32Array | null;
}

/**
 * Options of an operator (only the fields of the tables this reader knows).
 *
 * @category Pretrained weights
 */
export type TfliteOptions = Readonly<Record<string, number | boolean | readonly number[]>>;

/**
 * One operator of the graph, in execution order.
 *
 * @category Pretrained weights
 */
export interface TfliteOperator {
  /** The builtin operator's name, e.g. `CONV_2D` (`BUILTIN_<code>` when unknown). */
  readonly op: string;
  /** Indices of its input tensors (-1 for an omitted optional input). */
  readonly inputs: readonly number[];
  /** Indices of its output tensors. */
  readonly outputs: readonly number[];
  /** Its options: `padding` ("SAME" = 0, "VALID" = 1), strides, filter sizes, `activation`, ... */
  readonly options: TfliteOptions;
}

/**
 * A decoded TFLite model (its first subgraph).
 *
 * @category Pretrained weights
 */
export interface TfliteModel {
  /** Every tensor, by index. */
  readonly tensors: readonly TfliteTensor[];
  /** The operators in execution order. */
  readonly operators: readonly TfliteOperator[];
  /** Indices of the graph's input tensors. */
  readonly inputs: readonly number[];
  /** Indices of the graph's output tensors. */
  readonly outputs: readonly number[];
}

/**
 * A TFLite file that is truncated, corrupt, or of a kind this reader does not read.
 *
 * @example
 * ```ts
 * import { parseTflite, TfliteFormatError } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => parseTflite(new Uint8Array(3), "x.tflite"), TfliteFormatError);
 * ```
 *
 * @category Pretrained weights
 */
export class TfliteFormatError extends Error {
  /**
   * Creates the error; the message is `Cannot read TFLite file <file>: <reason>`.
   *
   * @param file The file.
   * @param reason Why, in a few words.
   */
  constructor(file: string, reason: string) {
    super(`Cannot read TFLite file ${file}: ${reason}`);
    this.name = "TfliteFormatError";
  }
}

class Reader {
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly file: string;
  constructor(bytes: Uint8Array, file: string) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.file = file;
  }
  fail(reason: string): never {
    throw new TfliteFormatError(this.file, reason);
  }
  check(at: number, size: number, what: string): void {
    if (!(at >= 0 && at + size <= this.bytes.length)) {
      this.fail(
        `truncated or corrupt (${what} at byte ${at} lies outside the ${this.bytes.length}-byte file)`,
      );
    }
  }
  u8(at: number): number {
    this.check(at, 1, "a byte");
    return this.view.getUint8(at);
  }
  u16(at: number): number {
    this.check(at, 2, "a 16-bit value");
    return this.view.getUint16(at, true);
  }
  i32(at: number): number {
    this.check(at, 4, "a 32-bit value");
    return this.view.getInt32(at, true);
  }
  u32(at: number): number {
    this.check(at, 4, "a 32-bit value");
    return this.view.getUint32(at, true);
  }
  f32(at: number): number {
    this.check(at, 4, "a float");
    return this.view.getFloat32(at, true);
  }
  /** Position of field `index` of the table at `table`, or null when absent. */
  field(table: number, index: number): number | null {
    const vtable = table - this.i32(table);
    const vsize = this.u16(vtable);
    const slot = 4 + 2 * index;
    if (slot + 2 > vsize) return null;
    const off = this.u16(vtable + slot);
    return off === 0 ? null : table + off;
  }
  /** The table, vector or string an offset field points to. */
  deref(at: number): number {
    return at + this.u32(at);
  }
  table(table: number, index: number): number | null {
    const f = this.field(table, index);
    return f === null ? null : this.deref(f);
  }
  /** A vector field: its first element's position and its length. */
  vector(table: number, index: number, elementSize: number): { at: number; length: number } {
    const f = this.field(table, index);
    if (f === null) return { at: 0, length: 0 };
    const v = this.deref(f);
    const length = this.u32(v);
    this.check(v + 4, length * elementSize, `a vector of ${length} elements`);
    return { at: v + 4, length };
  }
  ints(table: number, index: number): number[] {
    const { at, length } = this.vector(table, index, 4);
    return Array.from({ length }, (_, i) => this.i32(at + 4 * i));
  }
  tables(table: number, index: number): number[] {
    const { at, length } = this.vector(table, index, 4);
    return Array.from({ length }, (_, i) => this.deref(at + 4 * i));
  }
  string(table: number, index: number): string {
    const f = this.field(table, index);
    if (f === null) return "";
    const s = this.deref(f);
    const length = this.u32(s);
    this.check(s + 4, length, "a string");
    return new TextDecoder().decode(this.bytes.subarray(s + 4, s + 4 + length));
  }
  scalar(table: number, index: number, kind: "u8" | "i8" | "i32" | "u32" | "f32", dflt: number) {
    const f = this.field(table, index);
    if (f === null) return dflt;
    if (kind === "u8") return this.u8(f);
    if (kind === "i8") return (this.u8(f) << 24) >> 24;
    if (kind === "i32") return this.i32(f);
    if (kind === "u32") return this.u32(f);
    return this.f32(f);
  }
}

/** Pool2DOptions: the option table of both pooling operators. */
const POOL_2D_OPTIONS = [
  ["padding", "i8", 0],
  ["strideW", "i32", 0],
  ["strideH", "i32", 0],
  ["filterW", "i32", 0],
  ["filterH", "i32", 0],
  ["activation", "i8", 0],
] as const;

/** Fields of the option tables by builtin operator: [name, kind, default]. */
const OPTION_FIELDS: Readonly<
  Record<string, readonly (readonly [string, "u8" | "i8" | "i32" | "f32" | "ints", number])[]>
> = {
  CONV_2D: [
    ["padding", "i8", 0],
    ["strideW", "i32", 0],
    ["strideH", "i32", 0],
    ["activation", "i8", 0],
    ["dilationW", "i32", 1],
    ["dilationH", "i32", 1],
  ],
  DEPTHWISE_CONV_2D: [
    ["padding", "i8", 0],
    ["strideW", "i32", 0],
    ["strideH", "i32", 0],
    ["depthMultiplier", "i32", 0],
    ["activation", "i8", 0],
    ["dilationW", "i32", 1],
    ["dilationH", "i32", 1],
  ],
  MAX_POOL_2D: POOL_2D_OPTIONS,
  AVERAGE_POOL_2D: POOL_2D_OPTIONS,
  FULLY_CONNECTED: [["activation", "i8", 0], ["weightsFormat", "i8", 0], ["keepNumDims", "u8", 0]],
  SOFTMAX: [["beta", "f32", 0]],
  ADD: [["activation", "i8", 0]],
  SUB: [["activation", "i8", 0]],
  MUL: [["activation", "i8", 0]],
  DIV: [["activation", "i8", 0]],
  CONCATENATION: [["axis", "i32", 0], ["activation", "i8", 0]],
  RESHAPE: [["newShape", "ints", 0]],
  SUM: [["keepDims", "u8", 0]],
  REDUCE_MAX: [["keepDims", "u8", 0]],
  MEAN: [["keepDims", "u8", 0]],
};

/**
 * Parses a TFLite model file (first subgraph).
 *
 * @param bytes The file's content.
 * @param fileName The name to use in error messages.
 * @returns Its tensors (constants decoded when float32 or int32) and operators.
 * @throws {TfliteFormatError} When the file is truncated or corrupt, is not a
 * TFLite model, or holds constants of a type other than float32/int32
 * (a quantized model).
 * @example A file that is not a model
 * ```ts
 * import { parseTflite } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => parseTflite(new TextEncoder().encode("not a model at all"), "a.tflite"),
 *   /Cannot read TFLite file a\.tflite: not a TFLite model/,
 * );
 * ```
 *
 * @category Pretrained weights
 */
export function parseTflite(bytes: Uint8Array, fileName = "<bytes>"): TfliteModel {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`TFLite bytes must be a Uint8Array, got ${typeof bytes}`);
  }
  const r: Reader = new Reader(bytes, fileName);
  if (bytes.length < 8) r.fail(`truncated (only ${bytes.length} bytes)`);
  const ident = String.fromCharCode(...bytes.subarray(4, 8));
  if (ident !== "TFL3") r.fail(`not a TFLite model (no "TFL3" identifier, found "${ident}")`);
  const model = r.deref(0);
  const buffers = r.tables(model, 4).map((b) => r.vector(b, 0, 1));
  const codes = r.tables(model, 1).map((c) => {
    const deprecated = r.scalar(c, 0, "i8", 0);
    const builtin = r.scalar(c, 3, "i32", 0);
    const code = Math.max(deprecated, builtin);
    return OP_NAMES[code] ?? `BUILTIN_${code}`;
  });
  const subgraphs = r.tables(model, 2);
  const graph = subgraphs[0];
  if (graph === undefined) r.fail("it has no subgraph");
  const tensors: TfliteTensor[] = r.tables(graph, 0).map((t) => {
    const name = r.string(t, 3);
    const shape = r.ints(t, 0);
    const typeCode = r.scalar(t, 1, "i8", 0);
    const type = TYPE_NAMES[typeCode] ?? (`type ${typeCode}` as const);
    const bufferIndex = r.scalar(t, 2, "u32", 0);
    const buffer = buffers[bufferIndex];
    if (buffer === undefined) r.fail(`tensor "${name}" refers to missing buffer ${bufferIndex}`);
    let data: Float32Array | Int32Array | null = null;
    if (buffer.length > 0) {
      const count = shape.reduce((a, b) => a * b, 1);
      if (type !== "float32" && type !== "int32") {
        r.fail(
          `tensor "${name}" holds ${type} constants; only float32 models are read (this one looks quantized)`,
        );
      }
      if (buffer.length !== count * 4) {
        r.fail(
          `tensor "${name}" of shape [${shape}] has ${buffer.length} bytes of data, expected ${
            count * 4
          }`,
        );
      }
      const copy = bytes.slice(buffer.at, buffer.at + buffer.length);
      data = type === "float32"
        ? new Float32Array(copy.buffer, 0, count)
        : new Int32Array(copy.buffer, 0, count);
    }
    return { name, shape, type, data };
  });
  const operators: TfliteOperator[] = r.tables(graph, 3).map((o, i) => {
    const codeIndex = r.scalar(o, 0, "u32", 0);
    const op = codes[codeIndex];
    if (op === undefined) r.fail(`operator ${i} refers to missing operator code ${codeIndex}`);
    const inputs = r.ints(o, 1);
    const outputs = r.ints(o, 2);
    for (const t of [...inputs, ...outputs]) {
      if (t < -1 || t >= tensors.length) r.fail(`operator ${i} (${op}) refers to tensor ${t}`);
    }
    const options: Record<string, number | boolean | readonly number[]> = {};
    const table = r.table(o, 4);
    for (const [key, kind, dflt] of table === null ? [] : OPTION_FIELDS[op] ?? []) {
      const index = (OPTION_FIELDS[op] ?? []).findIndex(([k]) => k === key);
      options[key] = kind === "ints" ? r.ints(table!, index) : r.scalar(table!, index, kind, dflt);
    }
    return { op, inputs, outputs, options };
  });
  return { tensors, operators, inputs: r.ints(graph, 1), outputs: r.ints(graph, 2) };
}

/**
 * The float32 constants of a model as named tensors (weights, biases, PReLU
 * alphas), keyed by tensor name.
 *
 * @param model A parsed model.
 * @returns The constants; int32 constants (shapes, axes) are left out.
 * @throws {TypeError} When two float32 constants share a name.
 * @example
 * ```ts
 * import { tfliteConstants, type TfliteModel } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const model: TfliteModel = {
 *   tensors: [{ name: "w", shape: [2], type: "float32", data: new Float32Array([1, 2]) }],
 *   operators: [],
 *   inputs: [],
 *   outputs: [],
 * };
 * assert.deepEqual(tfliteConstants(model).w?.shape, [2]);
 * ```
 *
 * @category Pretrained weights
 */
export function tfliteConstants(model: TfliteModel): NamedTensors {
  const out: NamedTensors = {};
  for (const t of model.tensors) {
    if (!(t.data instanceof Float32Array)) continue;
    if (t.name in out) throw new TypeError(`Two float32 constants are named "${t.name}"`);
    out[t.name] = { shape: [...t.shape], data: t.data };
  }
  return out;
}
