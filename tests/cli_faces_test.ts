// End to end on raw photos: `detect` (JSON, --draw), `align` (crops, listing, resume,
// "Unable to align"), `compare --detect`, and the bad inputs of each, as real
// `deno run cli.ts` processes. Photos: the pinned demo photos, downscaled to keep CPU time low.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, runCliOk } from "./_cli.ts";
import { decodeImage, encodePng, readImage } from "../io/images.ts";
import { saveCheckpoint } from "../io/checkpoint.ts";
import { initModelState } from "../core/model_state.ts";
import { modelSpec } from "../core/models/registry.ts";
import { createRng } from "../core/pure/rng.ts";
import { smallDemoPhotoPng } from "./_mtcnn_fixtures.ts";

/** A freshly initialised nano checkpoint (32 px, 16-d): cheap to embed on the pure backend. */
function nanoCheckpoint(dir: string): Promise<string> {
  const spec = modelSpec("nano", { imageSize: 32, embeddingSize: 16 });
  const training = {
    loss: { kind: "triplet", alpha: 0.2 },
    optimizer: { name: "ADAM" },
    weightDecay: 0,
    movingAverageDecay: null,
  } as const;
  return saveCheckpoint(dir, {
    state: initModelState(spec, training, createRng(1)),
    meta: {
      model: "nano",
      embeddingSize: 16,
      epoch: 1,
      rng: createRng(2),
      config: { imageSize: 32 },
    },
  });
}

Deno.test("detect prints boxes, scores and landmarks as JSON and draws them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_detect_" });
  try {
    const photo = await smallDemoPhotoPng(1, dir);
    const flat = join(dir, "flat.png");
    await Deno.writeFile(
      flat,
      encodePng({ width: 64, height: 48, data: new Float32Array(64 * 48 * 3).fill(90) }),
    );
    const drawn = join(dir, "drawn");
    const r = await runCliOk(["detect", "--draw", drawn, photo, flat]);
    const [a, b] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(a.image, photo);
    assert.equal(a.width, 480);
    assert.equal(a.faces.length, 3);
    for (const f of a.faces) {
      assert.equal(f.box.length, 4);
      assert.equal(f.landmarks.length, 5);
      assert.ok(f.score > 0.9);
    }
    assert.deepEqual(b.faces, []);
    assert.match(r.stderr, /No face found in .*flat\.png/);
    const out = decodeImage(await Deno.readFile(join(drawn, "sample1.png")));
    assert.equal(out.width, 480);
    // The first box's top-left corner is drawn in green.
    const [x1, y1] = a.faces[0].box.map((v: number) => Math.round(v));
    const o = ((y1 - 1 + 1) * out.width + (x1 - 1 + 1)) * 3;
    assert.deepEqual([...out.data.subarray(o, o + 3)], [0, 255, 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("detect reports bad inputs clearly: truncated file, missing file, a 1x1 image, a photo over the pixel limit, --draw under a missing folder or a file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_detect_bad_" });
  try {
    const photo = await smallDemoPhotoPng(1, dir);
    const bytes = await Deno.readFile(photo);
    const cut = join(dir, "cut.png");
    await Deno.writeFile(cut, bytes.subarray(0, bytes.length >> 1));
    const r = await runCli(["detect", cut, join(dir, "nope.jpg")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot read image .*cut\.png: truncated PNG/);
    assert.match(r.stderr, /Cannot read image .*nope\.jpg: not found/);
    const tiny = join(dir, "tiny.png");
    await Deno.writeFile(tiny, encodePng({ width: 1, height: 1, data: new Float32Array(3) }));
    const t = await runCliOk(["detect", tiny]);
    assert.deepEqual(JSON.parse(t.stdout).faces, []);
    // A PNG header declaring 20000 x 20000 pixels is refused before decoding.
    const huge = new Uint8Array(bytes.subarray(0, 33));
    new DataView(huge.buffer).setUint32(16, 20000);
    new DataView(huge.buffer).setUint32(20, 20000);
    const hugePath = join(dir, "huge.png");
    await Deno.writeFile(hugePath, new Uint8Array([...huge, ...bytes.subarray(33)]));
    const h = await runCli(["detect", hugePath]);
    assert.equal(h.code, 1);
    assert.match(h.stderr, /huge\.png: .*(too large|limit)/);
    // A missing parent folder is created (the output policy of every command) ...
    await runCliOk(["detect", "--draw", join(dir, "missing", "out.png"), photo]);
    assert.ok((await Deno.stat(join(dir, "missing", "out.png"))).isFile);
    // ... but a parent that is a file is a clear error naming the output.
    const d = await runCli(["detect", "--draw", join(photo, "out.png"), photo]);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /Cannot write .*sample1\.png\/out\.png/);
    // Detector flags are refused where they would do nothing.
    const m = await runCli(["compare", "--checkpoint", dir, "--minsize", "30", photo, photo]);
    assert.equal(m.code, 2);
    assert.match(m.stderr, /--minsize has no effect without --detect/);
    const u = await runCli(["detect", "--draw", join(dir, "out.jpg"), photo]);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /--draw must name a \.png file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("detect on a photo larger than --max-side detects on a downscaled copy and maps boxes back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_detect_max_" });
  try {
    const photo = await smallDemoPhotoPng(1, dir);
    const full = JSON.parse((await runCliOk(["detect", photo])).stdout);
    const capped = JSON.parse((await runCliOk(["detect", "--max-side", "240", photo])).stdout);
    assert.equal(capped.width, 480);
    assert.equal(capped.faces.length, full.faces.length);
    capped.faces.forEach((f: { box: number[] }, i: number) => {
      f.box.forEach((v, k) =>
        assert.ok(Math.abs(v - full.faces[i].box[k]) < 8, `${f.box} vs ${full.faces[i].box}`)
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("align turns a folder-per-identity set of photos into crops with the listing file, and resumes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_align_" });
  try {
    const input = join(dir, "raw");
    await Deno.mkdir(join(input, "anna"), { recursive: true });
    await Deno.mkdir(join(input, "ben"), { recursive: true });
    await smallDemoPhotoPng(1, join(input, "anna"), "one.png");
    await smallDemoPhotoPng(3, join(input, "anna"), "two.png");
    await smallDemoPhotoPng(6, join(input, "ben"), "three.png");
    await Deno.mkdir(join(input, "cara"), { recursive: true });
    await smallDemoPhotoPng(5, join(input, "cara"), "four.png");
    await Deno.mkdir(join(input, "dan"), { recursive: true });
    await smallDemoPhotoPng(4, join(input, "dan"), "five.png");
    await Deno.writeFile(
      join(input, "ben", "wall.png"),
      encodePng({ width: 100, height: 80, data: new Float32Array(100 * 80 * 3).fill(200) }),
    );
    await Deno.writeTextFile(join(input, "ben", "notes.txt"), "not an image");
    const output = join(dir, "new", "aligned"); // the parent does not exist yet
    const r = await runCliOk([
      "align",
      input,
      output,
      "--image-size",
      "64",
      "--margin",
      "10",
      "--quiet",
    ]);
    assert.match(r.stdout, /Unable to align ".*wall\.png"/);
    assert.match(r.stdout, /Total number of images: 7/);
    assert.match(r.stdout, /Number of successfully aligned images: 5/);
    assert.match(r.stderr, /notes\.txt: Cannot read image/);
    for (
      const f of ["anna/one.png", "anna/two.png", "ben/three.png", "cara/four.png", "dan/five.png"]
    ) {
      const crop = await readImage(join(output, f));
      assert.equal(crop.width, 64);
      assert.equal(crop.height, 64);
    }
    const listings = [...Deno.readDirSync(output)].filter((e) =>
      /^bounding_boxes_\d{5}\.txt$/.test(e.name)
    );
    assert.equal(listings.length, 1);
    const lines = (await Deno.readTextFile(join(output, listings[0]!.name))).trim().split("\n");
    assert.equal(lines.length, 6);
    assert.ok(lines.some((l) => l === join(output, "ben", "wall.png")));
    const one = lines.find((l) => l.startsWith(join(output, "anna", "one.png")))!;
    const [x1, y1, x2, y2] = one.split(" ").slice(1).map(Number);
    assert.ok(x1! >= 0 && y1! >= 0 && x2! > x1! && y2! > y1! && x2! <= 480 && y2! <= 320, one);
    // --jobs 2 (two workers, each with its own detector) writes the same crops and listing.
    const parallel = join(dir, "parallel");
    await runCliOk([
      "align",
      input,
      parallel,
      "--image-size",
      "64",
      "--margin",
      "10",
      "--jobs",
      "2",
      "--quiet",
    ]);
    for (
      const f of ["anna/one.png", "anna/two.png", "ben/three.png", "cara/four.png", "dan/five.png"]
    ) {
      assert.deepEqual(
        await Deno.readFile(join(parallel, f)),
        await Deno.readFile(join(output, f)),
        f,
      );
    }
    const parallelListing = [...Deno.readDirSync(parallel)].find((e) =>
      e.name.startsWith("bounding_boxes_")
    )!;
    assert.deepEqual(
      (await Deno.readTextFile(join(parallel, parallelListing.name))).replaceAll(parallel, "OUT"),
      (await Deno.readTextFile(join(output, listings[0]!.name))).replaceAll(output, "OUT"),
    );
    // A second run skips what exists: nothing new is aligned.
    const again = await runCliOk(["align", input, output, "--image-size", "64", "--quiet"]);
    assert.match(again.stdout, /Number of successfully aligned images: 0/);
    // Every face, with 5-point similarity alignment at 112 px.
    const multi = join(dir, "multi");
    await runCliOk([
      "align",
      input,
      multi,
      "--align",
      "similarity",
      "--detect-multiple-faces",
      "--quiet",
    ]);
    const anna = [...Deno.readDirSync(join(multi, "anna"))].map((e) => e.name).sort();
    assert.deepEqual(anna.filter((n) => n.startsWith("one_")), [
      "one_0.png",
      "one_1.png",
      "one_2.png",
    ]);
    assert.equal((await readImage(join(multi, "anna", "one_0.png"))).width, 112);
    // train --data-dir accepts the aligned folder.
    const run = join(dir, "run");
    await runCliOk([
      "train",
      "--data-dir",
      multi,
      "--image-size",
      "32",
      "--resize",
      "36",
      "--random-crop",
      "--random-flip",
      "--validation-identities",
      "2",
      "--lfw-nrof-folds",
      "2",
      "--people-per-batch",
      "2",
      "--images-per-person",
      "3",
      "--batch-size",
      "6",
      "--epoch-size",
      "1",
      "--max-nrof-epochs",
      "1",
      "--out",
      run,
    ]);
    assert.ok([...Deno.readDirSync(run)].some((e) => e.name.startsWith("ckpt-")));
    // An input folder that does not exist.
    const missing = await runCli(["align", join(dir, "nowhere"), output]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Cannot read the input folder .*nowhere/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compare --detect and embed --detect embed the first face of each raw photo and name the photos without a face", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_compare_detect_" });
  try {
    const ckpt = await nanoCheckpoint(join(dir, "run"));
    const a = await smallDemoPhotoPng(1, dir);
    const b = await smallDemoPhotoPng(3, dir);
    const wall = join(dir, "wall.png");
    await Deno.writeFile(
      wall,
      encodePng({ width: 90, height: 70, data: new Float32Array(90 * 70 * 3).fill(30) }),
    );
    const r = await runCliOk([
      "compare",
      "--checkpoint",
      ckpt,
      "--backend",
      "pure",
      "--detect",
      "--json",
      a,
      wall,
      b,
    ]);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.images, [a, b]);
    assert.equal(out.distances.length, 2);
    assert.ok(out.distances[0][1] > 0);
    assert.match(r.stderr, /No face found in .*wall\.png; it is left out/);
    // With --align similarity the faces are aligned on their landmarks instead: other crops,
    // other distances.
    const sim = JSON.parse(
      (await runCliOk([
        "compare",
        "--checkpoint",
        ckpt,
        "--backend",
        "pure",
        "--detect",
        "--align",
        "similarity",
        "--json",
        a,
        b,
      ])).stdout,
    );
    assert.equal(sim.distances.length, 2);
    assert.ok(Math.abs(sim.distances[0][1] - out.distances[0][1]) > 1e-6);
    // embed --detect leaves the photo without a face out of every output.
    const prefix = join(dir, "emb");
    const e = await runCliOk([
      "embed",
      "--checkpoint",
      ckpt,
      "--backend",
      "pure",
      "--detect",
      "--out",
      prefix,
      a,
      wall,
      b,
    ]);
    assert.match(e.stderr, /No face found in .*wall\.png/);
    const jsonl = (await Deno.readTextFile(`${prefix}.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(jsonl.map((r) => r.path), [a, b]);
    assert.equal(jsonl[0].embedding.length, 16);
    const none = await runCli([
      "compare",
      "--checkpoint",
      ckpt,
      "--backend",
      "pure",
      "--detect",
      a,
      wall,
    ]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /faces in at least two photos; no face was found in .*wall\.png/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("classify --detect trains and classifies on the first face of each raw photo and leaves out photos without a face", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_classify_detect_" });
  try {
    const ckpt = await nanoCheckpoint(join(dir, "run"));
    const data = join(dir, "people");
    await Deno.mkdir(join(data, "anna"), { recursive: true });
    await Deno.mkdir(join(data, "ben"), { recursive: true });
    const photos = [
      await smallDemoPhotoPng(1, join(data, "anna"), "one.png"),
      await smallDemoPhotoPng(3, join(data, "anna"), "two.png"),
      await smallDemoPhotoPng(6, join(data, "ben"), "three.png"),
    ];
    const wall = join(data, "ben", "wall.png");
    await Deno.writeFile(
      wall,
      encodePng({ width: 90, height: 70, data: new Float32Array(90 * 70 * 3).fill(30) }),
    );
    const classifier = join(dir, "classifier.json");
    const common = ["--checkpoint", ckpt, "--backend", "pure", "--data-dir", data];
    const trained = await runCliOk([
      "classify",
      "TRAIN",
      ...common,
      "--classifier",
      classifier,
      "--detect",
    ]);
    assert.match(trained.stderr, /No face found in .*wall\.png; it is left out/);
    assert.match(trained.stdout, /fitted 2 classes on 3 images/);
    const detected = JSON.parse(
      (await runCliOk([
        "classify",
        "CLASSIFY",
        ...common,
        "--classifier",
        classifier,
        "--detect",
        "--json",
      ])).stdout,
    );
    assert.equal(detected.images, 3);
    assert.deepEqual(
      detected.predictions.map((p: { path: string }) => p.path).sort(),
      photos.sort(),
    );
    // Fitted on these three face crops, the classifier names each of them.
    assert.equal(detected.accuracy, 1);
    // Without --detect the whole photos (the wall too) are embedded: other inputs, other scores.
    const whole = JSON.parse(
      (await runCliOk(["classify", "CLASSIFY", ...common, "--classifier", classifier, "--json"]))
        .stdout,
    );
    assert.equal(whole.images, 4);
    const p = (r: { predictions: { path: string; probability: number }[] }, path: string) =>
      r.predictions.find((x) => x.path === path)!.probability;
    assert.ok(photos.some((f) => Math.abs(p(whole, f) - p(detected, f)) > 1e-6));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
