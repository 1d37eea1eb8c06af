/**
 * What a training run leaves in its directory besides checkpoints, so that a
 * report can be drawn from the directory alone:
 *
 * - `metrics.jsonl`: one line per epoch (loss, triplets, accuracy, VAL, AUC, ...);
 * - `steps.jsonl`: one line per training step ({@link StepRecord});
 * - `validation.json`: the last validation ({@link ValidationRecord}): the
 *   averaged ROC, the thresholds chosen per fold, every pair's distance, and
 *   a 2-D PCA map of the validation images' embeddings;
 * - the latest checkpoint's `checkpoint.json`, whose `config` holds the settings.
 *
 * @module
 */

import {
  appendJsonLines,
  readTextFileBounded,
  removeWriteLeftovers,
  writeFileAtomic,
} from "./atomic.ts";
import { basename, dirname, join } from "node:path";
import type { PairValidation, RefPair } from "../core/validate.ts";
import { pca } from "../core/pure/pca.ts";
import { parseSyntheticRef } from "../core/synthetic/mod.ts";
import { CHECKPOINT_FILES, type JsonValue, latestCheckpoint } from "./checkpoint.ts";

/**
 * The per-epoch metrics file of a run directory.
 *
 * @category Reports
 */
export const METRICS_FILE = "metrics.jsonl";
/**
 * The per-step file of a run directory.
 *
 * @category Reports
 */
export const STEPS_FILE = "steps.jsonl";
/**
 * The last validation's file of a run directory.
 *
 * @category Reports
 */
export const VALIDATION_FILE = "validation.json";
/**
 * The format version of {@link ValidationRecord}.
 *
 * @category Reports
 */
export const VALIDATION_FORMAT = 1;

/**
 * One training step, one line of `steps.jsonl`.
 *
 * @category Reports
 */
export interface StepRecord {
  /** The epoch (1-based). */
  readonly epoch: number;
  /** The global step after this update. */
  readonly step: number;
  /** The loss of the step's mini-batch. */
  readonly loss: number;
  /** The triplets selected in the step's round (null for classifier losses). */
  readonly triplets: number | null;
  /** The learning rate of the epoch. */
  readonly learningRate: number;
}

/**
 * The metrics of one epoch as the report reads them (a line of `metrics.jsonl`).
 *
 * @category Reports
 */
export interface EpochRecord {
  /** The epoch (1-based). */
  readonly epoch: number;
  /** The global step at its end. */
  readonly step: number;
  /** Mean training loss. */
  readonly loss: number;
  /** Mean triplets per round (0 for classifier losses). */
  readonly triplets: number;
  /** Validation accuracy (null or NaN when not validated). */
  readonly accuracy: number | null;
  /** Validation rate at the FAR target. */
  readonly val: number | null;
  /** Area under the ROC. */
  readonly auc: number | null;
  /** Equal error rate. */
  readonly eer: number | null;
  /** Any other field of the line. */
  readonly [key: string]: JsonValue | undefined;
}

/**
 * The last validation of a run, the content of `validation.json`.
 *
 * @category Reports
 */
export interface ValidationRecord {
  /** {@link VALIDATION_FORMAT}. */
  readonly format: number;
  /** The epoch after which it was computed. */
  readonly epoch: number;
  /** The global step at that time. */
  readonly step: number;
  /** The ROC thresholds. */
  readonly thresholds: number[];
  /** True positive rate per threshold, averaged over the folds. */
  readonly tpr: number[];
  /** False positive rate per threshold, averaged over the folds. */
  readonly fpr: number[];
  /** The accuracy threshold chosen on each fold's training pairs. */
  readonly thresholdsChosen: number[];
  /** The VAL threshold interpolated on each fold's training pairs. */
  readonly valThresholds: number[];
  /** Mean accuracy over the folds. */
  readonly accuracy: number;
  /** Validation rate at {@link ValidationRecord.farTarget}. */
  readonly val: number;
  /** The FAR target of VAL. */
  readonly farTarget: number;
  /** Area under the ROC. */
  readonly auc: number;
  /** Equal error rate. */
  readonly eer: number;
  /** Every pair's distance and whether it is a same-identity pair. */
  readonly pairs: { readonly distance: number[]; readonly same: boolean[] };
  /** The validation images on the first two principal axes of their embeddings. */
  readonly map: {
    /** One identity label per image. */
    readonly labels: string[];
    /** First principal coordinate per image. */
    readonly x: number[];
    /** Second principal coordinate per image (0 for 1-d embeddings). */
    readonly y: number[];
    /** Variance along each of the two axes. */
    readonly explainedVariance: number[];
    /** Total variance of the embeddings. */
    readonly totalVariance: number;
  };
}

/**
 * Everything a run directory tells about its run.
 *
 * @category Reports
 */
export interface RunLog {
  /** The run directory. */
  readonly dir: string;
  /** The lines of `metrics.jsonl`. */
  readonly epochs: EpochRecord[];
  /** The lines of `steps.jsonl` (empty for runs from before it was written). */
  readonly steps: StepRecord[];
  /** The last validation, or null when the run has none. */
  readonly validation: ValidationRecord | null;
  /** The latest checkpoint's `checkpoint.json`, or null when there is none. */
  readonly checkpoint: { readonly path: string; readonly meta: Record<string, JsonValue> } | null;
}

/**
 * The identity of a validation image reference: the identity number of a
 * synthetic reference, else the name of the image's folder.
 *
 * @param ref A synthetic reference or a file path.
 * @returns The identity label.
 * @example
 * ```ts
 * import { identityOfRef } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(identityOfRef("syn:validation:12:3"), "12");
 * assert.equal(identityOfRef("lfw/Ann_Smith/Ann_Smith_0001.jpg"), "Ann_Smith");
 * ```
 *
 * @category Reports
 */
export function identityOfRef(ref: string): string {
  if (ref.startsWith("syn:")) return String(parseSyntheticRef(ref).identity);
  return basename(dirname(ref));
}

/** Six significant digits: the plots need no more, and the file stays small. */
function short(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(6)) : v;
}

/**
 * Builds the `validation.json` record of a validation: curves, per-fold
 * thresholds, pair distances and the PCA map of the embeddings.
 *
 * @param validation The validation (report, embeddings, distances).
 * @param pairs The pairs it was computed on (for the same/different flags).
 * @param at The epoch and the global step.
 * @returns The record.
 * @throws {RangeError} When the pairs do not match the validation's distances.
 * @example
 * ```ts
 * import { validationRecord } from "@facenet-deno/facenet/io";
 * import { evaluate } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const e1 = { rows: 4, cols: 2, data: new Float32Array([1, 0, 1, 0, 0, 1, 0, 1]) };
 * const e2 = { rows: 4, cols: 2, data: new Float32Array([1, 0, 0, 1, 0, 1, 1, 0]) };
 * const same = [true, false, true, false];
 * const pairs = same.map((s, i) => ({ a: `a/p${i}/1.png`, b: `b/p${i}/2.png`, same: s }));
 * const record = validationRecord({
 *   report: evaluate(e1, e2, same, { nrofFolds: 2 }),
 *   refs: ["x/A/1.png", "x/B/1.png"],
 *   embeddings: { rows: 2, cols: 2, data: new Float32Array([1, 0, 0, 1]) },
 *   distances: new Float64Array([0, 2, 0, 2]),
 * }, pairs, { epoch: 3, step: 30 });
 * assert.deepEqual(record.pairs.distance, [0, 2, 0, 2]);
 * assert.deepEqual(record.map.labels, ["A", "B"]);
 * assert.equal(record.tpr.length, record.thresholds.length);
 * ```
 *
 * @category Reports
 */
export function validationRecord(
  validation: PairValidation,
  pairs: readonly RefPair[],
  at: { readonly epoch: number; readonly step: number },
): ValidationRecord {
  const { report, refs, embeddings, distances } = validation;
  if (pairs.length !== distances.length) {
    throw new RangeError(`${pairs.length} pairs but ${distances.length} pair distances`);
  }
  const x: number[] = [];
  const y: number[] = [];
  let explainedVariance = [0, 0];
  let totalVariance = 0;
  if (embeddings.rows >= 2) {
    const map = pca(embeddings);
    const k = map.projection.cols;
    for (let r = 0; r < embeddings.rows; r++) {
      x.push(short(map.projection.data[r * k]!));
      y.push(k > 1 ? short(map.projection.data[r * k + 1]!) : 0);
    }
    explainedVariance = [...map.explainedVariance, 0].slice(0, 2).map(short);
    totalVariance = short(map.totalVariance);
  }
  return {
    format: VALIDATION_FORMAT,
    epoch: at.epoch,
    step: at.step,
    thresholds: [...report.thresholds].map(short),
    tpr: [...report.tpr].map(short),
    fpr: [...report.fpr].map(short),
    thresholdsChosen: report.thresholdsChosen.map(short),
    valThresholds: report.valThresholds.map(short),
    accuracy: report.accuracyMean,
    val: report.val,
    farTarget: report.farTarget,
    auc: report.auc,
    eer: report.eer,
    pairs: { distance: [...distances].map(short), same: pairs.map((p) => p.same) },
    map: { labels: refs.map(identityOfRef), x, y, explainedVariance, totalVariance },
  };
}

/**
 * Appends step records to a run directory's `steps.jsonl`.
 *
 * @param dir The run directory (it must exist).
 * @param records The steps, in order.
 * @example
 * ```ts
 * import { appendSteps, readRunLog } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await appendSteps(dir, [{ epoch: 1, step: 1, loss: 0.5, triplets: 12, learningRate: 0.1 }]);
 * assert.equal((await readRunLog(dir)).steps[0]!.loss, 0.5);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Reports
 */
export async function appendSteps(dir: string, records: readonly StepRecord[]): Promise<void> {
  if (records.length === 0) return;
  // Cuts a torn last line left by a kill before appending (io/atomic.ts).
  await appendJsonLines(join(dir, STEPS_FILE), records);
}

/**
 * Writes (replaces) a run directory's `validation.json`, atomically.
 *
 * @param dir The run directory (it must exist).
 * @param record The record.
 * @example
 * ```ts
 * import { VALIDATION_FILE, writeValidation } from "@facenet-deno/facenet/io";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const empty = { labels: [], x: [], y: [], explainedVariance: [0, 0], totalVariance: 0 };
 * await writeValidation(dir, {
 *   format: 1, epoch: 1, step: 10, thresholds: [0, 1], tpr: [0, 1], fpr: [0, 1],
 *   thresholdsChosen: [0.5], valThresholds: [0.4], accuracy: 0.5, val: 0, farTarget: 1e-3,
 *   auc: 0.5, eer: 0.5, pairs: { distance: [], same: [] }, map: empty,
 * });
 * assert.equal(JSON.parse(await Deno.readTextFile(join(dir, VALIDATION_FILE))).step, 10);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Reports
 */
export async function writeValidation(dir: string, record: ValidationRecord): Promise<void> {
  const path = join(dir, VALIDATION_FILE);
  // A run killed inside this write left its hidden temporary file; the run
  // folder has one writer, so a resumed run removes it.
  await removeWriteLeftovers(path);
  await writeFileAtomic(path, JSON.stringify(record) + "\n");
}

/**
 * Writes what one epoch adds to a run directory besides `metrics.jsonl` and
 * the checkpoint: its steps, and (when it was validated on pairs) the
 * validation record that replaces the previous one.
 *
 * @param dir The run directory (it must exist).
 * @param epoch The epoch's steps and validation.
 * @example
 * ```ts
 * import { logEpoch, readRunLog } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const steps = [{ epoch: 1, step: 1, loss: 0.5, triplets: null, learningRate: 0.1 }];
 * await logEpoch(dir, { epoch: 1, step: 1, steps, validation: null });
 * const run = await readRunLog(dir);
 * assert.equal(run.steps.length, 1);
 * assert.equal(run.validation, null);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Reports
 */
export async function logEpoch(
  dir: string,
  epoch: {
    readonly epoch: number;
    readonly step: number;
    readonly steps: readonly StepRecord[];
    readonly validation:
      | { readonly result: PairValidation; readonly pairs: readonly RefPair[] }
      | null;
  },
): Promise<void> {
  await appendSteps(dir, epoch.steps);
  if (epoch.validation !== null) {
    const { result, pairs } = epoch.validation;
    await writeValidation(
      dir,
      validationRecord(result, pairs, { epoch: epoch.epoch, step: epoch.step }),
    );
  }
}

async function readOptional(path: string): Promise<string | null> {
  try {
    // Regular files only: a FIFO named metrics.jsonl must not hang a report.
    return await readTextFileBounded(path, 1024 ** 3);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function parseJsonLines(text: string | null, path: string): Record<string, JsonValue>[] {
  if (text === null) return [];
  const out: Record<string, JsonValue>[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      // A run killed while writing leaves a partial last line; anything else is corruption.
      if (i >= lines.length - 2) return;
      throw new Error(`${path}:${i + 1}: not JSON (${(error as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new Error(`${path}:${i + 1}: not a JSON object`);
    }
    out.push(value as Record<string, JsonValue>);
  });
  return out;
}

/**
 * Reads what a run directory holds for a report.
 *
 * @param dir The run directory (`train --out`).
 * @returns The epochs, steps, last validation and latest checkpoint metadata.
 * @throws {Error} When the directory does not exist or holds neither
 *   `metrics.jsonl` nor `steps.jsonl`, or a file is corrupt.
 * @example
 * ```ts
 * import { readRunLog } from "@facenet-deno/facenet/io";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(join(dir, "metrics.jsonl"), '{"epoch":1,"step":5,"loss":0.3,"triplets":9,"accuracy":0.7,"val":0.1,"auc":0.8,"eer":0.3}\n');
 * const run = await readRunLog(dir);
 * assert.equal(run.epochs[0]!.accuracy, 0.7);
 * assert.equal(run.validation, null);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Reports
 */
export async function readRunLog(dir: string): Promise<RunLog> {
  try {
    if (!(await Deno.stat(dir)).isDirectory) throw new Error(`${dir} is not a directory`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(`Run directory ${dir} not found`);
    throw error;
  }
  const metricsPath = join(dir, METRICS_FILE);
  const stepsPath = join(dir, STEPS_FILE);
  const metricsText = await readOptional(metricsPath);
  const stepsText = await readOptional(stepsPath);
  if (metricsText === null && stepsText === null) {
    throw new Error(`${dir} holds neither ${METRICS_FILE} nor ${STEPS_FILE}: not a run directory`);
  }
  const epochs = parseJsonLines(metricsText, metricsPath) as unknown as EpochRecord[];
  const steps = parseJsonLines(stepsText, stepsPath) as unknown as StepRecord[];
  const validationPath = join(dir, VALIDATION_FILE);
  const validationText = await readOptional(validationPath);
  let validation: ValidationRecord | null = null;
  if (validationText !== null) {
    try {
      validation = JSON.parse(validationText) as ValidationRecord;
    } catch (error) {
      throw new Error(`${validationPath}: not JSON (${(error as Error).message})`);
    }
    if (validation.format !== VALIDATION_FORMAT) {
      throw new Error(
        `${validationPath}: format ${validation.format} is not the supported ${VALIDATION_FORMAT}`,
      );
    }
  }
  const latest = await latestCheckpoint(dir);
  let checkpoint: RunLog["checkpoint"] = null;
  if (latest !== null) {
    const text = await readOptional(join(latest, CHECKPOINT_FILES.meta));
    if (text !== null) checkpoint = { path: latest, meta: JSON.parse(text) };
  }
  return { dir, epochs, steps, validation, checkpoint };
}
