/**
 * A toy folder-per-identity set of aligned faces for trying the pretrained
 * workflow without a dataset: every face MTCNN finds in the demo photos 3
 * and 6 of `@vladmandic/face-api@1.7.15` (at 1/4 size, 480 px wide) is one
 * "person", with four views: aligned by the 5-point similarity transform to
 * 112x112, aligned with the landmarks shifted by a few pixels and mirrored,
 * and both again brighter. The views of a person are the same photo, so
 * this set measures robustness to small changes, not recognition across
 * photos.
 *
 * Run: deno run -A bench/demo_faces.ts OUT_DIR   (writes OUT_DIR/personN/K.png)
 *
 * @module
 */

import { join } from "node:path";
import { createWasmSimdBackend } from "../backends/wasm-simd/mod.ts";
import { backendSpecRunner, createMtcnnNets } from "../core/detect/mtcnn_nets.ts";
import { detectFaces } from "../core/detect/mtcnn.ts";
import { alignSimilarity } from "../core/detect/align.ts";
import { resizeArea } from "../core/detect/resample.ts";
import { flipLeftRight, type RgbImage } from "../core/pure/image_ops.ts";
import { mtcnnParams } from "../core/models/mtcnn.ts";
import { encodePng, readImage } from "../io/images.ts";
import { parseTflite, tfliteConstants } from "../io/tflite.ts";
import { DEMO_PHOTOS_PACKAGE, MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "../io/npm_assets.ts";

const out = Deno.args[0];
if (out === undefined) {
  console.error("usage: deno run -A bench/demo_faces.ts OUT_DIR");
  Deno.exit(2);
}
const constants = {};
for (const net of ["pnet", "rnet", "onet"]) {
  const path = await npmPackageFile(MTCNN_WEIGHTS_PACKAGE, `android/src/main/assets/${net}.tflite`);
  Object.assign(constants, tfliteConstants(parseTflite(await Deno.readFile(path), path)));
}
const backend = await createWasmSimdBackend({});
const runner = backendSpecRunner(backend);
const nets = createMtcnnNets(runner.run, mtcnnParams(constants));
const brighter = (a: RgbImage): RgbImage => ({
  ...a,
  data: a.data.map((v) => Math.min(255, v * 1.1 + 12)),
});
let person = 0;
for (const n of [3, 6]) {
  const image = await readImage(await npmPackageFile(DEMO_PHOTOS_PACKAGE, `demo/sample${n}.jpg`));
  const small = resizeArea(image, {
    height: Math.round(image.height / 4),
    width: Math.round(image.width / 4),
  });
  for (const face of await detectFaces(small, nets)) {
    const w = face.box[2] - face.box[0];
    const aligned = alignSimilarity(small, face);
    const shifted = flipLeftRight(alignSimilarity(small, {
      ...face,
      landmarks: face.landmarks.map(([x, y]) => [x + 0.04 * w, y - 0.03 * w] as const),
    }));
    const dir = join(out, `person${person++}`);
    await Deno.mkdir(dir, { recursive: true });
    const views = [aligned, shifted, brighter(aligned), brighter(shifted)];
    for (const [k, v] of views.entries()) await Deno.writeFile(join(dir, `${k}.png`), encodePng(v));
  }
}
runner.dispose();
backend.dispose();
console.log(`wrote ${person} people x 4 views to ${out}`);
