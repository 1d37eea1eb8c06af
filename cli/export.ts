/**
 * `export`: writes a checkpoint as a TensorFlow.js graph model (model.json +
 * weight shards) that stock tfjs loads with `tf.loadGraphModel` in a browser
 * or in Deno; `model.predict(images)` gives the L2-normalized embeddings of
 * NHWC float32 images standardized as in training (`(x - 127.5) / 128`).
 *
 * @module
 */

import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { MODEL_NAMES, type ModelName, modelSpec } from "../core/models/registry.ts";
import { buildGraphModelArtifacts, writeExportedModel } from "../backends/tfjs/export.ts";

/** The export command's flags. */
export const EXPORT_FLAGS: FlagTable = {
  "model": { kind: "string", help: "checkpoint folder (a run folder means its latest)" },
  "out": { kind: "string", help: "folder to write model.json and the weight shards into" },
  "raw-weights": {
    kind: "boolean",
    help: "export the raw parameters instead of their moving averages",
  },
};

/**
 * Runs `export`.
 *
 * @param args Arguments after `export`.
 * @returns The exit code.
 */
export async function exportCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, EXPORT_FLAGS);
  if (flags.values["help"]) {
    console.log(formatHelp("deno run -A cli.ts export --model CKPT --out DIR", EXPORT_FLAGS, [
      "Load it with: const model = await tf.loadGraphModel(url_of_model_json);",
      "then model.predict(images) with NHWC float32 images standardized as (x - 127.5) / 128.",
    ]));
    return 0;
  }
  const path = flags.values["model"] as string | undefined;
  const out = flags.values["out"] as string | undefined;
  if (path === undefined) throw new UsageError("--model is required (a checkpoint folder)");
  if (out === undefined) throw new UsageError("--out is required (the export folder)");
  const { state, meta } = await loadCheckpoint(path);
  if (!(MODEL_NAMES as readonly string[]).includes(meta.model)) {
    throw new Error(`${path}: the checkpoint's model "${meta.model}" is not one of ${MODEL_NAMES}`);
  }
  const config = meta.config as Record<string, unknown> | null;
  const imageSize = typeof config?.["imageSize"] === "number" ? config["imageSize"] : undefined;
  const spec = modelSpec(meta.model as ModelName, {
    embeddingSize: meta.embeddingSize,
    ...(imageSize === undefined ? {} : { imageSize }),
  });
  const useMovingAverage = flags.values["raw-weights"] !== true && state.ema !== null;
  const written = await writeExportedModel(
    out,
    buildGraphModelArtifacts(spec, state, { useMovingAverage }),
  );
  console.log(
    `wrote ${written} (${meta.model}, ${meta.embeddingSize}-d, step ${meta.step}, ` +
      `${useMovingAverage ? "moving-average" : "raw"} weights)`,
  );
  return 0;
}
