/**
 * The one output policy of every command that writes files: an output path
 * must name something (never `""`, never the filesystem root), and an
 * existing, non-empty output folder is refused unless the command resumes
 * into it or `--force` replaces it. The writes themselves go through
 * io/atomic.ts.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { UsageError } from "./flags.ts";
import { CHECKPOINT_FILES, latestCheckpoint } from "../io/checkpoint.ts";
import { readJsonLines, writeJsonLinesAtomic } from "../io/atomic.ts";

/**
 * Checks that an output path flag names something other than the empty
 * string or the filesystem root.
 *
 * @param path The flag's value (undefined when not given).
 * @param flag The flag, for the message (e.g. `--out`).
 * @returns The path.
 * @throws {UsageError} When the path is missing, empty, blank or the root.
 */
export function checkOutputPath(path: string | undefined, flag: string): string {
  if (path === undefined) throw new UsageError(`${flag} is required`);
  if (path.trim() === "") throw new UsageError(`${flag} must not be empty`);
  if (resolve(path) === resolve("/")) {
    throw new UsageError(`${flag} must not be the filesystem root, got "${path}"`);
  }
  return path;
}

/** What {@link checkOutputFolder} found. */
export type OutputFolderState = "missing" | "empty" | "replace";

/**
 * Applies the output-folder policy: a missing or empty folder is fine; a
 * non-empty one is refused unless `force` (then the caller replaces it
 * atomically); a file or a symlink is refused unless `force`.
 *
 * @param path The folder.
 * @param flag The flag, for the message.
 * @param options `force`: allow replacing a non-empty folder; `hint`: extra advice for the refusal.
 * @returns What is there.
 * @throws {UsageError} When the folder is refused.
 */
export async function checkOutputFolder(
  path: string,
  flag: string,
  options: { readonly force?: boolean; readonly hint?: string } = {},
): Promise<OutputFolderState> {
  checkOutputPath(path, flag);
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "missing";
    throw error;
  }
  const advice = options.hint ?? `choose a new ${flag} folder or add --force to replace it`;
  if (!info.isDirectory) {
    if (options.force) return "replace";
    throw new UsageError(
      `${flag} ${path} exists and is ${info.isSymlink ? "a symlink" : "not a folder"}; ${advice}`,
    );
  }
  for await (const _ of Deno.readDir(path)) {
    if (options.force) return "replace";
    throw new UsageError(`${flag} ${path} already exists and is not empty; ${advice}`);
  }
  return "empty";
}

/**
 * The run folder a training writes into, after the output policy: a fresh
 * run needs a missing or empty `--out` (a folder holding a run is refused
 * with a pointer to `--resume`); a resumed run continues in its own run
 * folder (the parent of `--resume DIR/ckpt-N`, never inside the checkpoint),
 * from that run's latest checkpoint only, or starts a fresh `--out` folder.
 *
 * @param out The `--out` value (the plan defaults it to `--resume`).
 * @param resume The `--resume` value.
 * @returns The run folder, or undefined when nothing is written.
 * @throws {UsageError} When the folder is refused.
 */
export async function prepareRunFolder(
  out: string | undefined,
  resume: string | undefined,
): Promise<string | undefined> {
  if (out === undefined) return undefined;
  checkOutputPath(out, "--out");
  if (resume !== undefined) {
    const isCheckpoint = await isFile(join(resume, CHECKPOINT_FILES.meta));
    const runDir = isCheckpoint ? dirname(resolve(resume)) : resolve(resume);
    if (resolve(out) === resolve(resume) || resolve(out) === runDir) {
      if (isCheckpoint) {
        const latest = await latestCheckpoint(runDir);
        if (latest !== null && resolve(latest) !== resolve(resume)) {
          throw new UsageError(
            `--resume ${resume} is not the latest checkpoint of ${runDir} (${
              basename(latest)
            }); continuing there would mix two runs: add --out with a fresh folder`,
          );
        }
      }
      return runDir;
    }
  }
  let info: Deno.FileInfo;
  try {
    // A run folder may be a symlink to a folder (on a bigger disk): files are
    // only ever added inside it, never written through a link.
    info = await Deno.stat(out);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return out;
    throw error;
  }
  if (!info.isDirectory) {
    throw new UsageError(`--out ${out} exists and is not a folder; choose a fresh --out folder`);
  }
  let holdsRun = false;
  let empty = true;
  for await (const entry of Deno.readDir(out)) {
    // What a save killed before the first checkpoint leaves does not make a run.
    if (/^\.(tmp|old)-ckpt-\d+-[0-9a-f]+$/.test(entry.name)) continue;
    empty = false;
    if (entry.name === "metrics.jsonl" || /^ckpt-\d+$/.test(entry.name)) holdsRun = true;
  }
  if (holdsRun) {
    throw new UsageError(
      `--out ${out} already holds a training run; continue it with --resume ${out}, ` +
        `or choose a fresh --out folder`,
    );
  }
  if (!empty) throw new UsageError(`--out ${out} is not empty; choose a fresh --out folder`);
  return out;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Makes a resumed run's metrics.jsonl agree with the checkpoint it resumes
 * from: records of later epochs (written before a kill or by an abandoned
 * branch) are dropped, a repeated epoch keeps its last record, and the
 * checkpoint's own epoch record is restored when a kill came between the
 * checkpoint and its metrics line. A torn last line is dropped.
 *
 * @param path The metrics.jsonl file.
 * @param epoch The checkpoint's epoch.
 * @param metrics The checkpoint's record of that epoch, if it has one.
 * @param options `perEpoch: false` for a log of many records per epoch
 *   (steps.jsonl): only the records past `epoch` are dropped.
 * @returns Nothing; the file is rewritten atomically when it changes.
 * @throws {Error} When a complete line of the file is not JSON.
 */
export async function reconcileMetrics(
  path: string,
  epoch: number,
  metrics: unknown,
  options: { readonly perEpoch?: boolean } = {},
): Promise<void> {
  const records = await readJsonLines(path);
  const epochOf = (r: unknown) => (r as { epoch?: unknown } | null)?.epoch;
  let kept: unknown[];
  if (options.perEpoch === false) {
    kept = records.filter((r) => typeof epochOf(r) !== "number" || (epochOf(r) as number) <= epoch);
  } else {
    const byEpoch = new Map<number, unknown>();
    const other: unknown[] = [];
    for (const r of records) {
      const e = epochOf(r);
      if (typeof e !== "number") other.push(r);
      else if (e <= epoch) byEpoch.set(e, r);
    }
    if (!byEpoch.has(epoch) && typeof metrics === "object" && metrics !== null) {
      byEpoch.set(epoch, metrics);
    }
    kept = [...other, ...[...byEpoch.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1])];
  }
  const before = records.map((r) => JSON.stringify(r)).join("\n");
  const after = kept.map((r) => JSON.stringify(r)).join("\n");
  let torn = false;
  try {
    const text = await Deno.readTextFile(path);
    torn = text.length > 0 && !text.endsWith("\n");
  } catch {
    return;
  }
  if (before !== after || torn) await writeJsonLinesAtomic(path, kept);
}
