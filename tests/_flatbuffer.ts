// Test helper: a minimal flatbuffer writer (forward layout, no alignment) to build small
// TFLite files by hand, e.g. a quantized one, to check io/tflite.ts's errors.

/** A table (fields by index, null when absent) or a vector, int vector, byte vector, string. */
export type FbObject =
  | { readonly table: readonly (FbField | null)[] }
  | { readonly vector: readonly FbObject[] }
  | { readonly ints: readonly number[] }
  | { readonly bytes: Uint8Array }
  | { readonly string: string };

/** A table field: an 8-bit, 32-bit integer or float scalar, or a reference to an object. */
export type FbField =
  | { readonly u8: number }
  | { readonly i32: number }
  | { readonly f32: number }
  | { readonly ref: FbObject };

/** Encodes `root` as a flatbuffer with the given 4-character file identifier. */
export function encodeFlatbuffer(root: FbObject, identifier: string): Uint8Array {
  const out: number[] = [0, 0, 0, 0, ...[...identifier].map((c) => c.charCodeAt(0))];
  const put32 = (at: number, v: number) => {
    for (let k = 0; k < 4; k++) out[at + k] = (v >>> (8 * k)) & 0xff;
  };
  const push32 = (v: number) => {
    const at = out.length;
    out.push(0, 0, 0, 0);
    put32(at, v);
    return at;
  };
  // Writes an object; returns its position. Children go after their parent.
  const write = (obj: FbObject): number => {
    if ("string" in obj) {
      const bytes = new TextEncoder().encode(obj.string);
      const at = push32(bytes.length);
      out.push(...bytes, 0);
      return at;
    }
    if ("bytes" in obj) {
      const at = push32(obj.bytes.length);
      out.push(...obj.bytes);
      return at;
    }
    if ("ints" in obj) {
      const at = push32(obj.ints.length);
      for (const v of obj.ints) push32(v);
      return at;
    }
    if ("vector" in obj) {
      const at = push32(obj.vector.length);
      const slots = obj.vector.map(() => push32(0));
      obj.vector.forEach((child, i) => put32(slots[i]!, write(child) - slots[i]!));
      return at;
    }
    const fields = obj.table;
    const vtable = out.length;
    const vsize = 4 + 2 * fields.length;
    for (let i = 0; i < vsize; i++) out.push(0);
    const table = out.length;
    push32(table - vtable);
    const pending: [number, FbObject][] = [];
    const offsets = fields.map((f) => {
      if (f === null) return 0;
      const off = out.length - table;
      if ("u8" in f) out.push(f.u8 & 0xff, 0, 0, 0);
      else if ("i32" in f) push32(f.i32);
      else if ("f32" in f) {
        const at = push32(0);
        const b = new Uint8Array(new Float32Array([f.f32]).buffer);
        for (let k = 0; k < 4; k++) out[at + k] = b[k]!;
      } else pending.push([push32(0), f.ref]);
      return off;
    });
    const tsize = out.length - table;
    const put16 = (at: number, v: number) => {
      out[at] = v & 0xff;
      out[at + 1] = v >> 8;
    };
    put16(vtable, vsize);
    put16(vtable + 2, tsize);
    offsets.forEach((o, i) => put16(vtable + 4 + 2 * i, o));
    for (const [slot, child] of pending) put32(slot, write(child) - slot);
    return table;
  };
  put32(0, write(root));
  return Uint8Array.from(out);
}
