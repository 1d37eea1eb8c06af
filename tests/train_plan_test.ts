import assert from "node:assert/strict";
import {
  epochLearningRate,
  parseTrainFlags,
  planTrain,
  TRAIN_FLAGS,
  trainingOptions,
  validatesHeldOut,
} from "../cli/train_plan.ts";
import { UsageError } from "../cli/flags.ts";
import { PRESETS } from "../cli/presets.ts";
import { parseSchedule } from "../core/pure/schedule.ts";

const plan = (...args: string[]) => planTrain(parseTrainFlags(args));

Deno.test("planTrain() starts from the preset and lets explicit flags override it", () => {
  const p = plan("--preset=tiny", "--alpha=0.35", "--optimizer=SGD");
  assert.deepEqual(p.settings, { ...PRESETS.tiny, alpha: 0.35, optimizer: "SGD" });
  assert.equal(p.preset, "tiny");
  const d = plan();
  assert.equal(d.preset, "small");
  assert.deepEqual(d.settings, PRESETS.small);
});

Deno.test("planTrain() sets every batch norm's decay of the spec to --batch-norm-decay", () => {
  const p = plan("--preset=tiny", "--batch-norm-decay=0.75");
  const norms = p.spec.nodes.filter((n) => n.op === "batchNorm");
  assert.ok(norms.length > 0);
  for (const n of norms) assert.equal((n as { decay?: number }).decay, 0.75);
  assert.equal(p.spec.nodes.length, plan("--preset=tiny").spec.nodes.length);
});

Deno.test("planTrain() trains on synthetic faces and validates on synthetic pairs by default", () => {
  const p = plan("--preset=tiny", "--seed=9");
  assert.deepEqual(p.data, {
    kind: "synthetic",
    seed: 9,
    identities: PRESETS.tiny.trainIdentities,
    imagesPerIdentity: PRESETS.tiny.imagesPerIdentity,
  });
  assert.deepEqual(p.pairs, {
    kind: "synthetic",
    seed: 9,
    identities: PRESETS.tiny.valIdentities,
    imagesPerIdentity: PRESETS.tiny.valImagesPerIdentity,
    folds: PRESETS.tiny.lfwNrofFolds,
    pairsPerFold: PRESETS.tiny.valPairsPerFold,
  });
  assert.equal(p.out, undefined);
  assert.equal(p.resume, undefined);
});

Deno.test("planTrain() validates a data folder without pairs on held-out identities", () => {
  const p = plan("--data-dir=faces", "--min-nrof-images-per-class=3", "--random-crop");
  assert.deepEqual(p.data, { kind: "folder", dir: "faces", minNrofImagesPerClass: 3 });
  assert.deepEqual(p.pairs, {
    kind: "held-out",
    request: 0.2,
    seed: PRESETS.small.seed,
    folds: 10,
    pairsPerFold: PRESETS.small.valPairsPerFold,
  });
  assert.deepEqual(plan("--data-dir=faces", "--validation-identities=3").pairs, {
    ...p.pairs,
    request: 3,
  });
  assert.throws(
    () =>
      plan("--data-dir=faces", "--lfw-pairs=p.txt", "--lfw-dir=lfw", "--validation-identities=3"),
    /--validation-identities/,
  );
  assert.equal(p.images.randomCrop, true);
  assert.equal(p.images.randomFlip, false);
});

Deno.test("planTrain() takes the pairs file's fold count unless --lfw-nrof-folds is explicit", () => {
  const lfw = ["--lfw-pairs=pairs.txt", "--lfw-dir=lfw"];
  const a = plan(...lfw);
  assert.deepEqual(a.pairs, {
    kind: "lfw",
    pairsFile: "pairs.txt",
    dir: "lfw",
    allowMissing: false,
    nrofFolds: null,
  });
  const b = plan(...lfw, "--lfw-nrof-folds=5", "--allow-missing");
  assert.equal(b.pairs.kind === "lfw" && b.pairs.nrofFolds, 5);
  assert.equal(b.pairs.kind === "lfw" && b.pairs.allowMissing, true);
});

Deno.test("planTrain() validates held-out identities of a data folder in --lfw-nrof-folds folds", () => {
  const p = plan("--data-dir=d", "--lfw-nrof-folds=2");
  assert.equal(p.pairs.kind, "held-out");
  assert.equal(p.pairs.kind === "held-out" && p.pairs.folds, 2);
});

Deno.test("planTrain() writes into the resumed run when --out is not given", () => {
  assert.equal(plan("--resume=runs/a").out, "runs/a");
  assert.equal(plan("--resume=runs/a", "--out=runs/b").out, "runs/b");
  assert.equal(plan("--out=runs/b").resume, undefined);
});

Deno.test("planTrain() uses the staircase decay, or the schedule file when one is given", () => {
  assert.deepEqual(plan("--preset=tiny").learningRate, {
    kind: "decay",
    learningRate: PRESETS.tiny.learningRate,
    decaySteps: PRESETS.tiny.learningRateDecayEpochs * PRESETS.tiny.epochSize,
    decayRate: PRESETS.tiny.learningRateDecayFactor,
  });
  assert.deepEqual(plan("--learning-rate-schedule-file=lr.txt").learningRate, {
    kind: "schedule",
    file: "lr.txt",
  });
  // The reference implementation's spelling: --learning-rate -1 selects the file.
  assert.deepEqual(
    plan("--learning-rate=-1", "--learning-rate-schedule-file=lr.txt").learningRate,
    { kind: "schedule", file: "lr.txt" },
  );
});

Deno.test("planTrain() refuses contradictory flags with a usage error naming them", () => {
  const cases: [string[], RegExp][] = [
    [["--batch-size=10"], /--batch-size must be a multiple of 3, got 10/],
    [["--random-crop"], /--random-crop has no effect without --data-dir/],
    [["--random-flip"], /--random-flip has no effect without --data-dir/],
    [["--lfw-pairs=p.txt"], /--lfw-pairs and --lfw-dir go together/],
    [["--lfw-dir=lfw"], /--lfw-pairs and --lfw-dir go together/],
    [["--validation-set-split-ratio=0.2"], /--validation-set-split-ratio has no effect with/],
    [
      ["--learning-rate=-1"],
      /--learning-rate must be > 0 without --learning-rate-schedule-file, got -1 \(-1 means: take the rates from the schedule file\)/,
    ],
    [
      ["--learning-rate=0"],
      /--learning-rate must be > 0 without --learning-rate-schedule-file, got 0$/,
    ],
    [
      ["--learning-rate=0.1", "--learning-rate-schedule-file=lr.txt"],
      /--learning-rate has no effect with --learning-rate-schedule-file/,
    ],
    [["extra"], /train takes no positional arguments, got "extra"/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => plan(...args), (e) => e instanceof UsageError && message.test(e.message));
  }
});

Deno.test("trainingOptions() builds the triplet loss from the settings", () => {
  const p = plan("--preset=tiny", "--alpha=0.4", "--moving-average-decay=0");
  assert.deepEqual(trainingOptions(p, { identities: 3 }), {
    loss: { kind: "triplet", alpha: 0.4 },
    optimizer: { name: PRESETS.tiny.optimizer },
    weightDecay: PRESETS.tiny.weightDecay,
    movingAverageDecay: null,
  });
});

Deno.test("trainingOptions() builds softmax and arcface over the loaded identities", () => {
  const soft = trainingOptions(
    plan("--loss=softmax", "--center-loss-factor=0.01", "--prelogits-norm-p=2"),
    { identities: 12 },
  );
  assert.deepEqual(soft.loss, {
    kind: "softmax",
    numClasses: 12,
    centerLossFactor: 0.01,
    centerLossAlfa: 0.95,
    prelogitsNormLossFactor: 0,
    prelogitsNormP: 2,
  });
  const arc = trainingOptions(plan("--loss=arcface", "--margin=0.3", "--scale=16"), {
    identities: 5,
  });
  assert.equal(arc.loss.kind, "softmax");
  assert.deepEqual(arc.loss.kind === "softmax" && arc.loss.arcface, { margin: 0.3, scale: 16 });
  assert.equal(soft.movingAverageDecay, PRESETS.small.movingAverageDecay);
});

Deno.test("epochLearningRate() halves the rate every decay period of global steps", () => {
  const p = plan(
    "--preset=tiny",
    "--learning-rate=0.2",
    "--learning-rate-decay-factor=0.5",
    "--learning-rate-decay-epochs=2",
    "--epoch-size=10",
  ).learningRate;
  const at = (globalStep: number) => epochLearningRate(p, { epoch: 0, globalStep, schedule: null });
  assert.deepEqual([0, 19, 20, 39, 40, 60].map(at), [0.2, 0.2, 0.1, 0.1, 0.05, 0.025]);
});

Deno.test("epochLearningRate() follows the schedule by epoch, ignoring the global step", () => {
  const p = plan("--learning-rate-schedule-file=lr.txt").learningRate;
  const schedule = parseSchedule("0: 0.1\n2: 0.01\n4: -1\n");
  const at = (epoch: number) => epochLearningRate(p, { epoch, globalStep: 999, schedule });
  assert.deepEqual([0, 1, 2, 3, 4].map(at), [0.1, 0.1, 0.01, 0.01, -1]);
  assert.throws(
    () => epochLearningRate(p, { epoch: 0, globalStep: 0, schedule: null }),
    RangeError,
  );
});

Deno.test("validatesHeldOut() validates softmax runs every n epochs and after the last", () => {
  const p = plan("--loss=softmax", "--validate-every-n-epochs=3", "--max-nrof-epochs=7");
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((e) => validatesHeldOut(p, e, 4)),
    [false, false, true, false, false, true, true],
  );
  assert.equal(validatesHeldOut(p, 2, 0), false, "nothing held out: never");
  assert.equal(validatesHeldOut(plan("--max-nrof-epochs=1"), 0, 4), false, "triplet: never");
});

Deno.test("every train flag has help text", () => {
  for (const [name, spec] of Object.entries(TRAIN_FLAGS)) {
    assert.ok(spec.help.length > 3, `--${name}`);
  }
});
