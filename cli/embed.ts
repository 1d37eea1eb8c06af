/**
 * `embed`: the reference implementation's export_embeddings. Embeds the images of a labelled
 * folder (`--data-dir`) or the images given as arguments and writes, for
 * `--out PREFIX`:
 *
 * - `PREFIX.npy`: the embeddings, a float32 `(images, embedding size)` matrix;
 * - `PREFIX_labels.npy`: the int32 label of each image (its identity index;
 *   -1 for images given as arguments);
 * - `PREFIX_label_strings.json`: the identity name of each image (the reference implementation's
 *   label_strings), and `PREFIX_classes.json`: the identity names by label;
 * - `PREFIX.jsonl`: one JSON object per image, `{"path", "label", "name", "embedding"}`.
 *
 * @module
 */

import { join } from "node:path";
import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import {
  embeddingProgress,
  embedFiles,
  loadLabelledImages,
  MODEL_FLAGS,
  openModel,
} from "./_embedder.ts";
import { encodeNpyInt32, encodeNpyMatrix } from "../io/npy.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { checkOutputPath } from "./_output.ts";
import { DETECT_CROP_FLAGS, detectAndCrop } from "./_mtcnn.ts";

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The flags of `embed`. */
export const EMBED_FLAGS: FlagTable = {
  ...MODEL_FLAGS,
  ...DETECT_CROP_FLAGS,
  "data-dir": { kind: "string", help: "labelled folder (one sub-folder per identity)" },
  "min-nrof-images-per-class": {
    kind: "number",
    help: "with --data-dir: identities with fewer images are left out",
    integer: true,
    min: 1,
    default: 1,
    usedWhen: { when: (v) => v["data-dir"] !== undefined, noEffect: "without --data-dir" },
  },
  "out": {
    kind: "string",
    help: "output prefix: PREFIX.npy, PREFIX_labels.npy, PREFIX.jsonl, ...",
  },
  "force": { kind: "boolean", help: "replace existing output files" },
  "use-flipped-images": {
    kind: "boolean",
    help: "concatenate the embeddings of each image and its mirror",
  },
};

/**
 * The files `embed` writes for a prefix; a prefix naming a folder (ending in
 * `/`) writes `embeddings.npy`, `embeddings_labels.npy`, ... inside it, never
 * hidden files such as `DIR/.npy`.
 */
export function embeddingFiles(prefix: string): {
  embeddings: string;
  labels: string;
  labelStrings: string;
  classes: string;
  jsonl: string;
} {
  let base = prefix.endsWith(".npy") ? prefix.slice(0, -4) : prefix;
  if (/[\\/]$/.test(base) || base === "" || base === "." || base === "..") {
    base = join(base === "" ? "." : base, "embeddings");
  }
  return {
    embeddings: `${base}.npy`,
    labels: `${base}_labels.npy`,
    labelStrings: `${base}_label_strings.json`,
    classes: `${base}_classes.json`,
    jsonl: `${base}.jsonl`,
  };
}

/**
 * Runs `embed` with the given arguments.
 *
 * @param args Arguments after `embed`.
 * @returns The process exit code.
 */
export async function embedCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, EMBED_FLAGS);
  if (flags.values["help"]) {
    console.log(
      formatHelp(
        "deno run -A cli.ts embed (--checkpoint CKPT | --pretrained NAME) (--data-dir DIR | IMAGE...) --out PREFIX [flags]",
        EMBED_FLAGS,
        [
          "writes PREFIX.npy (float32 embeddings), PREFIX_labels.npy (int32), PREFIX_label_strings.json,",
          "PREFIX_classes.json and PREFIX.jsonl (one object per image)",
        ],
      ),
    );
    return 0;
  }
  const dataDir = flags.values["data-dir"] as string | undefined;
  let out = checkOutputPath(flags.values["out"] as string | undefined, "--out");
  if (!/[\\/]$/.test(out) && (await isFolder(out))) out += "/";
  const files = embeddingFiles(out);
  if (flags.values["force"] !== true) {
    for (const file of Object.values(files)) {
      if (await exists(file)) {
        throw new UsageError(
          `${file} already exists; choose another --out prefix or add --force to replace it`,
        );
      }
    }
  }
  if (dataDir === undefined && flags.positionals.length === 0) {
    throw new UsageError("give --data-dir or image files");
  }
  if (dataDir !== undefined && flags.positionals.length > 0) {
    throw new UsageError("give either --data-dir or image files, not both");
  }
  const quiet = flags.values["quiet"] === true;
  let paths: string[];
  let labels: Int32Array;
  let classes: string[] = [];
  if (dataDir !== undefined) {
    const labelled = await loadLabelledImages(
      dataDir,
      flags.values["min-nrof-images-per-class"] as number,
      quiet,
    );
    paths = labelled.paths;
    labels = labelled.labels;
    classes = labelled.dataset.map((c) => c.name);
  } else {
    paths = [...flags.positionals];
    labels = new Int32Array(paths.length).fill(-1);
  }
  const loaded = await openModel(flags);
  let embeddings;
  try {
    let decode;
    if (flags.values["detect"]) {
      const { crops } = await detectAndCrop(paths, flags.values, loaded.imageSize, loaded.align);
      const kept = paths.map((p) => crops.has(p));
      labels = labels.filter((_, i) => kept[i]);
      paths = paths.filter((_, i) => kept[i]);
      decode = (ref: string) => Promise.resolve(crops.get(ref)!);
    }
    embeddings = await embedFiles(loaded, paths, {
      batchSize: flags.values["batch-size"] as number,
      workers: flags.values["workers"] as number,
      resize: flags.values["resize"] as number | undefined,
      flipped: flags.values["use-flipped-images"] === true,
      ...(decode === undefined ? {} : { decode }),
      ...(quiet ? {} : { onProgress: embeddingProgress("images", false)! }),
    });
  } finally {
    loaded.dispose();
  }
  await writeFileAtomic(files.embeddings, encodeNpyMatrix(embeddings));
  await writeFileAtomic(files.labels, encodeNpyInt32(labels));
  const names = Array.from(labels, (l) => (l >= 0 ? classes[l] as string : null));
  await writeFileAtomic(files.labelStrings, JSON.stringify(names) + "\n");
  await writeFileAtomic(files.classes, JSON.stringify(classes) + "\n");
  const lines: string[] = [];
  for (let i = 0; i < paths.length; i++) {
    const row = embeddings.data.subarray(i * embeddings.cols, (i + 1) * embeddings.cols);
    lines.push(JSON.stringify({
      path: paths[i],
      label: labels[i],
      name: names[i],
      embedding: Array.from(row),
    }));
  }
  await writeFileAtomic(files.jsonl, lines.join("\n") + (lines.length > 0 ? "\n" : ""));
  if (!quiet) {
    console.log(
      `wrote ${embeddings.rows}x${embeddings.cols} embeddings to ${files.embeddings} (labels ${files.labels}, JSONL ${files.jsonl})`,
    );
  }
  return 0;
}
