// The pretrained MobileFaceNet on real photos: MTCNN detection, 5-point similarity alignment to
// 112x112, fixed standardization, embedding, L2 normalisation. Photos: the pinned demo photos
// at 1/4 size (480 px wide, faces of about 50 px), to keep CPU time low.
import assert from "node:assert/strict";
import { smallDemoPhoto, wasmNets } from "./_mtcnn_fixtures.ts";
import { detectFaces } from "../core/detect/mtcnn.ts";
import { alignSimilarity } from "../core/detect/align.ts";
import { flipLeftRight, type RgbImage } from "../core/pure/image_ops.ts";
import { fixedImageStandardization } from "../core/pure/preprocess.ts";
import { createWasmSimdBackend } from "../backends/wasm-simd/mod.ts";
import { loadPretrained } from "../io/pretrained.ts";
import { mobileFaceNet } from "../core/models/mobilefacenet.ts";

Deno.test("pretrained MobileFaceNet: a face and its flipped, shifted or brightened crop are far closer than two people of the same photo", async () => {
  const nets = await wasmNets();
  // Per face of a photo: the aligned crop, then three views of the same face.
  const photos: RgbImage[][][] = [];
  try {
    for (const n of [3, 6]) {
      const small = await smallDemoPhoto(n);
      const faces = await detectFaces(small, nets);
      assert.ok(faces.length >= 3, `sample${n}: ${faces.length} faces`);
      photos.push(faces.map((face) => {
        const aligned = alignSimilarity(small, face);
        const w = face.box[2] - face.box[0];
        // Landmarks off by 4% and 3% of the face width: the crop slides by a few pixels.
        const shifted = alignSimilarity(small, {
          ...face,
          landmarks: face.landmarks.map(([x, y]) => [x + 0.04 * w, y - 0.03 * w] as const),
        });
        const brighter = { ...aligned, data: aligned.data.map((v) => Math.min(255, v * 1.1 + 12)) };
        return [aligned, flipLeftRight(aligned), shifted, brighter];
      }));
    }
  } finally {
    nets.dispose();
  }
  const backend = await createWasmSimdBackend({ threads: 2 });
  const { state } = await loadPretrained("mobilefacenet");
  const model = await backend.createModel(mobileFaceNet(), state, {
    loss: { kind: "triplet", alpha: 0.2 },
    optimizer: { name: "SGD" },
    weightDecay: 0,
    movingAverageDecay: null,
  });
  try {
    for (const [p, faces] of photos.entries()) {
      const crops = faces.flat();
      const size = 112 * 112 * 3;
      const data = new Float32Array(crops.length * size);
      crops.forEach((c, i) => data.set(fixedImageStandardization(c.data), i * size));
      const e = await model.embed(
        { n: crops.length, height: 112, width: 112, channels: 3, data },
        { training: false, useMovingAverage: false },
      );
      const d = (i: number, j: number) => {
        let s = 0;
        for (let k = 0; k < 192; k++) s += (e.data[i * 192 + k]! - e.data[j * 192 + k]!) ** 2;
        return Math.sqrt(s);
      };
      let sameFace = 0;
      let otherPeople = Infinity;
      for (let f = 0; f < faces.length; f++) {
        for (let v = 1; v < 4; v++) sameFace = Math.max(sameFace, d(4 * f, 4 * f + v));
        for (let g = 0; g < faces.length; g++) {
          if (g !== f) otherPeople = Math.min(otherPeople, d(4 * f, 4 * g));
        }
      }
      // "Far closer": the farthest view of any face is less than half as far as the nearest
      // other person.
      assert.ok(
        2 * sameFace < otherPeople,
        `photo ${p}: same face up to ${sameFace}, other people from ${otherPeople}`,
      );
    }
  } finally {
    model.dispose();
    backend.dispose();
  }
});
