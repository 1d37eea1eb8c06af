import assert from "node:assert/strict";
import fc from "fast-check";
import {
  describeChoices,
  fitPlanToData,
  parseTrainFlags,
  planTrain,
  REAL_DATA_SCHEDULE,
} from "../cli/train_plan.ts";
import { PRESETS } from "../cli/presets.ts";

const FITTED_FLAGS = [
  "people-per-batch",
  "images-per-person",
  "batch-size",
  "image-size",
  "learning-rate",
  "learning-rate-decay-epochs",
  "learning-rate-decay-factor",
  "max-nrof-epochs",
  "epoch-size",
  "keep-probability",
];

const VALUES: Record<string, string> = {
  "people-per-batch": "3",
  "images-per-person": "3",
  "batch-size": "30",
  "image-size": "96",
  "learning-rate": "0.05",
  "learning-rate-decay-epochs": "7",
  "learning-rate-decay-factor": "0.9",
  "max-nrof-epochs": "3",
  "epoch-size": "5",
  "keep-probability": "0.7",
};

const arbitraryCase = fc.record({
  counts: fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 80 }),
  size: fc.option(fc.integer({ min: 8, max: 300 })),
  explicit: fc.subarray(FITTED_FLAGS),
  loss: fc.constantFrom("triplet", "softmax", "arcface"),
  preset: fc.constantFrom(...Object.keys(PRESETS)),
});

Deno.test("fitPlanToData() caps people and images by the folder, keeps the batch a multiple of 3, and never overrides an explicit flag", () => {
  fc.assert(
    fc.property(arbitraryCase, ({ counts, size, explicit, loss, preset }) => {
      const args = ["--data-dir=d", `--preset=${preset}`, `--loss=${loss}`];
      for (const flag of explicit) {
        if (loss !== "triplet" && ["people-per-batch", "images-per-person"].includes(flag)) {
          continue;
        }
        args.push(`--${flag}=${VALUES[flag]}`);
      }
      const flags = parseTrainFlags(args, { onWarning: () => {} });
      const before = planTrain(flags);
      const { plan, choices } = fitPlanToData(before, flags.explicit, {
        identities: counts.length,
        imagesPerIdentity: counts,
        imageSize: size === null ? null : { width: size, height: size },
      });
      const s = plan.settings;
      const base = before.settings;
      const median = [...counts].sort((a, b) => a - b)[Math.floor((counts.length - 1) / 2)]!;
      if (loss === "triplet" && !flags.explicit.has("people-per-batch")) {
        assert.equal(s.peoplePerBatch, Math.min(base.peoplePerBatch, counts.length));
      }
      if (loss === "triplet" && !flags.explicit.has("images-per-person")) {
        assert.ok(s.imagesPerPerson >= 2 && s.imagesPerPerson <= Math.max(2, median));
        const pairs = s.peoplePerBatch * s.imagesPerPerson * (s.imagesPerPerson - 1) / 2;
        const wanted = base.peoplePerBatch * base.imagesPerPerson * (base.imagesPerPerson - 1) / 2;
        if (s.imagesPerPerson < median) assert.ok(pairs >= wanted);
      }
      if (loss !== "triplet") {
        assert.deepEqual([s.peoplePerBatch, s.imagesPerPerson], [
          base.peoplePerBatch,
          base.imagesPerPerson,
        ]);
      }
      assert.equal(s.batchSize % 3, 0);
      if (!flags.explicit.has("image-size")) {
        assert.ok(s.imageSize <= base.imageSize && s.imageSize >= Math.min(16, base.imageSize));
      }
      for (const flag of flags.explicit) {
        assert.ok(!choices.some((c) => c.flag === flag), `${flag} was explicit`);
      }
      for (const flag of explicit) {
        if (flags.explicit.has(flag)) {
          assert.equal(String((s as unknown as Record<string, number>)[camel(flag)]), VALUES[flag]);
        }
      }
      // The model input and the image pipeline follow the fitted size.
      assert.equal(plan.images.size, s.imageSize);
      assert.equal(plan.spec.nodes[0]!.op === "input" && plan.spec.nodes[0]!.shape[0], s.imageSize);
      for (const choice of choices) assert.ok(choice.why.length > 0);
    }),
  );
});

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
    .replace("maxNrofEpochs", "maxNrofEpochs");
}

Deno.test("fitPlanToData() on 7 Fashion-MNIST classes of 300 28x28 images: triplet rounds of 7 x 10 images", () => {
  const flags = parseTrainFlags(["--data-dir=fmnist/train"]);
  const { plan } = fitPlanToData(planTrain(flags), flags.explicit, {
    identities: 7,
    imagesPerIdentity: new Array(7).fill(300),
    imageSize: { width: 28, height: 28 },
  });
  const s = plan.settings;
  // 7 x C(10, 2) = 315 >= the preset's 45 x C(4, 2) = 270 anchor/positive pairs per round.
  assert.deepEqual([s.peoplePerBatch, s.imagesPerPerson, s.batchSize], [7, 10, 69]);
  assert.equal(s.learningRate, REAL_DATA_SCHEDULE.triplet.learningRate);
  // The synthetic default's batch-norm decay and weight decay are not the ones measured on real data.
  assert.deepEqual([s.batchNormDecay, s.weightDecay], [0.9, 0]);
  assert.notDeepEqual(
    [
      planTrain(parseTrainFlags([])).settings.batchNormDecay,
      planTrain(parseTrainFlags([])).settings.weightDecay,
    ],
    [0.9, 0],
  );
  const explicit = parseTrainFlags(["--data-dir=fmnist/train", "--weight-decay=0.001"]);
  const fitted = fitPlanToData(planTrain(explicit), explicit.explicit, {
    identities: 7,
    imagesPerIdentity: new Array(7).fill(300),
    imageSize: { width: 28, height: 28 },
  });
  assert.equal(fitted.plan.settings.weightDecay, 0.001);
  assert.equal(fitted.plan.settings.batchNormDecay, 0.9);
});

Deno.test("fitPlanToData() on 7 Fashion-MNIST classes of 300 28x28 images picks the measured real-data settings", () => {
  const flags = parseTrainFlags(["--data-dir=fmnist/train", "--loss=softmax"]);
  const { plan, choices } = fitPlanToData(planTrain(flags), flags.explicit, {
    identities: 7,
    imagesPerIdentity: new Array(7).fill(300),
    imageSize: { width: 28, height: 28 },
  });
  const s = plan.settings;
  assert.deepEqual([s.peoplePerBatch, s.imagesPerPerson, s.batchSize, s.imageSize], [
    45,
    4,
    90,
    28,
  ]);
  assert.equal(s.learningRate, REAL_DATA_SCHEDULE.softmax.learningRate);
  assert.equal(s.maxNrofEpochs, REAL_DATA_SCHEDULE.fewIdentities.maxNrofEpochs);
  assert.deepEqual(plan.learningRate, {
    kind: "decay",
    learningRate: 0.1,
    decaySteps: REAL_DATA_SCHEDULE.softmax.learningRateDecayEpochs * s.epochSize,
    decayRate: 0.5,
  });
  assert.deepEqual(
    [plan.images.resize, plan.images.randomCrop, plan.images.randomFlip],
    [32, true, true],
  );
  const lines = describeChoices(choices);
  assert.match(lines[0]!, /an explicit flag wins/);
  assert.ok(
    lines.includes(
      "  --image-size 28: the folder's images are 28x28 (padding to 64 adds only border)",
    ),
  );
});

Deno.test("fitPlanToData() on 5 Fashion-MNIST classes (the no-flag run's 7 less 2 held out) keeps dropout at 0.8 and says why; an explicit flag wins", () => {
  const summary = {
    identities: 5,
    imagesPerIdentity: new Array(5).fill(300),
    imageSize: { width: 28, height: 28 },
  };
  const flags = parseTrainFlags(["--data-dir=fmnist/train"]);
  const { plan, choices } = fitPlanToData(planTrain(flags), flags.explicit, summary);
  assert.equal(REAL_DATA_SCHEDULE.fewIdentities.keepProbability, 0.8);
  assert.equal(plan.settings.keepProbability, 0.8);
  assert.deepEqual([plan.settings.maxNrofEpochs, plan.settings.epochSize], [4, 30]);
  const line = describeChoices(choices).find((l) => l.startsWith("  --keep-probability 0.8: "));
  assert.match(line ?? "", /few identities \(5\).*pixel baseline/);
  const explicit = parseTrainFlags(["--data-dir=fmnist/train", "--keep-probability=0.5"]);
  const kept = fitPlanToData(planTrain(explicit), explicit.explicit, summary);
  assert.equal(kept.plan.settings.keepProbability, 0.5);
  assert.ok(!kept.choices.some((c) => c.flag === "keep-probability"));
});

Deno.test("fitPlanToData() leaves synthetic runs alone, keeps larger or mixed images at the preset's size, and refuses an empty summary", () => {
  const synthetic = parseTrainFlags([]);
  const p = planTrain(synthetic);
  const summary = { identities: 3, imagesPerIdentity: [5, 5, 5], imageSize: null };
  assert.deepEqual(fitPlanToData(p, synthetic.explicit, summary), { plan: p, choices: [] });
  const flags = parseTrainFlags(["--data-dir=d"]);
  for (const imageSize of [{ width: 250, height: 250 }, { width: 28, height: 30 }, null]) {
    const { plan } = fitPlanToData(planTrain(flags), flags.explicit, { ...summary, imageSize });
    assert.equal(plan.settings.imageSize, PRESETS.small.imageSize);
    assert.equal(plan.settings.batchSize, 15);
    assert.equal(plan.images.resize, imageSize?.width === 250 ? 73 : null);
  }
  assert.throws(
    () =>
      fitPlanToData(planTrain(flags), flags.explicit, {
        identities: 0,
        imagesPerIdentity: [],
        imageSize: null,
      }),
    /at least 1 identity, got 0/,
  );
});
