import assert from "node:assert/strict";
import type { ModelState, TrainingOptions } from "../core/backend.ts";
import type { ModelSpec } from "../core/model_spec.ts";
import type { ImageBatch, Matrix, NamedTensors } from "../core/types.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { CENTERS, initModelState, LOGITS } from "../core/model_state.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import {
  arcfaceLogits,
  centerLoss,
  prelogitsNormLoss,
  softmaxCrossEntropy,
} from "../core/pure/losses.ts";
import { l2Normalize } from "../core/pure/distances.ts";
import { weightDecayLoss } from "../core/pure/optimizers.ts";

/** A small graph with every kind of parameter: conv, batch norm, dense prelogits. */
const SPEC: ModelSpec = {
  name: "head-test",
  nodes: [
    { op: "input", name: "input", shape: [4, 4, 2] },
    { op: "conv2d", name: "conv", input: "input", filters: 2, kernel: 3, stride: 2 },
    { op: "batchNorm", name: "bn", input: "conv" },
    { op: "flatten", name: "flat", input: "bn" },
    { op: "dense", name: "fc", input: "flat", units: 3 },
    { op: "l2Normalize", name: "embeddings", input: "fc" },
  ],
  prelogits: "fc",
  output: "embeddings",
};

const LABELS = new Int32Array([0, 1, 2, 3, 1, 0]);
const CLASSES = 4;

function images(seed: number): ImageBatch {
  const [u] = uniforms(createRng(seed), 6 * 4 * 4 * 2);
  return { n: 6, height: 4, width: 4, channels: 2, data: Float32Array.from(u, (v) => 2 * v - 1) };
}

/** The initial state with biases, beta, gamma and centers moved off their init values. */
function state(options: TrainingOptions, seed: number): ModelState {
  const s = initModelState(SPEC, options, createRng(seed));
  let rng = createRng(seed + 100);
  const shift = (t: NamedTensors, skip: (name: string) => boolean): NamedTensors => {
    const out: NamedTensors = {};
    for (const [name, x] of Object.entries(t)) {
      if (skip(name)) {
        out[name] = x;
        continue;
      }
      const [u, next] = uniforms(rng, x.data.length);
      rng = next;
      out[name] = { shape: x.shape, data: Float32Array.from(x.data, (v, i) => v + u[i]! - 0.5) };
    }
    return out;
  };
  return {
    ...s,
    params: shift(s.params, (n) => n.endsWith("/weights")),
    stats: shift(s.stats, (n) => n !== CENTERS),
  };
}

function withParam(s: ModelState, name: string, i: number, value: number): ModelState {
  const t = s.params[name]!;
  const data = t.data.slice();
  data[i] = value;
  return { ...s, params: { ...s.params, [name]: { shape: t.shape, data } } };
}

async function stepLoss(s: ModelState, options: TrainingOptions, lr: number) {
  const backend = createPureBackend();
  const model = await backend.createModel(SPEC, s, options);
  const r = await model.trainStep(images(1), {
    learningRate: lr,
    rng: createRng(0),
    labels: LABELS,
  });
  const after = await model.getState();
  model.dispose();
  return { ...r, after };
}

/** Prelogits in training mode (batch statistics), as the training step sees them. */
async function prelogits(s: ModelState, options: TrainingOptions): Promise<Matrix> {
  const backend = createPureBackend();
  const model = await backend.createModel({ ...SPEC, output: SPEC.prelogits }, s, options);
  const m = await model.embed(images(1), { training: true, rng: createRng(0) });
  model.dispose();
  return m;
}

function options(loss: Partial<TrainingOptions["loss"]>, weightDecay = 0): TrainingOptions {
  return {
    loss: { kind: "softmax", numClasses: CLASSES, ...loss } as TrainingOptions["loss"],
    optimizer: { name: "SGD" },
    weightDecay,
    movingAverageDecay: null,
  };
}

const CASES: readonly [string, TrainingOptions][] = [
  ["softmax", options({})],
  [
    "softmax + center loss + norm penalty + weight decay",
    options({
      centerLossFactor: 0.5,
      centerLossAlfa: 0.9,
      prelogitsNormLossFactor: 0.1,
      prelogitsNormP: 1.5,
    }, 0.01),
  ],
  [
    "ArcFace + center loss",
    options({ arcface: { margin: 0.5, scale: 8 }, centerLossFactor: 0.3 }),
  ],
];

for (const [label, opts] of CASES) {
  Deno.test(`the pure Model's ${label} step follows the gradient of its loss (finite differences over every parameter)`, async () => {
    const s0 = state(opts, 7);
    // SGD with learning rate 1: the parameters move by exactly -gradient.
    const r = await stepLoss(s0, opts, 1);
    let checked = 0;
    for (const [name, t] of Object.entries(s0.params)) {
      for (let i = 0; i < t.data.length; i++) {
        const v = t.data[i]!;
        // Float32 storage: use the representable perturbed values.
        const hi = Math.fround(v + 1e-3);
        const lo = Math.fround(v - 1e-3);
        const fHi = (await stepLoss(withParam(s0, name, i, hi), opts, 1e-30)).loss;
        const fLo = (await stepLoss(withParam(s0, name, i, lo), opts, 1e-30)).loss;
        const numeric = (fHi - fLo) / (hi - lo);
        const analytic = v - r.after.params[name]!.data[i]!;
        // Float32 activations give the loss ~1e-7 rounding, so ~1e-4 noise
        // after dividing by 2e-3; truncation O(h^2 f''') stays below 1e-4 at
        // scale 8. 1e-3 + 1e-2 relative still catches any missing or wrong term.
        assert.ok(
          Math.abs(numeric - analytic) <= 1e-3 + 1e-2 * Math.abs(numeric),
          `${name}[${i}]: step moved by ${analytic}, finite differences ${numeric}`,
        );
        checked++;
      }
    }
    assert.ok("Logits/weights" in s0.params);
    assert.equal(checked > 60, true);
  });
}

Deno.test("a softmax step's loss is cross-entropy plus the factors times center loss, norm penalty and weight decay", async () => {
  const opts = CASES[1]![1];
  const loss = opts.loss as Extract<TrainingOptions["loss"], { kind: "softmax" }>;
  const s0 = state(opts, 11);
  const x = await prelogits(s0, opts);
  const w = s0.params[`${LOGITS}/weights`]!;
  const b = s0.params[`${LOGITS}/biases`]!;
  const logits = new Float32Array(6 * CLASSES);
  for (let r = 0; r < 6; r++) {
    for (let c = 0; c < CLASSES; c++) {
      let sum = b.data[c]!;
      for (let k = 0; k < 3; k++) sum += x.data[r * 3 + k]! * w.data[k * CLASSES + c]!;
      logits[r * CLASSES + c] = sum;
    }
  }
  const ce = softmaxCrossEntropy({ rows: 6, cols: CLASSES, data: logits }, LABELS).loss;
  const c0 = s0.stats[CENTERS]!;
  const center = centerLoss(x, LABELS, { rows: CLASSES, cols: 3, data: c0.data }, 0.9);
  const norm = prelogitsNormLoss(x, 1.5).loss;
  const decay = weightDecayLoss(s0.params, 0.01);
  const regularization = loss.centerLossFactor! * center.loss +
    loss.prelogitsNormLossFactor! * norm + decay;
  const r = await stepLoss(s0, opts, 0.1);
  assert.ok(Math.abs(r.regularization - regularization) < 1e-5, `${r.regularization}`);
  assert.ok(Math.abs(r.loss - (ce + regularization)) < 1e-5, `${r.loss} vs ${ce + regularization}`);
  // The reference implementation's center update: centers[label] -= (1 - alfa) (centers[label] -
  // features), summed per label.
  const after = r.after.stats[CENTERS]!;
  assert.deepEqual([...after.shape], [CLASSES, 3]);
  for (let i = 0; i < after.data.length; i++) {
    assert.ok(Math.abs(after.data[i]! - center.centers.data[i]!) < 1e-6, `centers[${i}]`);
  }
  // Class 3 has one row: its center moved 10% of the way to that row's features.
  for (let k = 0; k < 3; k++) {
    const expected = c0.data[9 + k]! - 0.1 * (c0.data[9 + k]! - x.data[3 * 3 + k]!);
    assert.ok(Math.abs(after.data[9 + k]! - expected) < 1e-6);
  }
  // Centers are statistics, never trained parameters or optimizer slots.
  assert.equal(CENTERS in r.after.params, false);
});

Deno.test("an ArcFace step's loss uses the margin on the target cosine only, without biases", async () => {
  const opts = CASES[2]![1];
  const s0 = state(opts, 13);
  assert.equal(`${LOGITS}/biases` in s0.params, false);
  assert.deepEqual([...s0.params[`${LOGITS}/weights`]!.shape], [3, CLASSES]);
  const x = l2Normalize(await prelogits(s0, opts));
  const w = s0.params[`${LOGITS}/weights`]!;
  const cos = new Float32Array(6 * CLASSES);
  for (let c = 0; c < CLASSES; c++) {
    let n = 0;
    for (let k = 0; k < 3; k++) n += w.data[k * CLASSES + c]! ** 2;
    for (let r = 0; r < 6; r++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += x.data[r * 3 + k]! * w.data[k * CLASSES + c]!;
      cos[r * CLASSES + c] = s / Math.sqrt(n);
    }
  }
  const arc = arcfaceLogits({ rows: 6, cols: CLASSES, data: cos }, LABELS, {
    margin: 0.5,
    scale: 8,
  });
  const ce = softmaxCrossEntropy(arc.logits, LABELS).loss;
  const r = await stepLoss(s0, opts, 0.1);
  assert.ok(
    Math.abs(r.loss - r.regularization - ce) < 1e-4,
    `${r.loss - r.regularization} vs ${ce}`,
  );
  // The margin makes the loss larger than plain scaled-cosine softmax.
  const plain = softmaxCrossEntropy(
    { rows: 6, cols: CLASSES, data: cos.map((v) => 8 * v) },
    LABELS,
  ).loss;
  assert.ok(ce > plain);
});

Deno.test("initModelState() adds the softmax head: Logits/weights [E, C], Logits/biases [C], zero centers [C, E]", () => {
  const s = initModelState(SPEC, options({ centerLossFactor: 0.1 }), createRng(1));
  assert.deepEqual([...s.params[`${LOGITS}/weights`]!.shape], [3, CLASSES]);
  assert.deepEqual([...s.params[`${LOGITS}/biases`]!.shape], [CLASSES]);
  assert.deepEqual([...s.stats[CENTERS]!.shape], [CLASSES, 3]);
  assert.ok(s.stats[CENTERS]!.data.every((v) => v === 0));
  const plain = initModelState(SPEC, options({}), createRng(1));
  assert.equal(CENTERS in plain.stats, false);
});

/**
 * The reference implementation's center-loss test idea: classes sit at the points of a grid,
 * features are those points plus noise, and repeated center updates move
 * every center to its class mean (from zero, with alfa 0.5).
 */
Deno.test("centerLoss() updates converge to the class means of features on a grid of points", () => {
  const side = 3;
  const classes = side * side;
  const perClass = 4;
  const [noise] = uniforms(createRng(5), classes * perClass * 2);
  const rows = classes * perClass;
  const features = new Float32Array(rows * 2);
  const labels = new Int32Array(rows);
  const means = new Float64Array(classes * 2);
  for (let c = 0; c < classes; c++) {
    for (let j = 0; j < perClass; j++) {
      const r = c * perClass + j;
      labels[r] = c;
      features[2 * r] = (c % side) * 4 + noise[2 * r]! - 0.5;
      features[2 * r + 1] = Math.floor(c / side) * 4 + noise[2 * r + 1]! - 0.5;
      means[2 * c]! += features[2 * r]! / perClass;
      means[2 * c + 1]! += features[2 * r + 1]! / perClass;
    }
  }
  let centers: Matrix = { rows: classes, cols: 2, data: new Float32Array(classes * 2) };
  const alfa = 1 - 0.5 / perClass; // each batch moves a center half way to its class mean
  let first = 0;
  let last = 0;
  for (let it = 0; it < 40; it++) {
    const out = centerLoss({ rows, cols: 2, data: features }, labels, centers, alfa);
    if (it === 0) first = out.loss;
    last = out.loss;
    centers = out.centers;
  }
  for (let i = 0; i < means.length; i++) {
    assert.ok(
      Math.abs(centers.data[i]! - means[i]!) < 1e-4,
      `center ${i}: ${centers.data[i]} vs ${means[i]}`,
    );
  }
  assert.ok(last < first / 10, `loss ${first} -> ${last}`);
});

Deno.test("a Model's centers converge to the class means of its prelogits when the weights do not move (learning rate 1e-30)", async () => {
  const opts = options({ centerLossFactor: 0.1, centerLossAlfa: 0.8 });
  const s0 = state(opts, 17);
  const backend = createPureBackend();
  const model = await backend.createModel(SPEC, {
    ...s0,
    stats: { ...s0.stats, [CENTERS]: { shape: [CLASSES, 3], data: new Float32Array(CLASSES * 3) } },
  }, opts);
  for (let i = 0; i < 60; i++) {
    await model.trainStep(images(1), { learningRate: 1e-30, rng: createRng(0), labels: LABELS });
  }
  const centers = (await model.getState()).stats[CENTERS]!;
  model.dispose();
  const x = await prelogits(s0, opts);
  for (let c = 0; c < CLASSES; c++) {
    const rows = [...LABELS.keys()].filter((r) => LABELS[r] === c);
    for (let k = 0; k < 3; k++) {
      const mean = rows.reduce((s, r) => s + x.data[r * 3 + k]!, 0) / rows.length;
      assert.ok(
        Math.abs(centers.data[c * 3 + k]! - mean) < 1e-4,
        `class ${c} dim ${k}: ${centers.data[c * 3 + k]} vs ${mean}`,
      );
    }
  }
});
