import assert from "node:assert/strict";
import { assertNanoStepsLeakNoTensors } from "./_tfjs_leaks.ts";
import * as tf from "@tensorflow/tfjs";
import { backendConformance } from "./conformance.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { initModelState } from "../core/model_state.ts";
import { inceptionResnetV1 } from "../core/models/inception_resnet_v1.ts";
import { createPureBackend } from "../core/pure_backend.ts";
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
  fn: () =>
    assertNanoStepsLeakNoTensors("wasm", {
      steps: 20,
      batch: 12,
      optimizer: "ADAM",
      learningRate: 0.01,
      keepProbability: 0.8,
    }),
});

Deno.test({
  name: "inception-resnet-v1 trains on tfjs wasm: one 80x80 step agrees with the pure backend",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const spec = inceptionResnetV1({ imageSize: 80, embeddingSize: 16 });
    // alpha 10 keeps every triplet on the hinge's linear side (a gradient everywhere).
    const options: TrainingOptions = {
      loss: { kind: "triplet", alpha: 10 },
      optimizer: { name: "SGD" },
      weightDecay: 0,
      movingAverageDecay: null,
    };
    const state = initModelState(spec, options, createRng(1));
    const [u] = uniforms(createRng(4), 3 * 80 * 80 * 3);
    const images = { n: 3, height: 80, width: 80, channels: 3, data: Float32Array.from(u) };
    const results = [];
    for (const backend of [await createTfjsBackend({ device: "wasm" }), createPureBackend()]) {
      const model = await backend.createModel(spec, state, options);
      const r = await model.trainStep(images, { learningRate: 0.01, rng: createRng(1) });
      results.push({ loss: r.loss, state: await model.getState() });
      backend.dispose();
    }
    const [a, e] = results as [typeof results[0], typeof results[0]];
    assert.ok(Math.abs(a.loss - e.loss) <= 1e-4 * Math.abs(e.loss), `loss ${a.loss} vs ${e.loss}`);
    const moves = new Map<string, number>();
    for (const [name, t] of Object.entries(e.state.params)) {
      const before = state.params[name]!.data;
      moves.set(name, t.data.reduce((m, v, i) => Math.max(m, Math.abs(v - before[i]!)), 0));
    }
    const largest = Math.max(...moves.values());
    // tfjs-backend-wasm (XNNPACK) accumulates long reductions in float32: the
    // stem's filter gradients sum 3 x 37 x 37 mostly cancelling products and
    // differ from the float64-accumulated specification by up to ~5% of the
    // layer's step (tfjs cpu: 5e-5). Later layers agree far better.
    for (const [name, t] of Object.entries(a.state.params)) {
      const expected = e.state.params[name]!.data;
      const bound = 0.1 * Math.max(moves.get(name)!, 0.1 * largest) + 1e-6;
      for (let i = 0; i < expected.length; i++) {
        assert.ok(
          Math.abs(t.data[i]! - expected[i]!) <= bound,
          `${name}[${i}]: ${t.data[i]} vs ${expected[i]} (bound ${bound})`,
        );
      }
    }
    for (const [name, t] of Object.entries(a.state.stats)) {
      const expected = e.state.stats[name]!.data;
      for (let i = 0; i < expected.length; i++) {
        assert.ok(Math.abs(t.data[i]! - expected[i]!) <= 1e-3 * (1e-3 + Math.abs(expected[i]!)));
      }
    }
  },
});
