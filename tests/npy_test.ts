import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeNpy,
  encodeNpyInt32,
  encodeNpyMatrix,
  NpyFormatError,
  npyHeader,
  readNpyMatrix,
  writeNpyMatrix,
} from "../io/npy.ts";

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The header bytes NumPy 2.4 writes with np.save (copied from its output, built here). */
function numpyHeader(dict: string, spaces: number): Uint8Array {
  const text = dict + " ".repeat(spaces) + "\n";
  return new Uint8Array([
    0x93,
    ...new TextEncoder().encode("NUMPY"),
    1,
    0,
    text.length & 0xff,
    text.length >> 8,
    ...new TextEncoder().encode(text),
  ]);
}

Deno.test("npyHeader() reproduces np.save's v1.0 header byte for byte", () => {
  // np.save(np.zeros((3, 4), np.float32)): 118-byte header, 59 dict chars, 58 spaces, "\n".
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  assert.equal(dict.length, 59);
  assert.deepEqual(npyHeader("float32", [3, 4]), numpyHeader(dict, 58));
  // np.zeros((5,), np.int32): "(5,)" and 60 spaces.
  assert.deepEqual(
    npyHeader("int32", [5]),
    numpyHeader("{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }", 60),
  );
  // np.zeros((12345,), np.int32): the growth reserve shrinks with the first dimension's digits.
  assert.deepEqual(
    npyHeader("int32", [12345]),
    numpyHeader("{'descr': '<i4', 'fortran_order': False, 'shape': (12345,), }", 56),
  );
  assert.deepEqual(
    npyHeader("float32", [0, 128]),
    numpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 128), }", 56),
  );
});

Deno.test("npyHeader() always pads to a multiple of 64 bytes and ends with a newline", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 0, maxLength: 6 }),
      (shape) => {
        const header = npyHeader("float32", shape);
        assert.equal(header.length % 64, 0);
        assert.equal(header[header.length - 1], 0x0a);
        assert.equal(header[8]! + 256 * header[9]!, header.length - 10);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("encodeNpyMatrix() writes the exact bytes of np.save for a float32 matrix", () => {
  const bytes = encodeNpyMatrix({
    rows: 2,
    cols: 3,
    data: new Float32Array([1.5, -2, 0.25, 3, 4, 1e-3]),
  });
  assert.equal(hex(bytes.subarray(128)), "0000c03f000000c00000803e00004040000080406f12833a");
  assert.deepEqual(bytes.subarray(0, 128), npyHeader("float32", [2, 3]));
});

Deno.test("decodeNpy() round-trips any float32 matrix bit for bit", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 6 }),
      fc.integer({ min: 0, max: 6 }),
      fc.array(fc.float(), { minLength: 36, maxLength: 36 }),
      (rows, cols, values) => {
        const data = new Float32Array(values.slice(0, rows * cols));
        const decoded = decodeNpy(encodeNpyMatrix({ rows, cols, data }));
        assert.equal(decoded.dtype, "float32");
        assert.deepEqual(decoded.shape, [rows, cols]);
        assert.deepEqual(
          new Uint8Array(decoded.data.buffer),
          new Uint8Array(data.buffer),
        );
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("decodeNpy() reads int32 labels and np.save's int64 output", () => {
  const labels = decodeNpy(encodeNpyInt32(new Int32Array([0, 7, -3])));
  assert.equal(labels.dtype, "int32");
  assert.deepEqual([...labels.data], [0, 7, -3]);
  // np.save(np.array([1, -2], np.int64)), hex copied from NumPy 2.4's output.
  const int64 = decodeNpy(
    fromHex(
      hex(numpyHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 60)) +
        "0100000000000000feffffffffffffff",
    ),
  );
  assert.equal(int64.dtype, "int64");
  assert.deepEqual(int64.shape, [2]);
  assert.deepEqual([...int64.data], [1, -2]);
});

Deno.test("decodeNpy() names the file for bad magic, truncated data, bad dtype and Fortran order", () => {
  assert.throws(() => decodeNpy(new TextEncoder().encode("PK\x03\x04 nope"), "a.npy"), (e) => {
    assert.ok(e instanceof NpyFormatError);
    assert.match(e.message, /^a\.npy: not a \.npy file/);
    return true;
  });
  const good = encodeNpyMatrix({ rows: 2, cols: 2, data: new Float32Array(4) });
  assert.throws(
    () => decodeNpy(good.subarray(0, good.length - 1), "b.npy"),
    /b\.npy: data is 15 bytes/,
  );
  const text = (dict: string) => {
    const header = numpyHeader(dict, 64 - ((dict.length + 11) % 64));
    return new Uint8Array([...header, 0, 0, 0, 0]);
  };
  assert.throws(
    () => decodeNpy(text("{'descr': '<U1', 'fortran_order': False, 'shape': (1,), }"), "c.npy"),
    /c\.npy: unsupported dtype '<U1'/,
  );
  assert.throws(
    () => decodeNpy(text("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }"), "d.npy"),
    /d\.npy: Fortran-order/,
  );
  assert.throws(() => decodeNpy(text("{'descr': '<f4'}"), "e.npy"), /e\.npy: malformed header/);
});

Deno.test("writeNpyMatrix() and readNpyMatrix() round-trip through a file", async () => {
  const path = await Deno.makeTempFile({ suffix: ".npy" });
  try {
    const matrix = { rows: 3, cols: 2, data: new Float32Array([1, 2, 3, 4, 5, 6]) };
    await writeNpyMatrix(path, matrix);
    assert.deepEqual(await readNpyMatrix(path), matrix);
    await Deno.writeFile(path, encodeNpyInt32(new Int32Array([1])));
    await assert.rejects(() => readNpyMatrix(path), /expected a float array, got int32/);
  } finally {
    await Deno.remove(path);
  }
});
