import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { backendConformance } from "./conformance.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { initModelState } from "../core/model_state.ts";
import { nano } from "../core/models/nano.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import type { TrainingOptions } from "../core/backend.ts";

tf.env().set("PROD", true);

// The wasm device is the automatic choice without a hardware GPU: the whole
// suite, training included (the conv filter gradient is computed with Conv2D
// since tfjs-backend-wasm has no Conv2DBackpropFilter kernel).
backendConformance("tfjs wasm", () => createTfjsBackend({ device: "wasm" }));

Deno.test({
  name: "tfjs wasm: nano trains without leaking tensors (numTensors equal after steps 1 and 20)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const backend = await createTfjsBackend({ device: "wasm" });
    assert.match(backend.device, /^wasm/);
    const spec = nano({ imageSize: 32, embeddingSize: 16, keepProbability: 0.8 });
    const options: TrainingOptions = {
      loss: { kind: "triplet", alpha: 0.2 },
      optimizer: { name: "ADAM" },
      weightDecay: 1e-4,
      movingAverageDecay: 0.999,
    };
    const model = await backend.createModel(
      spec,
      initModelState(spec, options, createRng(1)),
      options,
    );
    const [u] = uniforms(createRng(2), 12 * 32 * 32 * 3);
    const images = { n: 12, height: 32, width: 32, channels: 3, data: Float32Array.from(u) };
    let rng = createRng(3);
    let after1 = -1;
    for (let step = 1; step <= 20; step++) {
      const r = await model.trainStep(images, { learningRate: 0.01, rng });
      assert.ok(Number.isFinite(r.loss));
      rng = r.rng;
      if (step === 1) after1 = tf.memory().numTensors;
    }
    assert.equal(tf.memory().numTensors, after1);
    model.dispose();
    backend.dispose();
  },
});
