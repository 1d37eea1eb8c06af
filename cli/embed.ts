/**
 * `embed`: the seed's export_embeddings. Embeds the images of a labelled
 * folder (`--data-dir`) or the images given as arguments and writes, for
 * `--out PREFIX`:
 *
 * - `PREFIX.npy`: the embeddings, a float32 `(images, embedding size)` matrix;
 * - `PREFIX_labels.npy`: the int32 label of each image (its identity index;
 *   -1 for images given as arguments);
 * - `PREFIX_label_strings.json`: the identity name of each image (the seed's
 *   label_strings), and `PREFIX_classes.json`: the identity names by label;
 * - `PREFIX.jsonl`: one JSON object per image, `{"path", "label", "name", "embedding"}`.
 *
 * @module
 */

import { dirname } from "node:path";
import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import {
  embeddingProgress,
  embedFiles,
  loadLabelledImages,
  MODEL_FLAGS,
  openModel,
} from "./_embedder.ts";
import { encodeNpyInt32, encodeNpyMatrix } from "../io/npy.ts";

/** The flags of `embed`. */
export const EMBED_FLAGS: FlagTable = {
  ...MODEL_FLAGS,
  "data-dir": { kind: "string", help: "labelled folder (one sub-folder per identity)" },
  "min-nrof-images-per-class": {
    kind: "number",
    help: "with --data-dir: identities with fewer images are left out",
    integer: true,
    min: 1,
    default: 1,
  },
  "out": {
    kind: "string",
    help: "output prefix: PREFIX.npy, PREFIX_labels.npy, PREFIX.jsonl, ...",
  },
  "use-flipped-images": {
    kind: "boolean",
    help: "concatenate the embeddings of each image and its mirror",
  },
};

/** The files `embed` writes for a prefix. */
export function embeddingFiles(prefix: string): {
  embeddings: string;
  labels: string;
  labelStrings: string;
  classes: string;
  jsonl: string;
} {
  const base = prefix.endsWith(".npy") ? prefix.slice(0, -4) : prefix;
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
        "deno run -A cli.ts embed --model CKPT (--data-dir DIR | IMAGE...) --out PREFIX [flags]",
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
  const out = flags.values["out"] as string | undefined;
  if (out === undefined) throw new UsageError("--out is required");
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
    embeddings = await embedFiles(loaded, paths, {
      batchSize: flags.values["batch-size"] as number,
      workers: flags.values["workers"] as number,
      resize: flags.values["resize"] === true,
      flipped: flags.values["use-flipped-images"] === true,
      ...(quiet ? {} : { onProgress: embeddingProgress("images", false)! }),
    });
  } finally {
    loaded.dispose();
  }
  const files = embeddingFiles(out);
  await Deno.mkdir(dirname(files.embeddings), { recursive: true });
  await Deno.writeFile(files.embeddings, encodeNpyMatrix(embeddings));
  await Deno.writeFile(files.labels, encodeNpyInt32(labels));
  const names = Array.from(labels, (l) => (l >= 0 ? classes[l] as string : null));
  await Deno.writeTextFile(files.labelStrings, JSON.stringify(names) + "\n");
  await Deno.writeTextFile(files.classes, JSON.stringify(classes) + "\n");
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
  await Deno.writeTextFile(files.jsonl, lines.join("\n") + (lines.length > 0 ? "\n" : ""));
  if (!quiet) {
    console.log(
      `wrote ${embeddings.rows}x${embeddings.cols} embeddings to ${files.embeddings} (labels ${files.labels}, JSONL ${files.jsonl})`,
    );
  }
  return 0;
}
