// Test helper: the pretrained MobileFaceNet file parsed once per test process, its parameters
// as the port maps them, and the file's own graph run by the reference interpreter.
import { parseTflite, type TfliteModel } from "../io/tflite.ts";
import { MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "../io/npm_assets.ts";
import { MOBILEFACENET_FILE, mobileFaceNetLayers } from "../io/pretrained.ts";
import { mobileFaceNetParams } from "../core/models/mobilefacenet.ts";
import type { NamedTensors, Tensor } from "../core/types.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { runTflite } from "./_tflite_interpreter.ts";

let file: Promise<TfliteModel> | null = null;

/** The parsed MobileFaceNet.tflite. */
export function mobileFaceNetFile(): Promise<TfliteModel> {
  file ??= (async () => {
    const path = await npmPackageFile(MTCNN_WEIGHTS_PACKAGE, MOBILEFACENET_FILE);
    return parseTflite(await Deno.readFile(path), path);
  })();
  return file;
}

/** The spec's parameters from the file. */
export async function mobileFaceNetWeights(): Promise<NamedTensors> {
  return mobileFaceNetParams(mobileFaceNetLayers(await mobileFaceNetFile()));
}

/** A batch of random images as the model is fed: (v - 127.5) / 128 for v in 0..255. */
export function randomFaces(n: number, seed: number, size = 112): Tensor {
  const shape = [n, size, size, 3];
  const [u] = uniforms(createRng(seed), n * size * size * 3);
  return { shape, data: Float32Array.from(u, (v) => (Math.floor(v * 256) - 127.5) / 128) };
}

/** The file's raw 192-d output for a batch (the interpreter; float64 sums). */
export async function interpreterEmbeddings(x: Tensor): Promise<Tensor> {
  const out = runTflite(await mobileFaceNetFile(), x);
  return out["embeddings"]!;
}
