/**
 * The pretrained MobileFaceNet embedding a batch of 16 aligned faces, against
 * what a Python user runs instead: the same network in PyTorch
 * (bench/peer_mobilefacenet_torch.py: Debian's python3-torch 1.13, 2 threads and
 * 1), against wasm-simd with 2 threads and 1, and tfjs wasm. The 16 faces are real faces
 * of the demo photos of `@vladmandic/face-api@1.7.15` (half size, MTCNN,
 * 5-point similarity alignment, standardized once). Interleaved rounds (the
 * machine is shared and noisy): each round runs every contender `--reps`
 * times in turn; the table reports the median and the best time per batch and
 * per face. The PyTorch peer's embeddings are checked against ours (within
 * 1e-4).
 *
 * Run: deno run -A bench/peers_mobilefacenet.ts [--rounds 3] [--reps 5]
 * (PYTHON=... picks another interpreter than Debian's /usr/bin/python3)
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import type { Backend, TrainingOptions } from "../core/backend.ts";
import type { ImageBatch } from "../core/types.ts";
import { detectFaces } from "../core/detect/mtcnn.ts";
import { backendSpecRunner, createMtcnnNets } from "../core/detect/mtcnn_nets.ts";
import { alignSimilarity } from "../core/detect/align.ts";
import { resizeArea } from "../core/detect/resample.ts";
import { mtcnnParams } from "../core/models/mtcnn.ts";
import { mobileFaceNet } from "../core/models/mobilefacenet.ts";
import type { RgbImage } from "../core/pure/image_ops.ts";
import { fixedImageStandardization } from "../core/pure/preprocess.ts";
import { createWasmSimdBackend } from "../backends/wasm-simd/mod.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { parseTflite, tfliteConstants } from "../io/tflite.ts";
import { readImage } from "../io/images.ts";
import { encodeSafetensors } from "../io/safetensors.ts";
import { loadPretrained } from "../io/pretrained.ts";
import { DEMO_PHOTOS_PACKAGE, MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "../io/npm_assets.ts";

const PYTHON = Deno.env.get("PYTHON") ?? "/usr/bin/python3";
const { values } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, reps: { type: "string", default: "5" } },
});
const rounds = Number(values.rounds), reps = Number(values.reps);
const N = 16;

const constants = {};
for (const net of ["pnet", "rnet", "onet"]) {
  const path = await npmPackageFile(MTCNN_WEIGHTS_PACKAGE, `android/src/main/assets/${net}.tflite`);
  Object.assign(constants, tfliteConstants(parseTflite(await Deno.readFile(path), path)));
}
const setup = await createWasmSimdBackend({});
const runner = backendSpecRunner(setup);
const nets = createMtcnnNets(runner.run, mtcnnParams(constants));
const faces: RgbImage[] = [];
for (let n = 1; n <= 6 && faces.length < N; n++) {
  const image = await readImage(await npmPackageFile(DEMO_PHOTOS_PACKAGE, `demo/sample${n}.jpg`));
  const half = resizeArea(image, {
    height: Math.round(image.height / 2),
    width: Math.round(image.width / 2),
  });
  for (const face of await detectFaces(half, nets)) faces.push(alignSimilarity(half, face));
}
runner.dispose();
setup.dispose();
if (faces.length < N) throw new Error(`Found ${faces.length} faces in the demo photos, not ${N}`);
const size = 112 * 112 * 3;
const data = new Float32Array(N * size);
faces.slice(0, N).forEach((f, i) => data.set(fixedImageStandardization(f.data), i * size));
const batch: ImageBatch = { n: N, height: 112, width: 112, channels: 3, data };

const { state } = await loadPretrained("mobilefacenet");
const dir = await Deno.makeTempDir({ prefix: "mobilefacenet_peer_" });
const weights = join(dir, "mobilefacenet.safetensors");
await Deno.writeFile(weights, encodeSafetensors(state.params));
const input = join(dir, "faces.bin");
await Deno.writeFile(input, new Uint8Array(data.buffer));

const INFERENCE: TrainingOptions = {
  loss: { kind: "triplet", alpha: 0.2 },
  optimizer: { name: "SGD" },
  weightDecay: 0,
  movingAverageDecay: null,
};
const PEER = "PyTorch 1.13 (peer, 2 threads)";
function torchPeer(threads: number): () => Promise<{ times: number[]; embeddings: number[] }> {
  return async () => {
    const out = await new Deno.Command(PYTHON, {
      args: [
        new URL("./peer_mobilefacenet_torch.py", import.meta.url).pathname,
        weights,
        input,
        String(N),
        String(reps),
        String(threads),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    return { times: r.times_ms, embeddings: r.embeddings };
  };
}
const contenders: Record<
  string,
  () => Promise<{ times: number[]; embeddings: ArrayLike<number> }>
> = { [PEER]: torchPeer(2), "PyTorch 1.13 (peer, 1 thread)": torchPeer(1) };
const backends: Backend[] = [];
for (
  const [name, make] of [
    ["wasm-simd 2 threads", () => createWasmSimdBackend({ threads: 2 })],
    ["wasm-simd 1 thread", () => createWasmSimdBackend({ threads: 1 })],
    ["tfjs wasm", () => createTfjsBackend({ device: "wasm", purpose: "inference" })],
  ] as const
) {
  const backend: Backend = await make();
  backends.push(backend);
  const model = await backend.createModel(mobileFaceNet(), state, INFERENCE);
  contenders[name] = async () => {
    const times: number[] = [];
    let embeddings: ArrayLike<number> = [];
    await model.embed(batch, { training: false }); // warm-up, as the peer
    for (let i = 0; i < reps; i++) {
      const start = performance.now();
      embeddings = (await model.embed(batch, { training: false })).data;
      times.push(performance.now() - start);
    }
    return { times, embeddings };
  };
}

const all: Record<string, number[]> = {};
let reference: ArrayLike<number> | null = null;
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(contenders)) {
    const { times, embeddings } = await run();
    (all[name] ??= []).push(...times);
    reference ??= embeddings;
    for (let i = 0; i < reference.length; i++) {
      if (!(Math.abs(embeddings[i]! - reference[i]!) <= 1e-4)) {
        throw new Error(`${name}: embedding value ${i} is ${embeddings[i]}, not ${reference[i]}`);
      }
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const peer = median(all[PEER]!);
console.log(`MobileFaceNet, batch ${N} aligned faces 112x112, ${rounds} rounds x ${reps}`);
console.log(
  "| contender | median / batch | per face | best / batch | PyTorch / contender (median) |",
);
console.log("| --- | --: | --: | --: | --: |");
for (const [name, times] of Object.entries(all)) {
  const m = median(times);
  console.log(
    `| ${name} | ${m.toFixed(1)} ms | ${(m / N).toFixed(2)} ms | ${
      Math.min(...times).toFixed(1)
    } ms | ${(peer / m).toFixed(2)}x |`,
  );
}
for (const b of backends) b.dispose();
await Deno.remove(dir, { recursive: true });
