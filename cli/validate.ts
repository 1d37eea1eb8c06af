/**
 * `validate`: the reference implementation's validate_on_lfw. With `--lfw-dir` and `--lfw-pairs`
 * it embeds the images of an LFW pairs file and prints the reference implementation's report
 * (accuracy +- std, VAL +- std @ FAR, AUC, EER); with `--data-dir` it prints
 * retrieval metrics over a labelled folder (precision@1, R-precision, MAP@R,
 * as pytorch-metric-learning reports them). Both may be given at once.
 *
 * @module
 */

import { readTextFileBounded } from "../io/atomic.ts";
import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import {
  embeddingProgress,
  embedFiles,
  loadLabelledImages,
  MODEL_FLAGS,
  openModel,
} from "./_embedder.ts";
import { parsePairs, resolvePairs } from "../io/pairs.ts";
import {
  type DistanceMetric,
  evaluate,
  type EvaluationReport,
  formatReport,
} from "../core/pure/evaluation.ts";
import { type RetrievalMetrics, retrievalMetrics } from "../core/pure/retrieval.ts";
import type { Matrix } from "../core/types.ts";

/** The flags of `validate`. */
export const VALIDATE_FLAGS: FlagTable = {
  ...MODEL_FLAGS,
  "lfw-dir": { kind: "string", help: "folder of identities holding the pairs' images" },
  "lfw-pairs": { kind: "string", help: "LFW pairs file (pairs.txt)" },
  "data-dir": {
    kind: "string",
    help: "labelled folder (one sub-folder per identity): retrieval metrics",
  },
  "min-nrof-images-per-class": {
    kind: "number",
    help: "with --data-dir: identities with fewer images are left out",
    integer: true,
    min: 1,
    default: 1,
    usedWhen: { when: (v) => v["data-dir"] !== undefined, noEffect: "without --data-dir" },
  },
  "distance-metric": {
    kind: "string",
    help: "pair distance: squared euclidean or angular (the reference implementation's 0 and 1)",
    default: "euclidean",
    choices: ["euclidean", "cosine"],
    usedWhen: { when: (v) => v["lfw-pairs"] !== undefined, noEffect: "without --lfw-pairs" },
  },
  "subtract-mean": {
    kind: "boolean",
    help: "subtract the training folds' mean embedding",
    usedWhen: { when: (v) => v["lfw-pairs"] !== undefined, noEffect: "without --lfw-pairs" },
  },
  "use-flipped-images": {
    kind: "boolean",
    help: "concatenate the embeddings of each image and its mirror",
  },
  "nrof-folds": {
    kind: "number",
    help: "cross-validation folds (default: the pairs file's)",
    integer: true,
    min: 2,
    usedWhen: { when: (v) => v["lfw-pairs"] !== undefined, noEffect: "without --lfw-pairs" },
  },
  "far": {
    kind: "number",
    help: "false accept rate for VAL",
    min: 0,
    exclusiveMin: true,
    default: 1e-3,
    usedWhen: { when: (v) => v["lfw-pairs"] !== undefined, noEffect: "without --lfw-pairs" },
  },
  "allow-missing": {
    kind: "boolean",
    help: "evaluate the pairs whose images exist, saying how many were skipped",
    usedWhen: { when: (v) => v["lfw-pairs"] !== undefined, noEffect: "without --lfw-pairs" },
  },
  "json": { kind: "boolean", help: "print one JSON object instead of the report lines" },
};

/** The JSON output of `validate --json`. */
export interface ValidateJson {
  /** The `--checkpoint` path. */
  checkpoint: string;
  step: number;
  lfw?: {
    pairs: number;
    skippedPairs: number;
    missingImages: string[];
    accuracy: number;
    accuracyStd: number;
    val: number;
    valStd: number;
    far: number;
    auc: number;
    eer: number;
    /** The accuracy threshold chosen on each fold's training pairs. */
    thresholds: number[];
    /** The VAL threshold interpolated on each fold's training pairs. */
    valThresholds: number[];
    /** Test-fold accuracy of each fold. */
    foldAccuracy: number[];
    /** The averaged ROC: true and false positive rates at each of `rocThresholds`. */
    roc: { thresholds: number[]; tpr: number[]; fpr: number[] };
  };
  /** The averages are absent when there is no query (every identity has one image). */
  retrieval?:
    & (RetrievalMetrics | Pick<RetrievalMetrics, "queries" | "loneQueries">)
    & { images: number; identities: number };
}

/**
 * Formats retrieval metrics as report lines.
 *
 * @param metrics The metrics.
 * @returns `Precision@1: 0.12345` and so on, one per line; one line saying
 *   they are undefined when there is no query.
 */
export function formatRetrieval(metrics: RetrievalMetrics): string {
  if (metrics.queries === 0) {
    return `Retrieval metrics: undefined (0 queries: each of the ${metrics.loneQueries} images is the only one of its identity)`;
  }
  return [
    `Precision@1: ${metrics.precisionAt1.toFixed(5)}`,
    `R-precision: ${metrics.rPrecision.toFixed(5)}`,
    `MAP@R: ${metrics.mapAtR.toFixed(5)}`,
  ].join("\n");
}

/**
 * Runs `validate` with the given arguments.
 *
 * @param args Arguments after `validate`.
 * @returns The process exit code.
 */
export async function validateCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, VALIDATE_FLAGS);
  if (flags.values["help"]) {
    console.log(
      formatHelp(
        "deno run -A cli.ts validate (--checkpoint CKPT | --pretrained NAME) (--lfw-dir DIR --lfw-pairs FILE | --data-dir DIR) [flags]",
        VALIDATE_FLAGS,
      ),
    );
    return 0;
  }
  if (flags.positionals.length > 0) {
    throw new UsageError(`validate takes no positional arguments, got "${flags.positionals[0]}"`);
  }
  const lfwDir = flags.values["lfw-dir"] as string | undefined;
  const lfwPairs = flags.values["lfw-pairs"] as string | undefined;
  const dataDir = flags.values["data-dir"] as string | undefined;
  if ((lfwDir === undefined) !== (lfwPairs === undefined)) {
    throw new UsageError("--lfw-dir and --lfw-pairs go together");
  }
  if (lfwDir === undefined && dataDir === undefined) {
    throw new UsageError("give --lfw-dir with --lfw-pairs, or --data-dir (or both)");
  }
  const quiet = flags.values["quiet"] === true;
  const json = flags.values["json"] === true;
  const batchSize = flags.values["batch-size"] as number;
  const workers = flags.values["workers"] as number;
  const resize = flags.values["resize"] as number | undefined;

  // Read the inputs before loading the model, so file errors come first.
  let pairsInput: Awaited<ReturnType<typeof resolvePairs>> | undefined;
  let folds = flags.values["nrof-folds"] as number | undefined;
  if (lfwDir !== undefined && lfwPairs !== undefined) {
    let text: string;
    try {
      text = await readTextFileBounded(lfwPairs);
    } catch (error) {
      throw new Error(`cannot read --lfw-pairs ${lfwPairs}: ${(error as Error).message}`);
    }
    const pairs = parsePairs(text, lfwPairs);
    folds ??= pairs.folds;
    pairsInput = await resolvePairs(pairs, lfwDir, {
      allowMissing: flags.values["allow-missing"] === true,
    });
    if (pairsInput.skippedPairs > 0) {
      console.error(
        `warning: skipped ${pairsInput.skippedPairs} of ${pairs.pairs.length} pairs: ${pairsInput.missing.length} missing images (first: ${
          pairsInput.missing.slice(0, 3).join(", ")
        })`,
      );
    }
    if (pairsInput.paths.length < (folds ?? 2)) {
      throw new Error(
        `${pairsInput.paths.length} pairs remain, fewer than the ${folds} folds`,
      );
    }
  }
  const labelled = dataDir === undefined ? undefined : await loadLabelledImages(
    dataDir,
    flags.values["min-nrof-images-per-class"] as number,
    quiet,
  );

  const loaded = await openModel(flags);
  const out: ValidateJson = {
    checkpoint: loaded.source,
    step: loaded.step,
  };
  const lines: string[] = [];
  try {
    if (!quiet) {
      console.error(`model ${loaded.name} step ${loaded.step} on ${loaded.backend.device}`);
    }
    if (pairsInput !== undefined) {
      const index = new Map<string, number>();
      for (const [a, b] of pairsInput.paths) {
        for (const p of [a, b]) if (!index.has(p)) index.set(p, index.size);
      }
      const embeddings = await embedFiles(loaded, [...index.keys()], {
        batchSize,
        workers,
        resize,
        flipped: flags.values["use-flipped-images"] === true,
        ...optional(embeddingProgress("LFW images", quiet)),
      });
      const pick = (side: 0 | 1): Matrix => {
        const cols = embeddings.cols;
        const data = new Float32Array(pairsInput!.paths.length * cols);
        pairsInput!.paths.forEach((pair, i) => {
          const row = index.get(pair[side]) as number;
          data.set(embeddings.data.subarray(row * cols, (row + 1) * cols), i * cols);
        });
        return { rows: pairsInput!.paths.length, cols, data };
      };
      const report: EvaluationReport = evaluate(pick(0), pick(1), [...pairsInput.same], {
        nrofFolds: folds as number,
        distanceMetric: flags.values["distance-metric"] as DistanceMetric,
        subtractMean: flags.values["subtract-mean"] === true,
        farTarget: flags.values["far"] as number,
      });
      lines.push(formatReport(report));
      out.lfw = {
        pairs: pairsInput.paths.length,
        skippedPairs: pairsInput.skippedPairs,
        missingImages: [...pairsInput.missing],
        accuracy: report.accuracyMean,
        accuracyStd: report.accuracyStd,
        val: report.val,
        valStd: report.valStd,
        far: report.far,
        auc: report.auc,
        eer: report.eer,
        thresholds: report.thresholdsChosen,
        valThresholds: report.valThresholds,
        foldAccuracy: report.accuracy,
        roc: {
          thresholds: [...report.thresholds],
          tpr: [...report.tpr],
          fpr: [...report.fpr],
        },
      };
    }
    if (labelled !== undefined) {
      const embeddings = await embedFiles(loaded, labelled.paths, {
        batchSize,
        workers,
        resize,
        flipped: flags.values["use-flipped-images"] === true,
        ...optional(embeddingProgress("labelled images", quiet)),
      });
      const metrics = retrievalMetrics(embeddings, labelled.labels);
      lines.push(formatRetrieval(metrics));
      if (metrics.loneQueries > 0 && metrics.queries > 0 && !quiet) {
        console.error(
          `note: ${metrics.loneQueries} images are the only one of their identity and are not queries`,
        );
      }
      const { queries, loneQueries } = metrics;
      out.retrieval = {
        ...(queries === 0 ? { queries, loneQueries } : metrics),
        images: labelled.paths.length,
        identities: labelled.dataset.length,
      };
    }
  } finally {
    loaded.dispose();
  }
  console.log(json ? JSON.stringify(out) : lines.join("\n"));
  return 0;
}

function optional<T>(
  onProgress: T | undefined,
): { onProgress: T } | Record<string, never> {
  return onProgress === undefined ? {} : { onProgress };
}
