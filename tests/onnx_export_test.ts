// The ONNX export, run by ONNX Runtime (onnxruntime-web's wasm build, single
// thread), against the pure backend: nano, Inception-ResNet-v1 at 75 px, and
// a small spec with every op of the registry (pools with SAME/VALID padding,
// non-square kernels, biases, learned batch-norm scale, concat of features,
// depthwise convolution, PReLU and softmax on images and on features).
import assert from "node:assert/strict";
import * as ort from "onnxruntime-web";
import type { ModelSpec } from "../core/model_spec.ts";
import type { ModelState, TrainingOptions } from "../core/backend.ts";
import type { NamedTensors } from "../core/types.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { initModelState } from "../core/model_state.ts";
import { modelSpec } from "../core/models/registry.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { OPS } from "../core/ops/mod.ts";
import { buildOnnxModel, ONNX_OPS } from "../backends/onnx/export.ts";
import type { ModelInputSpec } from "../core/pure/model_input.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { runCli } from "./_cli.ts";

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

const TRAINING: TrainingOptions = {
  loss: { kind: "triplet", alpha: 0.2 },
  optimizer: { name: "SGD" },
  weightDecay: 0,
  movingAverageDecay: 0.999,
};

/** Values in [lo, hi) from a seeded stream. */
function values(seed: number, n: number, lo: number, hi: number): Float32Array {
  const [u] = uniforms(createRng(seed), n);
  return Float32Array.from(u, (v) => lo + (hi - lo) * v);
}

/**
 * A state with non-trivial statistics and moving averages: batch-norm means
 * in [-0.5, 0.5), variances in [0.5, 2), betas and gammas moved off 0 and 1,
 * and EMA parameters that differ from the raw ones (the export must pick them).
 */
function trainedLooking(spec: ModelSpec, seed: number): ModelState {
  const base = initModelState(spec, TRAINING, createRng(seed));
  let k = seed * 1000;
  const perturb = (tensors: NamedTensors, f: (name: string, n: number) => Float32Array) =>
    Object.fromEntries(
      Object.entries(tensors).map((
        [name, t],
      ) => [name, { shape: t.shape, data: f(name, t.data.length) }]),
    );
  const stats = perturb(
    base.stats,
    (name, n) =>
      name.endsWith("moving_variance") ? values(++k, n, 0.5, 2) : values(++k, n, -0.5, 0.5),
  );
  const ema = perturb(base.params, (name, n) => {
    const raw = base.params[name]!.data;
    const noise = values(++k, n, -0.1, 0.1);
    if (name.endsWith("/gamma") || name.endsWith("/alpha")) {
      return raw.map((v, i) => v + 2 * noise[i]!);
    }
    if (name.endsWith("/beta") || name.endsWith("/biases")) return noise.map((v) => 3 * v);
    return raw.map((v, i) => v * (1 + noise[i]!));
  });
  return { ...base, stats, ema };
}

/**
 * Largest difference allowed between ONNX Runtime's and the pure backend's
 * L2-normalised embeddings: float32 sums in other orders. Measured at most
 * 3.0e-7 over every export test here; 1e-5 leaves 30x room.
 */
const ONNX_TOLERANCE = 1e-5;

async function compare(spec: ModelSpec, state: ModelState, n: number, seed: number) {
  const input = spec.nodes[0]!;
  assert.ok(input.op === "input");
  const [h, w, c] = input.shape as [number, number, number];
  const images = { n, height: h, width: w, channels: c, data: values(seed, n * h * w * c, -1, 1) };
  const model = await createPureBackend().createModel(spec, state, TRAINING);
  const expected = await model.embed(images, { training: false, useMovingAverage: true });
  model.dispose();

  const bytes = buildOnnxModel(spec, state);
  const session = await ort.InferenceSession.create(bytes);
  try {
    assert.deepEqual(session.inputNames, ["images"]);
    assert.deepEqual(session.outputNames, ["embeddings"]);
    const result = await session.run({
      images: new ort.Tensor("float32", images.data, [n, h, w, c]),
    });
    const out = result["embeddings"]!;
    assert.deepEqual(out.dims, [n, expected.cols]);
    const data = out.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < data.length; i++) {
      worst = Math.max(worst, Math.abs(data[i]! - expected.data[i]!));
    }
    assert.ok(worst <= ONNX_TOLERANCE, `${spec.name}: largest difference ${worst}`);
    console.log(`${spec.name}: largest |ONNX Runtime - pure| = ${worst.toExponential(2)}`);
    return worst;
  } finally {
    await session.release();
  }
}

Deno.test("every op of the registry has an ONNX adapter", () => {
  for (const op of OPS) assert.ok(op.op in ONNX_OPS, `op "${op.op}" has no ONNX adapter`);
  for (const name of Object.keys(ONNX_OPS)) {
    assert.ok(OPS.some((op) => op.op === name), `ONNX adapter "${name}" has no op`);
  }
});

Deno.test("nano exported to ONNX embeds like the pure backend in ONNX Runtime (within 1e-5)", async () => {
  const spec = modelSpec("nano", { imageSize: 32, embeddingSize: 16 });
  await compare(spec, trainedLooking(spec, 1), 3, 11);
});

Deno.test("Inception-ResNet-v1 (75 px) exported to ONNX embeds like the pure backend (within 1e-5)", async () => {
  const spec = modelSpec("inception-resnet-v1", { imageSize: 75, embeddingSize: 8 });
  await compare(spec, trainedLooking(spec, 2), 1, 12);
});

Deno.test("every op with every option exported to ONNX embeds like the pure backend (within 1e-5)", async () => {
  // Odd sizes, so SAME padding is uneven (the extra row/column at the end, as in TensorFlow).
  const spec: ModelSpec = {
    name: "all-ops",
    nodes: [
      { op: "input", name: "x", shape: [11, 9, 3] },
      { op: "conv2d", name: "c1", input: "x", filters: 4, kernel: [3, 2], stride: 2, bias: true },
      { op: "batchNorm", name: "c1/bn", input: "c1" },
      { op: "relu", name: "c1/relu", input: "c1/bn" },
      { op: "maxPool", name: "mp", input: "c1/relu", size: 3, stride: 1, padding: "same" },
      { op: "avgPool", name: "ap", input: "c1/relu", size: 2, stride: 2, padding: "same" },
      { op: "avgPool", name: "apv", input: "c1/relu", size: 2, stride: 1 },
      { op: "conv2d", name: "c2", input: "mp", filters: 4, kernel: 2, padding: "valid" },
      { op: "concat", name: "cat", inputs: ["c2", "apv"] },
      { op: "add", name: "res", inputs: ["mp", "c1/relu"], scale: 0.3 },
      { op: "globalAvgPool", name: "gap", input: "cat" },
      { op: "softmax", name: "gap/softmax", input: "gap" },
      {
        op: "depthwiseConv2d",
        name: "dw",
        input: "c1/relu",
        kernel: [3, 2],
        stride: 2,
        padding: "same",
        bias: true,
      },
      { op: "prelu", name: "dw/prelu", input: "dw" },
      { op: "softmax", name: "dw/softmax", input: "dw/prelu" },
      { op: "flatten", name: "flat", input: "ap" },
      { op: "flatten", name: "flat2", input: "res" },
      { op: "flatten", name: "flat3", input: "dw/softmax" },
      { op: "concat", name: "feats", inputs: ["gap/softmax", "flat", "flat2", "flat3"] },
      { op: "dropout", name: "drop", input: "feats", keepProbability: 0.8 },
      { op: "dense", name: "fc", input: "drop", units: 6 },
      { op: "batchNorm", name: "fc/bn", input: "fc", scale: false },
      { op: "prelu", name: "fc/prelu", input: "fc/bn" },
      { op: "l2Normalize", name: "emb", input: "fc/prelu" },
    ],
    prelogits: "fc/prelu",
    output: "emb",
  };
  for (const seed of [3, 4, 5]) await compare(spec, trainedLooking(spec, seed), 2, 20 + seed);
});

Deno.test("the ONNX model carries its input description and the raw-weights choice", async () => {
  const spec = modelSpec("nano", { imageSize: 16, embeddingSize: 4 });
  const state = trainedLooking(spec, 6);
  const session = await ort.InferenceSession.create(
    buildOnnxModel(spec, state, { standardization: "prewhiten", useMovingAverage: false }),
  );
  try {
    // onnxruntime-web does not expose the metadata; read it from the file instead.
    const text = new TextDecoder("latin1").decode(
      buildOnnxModel(spec, state, { standardization: "prewhiten", useMovingAverage: false }),
    );
    // StringStringEntryProto: key, then field 2 (0x12), a 1-2 byte length, the JSON value.
    const json = new RegExp("facenet\\.input\u0012[\\s\\S]{1,2}?(\\{[^}]*\\})").exec(text)?.[1];
    assert.ok(json !== undefined, "no facenet.input metadata");
    const input: ModelInputSpec = JSON.parse(json);
    assert.deepEqual([input.height, input.width, input.channels, input.standardization], [
      16,
      16,
      3,
      "prewhiten",
    ]);
    assert.ok(text.includes("facenet.movingAverage\x12\x05false"));
    // The raw weights differ from the moving averages, so the embeddings must too.
    const x = new ort.Tensor("float32", values(9, 16 * 16 * 3, -1, 1), [1, 16, 16, 3]);
    const raw = (await session.run({ images: x }))["embeddings"]!.data as Float32Array;
    const model = await createPureBackend().createModel(spec, state, TRAINING);
    const expected = await model.embed(
      { n: 1, height: 16, width: 16, channels: 3, data: x.data as Float32Array },
      { training: false, useMovingAverage: false },
    );
    raw.forEach((v, i) => assert.ok(Math.abs(v - expected.data[i]!) <= ONNX_TOLERANCE));
  } finally {
    await session.release();
  }
});

Deno.test("the ONNX export refuses an op without adapter and a state without moving averages", () => {
  const spec = modelSpec("nano", { imageSize: 16, embeddingSize: 4 });
  const state = initModelState(spec, { ...TRAINING, movingAverageDecay: null }, createRng(1));
  assert.throws(() => buildOnnxModel(spec, state, { useMovingAverage: true }), /moving averages/);
  const { relu: _, ...withoutRelu } = ONNX_OPS;
  assert.throws(
    () => buildOnnxModel(spec, state, { adapters: withoutRelu }),
    /"relu".*no ONNX adapter/,
  );
});

Deno.test("export --format onnx writes model.onnx of a trained checkpoint that ONNX Runtime runs like the pure backend", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const train = await runCli([
      "train",
      "--preset",
      "tiny",
      "--backend",
      "pure",
      "--quiet",
      "--epoch-size",
      "2",
      "--max-nrof-epochs",
      "1",
      "--out",
      `${dir}/run`,
    ]);
    assert.equal(train.code, 0, train.stderr);
    const exported = await runCli([
      "export",
      "--checkpoint",
      `${dir}/run`,
      "--format",
      "onnx",
      "--out",
      `${dir}/onnx`,
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /model\.onnx \(nano, 16-d, step \d+, moving-average weights\)/);
    const { state, meta } = await loadCheckpoint(`${dir}/run`);
    const size = (meta.config as { imageSize: number }).imageSize;
    const spec = modelSpec("nano", { embeddingSize: meta.embeddingSize, imageSize: size });
    const images = values(31, 2 * size * size * 3, -1, 1);
    const model = await createPureBackend().createModel(spec, state, TRAINING);
    const expected = await model.embed(
      { n: 2, height: size, width: size, channels: 3, data: images },
      { training: false, useMovingAverage: true },
    );
    const session = await ort.InferenceSession.create(
      await Deno.readFile(`${dir}/onnx/model.onnx`),
    );
    try {
      const out = await session.run({
        images: new ort.Tensor("float32", images, [2, size, size, 3]),
      });
      const data = out["embeddings"]!.data as Float32Array;
      assert.equal(data.length, expected.data.length);
      data.forEach((v, i) =>
        assert.ok(Math.abs(v - expected.data[i]!) <= ONNX_TOLERANCE, `value ${i}`)
      );
    } finally {
      await session.release();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
