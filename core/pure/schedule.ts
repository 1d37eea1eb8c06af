/**
 * Learning-rate schedules of the reference implementation: exponential decay (staircase) and the
 * schedule file (`epoch: lr` lines).
 *
 * @module
 */

/**
 * Options of {@link exponentialDecay}.
 *
 * @category Training
 */
export interface ExponentialDecayOptions {
  /** The initial learning rate. */
  readonly learningRate: number;
  /** Steps per decay (the reference implementation: `learning_rate_decay_epochs * epoch_size`), > 0. */
  readonly decaySteps: number;
  /** Factor per decay period (the reference implementation's `learning_rate_decay_factor`), > 0. */
  readonly decayRate: number;
  /** Decay in whole periods (the reference implementation: true); default true. */
  readonly staircase?: boolean;
}

/**
 * TF's `exponential_decay`: `lr * rate ^ (step / decaySteps)`, with the
 * exponent floored when `staircase`.
 *
 * @param step The global step (>= 0).
 * @param options The decay parameters.
 * @returns The learning rate at `step`.
 * @throws {RangeError} When a value is out of range.
 * @example
 * ```ts
 * import { exponentialDecay } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const o = { learningRate: 0.1, decaySteps: 100, decayRate: 0.5 };
 * assert.equal(exponentialDecay(99, o), 0.1);
 * assert.equal(exponentialDecay(100, o), 0.05);
 * ```
 *
 * @category Training
 */
export function exponentialDecay(step: number, options: ExponentialDecayOptions): number {
  if (!Number.isInteger(step) || step < 0) {
    throw new RangeError(`Step must be a non-negative integer, got ${step}`);
  }
  if (!(options.decaySteps > 0)) {
    throw new RangeError(`Decay steps must be positive, got ${options.decaySteps}`);
  }
  if (!(options.decayRate > 0)) {
    throw new RangeError(`Decay rate must be positive, got ${options.decayRate}`);
  }
  const p = step / options.decaySteps;
  return options.learningRate *
    options.decayRate ** ((options.staircase ?? true) ? Math.floor(p) : p);
}

/**
 * One entry of a schedule file.
 *
 * @category Training
 */
export interface ScheduleEntry {
  /** The first epoch the rate applies to. */
  readonly epoch: number;
  /** The learning rate; <= 0 ends training. */
  readonly learningRate: number;
}

/**
 * Parses the reference implementation's learning-rate schedule file: one `epoch: lr` per line,
 * `#` starts a comment, blank lines are skipped, and a rate `-` means -1
 * (stop).
 *
 * @param text The file's contents.
 * @returns The entries in file order.
 * @throws {SyntaxError} When a line is malformed, naming the line number and its text.
 * @throws {RangeError} When no entry exists or epochs do not increase.
 * @throws {TypeError} When `text` is not a string.
 * @example
 * ```ts
 * import { parseSchedule } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const s = parseSchedule("# reference implementation\n0: 0.05\n60: 0.005\n91: -\n");
 * assert.deepEqual(s, [
 *   { epoch: 0, learningRate: 0.05 },
 *   { epoch: 60, learningRate: 0.005 },
 *   { epoch: 91, learningRate: -1 },
 * ]);
 * ```
 *
 * @category Training
 */
export function parseSchedule(text: string): ScheduleEntry[] {
  if (typeof text !== "string") {
    throw new TypeError(
      `Schedule text must be a string (the file's contents), got ${
        text === null ? "null" : typeof text
      }`,
    );
  }
  const entries: ScheduleEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.split("#")[0]!.trim();
    if (line === "") return;
    const m = /^(\d+)\s*:\s*(\S+)$/.exec(line);
    const bad = () =>
      new SyntaxError(`Schedule line ${i + 1} "${raw.trim()}" is not "epoch: learning_rate"`);
    if (m === null) throw bad();
    const epoch = Number(m[1]);
    const lr = m[2] === "-" ? -1 : Number(m[2]);
    if (!Number.isSafeInteger(epoch) || !Number.isFinite(lr)) throw bad();
    const prev = entries[entries.length - 1];
    if (prev !== undefined && epoch <= prev.epoch) {
      throw new RangeError(
        `Schedule line ${i + 1}: epoch ${epoch} does not follow epoch ${prev.epoch}`,
      );
    }
    entries.push({ epoch, learningRate: lr });
  });
  if (entries.length === 0) throw new RangeError("Schedule has no entries");
  return entries;
}

/**
 * The rate of the last entry whose epoch is <= `epoch` (the reference implementation's rule).
 *
 * @param schedule Parsed entries (increasing epochs).
 * @param epoch The current epoch (>= 0).
 * @returns The learning rate; <= 0 means training ends.
 * @throws {RangeError} When `epoch` precedes the first entry.
 * @example
 * ```ts
 * import { parseSchedule, scheduledRate } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const s = parseSchedule("0: 0.05\n60: 0.005\n91: -1");
 * assert.equal(scheduledRate(s, 59), 0.05);
 * assert.equal(scheduledRate(s, 60), 0.005);
 * assert.ok(scheduledRate(s, 95) <= 0);
 * ```
 *
 * @category Training
 */
export function scheduledRate(schedule: readonly ScheduleEntry[], epoch: number): number {
  let rate: number | undefined;
  for (const e of schedule) {
    if (e.epoch <= epoch) rate = e.learningRate;
  }
  if (rate === undefined) {
    throw new RangeError(`Schedule has no entry for epoch ${epoch} (first: ${schedule[0]?.epoch})`);
  }
  return rate;
}
