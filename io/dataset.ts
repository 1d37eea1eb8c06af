/**
 * Image datasets on disk in the reference implementation's layout: `root/<identity>/<image files>`.
 *
 * @module
 */

import { join, resolve } from "node:path";
import type { Dataset, ImageClass } from "../core/types.ts";
import { probeImageFile, readImage } from "./images.ts";

/**
 * How {@linkcode loadDatasetFolder} checks each file.
 *
 * @category Data
 */
export type ImageVerification = "header" | "decode" | "none";

/**
 * Options of {@linkcode loadDatasetFolder}.
 *
 * @category Data
 */
export interface LoadDatasetOptions {
  /**
   * Identities with fewer usable images are dropped (the reference implementation's
   * `--min_nrof_images_per_class`); default 1, so empty folders are dropped.
   */
  readonly minNrofImagesPerClass?: number;
  /**
   * `"header"` (default): read each file's first and last bytes (magic bytes,
   * PNG IHDR/IEND, JPEG EOI) — cheap, catches non-images and truncated files;
   * `"decode"`: decode every image fully (slow, also catches corrupt data);
   * `"none"`: accept every file.
   */
  readonly verify?: ImageVerification;
  /** How many files are checked at once; default 16. */
  readonly concurrency?: number;
}

/**
 * A file left out of a dataset, and why.
 *
 * @category Data
 */
export interface SkippedFile {
  /** The file's absolute path. */
  readonly path: string;
  /** Why it was left out. */
  readonly reason: string;
}

/**
 * An identity left out because it has too few usable images.
 *
 * @category Data
 */
export interface DroppedClass {
  /** The folder name. */
  readonly name: string;
  /** Its number of usable images. */
  readonly images: number;
}

/**
 * What {@linkcode loadDatasetFolder} found.
 *
 * @category Data
 */
export interface LoadedDataset {
  /** The identities with at least the minimum of usable images, sorted by name; the index is the label. */
  readonly dataset: Dataset;
  /** Files left out (not an image, truncated, unreadable, a folder), in path order. */
  readonly skipped: readonly SkippedFile[];
  /** Identities left out for having too few images, in name order. */
  readonly droppedClasses: readonly DroppedClass[];
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function isDirectory(path: string, entry: Deno.DirEntry): Promise<boolean> {
  if (entry.isDirectory) return true;
  if (!entry.isSymlink) return false;
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function isRegularFile(path: string, entry: Deno.DirEntry): Promise<boolean> {
  if (entry.isFile) return true;
  if (!entry.isSymlink) return false;
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Reads a dataset folder in the reference implementation's layout: each sub-folder of `dir` is an
 * identity; identities are sorted by name (UTF-16 code units, which matches
 * Python's `sorted` for names without characters beyond the BMP) and the
 * sorted index is the label. Each identity's files are sorted by name too
 * (the reference implementation keeps `os.listdir` order, which is not stable across machines).
 * Files directly in `dir` are ignored. Anything that is not a regular file
 * (a FIFO, a device; never opened), files that are not JPEG or PNG images,
 * are truncated, unreadable, or over the size limits of io/images.ts (file
 * bytes, declared pixels), and nested folders are skipped and listed with
 * the reason; identities with fewer than `minNrofImagesPerClass` usable
 * images are dropped and listed.
 *
 * @param dir The dataset's root folder.
 * @param options Minimum images per identity, how to verify files, concurrency.
 * @returns The dataset (absolute image paths), the skipped files and the dropped identities.
 * @throws {Error} When `dir` does not exist or is not a folder (the message names it).
 * @throws {RangeError} When an option is out of range.
 * @example
 * ```ts
 * import { loadDatasetFolder } from "@facenet-deno/facenet/io";
 * import { encodePng } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const png = encodePng({ width: 1, height: 1, data: new Float32Array(3) });
 * await Deno.mkdir(`${dir}/Bob`);
 * await Deno.mkdir(`${dir}/Ann`);
 * await Deno.writeFile(`${dir}/Bob/b.png`, png);
 * await Deno.writeFile(`${dir}/Ann/a.png`, png);
 * await Deno.writeTextFile(`${dir}/Ann/notes.txt`, "hi");
 * const { dataset, skipped } = await loadDatasetFolder(dir);
 * assert.deepEqual(dataset.map((c) => c.name), ["Ann", "Bob"]);
 * assert.deepEqual(dataset[0]!.images, [`${dir}/Ann/a.png`]);
 * assert.equal(skipped.length, 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Data
 */
export async function loadDatasetFolder(
  dir: string,
  options: LoadDatasetOptions = {},
): Promise<LoadedDataset> {
  const minImages = options.minNrofImagesPerClass ?? 1;
  if (!Number.isSafeInteger(minImages) || minImages < 0) {
    throw new RangeError(
      `Minimum images per class must be a non-negative integer, got ${minImages}`,
    );
  }
  const verify = options.verify ?? "header";
  if (verify !== "header" && verify !== "decode" && verify !== "none") {
    throw new RangeError(`Verification must be "header", "decode" or "none", got ${verify}`);
  }
  const concurrency = options.concurrency ?? 16;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`Concurrency must be a positive integer, got ${concurrency}`);
  }
  const root = resolve(dir);
  let rootInfo: Deno.FileInfo;
  try {
    rootInfo = await Deno.stat(root);
  } catch (error) {
    throw new Error(
      `Cannot read dataset folder ${root}: ${
        error instanceof Deno.errors.NotFound ? "not found" : (error as Error).message
      }`,
      { cause: error },
    );
  }
  if (!rootInfo.isDirectory) throw new Error(`Dataset folder ${root} is not a folder`);

  const classNames: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (await isDirectory(join(root, entry.name), entry)) classNames.push(entry.name);
  }
  classNames.sort(byCodeUnits);

  const skipped: SkippedFile[] = [];
  const candidates: { classIndex: number; path: string }[] = [];
  const perClass: string[][] = classNames.map(() => []);
  for (let c = 0; c < classNames.length; c++) {
    const classDir = join(root, classNames[c] as string);
    const entries: Deno.DirEntry[] = [];
    try {
      for await (const entry of Deno.readDir(classDir)) entries.push(entry);
    } catch (error) {
      skipped.push({ path: classDir, reason: `cannot list folder: ${(error as Error).message}` });
      continue;
    }
    entries.sort((a, b) => byCodeUnits(a.name, b.name));
    for (const entry of entries) {
      const path = join(classDir, entry.name);
      if (await isDirectory(path, entry)) {
        skipped.push({ path, reason: "a folder inside an identity folder" });
      } else if (await isRegularFile(path, entry)) {
        candidates.push({ classIndex: c, path });
      } else {
        // A FIFO, socket or device: opening or reading it could block forever.
        skipped.push({ path, reason: "not a regular file" });
      }
    }
  }

  const reasons = await mapLimited(candidates, concurrency, async ({ path }) => {
    if (verify === "none") return null;
    if (verify === "header") return await probeImageFile(path);
    try {
      await readImage(path);
      return null;
    } catch (error) {
      return (error as Error).message.replace(`Cannot read image ${path}: `, "");
    }
  });
  candidates.forEach(({ classIndex, path }, i) => {
    const reason = reasons[i];
    if (reason === null || reason === undefined) perClass[classIndex]!.push(path);
    else skipped.push({ path, reason });
  });
  skipped.sort((a, b) => byCodeUnits(a.path, b.path));

  const dataset: ImageClass[] = [];
  const droppedClasses: DroppedClass[] = [];
  classNames.forEach((name, c) => {
    const images = perClass[c]!;
    if (images.length >= minImages) dataset.push({ name, images });
    else droppedClasses.push({ name, images: images.length });
  });
  return { dataset, skipped, droppedClasses };
}

/**
 * Warning lines for a dataset scan: a summary, then one line per skipped file
 * (up to `max`), then one line for the dropped identities.
 *
 * @param loaded What {@linkcode loadDatasetFolder} returned.
 * @param max How many skipped files to name (default all).
 * @returns The lines, empty when nothing was skipped or dropped.
 * @example
 * ```ts
 * import { describeSkipped } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const lines = describeSkipped({
 *   dataset: [],
 *   skipped: [{ path: "/d/A/x.txt", reason: "not a JPEG or PNG file (unknown signature)" }],
 *   droppedClasses: [{ name: "A", images: 0 }],
 * });
 * assert.deepEqual(lines, [
 *   "skipped 1 file",
 *   "  /d/A/x.txt: not a JPEG or PNG file (unknown signature)",
 *   "dropped 1 identity with too few images: A (0)",
 * ]);
 * ```
 *
 * @category Data
 */
export function describeSkipped(loaded: LoadedDataset, max = Infinity): string[] {
  const lines: string[] = [];
  const { skipped, droppedClasses } = loaded;
  if (skipped.length > 0) {
    lines.push(`skipped ${skipped.length} file${skipped.length === 1 ? "" : "s"}`);
    for (const s of skipped.slice(0, max)) lines.push(`  ${s.path}: ${s.reason}`);
    if (skipped.length > max) lines.push(`  ... and ${skipped.length - max} more`);
  }
  if (droppedClasses.length > 0) {
    const n = droppedClasses.length;
    const names = droppedClasses.slice(0, 10).map((d) => `${d.name} (${d.images})`).join(", ");
    lines.push(
      `dropped ${n} ${n === 1 ? "identity" : "identities"} with too few images: ${names}${
        n > 10 ? `, and ${n - 10} more` : ""
      }`,
    );
  }
  return lines;
}
