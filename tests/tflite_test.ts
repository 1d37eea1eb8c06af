import assert from "node:assert/strict";
import { parseTflite, tfliteConstants, TfliteFormatError } from "../io/tflite.ts";
import { MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "../io/npm_assets.ts";
import { encodeFlatbuffer, type FbObject } from "./_flatbuffer.ts";

/** A one-operator model: FULLY_CONNECTED of a [1, 2] input with a [3, 2] weight tensor of `type`. */
function tinyModel(type: number, weights: Uint8Array): Uint8Array {
  const tensor = (name: string, shape: number[], buffer: number, t = 0): FbObject => ({
    table: [{ ref: { ints: shape } }, { u8: t }, { i32: buffer }, { ref: { string: name } }],
  });
  const bias = new Uint8Array(new Float32Array([0.5, -1, 2]).buffer);
  return encodeFlatbuffer({
    table: [
      { i32: 3 },
      { ref: { vector: [{ table: [{ u8: 9 }, null, { i32: 1 }, { i32: 9 }] }] } },
      {
        ref: {
          vector: [{
            table: [
              {
                ref: {
                  vector: [
                    tensor("x", [1, 2], 0),
                    tensor("dense/weights", [3, 2], 1, type),
                    tensor("dense/bias", [3], 2),
                    tensor("y", [1, 3], 0),
                  ],
                },
              },
              { ref: { ints: [0] } },
              { ref: { ints: [3] } },
              {
                ref: {
                  vector: [{
                    table: [
                      { i32: 0 },
                      { ref: { ints: [0, 1, 2] } },
                      { ref: { ints: [3] } },
                      { u8: 8 },
                      { ref: { table: [{ u8: 0 }, { u8: 0 }, { u8: 1 }] } },
                    ],
                  }],
                },
              },
            ],
          }],
        },
      },
      { ref: { string: "tiny" } },
      {
        ref: {
          vector: [{ table: [] }, { table: [{ ref: { bytes: weights } }] }, {
            table: [{ ref: { bytes: bias } }],
          }],
        },
      },
    ],
  }, "TFL3");
}

Deno.test("parseTflite() reads tensors, constants and operators of a hand-built file", () => {
  const w = new Float32Array([1, 2, 3, 4, 5, 6]);
  const model = parseTflite(tinyModel(0, new Uint8Array(w.buffer)), "tiny.tflite");
  assert.deepEqual(model.tensors.map((t) => t.name), ["x", "dense/weights", "dense/bias", "y"]);
  assert.deepEqual(model.inputs, [0]);
  assert.deepEqual(model.outputs, [3]);
  assert.equal(model.operators.length, 1);
  assert.equal(model.operators[0]!.op, "FULLY_CONNECTED");
  assert.deepEqual(model.operators[0]!.inputs, [0, 1, 2]);
  assert.equal(model.operators[0]!.options.keepNumDims, 1);
  const constants = tfliteConstants(model);
  assert.deepEqual(Object.keys(constants), ["dense/weights", "dense/bias"]);
  assert.deepEqual(constants["dense/weights"]!.shape, [3, 2]);
  assert.deepEqual([...constants["dense/weights"]!.data], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...constants["dense/bias"]!.data], [0.5, -1, 2]);
});

Deno.test("parseTflite() refuses a quantized (int8) file with a message naming the tensor", () => {
  const bytes = tinyModel(9, new Uint8Array(6));
  assert.throws(
    () => parseTflite(bytes, "quant.tflite"),
    (e: Error) =>
      e instanceof TfliteFormatError &&
      /quant\.tflite: tensor "dense\/weights" holds int8 constants; only float32/.test(e.message),
  );
});

Deno.test("parseTflite() reports a truncated file or a wrong identifier instead of reading past the end", async () => {
  const full = await Deno.readFile(
    await npmPackageFile(MTCNN_WEIGHTS_PACKAGE, "android/src/main/assets/rnet.tflite"),
  );
  for (const cut of [4, 100, 5000, full.length >> 1, full.length - 1000]) {
    assert.throws(
      () => parseTflite(full.subarray(0, cut), "rnet.tflite"),
      (e: Error) =>
        e instanceof TfliteFormatError && /rnet\.tflite: (truncated|not a TFLite)/.test(e.message),
      `cut at ${cut}`,
    );
  }
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
  assert.throws(() => parseTflite(png, "a.png"), /not a TFLite model/);
});

Deno.test("the pinned MTCNN files hold FaceNet's det1/det2/det3: names, shapes and parameter counts", async () => {
  const expected = { pnet: 6632, rnet: 100178, onet: 389040 };
  for (const [net, count] of Object.entries(expected)) {
    const path = await npmPackageFile(
      MTCNN_WEIGHTS_PACKAGE,
      `android/src/main/assets/${net}.tflite`,
    );
    const model = parseTflite(await Deno.readFile(path), path);
    const constants = tfliteConstants(model);
    const total = Object.values(constants).reduce((s, t) => s + t.data.length, 0);
    assert.equal(total, count, net);
    assert.equal(model.tensors[model.inputs[0]!]!.name, `${net}/input`);
    assert.ok(constants[`${net}/conv1/weights/read`], `${net}/conv1/weights/read`);
    const ops = new Set(model.operators.map((o) => o.op));
    assert.deepEqual(
      [...ops].sort(),
      net === "pnet"
        ? [
          "ADD",
          "CONV_2D",
          "DIV",
          "EXP",
          "MAX_POOL_2D",
          "MUL",
          "NEG",
          "REDUCE_MAX",
          "RELU",
          "SUB",
          "SUM",
        ]
        : [
          "ADD",
          "CONV_2D",
          "DIV",
          "EXP",
          "FULLY_CONNECTED",
          "MAX_POOL_2D",
          "MUL",
          "NEG",
          "REDUCE_MAX",
          "RELU",
          "SUB",
          "SUM",
        ],
    );
  }
  const onet = parseTflite(
    await Deno.readFile(
      await npmPackageFile(MTCNN_WEIGHTS_PACKAGE, "android/src/main/assets/onet.tflite"),
    ),
  );
  const c = tfliteConstants(onet);
  assert.deepEqual(c["onet/conv1/weights/read"]!.shape, [32, 3, 3, 3]); // [out, kh, kw, in]
  assert.deepEqual(c["onet/conv5/weights/read/transpose"]!.shape, [256, 1152]); // [out, in], 3*3*128
  // Some PReLU slopes are negative.
  assert.ok(Object.entries(c).some(([k, t]) => k.includes("alpha") && t.data.some((v) => v < 0)));
});
