/**
 * Training checkpoints: one directory per checkpoint, `<runDir>/ckpt-<step>`,
 * holding
 *
 * - `model.safetensors`: every tensor of a {@link ModelState} (`params/<name>`,
 *   `stats/<name>`, `optimizer/<slot>/<name>`, `ema/<name>`), float32, in the
 *   safetensors format (see `io/safetensors.ts`); its `__metadata__` repeats
 *   the step, the optimizer name, iterations and slot names, and whether
 *   moving averages are present, so the file is self-describing;
 * - `checkpoint.json`: `{format: 1, model, embeddingSize, step, epoch,
 *   optimizer: {name, iterations}, rng, config, created, tensorsSha256,
 *   metrics?}`.
 *
 * A checkpoint is written into a temporary directory (`.tmp-ckpt-<step>-<id>`),
 * every file is fsynced, then the directory is renamed to `ckpt-<step>`: a
 * crash leaves either the previous checkpoints or the new one, never a half
 * written `ckpt-*`; the next save removes such leftovers. Loading verifies the
 * SHA-256 of `model.safetensors` recorded in `checkpoint.json` and that every
 * tensor (parameters, statistics, optimizer slots, moving averages) is finite;
 * saving refuses a state with a non-finite tensor, so a diverged run never
 * replaces (or prunes) good checkpoints.
 *
 * @module
 */

import { basename, join } from "node:path";
import type { ModelState } from "../core/backend.ts";
import type { NamedTensors, OptimizerName, RngState, Tensor } from "../core/types.ts";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
import { randomId, readFileBounded, syncFolder, writeNewFileSynced } from "./atomic.ts";

/** The largest checkpoint file read (16 GiB): anything larger is not one of ours. */
const MAX_CHECKPOINT_FILE_BYTES = 16 * 1024 ** 3;

/**
 * The checkpoint format version this module writes and reads.
 *
 * @example
 * ```ts
 * import { CHECKPOINT_FILES, CHECKPOINT_FORMAT, saveCheckpoint } from "@facenet-deno/facenet/io";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const state = {
 *   params: { "dense/weights": { shape: [2], data: new Float32Array([0.5, -1]) } },
 *   stats: {},
 *   optimizer: { name: "SGD" as const, slots: {}, iterations: 3 },
 *   ema: null,
 *   step: 3,
 * };
 * const rng = { key: [1, 2] as [number, number], counter: 0 };
 * const meta = { model: "dummy", embeddingSize: 2, epoch: 1, rng, config: {} };
 * const path = await saveCheckpoint(dir, { state, meta });
 * const json = JSON.parse(await Deno.readTextFile(join(path, CHECKPOINT_FILES.meta)));
 * assert.equal(json.format, CHECKPOINT_FORMAT);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Checkpoints and files
 */
export const CHECKPOINT_FORMAT = 1;

/**
 * File names inside a checkpoint directory.
 *
 * @example
 * ```ts
 * import { CHECKPOINT_FILES, saveCheckpoint } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const state = {
 *   params: { "dense/weights": { shape: [2], data: new Float32Array([0.5, -1]) } },
 *   stats: {},
 *   optimizer: { name: "SGD" as const, slots: {}, iterations: 3 },
 *   ema: null,
 *   step: 3,
 * };
 * const rng = { key: [1, 2] as [number, number], counter: 0 };
 * const meta = { model: "dummy", embeddingSize: 2, epoch: 1, rng, config: {} };
 * const path = await saveCheckpoint(dir, { state, meta });
 * const names = [];
 * for await (const entry of Deno.readDir(path)) names.push(entry.name);
 * assert.deepEqual(names.sort(), Object.values(CHECKPOINT_FILES).sort());
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Checkpoints and files
 */
export const CHECKPOINT_FILES = {
  tensors: "model.safetensors",
  meta: "checkpoint.json",
} as const;

/**
 * A JSON-serializable value (the training config is one).
 *
 * @category Checkpoints and files
 */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * What the caller provides when saving; step and optimizer come from the state.
 *
 * @category Checkpoints and files
 */
export interface NewCheckpointMeta {
  /** The model spec's name (e.g. "nano"). */
  readonly model: string;
  /** The embedding size the model produces. */
  readonly embeddingSize: number;
  /** The number of completed epochs. */
  readonly epoch: number;
  /** The RNG state to resume from. */
  readonly rng: RngState;
  /** The full training configuration (any JSON-serializable object). */
  readonly config: JsonValue;
  /** ISO-8601 creation time; default now. */
  readonly created?: string;
  /** The metrics of the epoch this checkpoint ends (one metrics.jsonl record), if any. */
  readonly metrics?: JsonValue;
}

/**
 * Everything `checkpoint.json` holds.
 *
 * @category Checkpoints and files
 */
export interface CheckpointMeta {
  /** Format version, {@link CHECKPOINT_FORMAT}. */
  readonly format: number;
  /** The model spec's name. */
  readonly model: string;
  /** The embedding size the model produces. */
  readonly embeddingSize: number;
  /** The training step (equals the state's `step`). */
  readonly step: number;
  /** The number of completed epochs. */
  readonly epoch: number;
  /** The optimizer's name and update count (equal the state's). */
  readonly optimizer: { readonly name: OptimizerName; readonly iterations: number };
  /** The RNG state to resume from. */
  readonly rng: RngState;
  /** The full training configuration. */
  readonly config: JsonValue;
  /** ISO-8601 creation time. */
  readonly created: string;
  /** The SHA-256 (hex) of `model.safetensors`, verified on load; absent in older checkpoints. */
  readonly tensorsSha256?: string;
  /** The metrics of the epoch this checkpoint ends, if the writer gave them. */
  readonly metrics?: JsonValue;
}

/**
 * A checkpoint in memory.
 *
 * @category Checkpoints and files
 */
export interface Checkpoint {
  /** All tensors and counters of the model. */
  readonly state: ModelState;
  /** The content of `checkpoint.json`. */
  readonly meta: CheckpointMeta;
}

/**
 * Options of {@link saveCheckpoint}.
 *
 * @category Checkpoints and files
 */
export interface SaveCheckpointOptions {
  /** How many `ckpt-*` directories to keep (the newest by step); default 3. */
  readonly keepLast?: number;
}

/**
 * What {@link checkCompatible} compares; unset fields are not compared.
 *
 * @category Checkpoints and files
 */
export interface ExpectedCheckpoint {
  /** The model spec's name. */
  readonly model?: string;
  /** The embedding size. */
  readonly embeddingSize?: number;
  /** The optimizer (its slots differ between optimizers). */
  readonly optimizer?: OptimizerName;
}

const CKPT_PATTERN = /^ckpt-(\d+)$/;
const LEFTOVER_PATTERN = /^\.(tmp|old)-ckpt-(\d+)-[0-9a-f]+$/;
const OPTIMIZER_NAMES: readonly OptimizerName[] = [
  "SGD",
  "ADAGRAD",
  "ADADELTA",
  "ADAM",
  "RMSPROP",
  "MOM",
];

function validateNewMeta(state: ModelState, meta: NewCheckpointMeta): void {
  if (typeof meta.model !== "string" || meta.model.length === 0) {
    throw new TypeError(`Checkpoint model name must be a non-empty string, got ${meta.model}`);
  }
  if (!Number.isSafeInteger(meta.embeddingSize) || meta.embeddingSize <= 0) {
    throw new RangeError(`Embedding size must be a positive integer, got ${meta.embeddingSize}`);
  }
  if (!Number.isSafeInteger(meta.epoch) || meta.epoch < 0) {
    throw new RangeError(`Epoch must be a non-negative integer, got ${meta.epoch}`);
  }
  if (!Number.isSafeInteger(state.step) || state.step < 0) {
    throw new RangeError(`State step must be a non-negative integer, got ${state.step}`);
  }
  if (!Number.isSafeInteger(state.optimizer.iterations) || state.optimizer.iterations < 0) {
    throw new RangeError(
      `Optimizer iterations must be a non-negative integer, got ${state.optimizer.iterations}`,
    );
  }
  for (const slot of Object.keys(state.optimizer.slots)) {
    if (slot.length === 0 || slot.includes("/")) {
      throw new TypeError(`Optimizer slot name "${slot}" must be non-empty and contain no "/"`);
    }
  }
}

/** Flattens a model state into the prefixed tensor names of `model.safetensors`. */
function flattenState(state: ModelState): NamedTensors {
  const out: Record<string, Tensor> = {};
  const add = (prefix: string, tensors: NamedTensors) => {
    for (const [name, t] of Object.entries(tensors)) out[`${prefix}${name}`] = t;
  };
  add("params/", state.params);
  add("stats/", state.stats);
  for (const [slot, tensors] of Object.entries(state.optimizer.slots)) {
    add(`optimizer/${slot}/`, tensors);
  }
  if (state.ema !== null) add("ema/", state.ema);
  return out;
}

/** Throws when a tensor holds NaN or an infinity, naming it and the first bad index. */
function checkFinite(tensors: NamedTensors, where: string): void {
  for (const [name, t] of Object.entries(tensors)) {
    const at = t.data.findIndex((v) => !Number.isFinite(v));
    if (at >= 0) {
      throw new RangeError(
        `${where}: tensor ${name} holds ${t.data[at]} at index ${at} (of ${t.data.length})`,
      );
    }
  }
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function listCheckpoints(runDir: string): Promise<Array<{ step: number; path: string }>> {
  const found: Array<{ step: number; path: string }> = [];
  try {
    for await (const entry of Deno.readDir(runDir)) {
      const match = CKPT_PATTERN.exec(entry.name);
      if (match && entry.isDirectory) {
        found.push({ step: Number(match[1]), path: join(runDir, entry.name) });
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return found.sort((a, b) => a.step - b.step);
}

/**
 * Writes a checkpoint as `<dir>/ckpt-<step>` atomically (temporary directory,
 * fsync, rename) and prunes older `ckpt-*` directories beyond `keepLast`. An
 * existing checkpoint of the same step is replaced.
 *
 * @param dir The run directory (created if missing).
 * @param checkpoint The model state and the metadata; the step and the
 *   optimizer's name and iterations are taken from the state.
 * @param options `keepLast` (default 3).
 * @returns The path of the written checkpoint directory.
 * @throws {RangeError} When `keepLast` is not a positive integer, a step, epoch
 *   or size is invalid, or a tensor holds NaN or an infinity (named in the message).
 * @throws {TypeError} When the model name or an optimizer slot name is invalid, or the config is not JSON.
 *
 * @example Save, then load the latest checkpoint of a run
 * ```ts
 * import { loadCheckpoint, saveCheckpoint } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const state = {
 *   params: { "dense/weights": { shape: [2], data: new Float32Array([0.5, -1]) } },
 *   stats: {},
 *   optimizer: { name: "SGD" as const, slots: {}, iterations: 7 },
 *   ema: null,
 *   step: 7,
 * };
 * const meta = { model: "dummy", embeddingSize: 2, epoch: 1, rng: { key: [1, 2] as [number, number], counter: 0 }, config: {} };
 * const path = await saveCheckpoint(dir, { state, meta });
 * assert.match(path, /ckpt-7$/);
 * const loaded = await loadCheckpoint(dir);
 * assert.equal(loaded.meta.step, 7);
 * assert.deepEqual(Array.from(loaded.state.params["dense/weights"]?.data ?? []), [0.5, -1]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Checkpoints and files
 */
export async function saveCheckpoint(
  dir: string,
  checkpoint: { readonly state: ModelState; readonly meta: NewCheckpointMeta },
  options: SaveCheckpointOptions = {},
): Promise<string> {
  const keepLast = options.keepLast ?? 3;
  if (!Number.isSafeInteger(keepLast) || keepLast < 1) {
    throw new RangeError(`keepLast must be a positive integer, got ${keepLast}`);
  }
  const { state, meta } = checkpoint;
  validateNewMeta(state, meta);
  const flat = flattenState(state);
  checkFinite(flat, `Refusing to save checkpoint step ${state.step}`);
  const tensorBytes = encodeSafetensors(flat, {
    format: String(CHECKPOINT_FORMAT),
    step: String(state.step),
    optimizer: state.optimizer.name,
    iterations: String(state.optimizer.iterations),
    optimizer_slots: JSON.stringify(Object.keys(state.optimizer.slots).sort()),
    ema: state.ema === null ? "false" : "true",
  });
  const fullMeta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    model: meta.model,
    embeddingSize: meta.embeddingSize,
    step: state.step,
    epoch: meta.epoch,
    optimizer: { name: state.optimizer.name, iterations: state.optimizer.iterations },
    rng: { key: [meta.rng.key[0], meta.rng.key[1]], counter: meta.rng.counter },
    config: meta.config,
    created: meta.created ?? new Date().toISOString(),
    tensorsSha256: await sha256Hex(tensorBytes),
    ...(meta.metrics === undefined ? {} : { metrics: meta.metrics }),
  };
  let metaJson: string;
  try {
    metaJson = JSON.stringify(fullMeta, null, 2) + "\n";
  } catch (e) {
    throw new TypeError(`Checkpoint config is not JSON-serializable: ${(e as Error).message}`);
  }

  await Deno.mkdir(dir, { recursive: true });
  await cleanLeftovers(dir);
  const name = `ckpt-${state.step}`;
  const finalPath = join(dir, name);
  const tmpPath = join(dir, `.tmp-${name}-${randomId()}`);
  await Deno.mkdir(tmpPath);
  try {
    const tensorsPath = join(tmpPath, CHECKPOINT_FILES.tensors);
    const metaPath = join(tmpPath, CHECKPOINT_FILES.meta);
    await writeNewFileSynced(tensorsPath, tensorBytes, join(finalPath, CHECKPOINT_FILES.tensors));
    await writeNewFileSynced(
      metaPath,
      new TextEncoder().encode(metaJson),
      join(finalPath, CHECKPOINT_FILES.meta),
    );
    await syncFolder(tmpPath);
    let replaced: string | null = null;
    try {
      await Deno.rename(tmpPath, finalPath);
    } catch (e) {
      // Renaming onto a non-empty directory fails: move the old one aside first.
      if (!(await isDirectory(finalPath))) throw e;
      replaced = join(dir, `.old-${name}-${randomId()}`);
      await Deno.rename(finalPath, replaced);
      await Deno.rename(tmpPath, finalPath);
    }
    await syncFolder(dir);
    if (replaced !== null) await Deno.remove(replaced, { recursive: true });
  } catch (e) {
    await Deno.remove(tmpPath, { recursive: true }).catch(() => {});
    throw e;
  }

  const all = await listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keepLast))) {
    await Deno.remove(old.path, { recursive: true });
  }
  return finalPath;
}

/**
 * Removes what an interrupted save left in a run directory: `.tmp-ckpt-*`
 * folders (a partial new checkpoint) and `.old-ckpt-*` folders (a replaced
 * one); an `.old-ckpt-<step>-*` whose `ckpt-<step>` is missing (a kill between
 * the two renames of a replacement) is renamed back instead.
 */
async function cleanLeftovers(dir: string): Promise<void> {
  const leftovers: { name: string; kind: string; step: string }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = LEFTOVER_PATTERN.exec(entry.name);
    if (match && entry.isDirectory) {
      leftovers.push({ name: entry.name, kind: match[1]!, step: match[2]! });
    }
  }
  for (const { name, kind, step } of leftovers) {
    const path = join(dir, name);
    const final = join(dir, `ckpt-${step}`);
    if (kind === "old" && !(await isDirectory(final))) await Deno.rename(path, final);
    else await Deno.remove(path, { recursive: true });
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Finds the newest complete checkpoint (`ckpt-<step>` with the highest step) of a run directory.
 *
 * @param runDir The run directory.
 * @returns The checkpoint directory's path, or null when there is none (or the directory does not exist).
 * @throws {Error} When the directory cannot be read for another reason than not existing.
 *
 * @example A directory without checkpoints
 * ```ts
 * import { latestCheckpoint } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * assert.equal(await latestCheckpoint(dir), null);
 * await Deno.remove(dir);
 * ```
 *
 * @category Checkpoints and files
 */
export async function latestCheckpoint(runDir: string): Promise<string | null> {
  const all = await listCheckpoints(runDir);
  return all.length === 0 ? null : (all[all.length - 1] as { path: string }).path;
}

function parseMeta(text: string, file: string): CheckpointMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`Corrupt checkpoint file ${file}: not valid JSON (${(e as Error).message})`);
  }
  const bad = (what: string): never => {
    throw new Error(`Corrupt checkpoint file ${file}: ${what}`);
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) bad("not a JSON object");
  const m = raw as Record<string, unknown>;
  if (m.format !== CHECKPOINT_FORMAT) {
    bad(`format ${JSON.stringify(m.format)} is not the supported format ${CHECKPOINT_FORMAT}`);
  }
  if (typeof m.model !== "string") bad(`"model" is not a string`);
  const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!isCount(m.embeddingSize)) bad(`"embeddingSize" is not a non-negative integer`);
  if (!isCount(m.step)) bad(`"step" is not a non-negative integer`);
  if (!isCount(m.epoch)) bad(`"epoch" is not a non-negative integer`);
  const opt = m.optimizer as Record<string, unknown> | null | undefined;
  if (
    typeof opt !== "object" || opt === null ||
    !OPTIMIZER_NAMES.includes(opt.name as OptimizerName) || !isCount(opt.iterations)
  ) {
    bad(`"optimizer" is not {name, iterations} with a known optimizer name`);
  }
  const rng = m.rng as Record<string, unknown> | null | undefined;
  if (
    typeof rng !== "object" || rng === null || !Array.isArray(rng.key) || rng.key.length !== 2 ||
    !rng.key.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) ||
    !isCount(rng.counter)
  ) {
    bad(`"rng" is not {key: [uint32, uint32], counter}`);
  }
  if (!("config" in m)) bad(`"config" is missing`);
  if (typeof m.created !== "string") bad(`"created" is not a string`);
  if (
    m.tensorsSha256 !== undefined &&
    (typeof m.tensorsSha256 !== "string" || !/^[0-9a-f]{64}$/.test(m.tensorsSha256))
  ) {
    bad(`"tensorsSha256" is not 64 hex digits`);
  }
  return raw as CheckpointMeta;
}

async function readFileNamed(path: string): Promise<Uint8Array> {
  try {
    // Regular files only (a FIFO would block), of a sane size.
    return await readFileBounded(path, MAX_CHECKPOINT_FILE_BYTES);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`Checkpoint file ${path} is missing`);
    if (e instanceof RangeError || /not a regular file/.test((e as Error).message)) {
      throw new Error(`Checkpoint file ${path} is unusable: ${(e as Error).message}`);
    }
    throw e;
  }
}

/**
 * Loads a checkpoint: from a checkpoint directory, or from a run directory
 * (its latest checkpoint).
 *
 * @param path A `ckpt-<step>` directory or a run directory.
 * @returns The model state and the metadata.
 * @throws {Error} When no checkpoint is found, a file is missing, truncated or
 *   malformed, its checksum differs, or the tensors disagree with `checkpoint.json`; the message names the file.
 * @throws {RangeError} When a tensor holds NaN or an infinity; the message names the tensor.
 *
 * @example A run directory without checkpoints is refused
 * ```ts
 * import { loadCheckpoint } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(loadCheckpoint(dir), /No checkpoint/);
 * await Deno.remove(dir);
 * ```
 *
 * @category Checkpoints and files
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let ckptDir = path;
  const metaPath0 = join(path, CHECKPOINT_FILES.meta);
  let hasMeta = false;
  try {
    hasMeta = (await Deno.stat(metaPath0)).isFile;
  } catch {
    hasMeta = false;
  }
  if (!hasMeta && !CKPT_PATTERN.test(basename(path.replace(/[\\/]+$/, "")))) {
    if (!(await isDirectory(path))) {
      let exists = false;
      try {
        await Deno.lstat(path);
        exists = true;
      } catch {
        exists = false;
      }
      throw new Error(
        exists
          ? `No checkpoint found: ${path} is not a folder (expected a ckpt-<step> folder or a run folder)`
          : `No checkpoint found: ${path} does not exist`,
      );
    }
    const latest = await latestCheckpoint(path);
    if (latest === null) {
      throw new Error(
        `No checkpoint found in ${path} (neither ${CHECKPOINT_FILES.meta} nor ckpt-*)`,
      );
    }
    ckptDir = latest;
  }
  const metaPath = join(ckptDir, CHECKPOINT_FILES.meta);
  const tensorPath = join(ckptDir, CHECKPOINT_FILES.tensors);
  const meta = parseMeta(new TextDecoder().decode(await readFileNamed(metaPath)), metaPath);
  const tensorBytes = await readFileNamed(tensorPath);
  const { tensors, metadata } = decodeSafetensors(tensorBytes, tensorPath);
  if (meta.tensorsSha256 !== undefined) {
    const actual = await sha256Hex(tensorBytes);
    if (actual !== meta.tensorsSha256) {
      throw new Error(
        `Corrupt checkpoint ${tensorPath}: its SHA-256 ${actual} differs from ${meta.tensorsSha256} recorded in ${metaPath}`,
      );
    }
  }
  checkFinite(tensors, `Corrupt checkpoint ${tensorPath}`);

  const bad = (what: string): never => {
    throw new Error(`Checkpoint ${tensorPath} disagrees with ${metaPath}: ${what}`);
  };
  if (metadata.step !== undefined && metadata.step !== String(meta.step)) {
    bad(`step ${metadata.step} vs ${meta.step}`);
  }
  if (metadata.optimizer !== undefined && metadata.optimizer !== meta.optimizer.name) {
    bad(`optimizer ${metadata.optimizer} vs ${meta.optimizer.name}`);
  }
  let slotNames: string[] = [];
  if (metadata.optimizer_slots !== undefined) {
    try {
      slotNames = JSON.parse(metadata.optimizer_slots);
    } catch {
      throw new Error(`Corrupt safetensors file ${tensorPath}: bad optimizer_slots metadata`);
    }
  }
  const params: Record<string, Tensor> = {};
  const stats: Record<string, Tensor> = {};
  const slots: Record<string, Record<string, Tensor>> = {};
  for (const slot of slotNames) slots[slot] = {};
  let ema: Record<string, Tensor> | null = metadata.ema === "true" ? {} : null;
  for (const [name, t] of Object.entries(tensors)) {
    const slash = name.indexOf("/");
    const group = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    if (slash <= 0 || rest.length === 0) {
      throw new Error(`Corrupt safetensors file ${tensorPath}: unexpected tensor name "${name}"`);
    }
    if (group === "params") params[rest] = t;
    else if (group === "stats") stats[rest] = t;
    else if (group === "ema") (ema ??= {})[rest] = t;
    else if (group === "optimizer") {
      const s = rest.indexOf("/");
      if (s <= 0 || s === rest.length - 1) {
        throw new Error(`Corrupt safetensors file ${tensorPath}: unexpected tensor name "${name}"`);
      }
      (slots[rest.slice(0, s)] ??= {})[rest.slice(s + 1)] = t;
    } else {
      throw new Error(`Corrupt safetensors file ${tensorPath}: unexpected tensor name "${name}"`);
    }
  }
  const state: ModelState = {
    params,
    stats,
    optimizer: { name: meta.optimizer.name, slots, iterations: meta.optimizer.iterations },
    ema,
    step: meta.step,
  };
  return { state, meta };
}

/**
 * Checks that a checkpoint fits what the caller is about to run (the reference implementation's
 * users hit silent 128-vs-512 shape mismatches when fine-tuning).
 *
 * @param meta The checkpoint's metadata.
 * @param expected The values to compare; unset ones are not compared.
 * @throws {Error} When anything differs; the message lists every difference.
 *
 * @example
 * ```ts
 * import { checkCompatible } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const meta = {
 *   format: 1, model: "nano", embeddingSize: 128, step: 0, epoch: 0,
 *   optimizer: { name: "ADAGRAD" as const, iterations: 0 },
 *   rng: { key: [0, 0] as [number, number], counter: 0 }, config: null, created: "",
 * };
 * checkCompatible(meta, { model: "nano", embeddingSize: 128 });
 * assert.throws(() => checkCompatible(meta, { embeddingSize: 512 }), /embedding size 128.*512/);
 * ```
 *
 * @category Checkpoints and files
 */
export function checkCompatible(meta: CheckpointMeta, expected: ExpectedCheckpoint): void {
  const diffs: string[] = [];
  if (expected.model !== undefined && meta.model !== expected.model) {
    diffs.push(`model "${meta.model}" (checkpoint) vs "${expected.model}" (requested)`);
  }
  if (expected.embeddingSize !== undefined && meta.embeddingSize !== expected.embeddingSize) {
    diffs.push(
      `embedding size ${meta.embeddingSize} (checkpoint) vs ${expected.embeddingSize} (requested)`,
    );
  }
  if (expected.optimizer !== undefined && meta.optimizer.name !== expected.optimizer) {
    diffs.push(
      `optimizer ${meta.optimizer.name} (checkpoint) vs ${expected.optimizer} (requested)`,
    );
  }
  if (diffs.length > 0) {
    throw new Error(`Checkpoint is incompatible: ${diffs.join("; ")}`);
  }
}
