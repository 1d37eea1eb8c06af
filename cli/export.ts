/**
 * `export`: writes a checkpoint as a TensorFlow.js graph model (model.json +
 * weight shards) that stock tfjs loads with `tf.loadGraphModel` in a browser
 * or in Deno; `model.predict(images)` gives the L2-normalized embeddings of
 * NHWC float32 images standardized as in training (`(x - 127.5) / 128`).
 * The metadata (`userDefinedMetadata.facenet.input`) records the input size
 * and standardization, which `imageDataToInput` (core/pure/model_input.ts)
 * applies to an `ImageData`. With `--format onnx` it writes `model.onnx`
 * instead (backends/onnx/export.ts), for ONNX Runtime and the engines that
 * load ONNX.
 *
 * @module
 */

import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import { CHECKPOINT_FLAGS, readModelCheckpoint } from "./_embedder.ts";
import { MODEL_NAMES, type ModelName, modelSpec } from "../core/models/registry.ts";
import { buildGraphModelArtifacts, type ExportedModel } from "../backends/tfjs/export.ts";
import { buildOnnxModel } from "../backends/onnx/export.ts";
import { replaceFolderAtomic, writeFileAtomic } from "../io/atomic.ts";
import { checkOutputFolder, checkOutputPath } from "./_output.ts";
import { join } from "node:path";

/** The export command's flags. */
export const EXPORT_FLAGS: FlagTable = {
  ...CHECKPOINT_FLAGS,
  "out": { kind: "string", help: "folder to write model.json and the weight shards into" },
  "format": {
    kind: "string",
    help: "tfjs: a TensorFlow.js graph model (model.json + shards); onnx: model.onnx (opset 13)",
    default: "tfjs",
    choices: ["tfjs", "onnx"],
  },
  "force": { kind: "boolean", help: "replace a non-empty --out folder" },
  "raw-weights": {
    kind: "boolean",
    help: "export the raw parameters instead of their moving averages",
  },
};

/** `--force` replaces only a previous export: a folder of model.json and .bin shards, or model.onnx. */
async function checkPreviousExport(out: string): Promise<void> {
  const info = await Deno.lstat(out);
  const foreign: string[] = [];
  if (info.isDirectory) {
    for await (const entry of Deno.readDir(out)) {
      const exported = entry.name === "model.json" || entry.name === "model.onnx" ||
        entry.name.endsWith(".bin");
      if (!entry.isFile || !exported) {
        foreign.push(entry.name);
      }
    }
  } else foreign.push(out);
  if (foreign.length > 0) {
    throw new UsageError(
      `--force replaces only a previous export (model.json and .bin shards, or model.onnx), but ${out} holds ${
        foreign.slice(0, 3).join(", ")
      }${foreign.length > 3 ? ", ..." : ""}; choose another --out folder`,
    );
  }
}

/**
 * Writes a TensorFlow.js graph model (`model.json` and its shards) as a whole
 * folder: the files are filled into a temporary sibling and swapped in, so a
 * kill, a crash or a full disk leaves the previous folder (or none), never a
 * model.json without its shards.
 *
 * @param directory The model's folder (replaced when it exists).
 * @param exported What `buildGraphModelArtifacts` returned.
 * @returns The path of the written model.json.
 * @example
 * ```ts
 * import { writeGraphModelFolder } from "./export.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = await writeGraphModelFolder(`${dir}/model`, {
 *   modelJson: { format: "graph-model" },
 *   shards: [{ name: "group1-shard1of1.bin", data: new Uint8Array([1, 2]) }],
 * });
 * assert.equal(JSON.parse(await Deno.readTextFile(path)).format, "graph-model");
 * assert.deepEqual(await Deno.readFile(`${dir}/model/group1-shard1of1.bin`), new Uint8Array([1, 2]));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeGraphModelFolder(
  directory: string,
  exported: ExportedModel,
): Promise<string> {
  await replaceFolderAtomic(directory, async (tmp) => {
    for (const shard of exported.shards) await writeFileAtomic(join(tmp, shard.name), shard.data);
    await writeFileAtomic(join(tmp, "model.json"), JSON.stringify(exported.modelJson));
  });
  return join(directory, "model.json");
}

/**
 * Runs `export`.
 *
 * @param args Arguments after `export`.
 * @returns The exit code.
 */
export async function exportCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, EXPORT_FLAGS);
  if (flags.values["help"]) {
    console.log(
      formatHelp(
        "deno run -A cli.ts export (--checkpoint CKPT | --pretrained NAME) --out DIR",
        EXPORT_FLAGS,
        [
          "Load it with: const model = await tf.loadGraphModel(url_of_model_json);",
          "then model.predict(images) with NHWC float32 images standardized as (x - 127.5) / 128.",
          "model.json's userDefinedMetadata.facenet.input records the input size and standardization;",
          "imageDataToInput(imageData, input) from the pure entry point prepares an image for it.",
          "--format onnx writes model.onnx (input 'images' [N, H, W, 3] NHWC, output 'embeddings'),",
          "for ONNX Runtime, Triton, TensorRT or PyTorch (onnx2torch); metadata 'facenet.input'.",
        ],
      ),
    );
    return 0;
  }
  // Reads --checkpoint or --pretrained before touching --out, so a bad name leaves nothing behind.
  const { checkpoint: { state, meta }, source: path } = await readModelCheckpoint(flags);
  const out = checkOutputPath(flags.values["out"] as string | undefined, "--out");
  const existing = await checkOutputFolder(out, "--out", { force: flags.values["force"] === true });
  if (existing === "replace") await checkPreviousExport(out);
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
  // The input description in the metadata: the checkpoint's standardization (training's is fixed).
  const standardize = config?.["standardize"];
  const standardization = standardize === "prewhiten" || standardize === "none"
    ? standardize
    : "fixed";
  const onnx = flags.values["format"] === "onnx";
  // The files appear together or not at all: a new folder is filled beside --out, then swapped in.
  if (onnx) {
    const bytes = buildOnnxModel(spec, state, { useMovingAverage, standardization });
    await replaceFolderAtomic(out, async (tmp) => {
      await writeFileAtomic(join(tmp, "model.onnx"), bytes);
    });
  } else {
    await writeGraphModelFolder(
      out,
      buildGraphModelArtifacts(spec, state, { useMovingAverage, standardization }),
    );
  }
  const written = join(out, onnx ? "model.onnx" : "model.json");
  console.log(
    `wrote ${written} (${meta.model}, ${meta.embeddingSize}-d, step ${meta.step}, ` +
      `${useMovingAverage ? "moving-average" : "raw"} weights)`,
  );
  return 0;
}
