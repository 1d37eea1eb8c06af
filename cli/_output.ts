/**
 * The one output policy of every command that writes files: an output path
 * must name something (never `""`, never the filesystem root), and an
 * existing, non-empty output folder is refused unless the command resumes
 * into it or `--force` replaces it. The writes themselves go through
 * io/atomic.ts.
 *
 * @module
 */

import { resolve } from "node:path";
import { UsageError } from "./flags.ts";

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
