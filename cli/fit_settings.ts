/**
 * `train --data-dir`: fits the preset's settings to the folder it trains on,
 * and says what it chose and why. Pure: the shell measures the folder
 * (identities, images per identity, image size) and passes the numbers in.
 *
 * The rules (every setting the user gave explicitly is kept as given):
 * - people per batch: at most the training identities;
 * - images per person: enough that a round still holds the preset's
 *   `people x images` images, at most the median identity's image count;
 * - batch size: a multiple of 3 no larger than a round;
 * - image size: the folder's own size when its images are square, one size and
 *   smaller than the preset's (nano takes any size >= 16; padding a 28 px image
 *   to 64 only adds border);
 * - learning rate and schedule: {@link REAL_DATA_SCHEDULE}, measured on
 *   Fashion-MNIST (README "Real data").
 *
 * @module
 */

import type { TrainSettings } from "./presets.ts";

/** What the shell measured about the training folder. */
export interface DataSummary {
  /** Training identities (after holding out validation identities). */
  readonly identities: number;
  /** Image count of each training identity. */
  readonly imagesPerIdentity: readonly number[];
  /** The images' size when every probed image has the same one; null when they differ or are unknown. */
  readonly imageSize: { readonly width: number; readonly height: number } | null;
}

/** One choice made by {@link fitSettings}. */
export interface SettingChoice {
  /** The setting's flag name (kebab-case, as on the command line). */
  readonly flag: string;
  /** The chosen value. */
  readonly value: number;
  /** Why, in a few words. */
  readonly why: string;
}

/** The outcome of {@link fitSettings}. */
export interface FittedSettings {
  /** The settings to train with. */
  readonly settings: TrainSettings;
  /** The settings that differ from the preset's, in flag order, with the reason. */
  readonly choices: readonly SettingChoice[];
}

/** The learning rate and schedule for real images, per loss (Adam; measured, README "Real data"). */
export const REAL_DATA_SCHEDULE = {
  triplet: { learningRate: 0.1, learningRateDecayEpochs: 4, learningRateDecayFactor: 0.5 },
  softmax: { learningRate: 0.1, learningRateDecayEpochs: 4, learningRateDecayFactor: 0.5 },
} as const;

const FLAGS: Readonly<Record<string, keyof TrainSettings>> = {
  "people-per-batch": "peoplePerBatch",
  "images-per-person": "imagesPerPerson",
  "batch-size": "batchSize",
  "image-size": "imageSize",
  "learning-rate": "learningRate",
  "learning-rate-decay-epochs": "learningRateDecayEpochs",
  "learning-rate-decay-factor": "learningRateDecayFactor",
};

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

/**
 * Fits a preset's settings to a training folder.
 *
 * @param preset The preset's settings with the explicit flags already applied.
 * @param options The folder's summary, the loss, and the flags given explicitly (kebab-case).
 * @returns The fitted settings and, for each changed setting, the reason.
 * @throws {RangeError} When the summary has no identity or an identity count that disagrees with its image counts.
 * @example Seven identities of 300 images, 28 px
 * ```ts
 * import { fitSettings } from "./fit_settings.ts";
 * import { SMALL_PRESET } from "./presets.ts";
 * import assert from "node:assert/strict";
 *
 * const { settings, choices } = fitSettings(SMALL_PRESET, {
 *   data: { identities: 7, imagesPerIdentity: new Array(7).fill(300), imageSize: { width: 28, height: 28 } },
 *   loss: "triplet",
 *   explicit: new Set(["batch-size"]),
 * });
 * assert.equal(settings.peoplePerBatch, 7);
 * assert.equal(settings.imagesPerPerson, 26); // 7 x 26 >= the preset's 45 x 4 images per round
 * assert.equal(settings.imageSize, 28);
 * assert.equal(settings.batchSize, SMALL_PRESET.batchSize); // explicit: kept
 * assert.ok(choices.some((c) => c.flag === "people-per-batch"));
 * ```
 */
export function fitSettings(
  preset: TrainSettings,
  options: {
    readonly data: DataSummary;
    readonly loss: "triplet" | "softmax" | "arcface";
    readonly explicit: ReadonlySet<string>;
  },
): FittedSettings {
  const { data, explicit } = options;
  if (!Number.isSafeInteger(data.identities) || data.identities < 1) {
    throw new RangeError(
      `The training folder must hold at least 1 identity, got ${data.identities}`,
    );
  }
  if (data.imagesPerIdentity.length !== data.identities) {
    throw new RangeError(
      `Image counts of ${data.imagesPerIdentity.length} identities were given for ${data.identities}`,
    );
  }
  const next: Record<string, unknown> = { ...preset };
  const choices: SettingChoice[] = [];
  const choose = (flag: string, value: number, why: string) => {
    const key = FLAGS[flag] as keyof TrainSettings;
    if (explicit.has(flag) || preset[key] === value) return;
    next[key] = value;
    choices.push({ flag, value, why });
  };
  const people = Math.min(preset.peoplePerBatch, data.identities);
  choose(
    "people-per-batch",
    people,
    `the folder has ${data.identities} training identities (preset ${preset.peoplePerBatch})`,
  );
  const ppb = next["peoplePerBatch"] as number;
  const round = preset.peoplePerBatch * preset.imagesPerPerson;
  const typical = median(data.imagesPerIdentity);
  const perPerson = Math.max(
    2,
    Math.min(Math.max(preset.imagesPerPerson, Math.ceil(round / ppb)), typical),
  );
  choose(
    "images-per-person",
    perPerson,
    `a round of ${ppb} people keeps ~${round} images (the preset's ${preset.peoplePerBatch} x ` +
      `${preset.imagesPerPerson}), at most the median identity's ${typical} images`,
  );
  const ipp = next["imagesPerPerson"] as number;
  const roundImages = ppb * Math.min(ipp, typical);
  const batch = Math.max(3, Math.min(preset.batchSize, 3 * Math.floor(roundImages / 3)));
  choose("batch-size", batch, `a multiple of 3, at most one round's ${roundImages} images`);
  const size = data.imageSize;
  if (
    preset.model === "nano" && size !== null && size.width === size.height &&
    size.width >= 16 && size.width < preset.imageSize
  ) {
    choose(
      "image-size",
      size.width,
      `the folder's images are ${size.width}x${size.height} (padding to ${preset.imageSize} adds only border)`,
    );
  }
  const schedule = REAL_DATA_SCHEDULE[options.loss === "triplet" ? "triplet" : "softmax"];
  const measured = "measured on Fashion-MNIST (README, Real data)";
  choose("learning-rate", schedule.learningRate, `real images: ${measured}`);
  choose(
    "learning-rate-decay-epochs",
    schedule.learningRateDecayEpochs,
    `real images: ${measured}`,
  );
  choose(
    "learning-rate-decay-factor",
    schedule.learningRateDecayFactor,
    `real images: ${measured}`,
  );
  return { settings: next as unknown as TrainSettings, choices };
}

/**
 * The lines `train` prints about what {@link fitSettings} chose.
 *
 * @param fitted The outcome of {@link fitSettings}.
 * @returns One line per choice (`--flag value: why`), after a heading; none when nothing changed.
 * @example
 * ```ts
 * import { describeChoices } from "./fit_settings.ts";
 * import assert from "node:assert/strict";
 *
 * const lines = describeChoices({ settings: {} as never, choices: [{ flag: "people-per-batch", value: 7, why: "7 identities" }] });
 * assert.deepEqual(lines, ["settings fitted to the data (an explicit flag wins):", "  --people-per-batch 7: 7 identities"]);
 * ```
 */
export function describeChoices(fitted: FittedSettings): string[] {
  if (fitted.choices.length === 0) return [];
  return [
    "settings fitted to the data (an explicit flag wins):",
    ...fitted.choices.map((c) => `  --${c.flag} ${c.value}: ${c.why}`),
  ];
}
