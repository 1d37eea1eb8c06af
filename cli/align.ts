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
import { encodePng, readImage } from "../io/images.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { checkOutputPath } from "./_output.ts";
import { alignSimilarity, chooseCentralFace, marginBox, marginCrop } from "../core/detect/align.ts";
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
    await Deno.writeTextFile(listing, lines.join("\n") + "\n", { append: true });
    lines.length = 0;
  };
  const detector = await openDetector(flags.values);
  const progress = new AlignProgress(flags.values["quiet"] === true);
  const total = classes.reduce((s, c) => s + c.paths.length, 0);
  let done = 0, aligned = 0, failed = 0;
  try {
    for (const cls of classes) {
      const classDir = join(outputDir, cls.name);
      await Deno.mkdir(classDir, { recursive: true });
      for (const path of cls.paths) {
        done++;
        const stem = basename(path, extname(path));
        const single = join(classDir, `${stem}.png`);
        const first = join(classDir, `${stem}_0.png`);
        if (await exists(multiple ? first : single)) {
          progress.update(done, total, aligned);
          continue;
        }
        let image;
        try {
          image = await readImage(path, { orientation: "exif" });
        } catch (error) {
          progress.log(`${path}: ${(error as Error).message}`, false);
          failed++;
          progress.update(done, total, aligned);
          continue;
        }
        const faces = await detector.detect(image);
        if (faces.length === 0) {
          progress.log(`Unable to align "${path}"`);
          lines.push(single);
        } else {
          const chosen = multiple ? faces : [faces[chooseCentralFace(faces, image)]!];
          for (const [i, face] of chosen.entries()) {
            const out = multiple ? join(classDir, `${stem}_${i}.png`) : single;
            const bb = marginBox(face.box, image, margin);
            if (!similarity && (bb[2] <= bb[0] || bb[3] <= bb[1])) continue; // a box off the photo
            const crop = similarity
              ? alignSimilarity(image, face, imageSize)
              : marginCrop(image, face.box, { size: imageSize, margin });
            await writeFileAtomic(out, encodePng(crop));
            lines.push(`${out} ${bb.join(" ")}`);
            aligned++;
          }
        }
        await flush();
        progress.update(done, total, aligned);
      }
    }
  } finally {
    await flush();
    progress.end();
    detector.dispose();
  }
  console.log(`Total number of images: ${total}`);
  console.log(`Number of successfully aligned images: ${aligned}`);
  if (failed > 0) console.error(`${failed} image(s) could not be read`);
  return 0;
}
