import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkClassifier,
  DEFAULT_L2,
  fitClassifier,
  predictClasses,
  predictProbabilities,
  type SoftmaxClassifier,
} from "../core/pure/classifier.ts";
import type { Matrix } from "../core/types.ts";
import { gaussianBlobs } from "./_blobs.ts";

function rowsOf(x: Matrix, rows: number[]): Matrix {
  const data = new Float32Array(rows.length * x.cols);
  rows.forEach((r, i) => data.set(x.data.subarray(r * x.cols, (r + 1) * x.cols), i * x.cols));
  return { rows: rows.length, cols: x.cols, data };
}

/** The documented objective, computed independently in float64. */
function objectiveOf(model: SoftmaxClassifier, x: Matrix, labels: Int32Array): number {
  const p = predictProbabilities(model, x);
  let loss = 0;
  for (let i = 0; i < x.rows; i++) loss -= Math.log(p.data[i * p.cols + labels[i]!]!);
  let reg = 0;
  for (const w of model.weights) reg += w * w;
  return loss / x.rows + 0.5 * model.l2 * reg;
}

Deno.test("fitClassifier() separates Gaussian blobs: held-out accuracy above 0.95 with 5 classes", () => {
  const { x, labels } = gaussianBlobs({
    classes: 5,
    perClass: 40,
    dims: 16,
    spread: 0.3,
    separation: 1,
    seed: 3,
  });
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < x.rows; i++) (i % 40 < 20 ? train : test).push(i);
  const model = fitClassifier(rowsOf(x, train), train.map((i) => labels[i]!), [
    "a",
    "b",
    "c",
    "d",
    "e",
  ]);
  const predicted = predictClasses(model, rowsOf(x, test));
  let correct = 0;
  test.forEach((row, i) => {
    if (predicted.classes[i] === labels[row]) correct++;
  });
  const accuracy = correct / test.length;
  assert.ok(accuracy > 0.95, `held-out accuracy ${accuracy}`);
  assert.ok(model.converged, `not converged after ${model.iterations} iterations`);
  for (let i = 0; i < test.length; i++) {
    let sum = 0;
    for (let c = 0; c < 5; c++) sum += predicted.all.data[i * 5 + c]!;
    assert.ok(Math.abs(sum - 1) < 1e-5);
    assert.equal(predicted.probabilities[i], predicted.all.data[i * 5 + predicted.classes[i]!]);
  }
});

Deno.test("fitClassifier() reaches a minimum of the documented objective (no coordinate step lowers it)", () => {
  const { x, labels } = gaussianBlobs({
    classes: 3,
    perClass: 8,
    dims: 3,
    spread: 1,
    separation: 1,
    seed: 11,
  });
  const model = fitClassifier(x, labels, ["a", "b", "c"], { l2: 0.05 });
  const best = objectiveOf(model, x, labels);
  assert.ok(Math.abs(best - model.loss) < 1e-5, `${best} vs ${model.loss}`);
  const h = 1e-3;
  for (let j = 0; j < model.weights.length + model.biases.length; j++) {
    for (const sign of [-1, 1]) {
      const weights = [...model.weights];
      const biases = [...model.biases];
      if (j < weights.length) weights[j]! += sign * h;
      else biases[j - weights.length]! += sign * h;
      const moved = objectiveOf({ ...model, weights, biases }, x, labels);
      assert.ok(moved >= best - 1e-7, `parameter ${j} moved by ${sign * h}: ${moved} < ${best}`);
    }
  }
});

Deno.test("fitClassifier() is deterministic and shrinks weights as l2 grows", () => {
  const { x, labels } = gaussianBlobs({
    classes: 2,
    perClass: 10,
    dims: 4,
    spread: 0.5,
    separation: 1,
    seed: 5,
  });
  const a = fitClassifier(x, labels, ["p", "q"], { l2: 0.01 });
  const b = fitClassifier(x, labels, ["p", "q"], { l2: 0.01 });
  assert.deepEqual(a, b);
  const norm = (m: SoftmaxClassifier) => m.weights.reduce((s, w) => s + w * w, 0);
  const strong = fitClassifier(x, labels, ["p", "q"], { l2: 1 });
  assert.ok(norm(strong) < norm(a), `${norm(strong)} >= ${norm(a)}`);
  assert.equal(fitClassifier(x, labels, ["p", "q"]).l2, DEFAULT_L2);
});

Deno.test("fitClassifier() gives symmetric probabilities on a symmetric problem", () => {
  fc.assert(
    fc.property(fc.double({ min: 0.1, max: 5, noNaN: true }), (gap) => {
      const x = { rows: 2, cols: 1, data: new Float32Array([-gap, gap]) };
      const model = fitClassifier(x, [0, 1], ["l", "r"], { l2: 0.1 });
      const p = predictProbabilities(model, x);
      assert.ok(p.data[0]! > 0.5);
      assert.ok(Math.abs(p.data[0]! - p.data[3]!) < 1e-4);
    }),
    { numRuns: 20 },
  );
});

Deno.test("fitClassifier() rejects bad labels, empty classes and one-class problems by name", () => {
  const x = { rows: 2, cols: 1, data: new Float32Array([0, 1]) };
  assert.throws(() => fitClassifier(x, [0, 2], ["a", "b"]), /Label 2 of row 1/);
  assert.throws(() => fitClassifier(x, [0, 0], ["a", "b"]), /Class "b" \(1\) has no training rows/);
  assert.throws(() => fitClassifier(x, [0, 0], ["a"]), /at least two classes, got 1/);
  assert.throws(() => fitClassifier(x, [0], ["a", "b"]), /Got 1 labels for 2 rows/);
  assert.throws(
    () => fitClassifier({ rows: 1, cols: 1, data: new Float32Array([NaN]) }, [0], ["a", "b"]),
    RangeError,
  );
  assert.throws(() => fitClassifier(x, [0, 1], ["a", "b"], { l2: -1 }), /L2 coefficient/);
});

Deno.test("checkClassifier() accepts a JSON round trip and rejects wrong shapes", () => {
  const x = { rows: 2, cols: 2, data: new Float32Array([1, 0, 0, 1]) };
  const model = fitClassifier(x, [0, 1], ["a", "b"]);
  const back = checkClassifier(JSON.parse(JSON.stringify(model)), "m.json");
  assert.deepEqual(back, model);
  assert.throws(
    () => checkClassifier({ ...model, weights: [1, 2, 3] }, "m.json"),
    /m\.json is not a softmax-regression classifier: weights must be 4 finite numbers/,
  );
  assert.throws(
    () => predictClasses(model, { rows: 1, cols: 3, data: new Float32Array(3) }),
    /3 columns/,
  );
});
