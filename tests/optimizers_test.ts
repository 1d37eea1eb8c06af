/**
 * Optimizers (hand-computed two-step cases with TF semantics, convergence on
 * a convex problem), weight decay, schedules and the moving average.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  addWeightDecay,
  applyOptimizer,
  initOptimizerState,
  weightDecayLoss,
} from "../core/pure/optimizers.ts";
import { exponentialDecay, parseSchedule, scheduledRate } from "../core/pure/schedule.ts";
import { effectiveDecay, updateMovingAverage } from "../core/pure/moving_average.ts";
import type { NamedTensors, OptimizerConfig } from "../core/types.ts";

const G1 = 0.5;
const G2 = -0.25;
const LR = 0.1;

/** Two steps from w = 1 with gradients 0.5 then -0.25, learning rate 0.1. */
function twoSteps(config: OptimizerConfig): [number, number] {
  let params: NamedTensors = { w: { shape: [1], data: new Float32Array([1]) } };
  let state = initOptimizerState(config, params);
  const out: number[] = [];
  for (const g of [G1, G2]) {
    const r = applyOptimizer(config, state, params, {
      w: { shape: [1], data: new Float32Array([g]) },
    }, LR);
    params = r.params;
    state = r.state;
    out.push(params["w"]!.data[0]!);
  }
  assert.equal(state.iterations, 2);
  return out as [number, number];
}

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} != ${expected}`);
}

Deno.test("applyOptimizer() SGD and Momentum (Nesterov and plain) match hand-computed steps", () => {
  const [s1, s2] = twoSteps({ name: "SGD" });
  close(s1, 0.95, "sgd 1");
  close(s2, 0.975, "sgd 2");
  // accum1 = 0.5, w1 = 1 - 0.1 (0.5 + 0.9 * 0.5); accum2 = 0.9 * 0.5 - 0.25 = 0.2.
  const [n1, n2] = twoSteps({ name: "MOM" });
  close(n1, 0.905, "nesterov 1");
  close(n2, 0.905 - 0.1 * (-0.25 + 0.9 * 0.2), "nesterov 2");
  const [m1, m2] = twoSteps({ name: "MOM", nesterov: false });
  close(m1, 0.95, "momentum 1");
  close(m2, 0.95 - 0.1 * 0.2, "momentum 2");
});

Deno.test("applyOptimizer() ADAGRAD starts its accumulator at 0.1 as TF does", () => {
  const [w1, w2] = twoSteps({ name: "ADAGRAD" });
  const e1 = 1 - 0.1 * 0.5 / Math.sqrt(0.1 + 0.25);
  close(w1, e1, "adagrad 1");
  close(w2, e1 + 0.1 * 0.25 / Math.sqrt(0.1 + 0.25 + 0.0625), "adagrad 2");
});

Deno.test("applyOptimizer() ADADELTA follows TF's ApplyAdadelta (rho 0.9, eps 1e-6)", () => {
  const [w1, w2] = twoSteps({ name: "ADADELTA" });
  const acc1 = 0.1 * 0.25;
  const u1 = Math.sqrt(1e-6) / Math.sqrt(acc1 + 1e-6) * 0.5;
  const accU1 = 0.1 * u1 * u1;
  const e1 = 1 - 0.1 * u1;
  const acc2 = 0.9 * acc1 + 0.1 * 0.0625;
  const u2 = Math.sqrt(accU1 + 1e-6) / Math.sqrt(acc2 + 1e-6) * -0.25;
  close(w1, e1, "adadelta 1");
  close(w2, e1 - 0.1 * u2, "adadelta 2");
});

Deno.test("applyOptimizer() ADAM uses the bias-corrected rate and the reference implementation's epsilon 0.1", () => {
  const [w1, w2] = twoSteps({ name: "ADAM" });
  const lr1 = 0.1 * Math.sqrt(1 - 0.999) / (1 - 0.9);
  const e1 = 1 - lr1 * 0.05 / (Math.sqrt(0.00025) + 0.1);
  const lr2 = 0.1 * Math.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2);
  const m2 = 0.9 * 0.05 + 0.1 * -0.25;
  const v2 = 0.999 * 0.00025 + 0.001 * 0.0625;
  close(w1, e1, "adam 1");
  close(w2, e1 - lr2 * m2 / (Math.sqrt(v2) + 0.1), "adam 2");
});

Deno.test("applyOptimizer() RMSPROP starts its mean square at 1 (TF) with decay 0.9, momentum 0.9, eps 1", () => {
  const [w1, w2] = twoSteps({ name: "RMSPROP" });
  const ms1 = 0.9 * 1 + 0.1 * 0.25;
  const mom1 = 0.1 * 0.5 / Math.sqrt(ms1 + 1);
  const ms2 = 0.9 * ms1 + 0.1 * 0.0625;
  const mom2 = 0.9 * mom1 + 0.1 * -0.25 / Math.sqrt(ms2 + 1);
  close(w1, 1 - mom1, "rmsprop 1");
  close(w2, 1 - mom1 - mom2, "rmsprop 2");
});

Deno.test("every optimizer converges on a small convex quadratic", () => {
  const cases: [OptimizerConfig, number, number][] = [
    [{ name: "SGD" }, 0.3, 200],
    [{ name: "MOM" }, 0.05, 300],
    [{ name: "MOM", nesterov: false }, 0.05, 300],
    [{ name: "ADAGRAD" }, 0.5, 500],
    [{ name: "ADADELTA", epsilon: 1e-2 }, 1, 1500],
    [{ name: "ADAM" }, 0.05, 1500],
    [{ name: "RMSPROP" }, 0.02, 1500],
  ];
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0.5, max: 2, noNaN: true }), { minLength: 4, maxLength: 4 }),
      fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }),
      (a, c) => {
        for (const [config, lr, steps] of cases) {
          // f(w) = sum a_i (w_i - c_i)^2 / 2, gradient a_i (w_i - c_i).
          let params: NamedTensors = { "x/weights": { shape: [4], data: new Float32Array(4) } };
          let state = initOptimizerState(config, params);
          for (let s = 0; s < steps; s++) {
            const w = params["x/weights"]!.data;
            const g = Float32Array.from(w, (v, i) => a[i]! * (v - c[i]!));
            const r = applyOptimizer(config, state, params, {
              "x/weights": { shape: [4], data: g },
            }, lr);
            params = r.params;
            state = r.state;
          }
          const w = params["x/weights"]!.data;
          w.forEach((v, i) => {
            assert.ok(
              Math.abs(v - c[i]!) < 2e-2,
              `${config.name}${
                config.nesterov === false ? " (plain)" : ""
              }: w[${i}] = ${v}, optimum ${c[i]}`,
            );
          });
        }
      },
    ),
    { numRuns: 5 },
  );
});

Deno.test("applyOptimizer() leaves its inputs unchanged and rejects mismatched names", () => {
  const params = { w: { shape: [1], data: new Float32Array([1]) } };
  const state = initOptimizerState({ name: "ADAM" }, params);
  const grads = { w: { shape: [1], data: new Float32Array([1]) } };
  applyOptimizer({ name: "ADAM" }, state, params, grads, 0.1);
  assert.equal(params.w.data[0], 1);
  assert.equal(state.slots["m"]!["w"]!.data[0], 0);
  assert.throws(
    () => applyOptimizer({ name: "ADAM" }, state, params, { v: grads.w }, 0.1),
    /Gradient "v" has no parameter/,
  );
  assert.throws(
    () => applyOptimizer({ name: "SGD" }, state, params, grads, 0.1),
    /state is for ADAM/,
  );
  assert.throws(() => applyOptimizer({ name: "ADAM" }, state, params, grads, 0), /Learning rate/);
});

Deno.test("weight decay applies to weights only, not to biases or batch-norm parameters", () => {
  const t = (v: number) => ({ shape: [1], data: new Float32Array([v]) });
  const params = {
    "conv/weights": t(2),
    "conv/biases": t(2),
    "conv/BatchNorm/beta": t(2),
    "bn/gamma": t(2),
    "Logits/weights": t(4),
  };
  const grads = Object.fromEntries(Object.keys(params).map((k) => [k, t(1)]));
  const out = addWeightDecay(grads, params, 0.1);
  assert.equal(out["conv/weights"]!.data[0], Math.fround(1.2));
  assert.equal(out["Logits/weights"]!.data[0], Math.fround(1.4));
  assert.equal(out["conv/biases"]!.data[0], 1);
  assert.equal(out["conv/BatchNorm/beta"]!.data[0], 1);
  assert.equal(out["bn/gamma"]!.data[0], 1);
  // TF's l2_regularizer: wd * sum(w^2) / 2 over the weights only.
  assert.ok(Math.abs(weightDecayLoss(params, 0.1) - 0.1 * (4 + 16) / 2) < 1e-12);
  assert.throws(() => addWeightDecay(grads, params, -1), /non-negative/);
});

Deno.test("exponentialDecay() decays in whole periods when staircase, continuously otherwise", () => {
  const o = { learningRate: 0.1, decaySteps: 1000, decayRate: 0.9 };
  assert.equal(exponentialDecay(0, o), 0.1);
  assert.equal(exponentialDecay(1999, o), 0.1 * 0.9);
  assert.equal(exponentialDecay(2000, o), 0.1 * 0.9 ** 2);
  assert.equal(exponentialDecay(500, { ...o, staircase: false }), 0.1 * 0.9 ** 0.5);
  // The reference implementation's default factor 1.0 never decays.
  assert.equal(exponentialDecay(123456, { ...o, decayRate: 1 }), 0.1);
});

Deno.test("parseSchedule() reads the reference implementation's format and scheduledRate() picks the last entry not after the epoch", () => {
  const s = parseSchedule(
    "# Learning rate schedule\n# Maps an epoch number to a learning rate\n0:  0.1\n65: 0.01\n\n77: 0.001  # fine\n1000: -\n",
  );
  assert.deepEqual(s, [
    { epoch: 0, learningRate: 0.1 },
    { epoch: 65, learningRate: 0.01 },
    { epoch: 77, learningRate: 0.001 },
    { epoch: 1000, learningRate: -1 },
  ]);
  assert.equal(scheduledRate(s, 0), 0.1);
  assert.equal(scheduledRate(s, 64), 0.1);
  assert.equal(scheduledRate(s, 65), 0.01);
  assert.equal(scheduledRate(s, 999), 0.001);
  assert.equal(scheduledRate(s, 1000), -1);
  assert.throws(() => scheduledRate(parseSchedule("5: 0.1"), 2), /no entry for epoch 2/);
});

Deno.test("parseSchedule() names the offending line", () => {
  assert.throws(() => parseSchedule("0: 0.1\nten: 0.01\n"), /line 2 "ten: 0.01"/);
  assert.throws(() => parseSchedule("0: 0.1\n3: fast\n"), /line 2/);
  assert.throws(
    () => parseSchedule("0: 0.1\n0: 0.01\n"),
    /line 2: epoch 0 does not follow epoch 0/,
  );
  assert.throws(() => parseSchedule("# only comments\n"), /no entries/);
});

Deno.test("effectiveDecay() follows TF's num_updates rule min(decay, (1 + n) / (10 + n))", () => {
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(1_000_000), (d, n) => {
      assert.equal(effectiveDecay(d, n), Math.min(d, (1 + n) / (10 + n)));
    }),
  );
  assert.equal(effectiveDecay(0.9999, 0), 0.1);
  assert.equal(effectiveDecay(0.9999, 90), 0.91);
  assert.equal(effectiveDecay(0.9999, 10_000_000), 0.9999);
});

Deno.test("updateMovingAverage() moves each shadow toward the value by 1 - effective decay", () => {
  const shadows = { w: { shape: [2], data: new Float32Array([0, 10]) } };
  const values = { w: { shape: [2], data: new Float32Array([1, 0]) } };
  const r = updateMovingAverage(shadows, values, { decay: 0.9999, numUpdates: 90 });
  assert.ok(Math.abs(r["w"]!.data[0]! - 0.09) < 1e-6);
  assert.ok(Math.abs(r["w"]!.data[1]! - 9.1) < 1e-5);
  assert.throws(
    () => updateMovingAverage(shadows, {}, { decay: 0.9, numUpdates: 0 }),
    /"w" has no matching value/,
  );
});
