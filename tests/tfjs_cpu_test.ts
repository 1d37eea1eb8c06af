import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { backendConformance, CONFORMANCE_TESTS } from "./conformance.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { activateDevice, chooseDevice, probeWebGpuAdapter } from "../backends/tfjs/device.ts";
import { selectTripletsOnDevice } from "../backends/tfjs/select_triplets.ts";
import { selectTriplets } from "../core/pure/select_triplets.ts";
import { pairwiseSquaredDistances } from "../core/pure/distances.ts";
import fc from "fast-check";
import { buildGraphModelArtifacts } from "../backends/tfjs/export.ts";
import { writeGraphModelFolder } from "../cli/export.ts";
import { initParameters } from "../core/init.ts";
import { initModelState } from "../core/model_state.ts";
import { initOptimizerState } from "../core/pure/optimizers.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import type { ModelSpec } from "../core/model_spec.ts";
import type { ModelState, TrainingOptions } from "../core/backend.ts";
import type { ImageBatch, OptimizerConfig, SelectionStrategy } from "../core/types.ts";

tf.env().set("PROD", true);

backendConformance("tfjs cpu", () => createTfjsBackend({ device: "cpu" }));

// The on-device selection (the path a GPU takes) on tfjs's cpu kernels, through
// every selection test of the suite, decision boundaries included.
backendConformance("tfjs cpu, on-device selection", async () => {
  const backend = await createTfjsBackend({ device: "cpu" });
  return { ...backend, selectTriplets: (e, n, o) => selectTripletsOnDevice(e, n, o) };
}, { only: CONFORMANCE_TESTS.filter((id) => id.startsWith("select:")) });

Deno.test({
  name:
    "selectTripletsOnDevice() refuses a batch-all selection over maxTriplets as the specification does",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await activateDevice("cpu");
    const embeddings = { rows: 4, cols: 1, data: new Float32Array([0, 0.1, 0.2, 5]) };
    const options = { alpha: 0.2, strategy: "all", shuffle: false } as const;
    const message = (() => {
      try {
        selectTriplets(embeddings, [2, 2], { ...options, maxTriplets: 2 });
      } catch (error) {
        return (error as Error).message;
      }
      assert.fail("the specification accepted 3 triplets with maxTriplets 2");
    })();
    await assert.rejects(
      selectTripletsOnDevice(embeddings, [2, 2], { ...options, maxTriplets: 2 }),
      (error: Error) => error instanceof RangeError && error.message === message,
    );
    const all = await selectTripletsOnDevice(embeddings, [2, 2], { ...options, maxTriplets: 3 });
    assert.equal(all.triplets.length, 3);
  },
});

/** A small graph with every op kind (conv, BN, relu, pools, concat, residual add, dropout, dense). */
const MINI: ModelSpec = {
  name: "mini",
  nodes: [
    { op: "input", name: "input", shape: [12, 12, 3] },
    { op: "conv2d", name: "conv1", input: "input", filters: 6, kernel: 3, stride: 2 },
    { op: "batchNorm", name: "bn1", input: "conv1" },
    { op: "relu", name: "relu1", input: "bn1" },
    { op: "conv2d", name: "up", input: "relu1", filters: 6, kernel: 1, bias: true },
    { op: "add", name: "res", inputs: ["relu1", "up"], scale: 0.17 },
    { op: "maxPool", name: "mp", input: "res", size: 3, stride: 2, padding: "same" },
    { op: "avgPool", name: "ap", input: "res", size: 3, stride: 2, padding: "same" },
    { op: "concat", name: "cat", inputs: ["mp", "ap"] },
    { op: "globalAvgPool", name: "gap", input: "cat" },
    { op: "dropout", name: "drop", input: "gap", keepProbability: 0.8 },
    { op: "dense", name: "Bottleneck", input: "drop", units: 8, bias: false },
    { op: "batchNorm", name: "Bottleneck/bn", input: "Bottleneck", scale: false },
    { op: "l2Normalize", name: "embeddings", input: "Bottleneck/bn" },
  ],
  prelogits: "Bottleneck/bn",
  output: "embeddings",
};

function miniState(optimizer: OptimizerConfig, ema: boolean): ModelState {
  const { params, stats } = initParameters(MINI, createRng(11));
  return {
    params,
    stats,
    optimizer: initOptimizerState(optimizer, params),
    ema: ema ? params : null,
    step: 0,
  };
}

function images(n: number, seed: number): ImageBatch {
  const [u] = uniforms(createRng(seed), n * 12 * 12 * 3);
  return { n, height: 12, width: 12, channels: 3, data: Float32Array.from(u) };
}

const TRAINING: TrainingOptions = {
  loss: { kind: "triplet", alpha: 0.5 },
  optimizer: { name: "ADAM" },
  weightDecay: 1e-4,
  movingAverageDecay: 0.999,
};

Deno.test({
  name:
    "tfjs model trainStep() leaks no tensors: tf.memory().numTensors is equal after step 1 and step 50",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const backend = await createTfjsBackend({ device: "cpu" });
    const model = await backend.createModel(MINI, miniState({ name: "ADAM" }, true), TRAINING);
    const batch = images(6, 1);
    let rng = createRng(5);
    let after1 = -1;
    let losses = 0;
    for (let step = 1; step <= 50; step++) {
      const r = await model.trainStep(batch, { learningRate: 0.01, rng });
      rng = r.rng;
      losses += r.loss;
      if (step === 1) after1 = tf.memory().numTensors;
    }
    assert.ok(Number.isFinite(losses));
    assert.equal(tf.memory().numTensors, after1);
    await model.embed(batch, { training: true, rng });
    await model.embed(batch, { training: false, useMovingAverage: true });
    assert.equal(tf.memory().numTensors, after1);
    const state = await model.getState();
    assert.equal(state.step, 50);
    assert.equal(tf.memory().numTensors, after1);
    assert.equal(state.optimizer.iterations, 50);
    model.dispose();
    backend.dispose();
    assert.ok(tf.memory().numTensors < after1);
  },
});

Deno.test({
  name: "tfjs softmax training with center loss and ArcFace leaks no tensors",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const backend = await createTfjsBackend({ device: "cpu" });
    const options: TrainingOptions = {
      loss: {
        kind: "softmax",
        numClasses: 4,
        centerLossFactor: 0.1,
        prelogitsNormLossFactor: 0.01,
        arcface: { margin: 0.3, scale: 16 },
      },
      optimizer: { name: "RMSPROP" },
      weightDecay: 1e-4,
      movingAverageDecay: 0.99,
    };
    const model = await backend.createModel(
      MINI,
      initModelState(MINI, options, createRng(2)),
      options,
    );
    const batch = images(4, 6);
    const labels = Int32Array.from([0, 1, 2, 3]);
    let rng = createRng(1);
    let after1 = -1;
    for (let step = 1; step <= 10; step++) {
      const r = await model.trainStep(batch, { learningRate: 0.01, rng, labels });
      assert.ok(Number.isFinite(r.loss) && r.regularization > 0);
      rng = r.rng;
      if (step === 1) after1 = tf.memory().numTensors;
    }
    assert.equal(tf.memory().numTensors, after1);
    const centers = (await model.getState()).stats["centers"]!;
    assert.deepEqual([...centers.shape], [4, 8]);
    assert.ok(centers.data.some((v) => v !== 0));
    await assert.rejects(() => model.trainStep(batch, { learningRate: 0.01, rng }), RangeError);
    model.dispose();
    backend.dispose();
  },
});

Deno.test({
  name: "chooseDevice() honours an explicit device and describes it",
  fn: async () => {
    const cpu = await chooseDevice({ device: "cpu" });
    assert.equal(cpu.device, "cpu");
    assert.match(cpu.description, /^cpu \(requested/);
    const wasm = await chooseDevice({ device: "wasm" });
    assert.equal(wasm.device, "wasm");
    await assert.rejects(
      () => chooseDevice({ device: "tpu" as unknown as "cpu" }),
      RangeError,
    );
  },
});

Deno.test({
  name: "chooseDevice() picks webgpu only on a hardware adapter, else wasm to infer and to train " +
    "nano, cpu to train the other models",
  fn: async () => {
    if (Deno.env.get("XDG_RUNTIME_DIR") === undefined) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
    const adapter = await probeWebGpuAdapter();
    const hardware = adapter !== null && !adapter.isFallbackAdapter;
    const choice = await chooseDevice();
    assert.equal(choice.device, hardware ? "webgpu" : "cpu");
    const inference = await chooseDevice({ purpose: "inference" });
    assert.equal(inference.device, hardware ? "webgpu" : "wasm");
    const nano = await chooseDevice({ purpose: "training", model: "nano" });
    assert.equal(nano.device, hardware ? "webgpu" : "wasm");
    const deep = await chooseDevice({ purpose: "training", model: "inception-resnet-v1" });
    assert.equal(deep.device, hardware ? "webgpu" : "cpu");
    if (adapter !== null) assert.ok(choice.description.includes(adapter.description));
  },
});

Deno.test({
  name: "the tfjs wasm device embeds like the cpu device (inference)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const state = miniState({ name: "SGD" }, false);
    const batch = images(3, 2);
    const cpu = await createTfjsBackend({ device: "cpu" });
    const a = await (await cpu.createModel(MINI, state, TRAINING_SGD)).embed(batch, {
      training: false,
    });
    cpu.dispose();
    const wasm = await createTfjsBackend({ device: "wasm" });
    assert.match(wasm.device, /wasm/);
    const b = await (await wasm.createModel(MINI, state, TRAINING_SGD)).embed(batch, {
      training: false,
    });
    wasm.dispose();
    for (let i = 0; i < a.data.length; i++) assert.ok(Math.abs(a.data[i]! - b.data[i]!) < 1e-4);
  },
});

const TRAINING_SGD: TrainingOptions = {
  loss: { kind: "triplet", alpha: 0.5 },
  optimizer: { name: "SGD" },
  weightDecay: 0,
  movingAverageDecay: null,
};

Deno.test({
  name:
    "an exported model loads with stock tf.loadGraphModel in a fresh engine and embeds within 1e-4",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const backend = await createTfjsBackend({ device: "cpu" });
    const model = await backend.createModel(MINI, miniState({ name: "ADAM" }, true), TRAINING);
    const batch = images(6, 3);
    let rng = createRng(9);
    for (let i = 0; i < 3; i++) {
      rng = (await model.trainStep(batch, { learningRate: 0.05, rng })).rng;
    }
    const state = await model.getState();
    const expected = await model.embed(batch, { training: false, useMovingAverage: true });
    backend.dispose();

    const dir = await Deno.makeTempDir();
    try {
      const path = await writeGraphModelFolder(dir, buildGraphModelArtifacts(MINI, state));
      await Deno.writeFile(`${dir}/images.bin`, new Uint8Array(batch.data.buffer));
      // A separate Deno process: a fresh tfjs engine that knows nothing of this project.
      const code = `
        import * as tf from "@tensorflow/tfjs";
        tf.env().set("PROD", true);
        await tf.setBackend("cpu");
        const [modelUrl, imagesPath] = Deno.args;
        const model = await tf.loadGraphModel(modelUrl, { fetchFunc: fetch });
        const bytes = await Deno.readFile(imagesPath);
        const x = tf.tensor4d(new Float32Array(bytes.buffer), [${batch.n}, 12, 12, 3]);
        const y = model.predict(x);
        console.log(JSON.stringify(Array.from(await y.data())));
      `;
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          "--quiet",
          "--config",
          new URL("../deno.json", import.meta.url).pathname,
          code,
          "--",
          `file://${path}`,
          `${dir}/images.bin`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const stdout = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
      const actual: number[] = JSON.parse(stdout);
      assert.equal(actual.length, expected.data.length);
      for (let i = 0; i < actual.length; i++) {
        assert.ok(
          Math.abs(actual[i]! - expected.data[i]!) <= 1e-4,
          `embedding value ${i}: ${actual[i]} vs ${expected.data[i]}`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "selectTripletsOnDevice() equals the specification even with alpha exactly on a margin (tfjs cpu kernels)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await activateDevice("cpu");
    // alpha is set to d(a,r) - d(a,p) of one (anchor, positive, negative) of
    // the specification's float32 distances: that comparison sits exactly on
    // the margin, where the device's |x|^2 + |y|^2 - 2xy rounding could fall
    // on either side; the device must resolve it as the specification does.
    const caseArb = fc.record({
      numPerClass: fc.array(fc.integer({ min: 2, max: 4 }), { minLength: 2, maxLength: 4 }),
      cols: fc.integer({ min: 2, max: 6 }),
      seed: fc.nat({ max: 1_000_000 }),
      pick: fc.nat(),
      strategy: fc.constantFrom("vggface", "facenet", "hard", "all") as fc.Arbitrary<
        SelectionStrategy
      >,
    }).chain((c) => {
      const rows = c.numPerClass.reduce((a, b) => a + b, 0);
      return fc.array(fc.float({ min: -1, max: 1, noNaN: true }), {
        minLength: rows * c.cols,
        maxLength: rows * c.cols,
      }).map((v) => ({ ...c, rows, data: Float32Array.from(v) }));
    });
    let onMargin = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const embeddings = { rows: c.rows, cols: c.cols, data: c.data };
        const d = pairwiseSquaredDistances(embeddings).data;
        // Class 0's rows 0 and 1 are an anchor/positive pair; row r of another class.
        const r = c.numPerClass[0]! + (c.pick % (c.rows - c.numPerClass[0]!));
        const alpha = d[r]! - d[1]!;
        fc.pre(alpha > 1e-3);
        onMargin++;
        const options = { alpha, strategy: c.strategy, rng: createRng(c.seed) };
        const actual = await selectTripletsOnDevice(embeddings, c.numPerClass, options);
        const expected = selectTriplets(embeddings, c.numPerClass, options);
        assert.deepEqual(actual.triplets, expected.triplets);
        assert.equal(actual.noCandidateFraction, expected.noCandidateFraction);
        assert.deepEqual(actual.rng, expected.rng);
      }),
      { numRuns: 100 },
    );
    assert.ok(onMargin >= 100);
  },
});
