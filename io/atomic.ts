/**
 * Durable, atomic file output and bounded file input: every file the
 * framework writes goes through this module.
 *
 * - {@linkcode writeFileAtomic} writes a temporary file in the destination's
 *   folder (created exclusively, so a planted symlink is never followed),
 *   fsyncs it, then renames it over the destination: a reader, a crash or a
 *   full disk leaves either the old file or the new one, never a mix. Renaming
 *   replaces a symlink at the destination, never the file it points to.
 * - {@linkcode replaceFolderAtomic} fills a temporary sibling folder, then
 *   swaps it into place (a multi-file output such as an exported model).
 * - {@linkcode appendJsonLines} appends records to a JSONL file, and
 *   {@linkcode appendTextLines} lines to a text file; a torn last line (a crash
 *   in the middle of an earlier append) is cut off first, so the new line is
 *   never glued onto it, and a failed append is rolled back.
 * - {@linkcode readFileBounded} reads a regular file of bounded size: a FIFO,
 *   a device (`/dev/zero`) or an oversized file is refused before reading.
 *
 * Tests simulate a full disk or a short write through
 * {@linkcode setWriteFaultHook}, which every write of this module consults.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";

/**
 * Decides whether a write of this module fails: given the destination path
 * (the final path, not the temporary one) it returns how many bytes may still
 * be written before the write fails with ENOSPC, or undefined to let it pass.
 */
export type WriteFaultHook = (path: string) => number | undefined;

let faultHook: WriteFaultHook | null = null;

/**
 * Installs (or with null removes) a hook that makes writes of this module
 * fail as on a full disk; for tests.
 *
 * @param hook The hook, or null.
 * @returns The previous hook.
 * @example Fail every write after 3 bytes
 * ```ts
 * import { setWriteFaultHook, writeFileAtomic } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a.txt`, "old");
 * setWriteFaultHook(() => 3);
 * try {
 *   await assert.rejects(writeFileAtomic(`${dir}/a.txt`, "new content"), /No space left/);
 * } finally {
 *   setWriteFaultHook(null);
 * }
 * assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "old");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function setWriteFaultHook(hook: WriteFaultHook | null): WriteFaultHook | null {
  const previous = faultHook;
  faultHook = hook;
  return previous;
}

/**
 * The error a simulated (or real, when recognised) full disk raises; `code` is `"ENOSPC"`.
 *
 * @example
 * ```ts
 * import { NoSpaceError } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const e = new NoSpaceError("/tmp/x");
 * assert.equal(e.code, "ENOSPC");
 * assert.match(e.message, /No space left on device.*\/tmp\/x/);
 * ```
 */
export class NoSpaceError extends Error {
  /** Always `"ENOSPC"`. */
  readonly code = "ENOSPC";
  /**
   * Creates the error.
   *
   * @param path The file being written.
   */
  constructor(path: string) {
    super(`No space left on device (os error 28) writing ${path}`);
    this.name = "NoSpaceError";
  }
}

function checkPath(path: string, what: string): string {
  if (typeof path !== "string") throw new TypeError(`${what} must be a string, got ${typeof path}`);
  if (path.length === 0) throw new TypeError(`${what} must not be empty`);
  if (basename(resolve(path)) === "") throw new TypeError(`${what} must not be the root folder`);
  return path;
}

/**
 * A random hex id for temporary names.
 *
 * @returns 16 hex digits.
 * @example
 * ```ts
 * import { randomId } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(randomId(), /^[0-9a-f]{16}$/);
 * ```
 */
export function randomId(): string {
  return Array.from(
    crypto.getRandomValues(new Uint32Array(2)),
    (w) => w.toString(16).padStart(8, "0"),
  ).join("");
}

async function writeAll(file: Deno.FsFile, data: Uint8Array, faultPath: string): Promise<void> {
  const allowed = faultHook?.(faultPath);
  let written = 0;
  while (written < data.length) {
    let end = data.length;
    if (allowed !== undefined && end > allowed) end = Math.max(written, allowed);
    if (written === end) throw new NoSpaceError(faultPath);
    written += await file.write(data.subarray(written, end));
  }
}

/**
 * Writes bytes to a new file and fsyncs it; the file must not exist (it is
 * created exclusively, so a symlink planted at the path is not followed).
 *
 * @param path The new file.
 * @param data The content.
 * @param faultPath The path {@linkcode setWriteFaultHook}'s hook sees (default `path`).
 * @returns Nothing; the file is durable when the promise resolves.
 * @throws {Deno.errors.AlreadyExists} When the path exists.
 * @example
 * ```ts
 * import { writeNewFileSynced } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await writeNewFileSynced(`${dir}/a.bin`, new Uint8Array([1, 2]));
 * await assert.rejects(writeNewFileSynced(`${dir}/a.bin`, new Uint8Array([3])), Deno.errors.AlreadyExists);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeNewFileSynced(
  path: string,
  data: Uint8Array,
  faultPath: string = path,
): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
  try {
    await writeAll(file, data, faultPath);
    await file.sync();
  } catch (error) {
    if (error instanceof NoSpaceError) throw error;
    throw new Error(`Cannot write ${faultPath}: ${(error as Error)?.message ?? error}`, {
      cause: error,
    });
  } finally {
    file.close();
  }
}

/**
 * fsyncs a folder so that a rename or a new entry in it is durable; a no-op
 * where the platform cannot open or sync a folder.
 *
 * @param path The folder.
 * @returns Nothing.
 * @example
 * ```ts
 * import { syncFolder } from "./atomic.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await syncFolder(dir);
 * await Deno.remove(dir);
 * ```
 */
export async function syncFolder(path: string): Promise<void> {
  let dir: Deno.FsFile;
  try {
    dir = await Deno.open(path, { read: true });
  } catch {
    return;
  }
  try {
    await dir.sync();
  } catch {
    // Some platforms cannot fsync a folder; the rename itself is still atomic.
  } finally {
    dir.close();
  }
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Writes a file atomically: a temporary file in the same folder
 * (`.<name>.tmp-<id>`), fsync, rename over `path`, fsync of the folder. A
 * failure (a full disk, a kill) leaves the previous content of `path` intact
 * and no temporary file behind (a kill can leave one; it is hidden). A symlink
 * at `path` is replaced, its target is never written. Missing parent folders
 * are created.
 *
 * @param path The destination file.
 * @param data The content (a string is written as UTF-8).
 * @returns Nothing; the file is durable when the promise resolves.
 * @throws {TypeError} When the path is empty or the root folder.
 * @throws {Error} When `path` is a folder, or the write fails (the message names the path).
 * @example Replace a file
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/sub/a.json`, "{}\n");
 * await writeFileAtomic(`${dir}/sub/a.json`, '{"b":1}\n');
 * assert.equal(await Deno.readTextFile(`${dir}/sub/a.json`), '{"b":1}\n');
 * assert.deepEqual([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["a.json"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  checkPath(path, "Output path");
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const existing = await lstatOrNull(path);
  if (existing?.isDirectory) throw new Error(`Cannot write ${path}: it is a folder`);
  const folder = dirname(path);
  await Deno.mkdir(folder, { recursive: true });
  const tmp = join(folder, `.${basename(path)}.tmp-${randomId()}`);
  try {
    await writeNewFileSynced(tmp, bytes, path);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  await syncFolder(folder);
}

/**
 * Removes the temporary files that killed {@linkcode writeFileAtomic} calls
 * left next to `path` (`.<name>.tmp-<id>`). Only for a file with a single
 * writer (a run folder's own files): another process's write in progress
 * would lose its temporary file.
 *
 * @param path The file whose leftovers to remove.
 * @returns How many were removed.
 * @example
 * ```ts
 * import { removeWriteLeftovers } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/.a.json.tmp-0123456789abcdef`, "{");
 * await Deno.writeTextFile(`${dir}/a.json`, "{}");
 * assert.equal(await removeWriteLeftovers(`${dir}/a.json`), 1);
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.json"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function removeWriteLeftovers(path: string): Promise<number> {
  checkPath(path, "Output path");
  const folder = dirname(path);
  const prefix = `.${basename(path)}.tmp-`;
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (
        entry.isFile && entry.name.startsWith(prefix) &&
        /^[0-9a-f]{16}$/.test(entry.name.slice(prefix.length))
      ) {
        await Deno.remove(join(folder, entry.name)).catch(() => {});
        removed++;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed;
}

/**
 * Builds a folder atomically: `fill` writes into a fresh temporary sibling
 * (`.<name>.tmp-<id>`), which is then renamed to `path`; an existing `path`
 * (a folder, a file or a symlink, which is not followed) is moved aside first
 * and removed after the swap. When `fill` or a write fails, `path` is left as
 * it was and the temporary folder is removed.
 *
 * @param path The destination folder.
 * @param fill Writes the content into the folder it is given.
 * @returns Nothing.
 * @throws {TypeError} When the path is empty or the root folder.
 * @example
 * ```ts
 * import { replaceFolderAtomic, writeFileAtomic } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await replaceFolderAtomic(`${dir}/out`, (tmp) => writeFileAtomic(`${tmp}/a.txt`, "1"));
 * await assert.rejects(replaceFolderAtomic(`${dir}/out`, () => Promise.reject(new Error("boom"))));
 * assert.equal(await Deno.readTextFile(`${dir}/out/a.txt`), "1");
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function replaceFolderAtomic(
  path: string,
  fill: (tmp: string) => Promise<void>,
): Promise<void> {
  checkPath(path, "Output folder");
  const clean = path.replace(/[\\/]+$/, "");
  const parent = dirname(clean);
  const name = basename(clean);
  await Deno.mkdir(parent, { recursive: true });
  const tmp = join(parent, `.${name}.tmp-${randomId()}`);
  await Deno.mkdir(tmp);
  try {
    await fill(tmp);
    await syncFolder(tmp);
    const old = (await lstatOrNull(clean)) === null
      ? null
      : join(parent, `.${name}.old-${randomId()}`);
    if (old !== null) await Deno.rename(clean, old);
    try {
      await Deno.rename(tmp, clean);
    } catch (error) {
      if (old !== null) await Deno.rename(old, clean).catch(() => {});
      throw error;
    }
    await syncFolder(parent);
    if (old !== null) await Deno.remove(old, { recursive: true });
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw error;
  }
}

/**
 * Appends records to a JSONL file, one `JSON.stringify` line each, and
 * fsyncs it. A last line without its newline (left by a crash during an
 * earlier append) is cut off first; a failed append is truncated back to the
 * previous end. A symlink at `path` is refused. (The JSON form of
 * {@linkcode appendTextLines}.)
 *
 * @param path The JSONL file (created when missing).
 * @param records The records to append.
 * @returns Nothing.
 * @throws {TypeError} When the path is empty or a record is not JSON-serializable.
 * @throws {Error} When `path` is not a regular file, or the write fails.
 * @example A torn line is repaired before appending
 * ```ts
 * import { appendJsonLines } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const path = `${await Deno.makeTempDir()}/metrics.jsonl`;
 * await Deno.writeTextFile(path, '{"epoch":1}\n{"epo');
 * await appendJsonLines(path, [{ epoch: 2 }]);
 * assert.equal(await Deno.readTextFile(path), '{"epoch":1}\n{"epoch":2}\n');
 * ```
 */
export async function appendJsonLines(path: string, records: readonly unknown[]): Promise<void> {
  checkPath(path, "JSONL path");
  const lines: string[] = [];
  for (const record of records) {
    const line = JSON.stringify(record);
    if (typeof line !== "string") {
      throw new TypeError(`A JSONL record must be JSON-serializable, got ${typeof record}`);
    }
    lines.push(line);
  }
  await appendLines(path, lines);
}

/**
 * Appends lines of text to a file, each followed by a newline, and fsyncs it.
 * A last line without its newline (left by a crash during an earlier append)
 * is cut off first, so a new line is never glued onto it; a failed append is
 * truncated back to the previous end. A symlink at `path` is refused.
 *
 * @param path The text file (created when missing).
 * @param lines The lines, without their newlines.
 * @returns Nothing.
 * @throws {TypeError} When the path is empty, or a line is not a string or contains a newline.
 * @throws {Error} When `path` is not a regular file, or the write fails.
 * @example A torn line is cut off before appending
 * ```ts
 * import { appendTextLines } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const path = `${await Deno.makeTempDir()}/listing.txt`;
 * await Deno.writeTextFile(path, "a.png 1 2 3 4\nb.pn");
 * await appendTextLines(path, ["c.png 5 6 7 8"]);
 * assert.equal(await Deno.readTextFile(path), "a.png 1 2 3 4\nc.png 5 6 7 8\n");
 * assert.throws(() => appendTextLines(path, ["two\nlines"]), /must not contain a newline/);
 * ```
 */
export function appendTextLines(path: string, lines: readonly string[]): Promise<void> {
  checkPath(path, "Text file path");
  for (const [i, line] of lines.entries()) {
    if (typeof line !== "string") {
      throw new TypeError(`Line ${i} must be a string, got ${typeof line}`);
    }
    if (/[\n\r]/.test(line)) {
      throw new TypeError(`Line ${i} must not contain a newline, got ${JSON.stringify(line)}`);
    }
  }
  return appendLines(path, lines);
}

async function appendLines(path: string, lines: readonly string[]): Promise<void> {
  const text = lines.map((line) => line + "\n").join("");
  const info = await lstatOrNull(path);
  if (info !== null && !info.isFile) {
    throw new Error(`Cannot append to ${path}: not a regular file`);
  }
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    let end = (await file.stat()).size;
    if (end > 0) end = await completeLinesEnd(file, end);
    await file.truncate(end);
    await file.seek(end, Deno.SeekMode.Start);
    try {
      await writeAll(file, new TextEncoder().encode(text), path);
      await file.sync();
    } catch (error) {
      await file.truncate(end).catch(() => {});
      if (error instanceof NoSpaceError) throw error;
      throw new Error(`Cannot append to ${path}: ${(error as Error)?.message ?? error}`, {
        cause: error,
      });
    }
  } finally {
    file.close();
  }
}

/** The offset just after the last newline of a file (0 when it has none). */
async function completeLinesEnd(file: Deno.FsFile, size: number): Promise<number> {
  const chunk = new Uint8Array(4096);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    await file.seek(start, Deno.SeekMode.Start);
    const view = chunk.subarray(0, end - start);
    let got = 0;
    while (got < view.length) {
      const n = await file.read(view.subarray(got));
      if (n === null) break;
      got += n;
    }
    const at = view.subarray(0, got).lastIndexOf(0x0a);
    if (at >= 0) return start + at + 1;
    end = start;
  }
  return 0;
}

/**
 * Reads the complete records of a JSONL file: a torn last line (no newline)
 * is ignored; any other line that is not JSON is an error.
 *
 * @param path The JSONL file.
 * @returns The parsed records, or an empty array when the file does not exist.
 * @throws {Error} When a complete line is not valid JSON (the message names the line).
 * @example
 * ```ts
 * import { readJsonLines } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const path = `${await Deno.makeTempDir()}/m.jsonl`;
 * await Deno.writeTextFile(path, '{"a":1}\n{"a":');
 * assert.deepEqual(await readJsonLines(path), [{ a: 1 }]);
 * ```
 */
export async function readJsonLines(path: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const lines = text.split("\n");
  lines.pop(); // the empty rest after the last newline, or a torn line
  return lines.map((line, i) => {
    try {
      return JSON.parse(line);
    } catch (error) {
      throw new Error(`${path}:${i + 1}: not valid JSON (${(error as Error).message})`);
    }
  });
}

/**
 * Rewrites a JSONL file atomically with the given records.
 *
 * @param path The JSONL file.
 * @param records The records.
 * @returns Nothing.
 * @throws {TypeError} When the path is empty or a record is not JSON-serializable.
 * @example
 * ```ts
 * import { readJsonLines, writeJsonLinesAtomic } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const path = `${await Deno.makeTempDir()}/m.jsonl`;
 * await writeJsonLinesAtomic(path, [{ a: 1 }, { a: 2 }]);
 * assert.deepEqual(await readJsonLines(path), [{ a: 1 }, { a: 2 }]);
 * ```
 */
export async function writeJsonLinesAtomic(
  path: string,
  records: readonly unknown[],
): Promise<void> {
  await writeFileAtomic(path, records.map((r) => JSON.stringify(r) + "\n").join(""));
}

/**
 * Reads a regular file of at most `maxBytes` bytes. The path is checked
 * before it is opened, so a FIFO (which would block), a device such as
 * `/dev/zero` (which never ends) or a folder is refused; the read itself stops
 * after `maxBytes + 1` bytes in case the file grows meanwhile.
 *
 * @param path The file.
 * @param maxBytes The largest accepted size.
 * @returns The content.
 * @throws {RangeError} When `maxBytes` is not a non-negative integer, or the file is larger.
 * @throws {Error} When the path does not exist or is not a regular file (the message says which).
 * @example
 * ```ts
 * import { readFileBounded } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "hello");
 * assert.equal((await readFileBounded(path, 5)).length, 5);
 * await assert.rejects(readFileBounded(path, 4), /larger than/);
 * await assert.rejects(readFileBounded("/dev/zero", 4), /not a regular file/);
 * await Deno.remove(path);
 * ```
 */
export async function readFileBounded(path: string, maxBytes: number): Promise<Uint8Array> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`The byte limit must be a non-negative integer, got ${maxBytes}`);
  }
  const info = await Deno.stat(path);
  if (info.isDirectory) throw new Deno.errors.IsADirectory(`${path} is a folder`);
  if (!info.isFile) throw new Error(`${path} is not a regular file`);
  if (info.size > maxBytes) {
    throw new RangeError(`${path} is ${info.size} bytes, larger than the limit of ${maxBytes}`);
  }
  const file = await Deno.open(path, { read: true });
  try {
    const buffer = new Uint8Array(info.size + 1);
    let got = 0;
    while (got < buffer.length) {
      const n = await file.read(buffer.subarray(got));
      if (n === null) break;
      got += n;
      if (got > maxBytes) {
        throw new RangeError(`${path} grew past the limit of ${maxBytes} bytes while being read`);
      }
    }
    return buffer.subarray(0, got);
  } finally {
    file.close();
  }
}

/**
 * Reads a regular text file (UTF-8) of at most `maxBytes` bytes; see
 * {@linkcode readFileBounded}.
 *
 * @param path The file.
 * @param maxBytes The largest accepted size; default 64 MiB.
 * @returns The text.
 * @throws {RangeError} When the file is larger.
 * @throws {Error} When the path does not exist or is not a regular file.
 * @example
 * ```ts
 * import { readTextFileBounded } from "./atomic.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(readTextFileBounded("/dev/zero"), /not a regular file/);
 * ```
 */
export async function readTextFileBounded(
  path: string,
  maxBytes: number = 64 * 1024 * 1024,
): Promise<string> {
  return new TextDecoder().decode(await readFileBounded(path, maxBytes));
}
