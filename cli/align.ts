/**
 * `align INPUT_DIR OUTPUT_DIR`: FaceNet (TensorFlow)'s `align_dataset_mtcnn`.
 * Every image of a folder-per-identity dataset (classes = sorted
 * sub-folders) goes through MTCNN; the face (the largest and most central one
 * when several are found, or each of them with `--detect-multiple-faces`) is
 * cropped with `--margin` pixels around its box, resized to `--image-size`
 * and written as PNG in the same layout under OUTPUT_DIR, which `train
 * --data-dir` reads. `bounding_boxes_NNNNN.txt` lists each output with its
 * box (`path x1 y1 x2 y2`), and the output path alone for an image in which
 * no face was found ("Unable to align" is printed). Outputs that exist are
 * skipped, so an interrupted run resumes; each PNG is written atomically, so
 * an interruption never leaves a half-written crop that would be skipped.
 *
 * `--jobs N` aligns N photos at once, each in a worker with its own detector
 * (wasm-simd with one thread each unless `--threads`); outputs and the
 * listing are written in input order, identical to a single-job run.
 *
 * Differences from the reference: JPEG EXIF orientation is applied; with
 * `--detect-multiple-faces` an image whose `name_0.png` exists counts as done
 * (the reference checks `name.png`, which that mode never writes, so it
 * re-aligns everything); `--align similarity` is a 5-point similarity
 * alignment onto the 112x112 template instead of the margin crop.
 *
 * @module
 */

import { basename, extname, join } from "node:path";
import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import { DETECTOR_FLAGS, openDetector } from "./_mtcnn.ts";
import { formatSeconds } from "./progress.ts";
import { appendTextLines, writeFileAtomic } from "../io/atomic.ts";
import { checkOutputPath } from "./_output.ts";
import { alignPhoto, type AlignSettings, type PhotoResult } from "./_align_photo.ts";
import { createRng, shuffle } from "../core/pure/rng.ts";
import type { RngState } from "../core/types.ts";

/** The flags of `align`. */
export const ALIGN_FLAGS: FlagTable = {
  ...DETECTOR_FLAGS,
  "threads": {
    kind: "number",
    integer: true,
    min: 1,
    help: "wasm-simd threads (default: all cores)",
  },
  "image-size": {
    kind: "number",
    integer: true,
    min: 8,
    help: "output size in pixels (default 182; 112 with --align similarity)",
  },
  "margin": {
    kind: "number",
    integer: true,
    min: 0,
    default: 44,
    help: "margin around the box, in pixels of the photo (half on each side)",
  },
  "align": {
    kind: "string",
    default: "margin",
    choices: ["margin", "similarity"],
    help: "margin crop (the reference) or 5-point similarity onto the 112x112 template",
  },
  "random-order": {
    kind: "boolean",
    help: "shuffle classes and images (lets several processes share the work)",
  },
  "detect-multiple-faces": {
    kind: "boolean",
    help: "write every face of an image (name_0.png, name_1.png, ...)",
  },
  "seed": { kind: "number", integer: true, min: 0, help: "RNG seed of --random-order" },
  "jobs": {
    kind: "number",
    integer: true,
    min: 1,
    max: 64,
    default: 1,
    help:
      "photos aligned at once, each in a worker with its own detector (wasm-simd: 1 thread each unless --threads)",
  },
  "quiet": { kind: "boolean", help: "no progress line" },
};

/** A class folder and its files, as the reference's `get_dataset` lists them. */
interface ClassFolder {
  readonly name: string;
  readonly paths: string[];
}

async function listDataset(inputDir: string): Promise<ClassFolder[]> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(inputDir));
  } catch (error) {
    throw new Error(`Cannot read the input folder ${inputDir}: ${(error as Error).message}`);
  }
  const classes: ClassFolder[] = [];
  for (const entry of entries.filter((e) => e.isDirectory).sort((a, b) => cmp(a.name, b.name))) {
    const dir = join(inputDir, entry.name);
    const files = (await Array.fromAsync(Deno.readDir(dir)))
      .filter((e) => e.isFile)
      .map((e) => e.name)
      .sort(cmp);
    classes.push({ name: entry.name, paths: files.map((f) => join(dir, f)) });
  }
  return classes;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** One line of progress on stderr: a redrawn line on a terminal, else every 10 s. */
class AlignProgress {
  #start = performance.now();
  #last = 0;
  #tty = Deno.stderr.isTerminal();
  #quiet: boolean;
  constructor(quiet: boolean) {
    this.#quiet = quiet;
  }
  update(done: number, total: number, aligned: number): void {
    if (this.#quiet) return;
    const now = performance.now();
    if (!this.#tty && now - this.#last < 10_000 && done !== total) return;
    this.#last = now;
    const elapsed = (now - this.#start) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const eta = done > 0 ? (total - done) / rate : NaN;
    const width = 20, filled = Math.round((done / Math.max(total, 1)) * width);
    const text = `[${"#".repeat(filled)}${
      "-".repeat(width - filled)
    }] ${done}/${total} images, ${aligned} faces, ${rate.toFixed(2)} img/s, ETA ${
      formatSeconds(eta)
    }`;
    Deno.stderr.writeSync(new TextEncoder().encode(this.#tty ? `\r\x1b[2K${text}` : `${text}\n`));
  }
  log(line: string, toStdout = true): void {
    if (this.#tty && !this.#quiet) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[2K"));
    (toStdout ? console.log : console.error)(line);
  }
  end(): void {
    if (this.#tty && !this.#quiet) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
}

/** Where photos are aligned: in this process, or in `--jobs` workers. */
interface AlignPool {
  run(path: string, settings: AlignSettings): Promise<PhotoResult>;
  dispose(): void;
}

async function openAlignPool(
  jobs: number,
  values: Record<string, number | string | boolean | undefined>,
): Promise<AlignPool> {
  if (jobs === 1) {
    const detector = await openDetector(values);
    return { run: (path, s) => alignPhoto(detector, path, s), dispose: () => detector.dispose() };
  }
  // Each worker opens its own detector; wasm-simd gets one thread per worker by default.
  const workerValues = { ...values, threads: values["threads"] ?? 1 };
  const url = new URL("./_align_worker.ts", import.meta.url).href;
  const free: Worker[] = [];
  const pending = new Map<
    number,
    { resolve: (r: PhotoResult) => void; reject: (e: Error) => void }
  >();
  let nextId = 0;
  const workers = Array.from({ length: jobs }, () => {
    const worker = new Worker(url, { type: "module" });
    worker.onmessage = (event) => {
      const { id, result, failure } = event.data;
      const p = pending.get(id)!;
      pending.delete(id);
      free.push(worker);
      if (failure !== undefined) p.reject(new Error(failure));
      else p.resolve(result);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      for (const p of pending.values()) {
        p.reject(new Error(`An align worker failed: ${event.message}`));
      }
      pending.clear();
    };
    free.push(worker);
    return worker;
  });
  return {
    run(path, settings) {
      const worker = free.pop();
      if (worker === undefined) {
        throw new Error("No free align worker (more photos in flight than --jobs)");
      }
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, path, settings, values: workerValues });
      });
    },
    dispose() {
      for (const w of workers) w.terminate();
    },
  };
}

/**
 * Runs `align` with the given arguments.
 *
 * @param args Arguments after `align`.
 * @returns The process exit code.
 */
export async function alignCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, ALIGN_FLAGS);
  if (flags.values["help"]) {
    console.log(formatHelp("deno run -A cli.ts align INPUT_DIR OUTPUT_DIR", ALIGN_FLAGS));
    return 0;
  }
  if (flags.positionals.length !== 2) {
    throw new UsageError(
      `align needs INPUT_DIR and OUTPUT_DIR, got ${flags.positionals.length} arguments`,
    );
  }
  const [inputDir, outputDir] = flags.positionals as [string, string];
  checkOutputPath(outputDir, "OUTPUT_DIR");
  const similarity = flags.values["align"] === "similarity";
  const imageSize = (flags.values["image-size"] as number | undefined) ?? (similarity ? 112 : 182);
  const margin = flags.values["margin"] as number;
  const multiple = flags.values["detect-multiple-faces"] === true;
  let classes = await listDataset(inputDir);
  if (classes.length === 0) throw new Error(`The input folder ${inputDir} has no class sub-folder`);
  try {
    await Deno.mkdir(outputDir, { recursive: true });
  } catch (error) {
    throw new Error(`Cannot create the output folder ${outputDir}: ${(error as Error).message}`);
  }
  if (flags.values["random-order"]) {
    let rng: RngState = createRng(
      (flags.values["seed"] as number | undefined) ?? Math.floor(Math.random() * 2 ** 31),
    );
    [classes, rng] = shuffle(classes, rng);
    classes = classes.map((c) => {
      const [paths, next] = shuffle(c.paths, rng);
      rng = next;
      return { name: c.name, paths };
    });
  }
  const key = String(Math.floor(Math.random() * 100000)).padStart(5, "0");
  const listing = join(outputDir, `bounding_boxes_${key}.txt`);
  const lines: string[] = [];
  const flush = async () => {
    if (lines.length === 0) return;
    // A listing line torn by a kill mid-append is cut off, never glued onto.
    await appendTextLines(listing, lines);
    lines.length = 0;
  };
  const settings: AlignSettings = { imageSize, margin, similarity, multiple };
  const jobs = flags.values["jobs"] as number;
  const progress = new AlignProgress(flags.values["quiet"] === true);
  const total = classes.reduce((sum, c) => sum + c.paths.length, 0);
  // The photos to align, in order; those whose output exists are done already.
  const tasks: { path: string; classDir: string; stem: string }[] = [];
  let done = 0, aligned = 0, failed = 0;
  for (const cls of classes) {
    const classDir = join(outputDir, cls.name);
    await Deno.mkdir(classDir, { recursive: true });
    for (const path of cls.paths) {
      const stem = basename(path, extname(path));
      const existing = join(classDir, multiple ? `${stem}_0.png` : `${stem}.png`);
      if (await exists(existing)) done++;
      else tasks.push({ path, classDir, stem });
    }
  }
  const pool = await openAlignPool(jobs, flags.values);
  try {
    // A window of `jobs` photos in flight; results are written in input order.
    const window: Promise<PhotoResult>[] = [];
    let next = 0;
    for (const task of tasks) {
      while (next < tasks.length && window.length < jobs) {
        window.push(pool.run(tasks[next++]!.path, settings));
      }
      const result = await window.shift()!;
      done++;
      if ("error" in result) {
        progress.log(result.error, false);
        failed++;
      } else if (result.crops.length === 0) {
        progress.log(`Unable to align "${task.path}"`);
        lines.push(join(task.classDir, `${task.stem}.png`));
      } else {
        for (const [i, crop] of result.crops.entries()) {
          const out = join(task.classDir, multiple ? `${task.stem}_${i}.png` : `${task.stem}.png`);
          await writeFileAtomic(out, crop.png);
          lines.push(`${out} ${crop.box.join(" ")}`);
          aligned++;
        }
      }
      await flush();
      progress.update(done, total, aligned);
    }
  } finally {
    await flush();
    progress.end();
    pool.dispose();
  }
  console.log(`Total number of images: ${total}`);
  console.log(`Number of successfully aligned images: ${aligned}`);
  if (failed > 0) console.error(`${failed} image(s) could not be read`);
  return 0;
}
