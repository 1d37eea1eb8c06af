import assert from "node:assert/strict";
import fc from "fast-check";
import type { NamedTensors, OptimizerName } from "../core/types.ts";
import { applyOptimizer, initOptimizerState } from "../core/pure/optimizers.ts";
import { updateMovingAverage } from "../core/pure/moving_average.ts";
import { applyOptimizerWasm, updateMovingAverageWasm } from "../backends/wasm-simd/optimizers.ts";
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";

// Float32 arithmetic against float64 arithmetic rounded to float32: a few
// roundings per update.
const ABS = 1e-6;
const REL = 1e-5;

function close(actual: NamedTensors, expected: NamedTensors, what: string): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const [name, e] of Object.entries(expected)) {
    const a = actual[name]!;
    assert.deepEqual(a.shape, e.shape);
    for (let i = 0; i < e.data.length; i++) {
      assert.ok(
        Math.abs(a.data[i]! - e.data[i]!) <= ABS + REL * Math.abs(e.data[i]!),
        `${what} ${name}[${i}]: ${a.data[i]} vs ${e.data[i]}`,
      );
    }
  }
}

function values(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed >>> 0) || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 * 2 - 1) * scale;
  }
  return out;
}

const rt = await createWasmSimdRuntime({ threads: 2 });

const NAMES: OptimizerName[] = ["SGD", "MOM", "ADAGRAD", "ADADELTA", "ADAM", "RMSPROP"];

Deno.test("applyOptimizerWasm() equals applyOptimizer() over two steps for every optimizer", () => {
  for (const optimizer of NAMES) {
    fc.assert(
      fc.property(
        fc.constant(optimizer),
        fc.boolean(),
        fc.integer({ min: 1, max: 37 }),
        fc.integer({ min: 1, max: 1 << 30 }),
        fc.double({ min: 1e-3, max: 0.5, noNaN: true }),
        (name, nesterov, size, seed, lr) => {
          // One tensor large enough to be split across the two threads.
          const params: NamedTensors = {
            "a/weights": { shape: [size], data: values(size, seed, 1) },
            "b/biases": { shape: [40001], data: values(40001, seed + 1, 1) },
          };
          const config = { name, nesterov };
          let pure = { params, state: initOptimizerState(config, params) };
          let wasm = pure;
          for (let step = 0; step < 2; step++) {
            const grads: NamedTensors = {
              "a/weights": { shape: [size], data: values(size, seed + 2 + step, 2) },
              "b/biases": { shape: [40001], data: values(40001, seed + 4 + step, 2) },
            };
            pure = applyOptimizer(config, pure.state, pure.params, grads, lr);
            wasm = applyOptimizerWasm(rt, config, wasm.state, wasm.params, grads, lr);
            close(wasm.params, pure.params, `${name} step ${step} params`);
            for (const slot of Object.keys(pure.state.slots)) {
              close(wasm.state.slots[slot]!, pure.state.slots[slot]!, `${name} slot ${slot}`);
            }
            assert.equal(wasm.state.iterations, pure.state.iterations);
          }
        },
      ),
      { numRuns: 4 },
    );
  }
});

Deno.test("applyOptimizerWasm() rejects a state of another optimizer and a non-positive rate", () => {
  const params: NamedTensors = { w: { shape: [1], data: new Float32Array([1]) } };
  const state = initOptimizerState({ name: "ADAM" }, params);
  assert.throws(
    () => applyOptimizerWasm(rt, { name: "SGD" }, state, params, params, 0.1),
    RangeError,
  );
  assert.throws(
    () => applyOptimizerWasm(rt, { name: "ADAM" }, state, params, params, 0),
    RangeError,
  );
});

Deno.test("updateMovingAverageWasm() equals updateMovingAverage()", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50000 }),
      fc.integer({ min: 0, max: 10000 }),
      fc.integer({ min: 1, max: 1 << 30 }),
      (size, numUpdates, seed) => {
        const shadows: NamedTensors = { w: { shape: [size], data: values(size, seed, 1) } };
        const current: NamedTensors = { w: { shape: [size], data: values(size, seed + 1, 1) } };
        const options = { decay: 0.999, numUpdates };
        close(
          updateMovingAverageWasm(rt, shadows, current, options),
          updateMovingAverage(shadows, current, options),
          "moving average",
        );
      },
    ),
    { numRuns: 10 },
  );
});

globalThis.addEventListener("unload", () => rt.dispose());
