/**
 * `cluster`: the reference implementation's cluster tools. Embeds the faces of a folder (its
 * image files, and those of its sub-folders), groups them by identity and
 * copies each group into its own folder under `--out`:
 * `cluster_000/` (the largest), `cluster_001/`, ..., and `unclustered/` for
 * the faces in no cluster of at least `--min-cluster-size`.
 *
 * Methods:
 * - `dbscan` (default): DBSCAN on the euclidean distance matrix with
 *   `eps = --cluster-threshold` (default 1.0) and `min_samples =
 *   --min-cluster-size` (default 1), as the reference implementation's cluster.py;
 * - `chinese-whispers`: Chinese Whispers on the graph joining faces whose
 *   cosine similarity (the dot product of the unit embeddings) exceeds
 *   `--cluster-threshold` (default 0.55, the reference implementation's), 20 passes in an order
 *   drawn from `--seed`; clusters below `--min-cluster-size` are unclustered.
 *
 * When the folder holds one sub-folder per identity, the identities are
 * known and the agreement of the clustering with them is reported too:
 * purity (of the clustered faces), coverage, and the adjusted Rand index
 * (0 at chance, 1 for a perfect grouping; unclustered faces count as
 * singletons).
 *
 * @module
 */

import { basename, extname, join } from "node:path";
import { euclideanDistanceMatrix } from "./compare.ts";
import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import { embeddingProgress, embedFiles, MODEL_FLAGS, openModel } from "./_embedder.ts";
import {
  adjustedRandIndex,
  chineseWhispers,
  clusterMembers,
  clusterPurity,
  dbscan,
  NOISE,
} from "../core/pure/cluster.ts";
import { createRng } from "../core/pure/rng.ts";
import { loadDatasetFolder } from "../io/dataset.ts";
import { MAX_IMAGE_FILE_BYTES, probeImageFile } from "../io/images.ts";
import { readFileBounded, replaceFolderAtomic, writeNewFileSynced } from "../io/atomic.ts";
import { checkOutputFolder, checkOutputPath } from "./_output.ts";
import type { Matrix } from "../core/types.ts";

/** The flags of `cluster`. */
export const CLUSTER_FLAGS: FlagTable = {
  ...MODEL_FLAGS,
  "data-dir": {
    kind: "string",
    help: "folder of face images (and/or one sub-folder per identity)",
  },
  "out": {
    kind: "string",
    help: "output folder, one sub-folder per cluster (must not exist or be empty)",
  },
  "method": {
    kind: "string",
    help: "clustering method",
    default: "dbscan",
    choices: ["dbscan", "chinese-whispers"],
  },
  "cluster-threshold": {
    kind: "number",
    help:
      "dbscan: distance eps (default 1.0); chinese-whispers: similarity threshold (default 0.55)",
  },
  "min-cluster-size": {
    kind: "number",
    help: "dbscan: min samples; both: smaller clusters are unclustered",
    integer: true,
    min: 1,
    default: 1,
  },
  "seed": {
    kind: "number",
    help: "chinese-whispers visiting order seed",
    integer: true,
    default: 666,
    usedWhen: {
      when: (v) => v["method"] === "chinese-whispers",
      noEffect: "without --method chinese-whispers",
    },
  },
  "json": { kind: "boolean", help: "print the clusters (and purity) as one JSON object" },
};

/** The images to cluster, with their identities when the folder has one sub-folder per identity. */
async function collectImages(
  dir: string,
  quiet: boolean,
): Promise<{ paths: string[]; identities: string[] | null }> {
  const top: string[] = [];
  let skipped = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile) top.push(join(dir, entry.name));
    }
  } catch (error) {
    throw new Error(`cannot read --data-dir ${dir}: ${(error as Error).message}`);
  }
  top.sort();
  const paths: string[] = [];
  for (const path of top) {
    const problem = await probeImageFile(path);
    if (problem === null) paths.push(path);
    else {
      skipped++;
      if (!quiet) console.error(`skipped ${path}: ${problem}`);
    }
  }
  const loaded = await loadDatasetFolder(dir);
  if (!quiet) {
    for (const s of loaded.skipped) console.error(`skipped ${s.path}: ${s.reason}`);
  }
  skipped += loaded.skipped.length;
  if (!quiet && skipped > 0) console.error(`skipped ${skipped} files in all`);
  const identities: string[] = [];
  for (const cls of loaded.dataset) {
    for (const image of cls.images) {
      paths.push(image);
      identities.push(cls.name);
    }
  }
  if (paths.length === 0) throw new Error(`${dir} holds no JPEG or PNG images`);
  return {
    paths,
    identities: top.length === 0 || paths.length === identities.length ? identities : null,
  };
}

function dotProducts(x: Matrix): Matrix {
  const n = x.rows;
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < x.cols; k++) {
        s += (x.data[i * x.cols + k] as number) * (x.data[j * x.cols + k] as number);
      }
      out[i * n + j] = out[j * n + i] = s;
    }
  }
  return { rows: n, cols: n, data: out };
}

async function copyInto(folder: string, paths: readonly string[]): Promise<void> {
  await Deno.mkdir(folder, { recursive: true });
  const used = new Set<string>();
  for (const path of paths) {
    let name = basename(path);
    if (used.has(name)) {
      const ext = extname(name);
      const stem = name.slice(0, name.length - ext.length);
      let k = 2;
      while (used.has(`${stem}_${k}${ext}`)) k++;
      name = `${stem}_${k}${ext}`;
    }
    used.add(name);
    await writeNewFileSynced(join(folder, name), await readFileBounded(path, MAX_IMAGE_FILE_BYTES));
  }
}

/**
 * Runs `cluster` with the given arguments.
 *
 * @param args Arguments after `cluster`.
 * @returns The process exit code.
 */
export async function clusterCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, CLUSTER_FLAGS);
  if (flags.values["help"]) {
    console.log(
      formatHelp(
        "deno run -A cli.ts cluster (--checkpoint CKPT | --pretrained NAME) --data-dir DIR --out DIR [flags]",
        CLUSTER_FLAGS,
      ),
    );
    return 0;
  }
  if (flags.positionals.length > 0) {
    throw new UsageError(`cluster takes no positional arguments, got "${flags.positionals[0]}"`);
  }
  const dataDir = flags.values["data-dir"] as string | undefined;
  const out = checkOutputPath(flags.values["out"] as string | undefined, "--out");
  if (dataDir === undefined) throw new UsageError("--data-dir is required");
  const method = flags.values["method"] as "dbscan" | "chinese-whispers";
  const threshold = (flags.values["cluster-threshold"] as number | undefined) ??
    (method === "dbscan" ? 1.0 : 0.55);
  if (method === "dbscan" && threshold < 0) {
    throw new UsageError(`--cluster-threshold must be >= 0 for dbscan, got ${threshold}`);
  }
  const minSize = flags.values["min-cluster-size"] as number;
  const quiet = flags.values["quiet"] === true;
  await checkOutputFolder(out, "--out", { hint: "choose a new --out folder" });
  const { paths, identities } = await collectImages(dataDir, quiet);

  const loaded = await openModel(flags);
  let embeddings;
  try {
    embeddings = await embedFiles(loaded, paths, {
      batchSize: flags.values["batch-size"] as number,
      workers: flags.values["workers"] as number,
      resize: flags.values["resize"] as number | undefined,
      ...(quiet ? {} : { onProgress: embeddingProgress("images", false)! }),
    });
  } finally {
    loaded.dispose();
  }

  let labels: Int32Array;
  if (method === "dbscan") {
    labels = dbscan(euclideanDistanceMatrix(embeddings), { eps: threshold, minSamples: minSize });
  } else {
    labels = chineseWhispers(dotProducts(embeddings), {
      threshold,
      rng: createRng(flags.values["seed"] as number),
    }).labels;
  }
  const groups = clusterMembers(labels).filter((members) => members.length >= minSize);
  const final = new Int32Array(paths.length).fill(NOISE);
  groups.forEach((members, k) => {
    for (const i of members) final[i] = k;
  });
  const unclustered = paths.filter((_, i) => final[i] === NOISE);

  const width = Math.max(3, String(Math.max(0, groups.length - 1)).length);
  // The folders appear together or not at all: filled beside --out, then swapped in.
  await replaceFolderAtomic(out, async (tmp) => {
    for (let k = 0; k < groups.length; k++) {
      const members = groups[k] as number[];
      await copyInto(
        join(tmp, `cluster_${String(k).padStart(width, "0")}`),
        members.map((i) => paths[i] as string),
      );
    }
    if (unclustered.length > 0) await copyInto(join(tmp, "unclustered"), unclustered);
  });

  let purity: (ReturnType<typeof clusterPurity> & { adjustedRandIndex: number }) | null = null;
  if (identities !== null) {
    const index = new Map<string, number>();
    const truth = identities.map((name) => {
      if (!index.has(name)) index.set(name, index.size);
      return index.get(name) as number;
    });
    purity = { ...clusterPurity(final, truth), adjustedRandIndex: adjustedRandIndex(final, truth) };
  }
  if (flags.values["json"]) {
    console.log(JSON.stringify({
      method,
      threshold,
      images: paths.length,
      clusters: groups.map((members) => members.map((i) => paths[i])),
      unclustered,
      ...(purity === null ? {} : { purity }),
    }));
  } else {
    console.log(
      `${groups.length} clusters of at least ${minSize} image${
        minSize === 1 ? "" : "s"
      } among ${paths.length} images (${method}, threshold ${threshold}); ${unclustered.length} unclustered`,
    );
    groups.slice(0, 20).forEach((members, k) =>
      console.log(`  cluster_${String(k).padStart(width, "0")}: ${members.length} images`)
    );
    if (groups.length > 20) console.log(`  ... and ${groups.length - 20} more clusters`);
    if (purity !== null) {
      console.log(
        `Purity: ${purity.purity.toFixed(3)} (single-cluster baseline ${
          purity.baseline.toFixed(3)
        }), coverage ${purity.coverage.toFixed(3)}, adjusted Rand index ${
          purity.adjustedRandIndex.toFixed(3)
        } (chance 0)`,
      );
    }
    console.log(`wrote ${out}`);
  }
  return 0;
}
