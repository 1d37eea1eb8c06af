/**
 * The shipped model specs: inception-resnet-v1's block shapes at 160x160 and
 * its parameter count (shape inference only, no forward pass), nano's cost
 * and a forward pass, the registry, and deterministic initialization.
 */

import assert from "node:assert/strict";
import { inferShapes } from "../core/shapes.ts";
import { initParameters } from "../core/init.ts";
import { forward } from "../core/executor.ts";
import { modelSpec } from "../core/models/registry.ts";
import { createPureKernels } from "../core/pure/kernels.ts";
import { createRng } from "../core/pure/rng.ts";

Deno.test("inception-resnet-v1 has the reference implementation's block shapes at 160x160", () => {
  const s = inferShapes(modelSpec("inception-resnet-v1", { embeddingSize: 128 }));
  const expected: Record<string, number[]> = {
    "input": [160, 160, 3],
    "Conv2d_1a_3x3/Relu": [79, 79, 32],
    "Conv2d_2a_3x3/Relu": [77, 77, 32],
    "Conv2d_2b_3x3/Relu": [77, 77, 64],
    "MaxPool_3a_3x3": [38, 38, 64],
    "Conv2d_3b_1x1/Relu": [38, 38, 80],
    "Conv2d_4a_3x3/Relu": [36, 36, 192],
    "Conv2d_4b_3x3/Relu": [17, 17, 256],
    "Repeat/block35_1/concat": [17, 17, 96],
    "Repeat/block35_5/Relu": [17, 17, 256],
    "Mixed_6a/concat": [8, 8, 896],
    "Repeat_1/block17_1/concat": [8, 8, 256],
    "Repeat_1/block17_10/Relu": [8, 8, 896],
    "Mixed_7a/concat": [3, 3, 1792],
    "Repeat_2/block8_1/concat": [3, 3, 384],
    "Repeat_2/block8_5/Relu": [3, 3, 1792],
    "Block8/add": [3, 3, 1792],
    "AvgPool_1a_8x8": [1792],
    "Bottleneck": [128],
    "embeddings": [128],
  };
  for (const [name, shape] of Object.entries(expected)) {
    assert.deepEqual(s.nodes.get(name), shape, name);
  }
  const count = (prefix: string) =>
    [...s.nodes.keys()].filter((n) => n.startsWith(prefix) && n.endsWith("/add")).length;
  assert.equal(count("Repeat/block35_"), 5);
  assert.equal(count("Repeat_1/block17_"), 10);
  assert.equal(count("Repeat_2/block8_"), 5);
  // The last block8 has no activation.
  assert.equal(s.nodes.has("Block8/Relu"), false);
});

Deno.test("inception-resnet-v1 has about 23M parameters at 128-d, without batch-norm gamma", () => {
  const spec = modelSpec("inception-resnet-v1", { embeddingSize: 128 });
  const s = inferShapes(spec);
  const statCount = Object.values(s.stats).reduce((a, sh) => a + sh.reduce((x, y) => x * y, 1), 0);
  console.log(
    `inception-resnet-v1 (128-d): ${s.parameterCount} trainable parameters, ` +
      `${statCount} moving statistics, ${s.parameterCount + statCount} variables; ` +
      `${(s.flops / 1e9).toFixed(3)} GFLOPs per 160x160 image`,
  );
  // Within 2% of the 23-24M of the reference implementation.
  assert.ok(s.parameterCount >= 0.98 * 23e6 && s.parameterCount <= 1.02 * 24e6);
  assert.equal(s.parameterCount, 22_779_312);
  assert.equal(Object.keys(s.params).some((n) => n.endsWith("/gamma")), false);
  assert.deepEqual(s.params["Repeat/block35_3/Branch_1/Conv2d_0b_3x3/weights"], [3, 3, 32, 32]);
  assert.deepEqual(s.params["Repeat_1/block17_2/Branch_1/Conv2d_0b_1x7/weights"], [1, 7, 128, 128]);
  assert.deepEqual(s.params["Repeat/block35_1/Conv2d_1x1/biases"], [256]);
  assert.deepEqual(s.params["Bottleneck/weights"], [1792, 128]);
  assert.equal(s.params["Bottleneck/biases"], undefined);
  // 512-d (the reference implementation's best model) only changes the bottleneck.
  const s512 = inferShapes(modelSpec("inception-resnet-v1", { embeddingSize: 512 }));
  assert.equal(s512.parameterCount - s.parameterCount, 1792 * 384 + 384);
  // OpenVINO's model zoo lists the reference implementation's 512-d 20180408-102900 at 23.469
  // MParams, 2.846 GFLOPs.
  assert.ok(Math.abs(s512.parameterCount / 23.469e6 - 1) < 1e-3, `${s512.parameterCount}`);
  assert.ok(Math.abs(s512.flops / 2.846e9 - 1) < 0.01, `${s512.flops}`);
});

Deno.test("nano takes 64x64x3 images at about 10 MFLOPs per image", () => {
  const s = inferShapes(modelSpec("nano"));
  console.log(
    `nano (128-d): ${s.parameterCount} parameters, ${s.flops} FLOPs per 64x64 image forward`,
  );
  assert.deepEqual(s.nodes.get("input"), [64, 64, 3]);
  assert.equal(s.flops, 10_715_136);
  assert.equal(s.parameterCount, 377_280);
  assert.deepEqual(s.nodes.get("block_1/concat"), [8, 8, 64]);
  assert.deepEqual(s.nodes.get("Flatten"), [2048]);
  assert.deepEqual(s.params["Bottleneck/weights"], [2048, 128]);
});

Deno.test("nano embeds a small batch into unit rows", () => {
  const spec = modelSpec("nano", { embeddingSize: 16 });
  const { params, stats } = initParameters(spec, createRng(3));
  const n = 3;
  const data = new Float32Array(n * 64 * 64 * 3).map((_, i) => Math.sin(i * 0.37));
  const r = forward(createPureKernels(), spec, { params, stats }, {
    shape: [n, 64, 64, 3],
    data,
  }, { training: false });
  const emb = r.outputs["embeddings"]!;
  assert.deepEqual([...emb.shape], [n, 16]);
  for (let i = 0; i < n; i++) {
    const row = emb.data.subarray(i * 16, (i + 1) * 16);
    assert.ok(Math.abs(Math.hypot(...row) - 1) < 1e-5);
  }
});

Deno.test("initParameters() is deterministic per seed and differs across seeds", () => {
  const spec = modelSpec("nano");
  const a = initParameters(spec, createRng(7));
  const b = initParameters(spec, createRng(7));
  const c = initParameters(spec, createRng(8));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.params["Conv2d_1a_3x3/weights"], c.params["Conv2d_1a_3x3/weights"]);
  // Glorot uniform bound for a 3x3x3 -> 16 conv.
  const limit = Math.sqrt(6 / (27 + 144));
  assert.ok(a.params["Conv2d_1a_3x3/weights"]!.data.every((v) => Math.abs(v) <= limit));
  assert.ok(a.params["Conv2d_1a_3x3/BatchNorm/beta"]!.data.every((v) => v === 0));
  assert.ok(a.stats["Conv2d_1a_3x3/BatchNorm/moving_variance"]!.data.every((v) => v === 1));
});

Deno.test("modelSpec() rejects unknown names and out-of-range options", () => {
  assert.throws(() => modelSpec("vgg" as "nano"), /Unknown model "vgg"/);
  assert.throws(() => modelSpec("nano", { embeddingSize: 0 }), /Embedding size/);
  assert.throws(
    () => modelSpec("inception-resnet-v1", { keepProbability: 1.5 }),
    /Keep probability/,
  );
  assert.throws(() => modelSpec("inception-resnet-v1", { imageSize: 64 }), /image size >= 75/);
});
