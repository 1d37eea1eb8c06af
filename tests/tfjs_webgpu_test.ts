import assert from "node:assert/strict";
import { assertNanoStepsLeakNoTensors } from "./_tfjs_leaks.ts";
import * as tf from "@tensorflow/tfjs";
import { backendConformance } from "./conformance.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { probeWebGpuAdapter } from "../backends/tfjs/device.ts";
import { initModelState } from "../core/model_state.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import type { TrainingOptions } from "../core/backend.ts";

tf.env().set("PROD", true);
// Mesa's Vulkan loader wants a runtime directory; CI sets one, a bare shell may not.
if (Deno.env.get("XDG_RUNTIME_DIR") === undefined) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

const adapter = await probeWebGpuAdapter();
const inCi = Deno.env.get("CI") === "true";

if (adapter === null && inCi) {
  Deno.test("a WebGPU adapter exists in CI (CI installs mesa-vulkan-drivers)", () => {
    assert.fail(
      "No WebGPU adapter: CI must provide one (Debian's mesa-vulkan-drivers gives llvmpipe)",
    );
  });
}

const ignoreAll = adapter === null
  ? "no WebGPU adapter on this machine (install mesa-vulkan-drivers for a software one)"
  : undefined;
if (adapter !== null) {
  console.log(
    `WebGPU adapter: ${adapter.description}${adapter.isFallbackAdapter ? " (software)" : ""}`,
  );
}

// A small selection: a software adapter (llvmpipe) is slow, and the cpu run
// covers the whole suite; these cover every kind of kernel tfjs-webgpu runs.
backendConformance("tfjs webgpu", () => createTfjsBackend({ device: "webgpu" }), {
  only: [
    "distances",
    "select:vggface",
    "select:hard",
    "select:boundary:vggface",
    "select:boundary:hard",
    "tripletLoss",
    "op:conv2d",
    "op:batchNorm",
    "op:maxPool",
    "op:avgPool",
    "op:concat",
    "op:dropout",
    "op:prelu",
    "op:softmax",
    "op:depthwiseConv2d",
    "op:mtcnnBlock",
    "outputs",
    "optimizer:ADAM",
    "softmax:center",
    "softmax:arcface",
    "nano",
  ],
  numRuns: 4,
  ...(ignoreAll === undefined ? {} : { ignoreAll }),
});

Deno.test({
  name: "tfjs webgpu: a nano training step leaks no tensors (numTensors equal after steps 1 and 5)",
  ignore: ignoreAll !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    assertNanoStepsLeakNoTensors("webgpu", {
      steps: 5,
      batch: 6,
      optimizer: "ADAGRAD",
      learningRate: 0.05,
    }),
});

Deno.test({
  name:
    "tfjs webgpu: a conv's filter gradient at batch 90 equals the pure backend's (tfjs-webgpu's own kernel is wrong there)",
  ignore: ignoreAll !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { createPureBackend } = await import("../core/pure_backend.ts");
    const spec = {
      name: "conv-probe",
      nodes: [
        { op: "input", name: "input", shape: [64, 64, 3] },
        { op: "conv2d", name: "conv", input: "input", filters: 16, kernel: 3, stride: 2 },
        { op: "globalAvgPool", name: "pool", input: "conv" },
        { op: "dense", name: "Bottleneck", input: "pool", units: 6 },
        { op: "l2Normalize", name: "embeddings", input: "Bottleneck" },
      ],
      prelogits: "Bottleneck",
      output: "embeddings",
    } as const;
    const training: TrainingOptions = {
      loss: { kind: "triplet", alpha: 0.5 },
      optimizer: { name: "SGD" },
      weightDecay: 0,
      movingAverageDecay: null,
    };
    const state = initModelState(spec, training, createRng(4));
    const [values] = uniforms(createRng(5), 90 * 64 * 64 * 3);
    const images = {
      n: 90,
      height: 64,
      width: 64,
      channels: 3,
      data: Float32Array.from(values, (u) => 2 * u - 1),
    };
    const moved = async (
      backend: Awaited<ReturnType<typeof createTfjsBackend>> | ReturnType<typeof createPureBackend>,
    ) => {
      const model = await backend.createModel(spec, state, training);
      await model.trainStep(images, { learningRate: 1, rng: createRng(6) });
      const after = (await model.getState()).params["conv/weights"]!.data;
      model.dispose();
      return after.map((v, i) => v - state.params["conv/weights"]!.data[i]!);
    };
    const gpu = await createTfjsBackend({ device: "webgpu" });
    const actual = await moved(gpu);
    gpu.dispose();
    const expected = await moved(createPureBackend());
    const scale = Math.max(...expected.map(Math.abs));
    assert.ok(scale > 0, "the step moves the conv weights");
    for (let i = 0; i < expected.length; i++) {
      assert.ok(
        Math.abs(actual[i]! - expected[i]!) <= 1e-3 * scale + 1e-6,
        `weight ${i}: moved ${actual[i]} on webgpu, ${expected[i]} on pure (largest move ${scale})`,
      );
    }
  },
});
