import assert from "node:assert/strict";
import fc from "fast-check";
import { describeChoices, fitSettings, REAL_DATA_SCHEDULE } from "../cli/fit_settings.ts";
import { PRESETS, SMALL_PRESET } from "../cli/presets.ts";

const FITTED_FLAGS = [
  "people-per-batch",
  "images-per-person",
  "batch-size",
  "image-size",
  "learning-rate",
  "learning-rate-decay-epochs",
  "learning-rate-decay-factor",
];

const arbitraryData = fc.record({
  counts: fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 80 }),
  size: fc.option(fc.integer({ min: 8, max: 300 })),
  explicit: fc.subarray(FITTED_FLAGS),
  loss: fc.constantFrom("triplet" as const, "softmax" as const, "arcface" as const),
  preset: fc.constantFrom(...(Object.keys(PRESETS) as (keyof typeof PRESETS)[])),
});

Deno.test("fitSettings() caps people and images by the folder, keeps the batch a multiple of 3, and never overrides an explicit flag", () => {
  fc.assert(
    fc.property(arbitraryData, ({ counts, size, explicit, loss, preset }) => {
      const base = PRESETS[preset];
      const { settings, choices } = fitSettings(base, {
        data: {
          identities: counts.length,
          imagesPerIdentity: counts,
          imageSize: size === null ? null : { width: size, height: size },
        },
        loss,
        explicit: new Set(explicit),
      });
      const median = [...counts].sort((a, b) => a - b)[Math.floor((counts.length - 1) / 2)]!;
      if (!explicit.includes("people-per-batch")) {
        assert.equal(settings.peoplePerBatch, Math.min(base.peoplePerBatch, counts.length));
      }
      if (!explicit.includes("images-per-person")) {
        assert.ok(settings.imagesPerPerson <= Math.max(2, median));
        assert.ok(settings.imagesPerPerson >= 2);
      }
      if (!explicit.includes("batch-size")) assert.equal(settings.batchSize % 3, 0);
      if (!explicit.includes("image-size")) {
        assert.ok(settings.imageSize <= base.imageSize);
        assert.ok(settings.imageSize >= 16);
      }
      for (const flag of explicit) assert.ok(!choices.some((c) => c.flag === flag), flag);
      // Every change is listed with a reason, and nothing else changed.
      for (const choice of choices) assert.ok(choice.why.length > 0);
      const changed = (Object.keys(base) as (keyof typeof base)[]).filter((k) =>
        settings[k] !== base[k]
      );
      assert.equal(changed.length, choices.length);
    }),
  );
});

Deno.test("fitSettings() on 7 Fashion-MNIST classes of 300 28x28 images picks the measured real-data schedule", () => {
  const fitted = fitSettings(SMALL_PRESET, {
    data: {
      identities: 7,
      imagesPerIdentity: new Array(7).fill(300),
      imageSize: { width: 28, height: 28 },
    },
    loss: "softmax",
    explicit: new Set(),
  });
  assert.equal(fitted.settings.peoplePerBatch, 7);
  assert.equal(fitted.settings.imagesPerPerson, 26);
  assert.equal(fitted.settings.batchSize, 90);
  assert.equal(fitted.settings.imageSize, 28);
  assert.equal(fitted.settings.learningRate, REAL_DATA_SCHEDULE.softmax.learningRate);
  const lines = describeChoices(fitted);
  assert.match(lines[0]!, /an explicit flag wins/);
  assert.ok(
    lines.includes("  --people-per-batch 7: the folder has 7 training identities (preset 45)"),
  );
});

Deno.test("fitSettings() keeps a folder's larger or unequal images at the preset's size, and refuses an empty summary", () => {
  for (const imageSize of [{ width: 250, height: 250 }, { width: 28, height: 30 }, null]) {
    const { settings } = fitSettings(SMALL_PRESET, {
      data: { identities: 3, imagesPerIdentity: [5, 5, 5], imageSize },
      loss: "triplet",
      explicit: new Set(),
    });
    assert.equal(settings.imageSize, SMALL_PRESET.imageSize);
    assert.equal(settings.batchSize, 15);
  }
  assert.throws(
    () =>
      fitSettings(SMALL_PRESET, {
        data: { identities: 0, imagesPerIdentity: [], imageSize: null },
        loss: "triplet",
        explicit: new Set(),
      }),
    /at least 1 identity, got 0/,
  );
});
