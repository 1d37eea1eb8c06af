import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";
import fc from "fast-check";
import type { Model, StepOptions, TrainingOptions } from "../core/backend.ts";
import type { ModelSpec } from "../core/model_spec.ts";
import type { Dataset, ImageBatch } from "../core/types.ts";
import {
  epochImageIndices,
  labeledImages,
  runSoftmaxEpoch,
  splitDatasetByImages,
  validateSoftmax,
} from "../core/train_softmax.ts";
import { NonFiniteLossError } from "../core/train.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { initModelState, LOGITS } from "../core/model_state.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { softmaxCrossEntropy } from "../core/pure/losses.ts";
import { PRESETS } from "../cli/presets.ts";

const datasetArb: fc.Arbitrary<Dataset> = fc.array(fc.integer({ min: 1, max: 12 }), {
  minLength: 1,
  maxLength: 8,
}).map((sizes) =>
  sizes.map((n, c) => ({
    name: `id${c}`,
    images: Array.from({ length: n }, (_, i) => `id${c}/${i}`),
  }))
);

Deno.test("splitDatasetByImages() partitions every class's images, keeps every class in order, and holds out the reference implementation's share", () => {
  fc.assert(
    fc.property(
      datasetArb,
      fc.double({ min: 0, max: 0.95, noNaN: true }),
      fc.integer({ min: 0, max: 4 }),
      fc.nat({ max: 1_000_000 }),
      (dataset, ratio, minVal, seed) => {
        const s = splitDatasetByImages(dataset, {
          ratio,
          minNrofValImagesPerClass: minVal,
          rng: createRng(seed),
        });
        assert.equal(s.train.length, dataset.length);
        assert.equal(s.validation.length, dataset.length);
        dataset.forEach((cls, c) => {
          const t = s.train[c]!;
          const v = s.validation[c]!;
          assert.equal(t.name, cls.name);
          assert.equal(v.name, cls.name);
          assert.ok(t.images.length >= 1, "every class keeps a training image");
          assert.deepEqual([...t.images, ...v.images].sort(), [...cls.images].sort());
          const n = cls.images.length;
          const cut = Math.min(Math.floor(n * (1 - ratio)), n - 1);
          const expectedHeld = ratio > 0 && cut >= 1 && n - cut >= Math.max(1, minVal)
            ? n - cut
            : 0;
          assert.equal(v.images.length, expectedHeld, `class ${c} of ${n} at ratio ${ratio}`);
        });
        // Deterministic in the RNG.
        const again = splitDatasetByImages(dataset, {
          ratio,
          minNrofValImagesPerClass: minVal,
          rng: createRng(seed),
        });
        assert.deepEqual(again, s);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("splitDatasetByImages() holds out a random subset, not always the last images", () => {
  const dataset = [{ name: "a", images: Array.from({ length: 10 }, (_, i) => `a${i}`) }];
  const held = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    const s = splitDatasetByImages(dataset, {
      ratio: 0.2,
      minNrofValImagesPerClass: 0,
      rng: createRng(seed),
    });
    assert.equal(s.validation[0]!.images.length, 2);
    for (const ref of s.validation[0]!.images) held.add(ref);
  }
  assert.ok(held.size >= 6, `held-out images over 20 seeds: ${[...held]}`);
});

Deno.test("splitDatasetByImages() rejects a ratio outside [0, 1), a bad minimum and an empty class", () => {
  const rng = createRng(0);
  const d = [{ name: "a", images: ["x", "y"] }];
  assert.throws(
    () => splitDatasetByImages(d, { ratio: 1, minNrofValImagesPerClass: 0, rng }),
    RangeError,
  );
  assert.throws(
    () => splitDatasetByImages(d, { ratio: -0.1, minNrofValImagesPerClass: 0, rng }),
    RangeError,
  );
  assert.throws(
    () => splitDatasetByImages(d, { ratio: 0.5, minNrofValImagesPerClass: 1.5, rng }),
    RangeError,
  );
  assert.throws(
    () =>
      splitDatasetByImages([{ name: "e", images: [] }], {
        ratio: 0.5,
        minNrofValImagesPerClass: 0,
        rng,
      }),
    /Class "e" has no images/,
  );
});

Deno.test("epochImageIndices() draws whole permutations: each image once before any twice", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 0, max: 100 }),
      fc.nat({ max: 1_000_000 }),
      (n, count, seed) => {
        const [idx, next] = epochImageIndices(n, count, createRng(seed));
        assert.equal(idx.length, count);
        for (let start = 0; start < count; start += n) {
          const window = [...idx.slice(start, Math.min(count, start + n))];
          assert.equal(new Set(window).size, window.length, "no repeat within a permutation");
          assert.ok(window.every((i) => i >= 0 && i < n));
        }
        assert.deepEqual(epochImageIndices(n, count, createRng(seed)), [idx, next]);
      },
    ),
    { numRuns: 100 },
  );
});

/** A Model that records its training steps and returns a scripted loss. */
function recordingModel(
  losses: readonly number[],
): { model: Model; steps: StepOptions[]; batches: ImageBatch[] } {
  const steps: StepOptions[] = [];
  const batches: ImageBatch[] = [];
  const model: Model = {
    spec: { name: "fake", nodes: [], prelogits: "x", output: "x" } as ModelSpec,
    embed: () => Promise.reject(new Error("not used")),
    outputs: () => Promise.reject(new Error("not used")),
    trainStep(images, options) {
      steps.push(options);
      batches.push(images);
      const loss = losses[(steps.length - 1) % losses.length]!;
      return Promise.resolve({ loss, regularization: loss / 10, rng: options.rng });
    },
    getState: () => Promise.reject(new Error("not used")),
    dispose: () => {},
  };
  return { model, steps, batches };
}

/** A source whose pixel value encodes the reference's index in `refs`. */
function indexSource(all: readonly string[]) {
  const requests: { refs: readonly string[]; training: boolean }[] = [];
  return {
    requests,
    source: (refs: readonly string[], o: { readonly training: boolean }) => {
      requests.push({ refs, training: o.training });
      return Promise.resolve({
        n: refs.length,
        height: 1,
        width: 1,
        channels: 1,
        data: Float32Array.from(refs, (r) => all.indexOf(r)),
      });
    },
  };
}

Deno.test("runSoftmaxEpoch() trains epochSize steps of batchSize training images, each labelled with its class", async () => {
  const train: Dataset = [
    { name: "a", images: ["a0", "a1", "a2"] },
    { name: "b", images: ["b0"] },
    { name: "c", images: ["c0", "c1"] },
  ];
  const all = labeledImages(train);
  const { model, steps, batches } = recordingModel([2, 1]);
  const { source, requests } = indexSource(all.refs);
  const run = runSoftmaxEpoch({
    model,
    train,
    source,
    config: { batchSize: 4, epochSize: 3 },
    learningRate: 0.5,
    rng: createRng(4),
  });
  const events = [];
  let r = await run.next();
  while (!r.done) {
    events.push(r.value);
    r = await run.next();
  }
  assert.equal(events.length, 3);
  assert.deepEqual(events.map((e) => e.step), [1, 2, 3]);
  assert.equal(r.value.steps, 3);
  assert.equal(r.value.images, 12);
  assert.ok(Math.abs(r.value.meanLoss - 5 / 3) < 1e-12);
  assert.ok(Math.abs(r.value.meanRegularization - 1 / 6) < 1e-12);
  const seen: number[] = [];
  steps.forEach((s, k) => {
    assert.equal(s.learningRate, 0.5);
    assert.equal(batches[k]!.n, 4);
    assert.ok(requests[k]!.training);
    for (let i = 0; i < 4; i++) {
      const index = batches[k]!.data[i]!;
      seen.push(index);
      assert.equal(s.labels![i], all.labels[index], `step ${k} row ${i}`);
    }
  });
  // 12 draws over 6 images: two whole permutations.
  assert.deepEqual(seen.slice(0, 6).sort(), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(seen.slice(6).sort(), [0, 1, 2, 3, 4, 5]);
  // Every step gets its own dropout RNG.
  assert.equal(new Set(steps.map((s) => JSON.stringify(s.rng))).size, 3);
});

Deno.test("runSoftmaxEpoch() is a function of its RNG", async () => {
  const train: Dataset = [{ name: "a", images: ["a0", "a1"] }, { name: "b", images: ["b0", "b1"] }];
  const labelsOf = async (seed: number) => {
    const { model, steps } = recordingModel([1]);
    const run = runSoftmaxEpoch({
      model,
      train,
      source: indexSource(labeledImages(train).refs).source,
      config: { batchSize: 3, epochSize: 4 },
      learningRate: 0.1,
      rng: createRng(seed),
    });
    let r = await run.next();
    while (!r.done) r = await run.next();
    return { labels: steps.map((s) => [...s.labels!]), rng: r.value.rng };
  };
  assert.deepEqual(await labelsOf(1), await labelsOf(1));
  assert.notDeepEqual((await labelsOf(1)).rng, (await labelsOf(2)).rng);
});

Deno.test("runSoftmaxEpoch() stops with NonFiniteLossError on a NaN loss and rejects a bad config", async () => {
  const train: Dataset = [{ name: "a", images: ["a0"] }, { name: "b", images: ["b0"] }];
  const source = indexSource(labeledImages(train).refs).source;
  const { model } = recordingModel([1, NaN]);
  const run = runSoftmaxEpoch({
    model,
    train,
    source,
    config: { batchSize: 2, epochSize: 5 },
    learningRate: 0.1,
    rng: createRng(0),
  });
  await run.next();
  await assert.rejects(() => run.next(), NonFiniteLossError);
  const bad = runSoftmaxEpoch({
    model,
    train,
    source,
    config: { batchSize: 0, epochSize: 5 },
    learningRate: 0.1,
    rng: createRng(0),
  });
  await assert.rejects(() => bad.next(), /batchSize must be a positive integer, got 0/);
});

const SPEC: ModelSpec = {
  name: "val-test",
  nodes: [
    { op: "input", name: "input", shape: [2, 2, 1] },
    { op: "flatten", name: "flat", input: "input" },
    { op: "dense", name: "fc", input: "flat", units: 3 },
    { op: "l2Normalize", name: "embeddings", input: "fc" },
  ],
  prelogits: "fc",
  output: "embeddings",
};

Deno.test("validateSoftmax() reports the cross-entropy and argmax accuracy of the held-out prelogits", async () => {
  const backend = createPureBackend();
  const validation: Dataset = [
    { name: "a", images: ["0", "1", "2"] },
    { name: "b", images: [] },
    { name: "c", images: ["3", "4"] },
    { name: "d", images: ["5"] },
  ];
  const [pixels] = uniforms(createRng(3), 6 * 4);
  const source = (refs: readonly string[]) =>
    Promise.resolve({
      n: refs.length,
      height: 2,
      width: 2,
      channels: 1,
      data: Float32Array.from(
        refs.flatMap((r) => Array.from(pixels.subarray(4 * +r, 4 * +r + 4), (v) => 4 * v - 2)),
      ),
    });
  for (const arcface of [false, true]) {
    const options: TrainingOptions = {
      loss: {
        kind: "softmax",
        numClasses: 4,
        ...(arcface ? { arcface: { margin: 0.3, scale: 4 } } : {}),
      },
      optimizer: { name: "SGD" },
      weightDecay: 0,
      movingAverageDecay: null,
    };
    const state = initModelState(SPEC, options, createRng(arcface ? 8 : 7));
    const model = await backend.createModel(SPEC, state, options);
    const v = await validateSoftmax({
      model,
      spec: SPEC,
      options,
      validation,
      source,
      chunk: 4, // two chunks
      rng: createRng(0),
    });
    // Reference: prelogits = x W_fc + b_fc, logits = prelogits W + b (or cosines).
    const wf = state.params["fc/weights"]!.data;
    const bf = state.params["fc/biases"]!.data;
    const w = state.params[`${LOGITS}/weights`]!.data;
    const b = state.params[`${LOGITS}/biases`]?.data;
    const labels = Int32Array.from([0, 0, 0, 2, 2, 3]);
    const logits = new Float32Array(6 * 4);
    const cosines = new Float32Array(6 * 4);
    let correct = 0;
    for (let r = 0; r < 6; r++) {
      const x = [0, 1, 2].map((j) => {
        let s = bf[j]!;
        for (let k = 0; k < 4; k++) s += (4 * pixels[4 * r + k]! - 2) * wf[k * 3 + j]!;
        return s;
      });
      const xn = Math.hypot(...x);
      for (let c = 0; c < 4; c++) {
        let s = 0;
        let wn = 0;
        for (let k = 0; k < 3; k++) {
          s += x[k]! * w[k * 4 + c]!;
          wn += w[k * 4 + c]! ** 2;
        }
        logits[r * 4 + c] = s + (b === undefined ? 0 : b[c]!);
        cosines[r * 4 + c] = s / xn / Math.sqrt(wn);
      }
      const scores = arcface ? cosines : logits;
      let best = 0;
      for (let c = 1; c < 4; c++) if (scores[r * 4 + c]! > scores[r * 4 + best]!) best = c;
      if (best === labels[r]) correct++;
    }
    assert.equal(v.images, 6);
    assert.equal(v.accuracy, correct / 6);
    assert.equal(v.regularization, 0);
    if (!arcface) {
      const ce = softmaxCrossEntropy({ rows: 6, cols: 4, data: logits }, labels).loss;
      assert.ok(Math.abs(v.loss - ce) < 1e-5, `${v.loss} vs ${ce}`);
    } else {
      // The margin only lowers the target logit: the loss exceeds plain scaled-cosine softmax.
      const plain = softmaxCrossEntropy(
        { rows: 6, cols: 4, data: cosines.map((c) => 4 * c) },
        labels,
      ).loss;
      assert.ok(v.loss > plain, `${v.loss} vs ${plain}`);
    }
    // Validation never changes the model.
    assert.deepEqual((await model.getState()).params, state.params);
    model.dispose();
  }
});

Deno.test("validateSoftmax() rejects a triplet model and an empty validation set", async () => {
  const backend = createPureBackend();
  const triplet: TrainingOptions = {
    loss: { kind: "triplet", alpha: 0.2 },
    optimizer: { name: "SGD" },
    weightDecay: 0,
    movingAverageDecay: null,
  };
  const model = await backend.createModel(
    SPEC,
    initModelState(SPEC, triplet, createRng(1)),
    triplet,
  );
  const source = () => Promise.reject(new Error("not used"));
  await assert.rejects(
    () =>
      validateSoftmax({
        model,
        spec: SPEC,
        options: triplet,
        validation: [{ name: "a", images: ["x"] }],
        source,
        chunk: 2,
        rng: createRng(0),
      }),
    /needs a softmax loss/,
  );
  const softmax: TrainingOptions = { ...triplet, loss: { kind: "softmax", numClasses: 2 } };
  await assert.rejects(
    () =>
      validateSoftmax({
        model,
        spec: SPEC,
        options: softmax,
        validation: [{ name: "a", images: [] }, { name: "b", images: [] }],
        source,
        chunk: 2,
        rng: createRng(0),
      }),
    /no images/,
  );
});

const cli = (args: readonly string[]) => runCli(["train", ...args]);

Deno.test("train --loss softmax: a tiny run on the synthetic identities lifts held-out accuracy far above chance", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Every training identity is a class; 20% of each one's images are held out.
    // --batch-norm-decay 0.9 lets inference-mode batch norm catch up within 60 steps.
    const classes = PRESETS.tiny.trainIdentities;
    const r = await cli([
      "--preset=tiny",
      "--backend=pure",
      "--loss=softmax",
      "--center-loss-factor=0.01",
      "--validation-set-split-ratio=0.2",
      "--batch-norm-decay=0.9",
      "--epoch-size=20",
      "--max-nrof-epochs=3",
      "--learning-rate=0.1",
      "--synthetic-nuisance=0.5",
      "--quiet",
      `--out=${dir}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n");
    const metrics = lines.map((l) => JSON.parse(l));
    assert.equal(metrics.length, 3);
    for (const m of metrics) {
      assert.equal(m.lossKind, "softmax");
      assert.ok(m.regularization > 0, "center loss is part of the regularization");
      assert.ok(Number.isFinite(m.accuracy), "pair validation runs for every loss");
    }
    const first = metrics[0]!;
    const last = metrics[2]!;
    assert.ok(last.loss < first.loss - 0.3, `training loss ${first.loss} -> ${last.loss}`);
    assert.ok(
      last.validationAccuracy >= 10 / classes,
      `held-out accuracy ${metrics.map((m) => m.validationAccuracy)} (chance ${1 / classes})`,
    );
    assert.ok(last.validationAccuracy > first.validationAccuracy);
    assert.ok(
      last.validationLoss < Math.log(classes) - 0.2,
      `held-out loss ${last.validationLoss} vs uniform ${Math.log(classes)}`,
    );
    // The checkpoint holds the softmax head and the loss settings.
    const ckpts = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("ckpt-"));
    assert.ok(ckpts.length >= 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --loss arcface runs one short epoch; a held-out split with --loss triplet is a usage error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await cli([
      "--preset=tiny",
      "--backend=pure",
      "--loss=arcface",
      "--margin=0.3",
      "--scale=16",
      "--prelogits-norm-loss-factor=0.001",
      "--validation-set-split-ratio=0.2",
      "--random-rotate",
      "--epoch-size=3",
      "--max-nrof-epochs=1",
      "--quiet",
      `--out=${dir}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse((await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim());
    assert.equal(m.lossKind, "arcface");
    assert.ok(Number.isFinite(m.loss) && Number.isFinite(m.validationLoss));
    const bad = await cli(["--preset=tiny", "--validation-set-split-ratio=0.2", "--quiet"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--validation-set-split-ratio has no effect with --loss triplet/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
