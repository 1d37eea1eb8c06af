// End to end: make-dataset -> train (tiny) -> validate -> embed -> classify ->
// cluster -> compare, each as a real `deno run cli.ts` process whose exit code
// is asserted, plus the usage and data errors of the tools.
import assert from "node:assert/strict";
import { type Ran, runCli } from "./_cli.ts";
import { join } from "node:path";
import { decodeNpy } from "../io/npy.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { modelSpec } from "../core/models/registry.ts";
import { renderSyntheticRef } from "../core/synthetic/mod.ts";
import { fixedImageStandardization } from "../core/pure/preprocess.ts";
import { areaUnderCurve } from "../core/pure/evaluation.ts";
import { encodePng } from "../io/images.ts";
import { splitDataset } from "../cli/classify.ts";
import { euclideanDistanceMatrix, formatDistanceTable } from "../cli/compare.ts";

function cli(...args: string[]): Promise<Ran> {
  return runCli(args);
}

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  assert.equal(r.code, 0, `${args[0]} exited with ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await filesUnder(path));
    else out.push(path);
  }
  return out.sort();
}

const IDENTITIES = 8;
const IMAGES = 8;
const SIZE = 32; // the tiny preset's image size
const SEED = 5;

Deno.test("The tools run end to end on a written dataset: make-dataset, train, validate, embed, classify, cluster, compare", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_tools_" });
  const data = join(dir, "data");
  const run = join(dir, "run");
  try {
    await t.step("make-dataset writes one folder per identity and an LFW pairs file", async () => {
      await ok(
        "make-dataset",
        "--out",
        data,
        "--identities",
        String(IDENTITIES),
        "--images-per-identity",
        String(IMAGES),
        "--val-identities",
        "20",
        "--image-size",
        String(SIZE),
        "--pairs-per-fold",
        "4",
        "--nuisance",
        "0.3",
        "--seed",
        String(SEED),
        "--quiet",
      );
      const train = await filesUnder(join(data, "train"));
      assert.equal(train.length, IDENTITIES * IMAGES);
      assert.ok(train.includes(join(data, "train", "syn-train-0", "syn-train-0_0001.png")));
      assert.equal((await filesUnder(join(data, "lfw"))).length, 20 * IMAGES);
      const pairs = (await Deno.readTextFile(join(data, "pairs.txt"))).trim().split("\n");
      assert.equal(pairs[0], "10\t4");
      assert.equal(pairs.length, 1 + 10 * 4 * 2);
      assert.match(pairs[1]!, /^syn-validation-\d+\t\d+\t\d+$/);
      assert.match(pairs[5]!, /^syn-validation-\d+\t\d+\tsyn-validation-\d+\t\d+$/);
      // The output folder must be new or empty.
      const again = await cli("make-dataset", "--out", data, "--quiet");
      assert.equal(again.code, 2);
      assert.match(again.stderr, /already exists and is not empty/);
    });

    // Train on the written files once `train` reads image folders; until then on
    // the built-in synthetic identities (other identities than the written ones).
    const fromFiles = (await ok("train", "--help")).includes("--data-dir");
    const source = fromFiles
      ? [
        "--data-dir",
        join(data, "train"),
        "--lfw-dir",
        join(data, "lfw"),
        "--lfw-pairs",
        join(data, "pairs.txt"),
      ]
      : [];
    await t.step(
      `train (tiny preset, pure backend) on ${
        fromFiles ? "the written folders" : "the built-in synthetic identities"
      } writes a checkpoint`,
      async () => {
        await ok(
          "train",
          "--preset",
          "tiny",
          "--backend",
          "pure",
          ...source,
          "--out",
          run,
          "--quiet",
        );
        assert.ok((await filesUnder(run)).some((f) => f.endsWith("checkpoint.json")));
      },
    );

    await t.step("validate prints the LFW report and retrieval metrics, and JSON", async () => {
      const text = await ok(
        "validate",
        "--checkpoint",
        run,
        "--lfw-dir",
        join(data, "lfw"),
        "--lfw-pairs",
        join(data, "pairs.txt"),
        "--data-dir",
        join(data, "train"),
        "--quiet",
      );
      const lines = text.trim().split("\n");
      assert.equal(lines.length, 7);
      assert.match(lines[0]!, /^Accuracy: \d\.\d{5}\+-\d\.\d{5}$/);
      assert.match(lines[1]!, /^Validation rate: \d\.\d{5}\+-\d\.\d{5} @ FAR=\d\.\d{5}$/);
      assert.match(lines[2]!, /^Area Under Curve \(AUC\): \d\.\d{3}$/);
      assert.match(lines[3]!, /^Equal Error Rate \(EER\): \d\.\d{3}$/);
      assert.match(lines[4]!, /^Precision@1: \d\.\d{5}$/);
      const json = JSON.parse(
        await ok(
          "validate",
          "--checkpoint",
          run,
          "--lfw-dir",
          join(data, "lfw"),
          "--lfw-pairs",
          join(data, "pairs.txt"),
          "--data-dir",
          join(data, "train"),
          "--json",
          "--quiet",
        ),
      );
      assert.equal(json.lfw.pairs, 80);
      assert.equal(json.lfw.thresholds.length, 10);
      assert.equal(json.lfw.valThresholds.length, 10);
      assert.equal(json.lfw.foldAccuracy.length, 10);
      // The ROC curve: as many points as thresholds, rates rising with the threshold, and
      // the reported AUC is the area under exactly this curve.
      const roc = json.lfw.roc;
      assert.equal(roc.tpr.length, roc.thresholds.length);
      assert.equal(roc.fpr.length, roc.thresholds.length);
      for (let i = 1; i < roc.tpr.length; i++) {
        assert.ok(roc.tpr[i] >= roc.tpr[i - 1] && roc.fpr[i] >= roc.fpr[i - 1]);
      }
      assert.equal(
        areaUnderCurve(Float64Array.from(roc.fpr), Float64Array.from(roc.tpr)),
        json.lfw.auc,
      );
      assert.equal(
        lines[0],
        `Accuracy: ${json.lfw.accuracy.toFixed(5)}+-${json.lfw.accuracyStd.toFixed(5)}`,
      );
      // A trained model tells identities apart better than chance.
      assert.ok(json.lfw.auc > 0.6, `AUC ${json.lfw.auc}`);
      assert.ok(
        json.retrieval.precisionAt1 > 3 / IDENTITIES,
        `precision@1 ${json.retrieval.precisionAt1}`,
      );
      assert.ok(json.retrieval.mapAtR <= json.retrieval.rPrecision);
      assert.equal(json.retrieval.queries, IDENTITIES * IMAGES);
    });

    await t.step(
      "embed writes .npy embeddings equal to the model's on the rendered images",
      async () => {
        const prefix = join(dir, "emb", "train");
        await ok(
          "embed",
          "--checkpoint",
          run,
          "--backend",
          "pure",
          "--data-dir",
          join(data, "train"),
          "--out",
          prefix,
          "--quiet",
        );
        const embeddings = decodeNpy(await Deno.readFile(`${prefix}.npy`));
        const labels = decodeNpy(await Deno.readFile(`${prefix}_labels.npy`));
        assert.deepEqual(embeddings.shape, [IDENTITIES * IMAGES, 16]);
        assert.equal(labels.dtype, "int32");
        assert.deepEqual([...labels.data].slice(0, IMAGES + 1), [...Array(IMAGES).fill(0), 1]);
        const names = JSON.parse(await Deno.readTextFile(`${prefix}_label_strings.json`));
        assert.equal(names[IMAGES], "syn-train-1");
        const jsonl = (await Deno.readTextFile(`${prefix}.jsonl`)).trim().split("\n").map((l) =>
          JSON.parse(l)
        );
        assert.equal(jsonl.length, IDENTITIES * IMAGES);
        assert.deepEqual(jsonl[3].embedding, Array.from(embeddings.data.subarray(3 * 16, 4 * 16)));

        // Images given as arguments, with their mirrors: 2 x 16 columns, label -1.
        const flippedPrefix = join(dir, "emb", "flipped.npy");
        const two = [0, 1].map((i) =>
          join(data, "train", `syn-train-${i}`, `syn-train-${i}_0001.png`)
        );
        await ok(
          "embed",
          "--checkpoint",
          run,
          "--backend",
          "pure",
          ...two,
          "--out",
          flippedPrefix,
          "--use-flipped-images",
          "--quiet",
        );
        const flipped = decodeNpy(await Deno.readFile(join(dir, "emb", "flipped.npy")));
        assert.deepEqual(flipped.shape, [2, 32]);
        assert.deepEqual(
          Array.from(flipped.data.subarray(0, 16)),
          Array.from(embeddings.data.subarray(0, 16)),
        );
        assert.notDeepEqual(
          Array.from(flipped.data.subarray(16, 32)),
          Array.from(flipped.data.subarray(0, 16)),
        );
        assert.deepEqual([
          ...decodeNpy(await Deno.readFile(join(dir, "emb", "flipped_labels.npy"))).data,
        ], [-1, -1]);

        // The same images embedded in process: render, round to bytes (PNG), standardize.
        const { state, meta } = await loadCheckpoint(run);
        const backend = createPureBackend();
        const model = await backend.createModel(
          modelSpec("nano", { embeddingSize: meta.embeddingSize, imageSize: SIZE }),
          state,
          {
            loss: { kind: "triplet", alpha: 0.2 },
            optimizer: { name: state.optimizer.name },
            weightDecay: 0,
            movingAverageDecay: 0.999,
          },
        );
        const pixels = SIZE * SIZE * 3;
        const batch = new Float32Array(2 * pixels);
        [[0, 0], [1, 3]].forEach(([identity, image], i) => {
          const raw = renderSyntheticRef(`syn:train:${identity}:${image}`, SIZE, SEED, {
            nuisance: 0.3,
          });
          batch.set(fixedImageStandardization(raw.map((v) => Math.round(v))), i * pixels);
        });
        const direct = await model.embed(
          { n: 2, height: SIZE, width: SIZE, channels: 3, data: batch },
          { training: false, useMovingAverage: true },
        );
        model.dispose();
        backend.dispose();
        for (const [i, row] of [[0, 0], [1, IMAGES + 3]]) {
          for (let k = 0; k < 16; k++) {
            const a = direct.data[i! * 16 + k]!;
            const b = embeddings.data[row! * 16 + k]!;
            assert.ok(Math.abs(a - b) < 1e-5, `row ${row} dim ${k}: ${a} vs ${b}`);
          }
        }
      },
    );

    await t.step("classify TRAIN then CLASSIFY on a split is far above chance", async () => {
      const classifier = join(dir, "classifier.json");
      const common = [
        "--checkpoint",
        run,
        "--data-dir",
        join(data, "train"),
        "--classifier",
        classifier,
        "--use-split-dataset",
        "--min-nrof-images-per-class",
        String(IMAGES),
        "--nrof-train-images-per-class",
        "4",
        "--quiet",
      ];
      await ok("classify", "TRAIN", ...common);
      const saved = JSON.parse(await Deno.readTextFile(classifier));
      assert.equal(saved.kind, "softmax-regression");
      assert.equal(saved.classNames.length, IDENTITIES);
      assert.equal(saved.embeddingModel.model, "nano");
      const text = await ok("classify", "CLASSIFY", ...common);
      const lines = text.trimEnd().split("\n");
      assert.equal(lines.length, IDENTITIES * 4 + 1);
      assert.match(lines[0]!, /^ {3}0 {2}syn-train-\d: \d\.\d{3}$/);
      const accuracy = Number(/^Accuracy: (\d\.\d{3})$/.exec(lines.at(-1)!)![1]);
      // Chance is 1/8 = 0.125.
      assert.ok(accuracy >= 0.6, `held-out accuracy ${accuracy}`);
      const json = JSON.parse(await ok("classify", "CLASSIFY", ...common, "--json"));
      assert.equal(json.accuracy.toFixed(3), accuracy.toFixed(3));
      assert.equal(json.predictions.length, IDENTITIES * 4);
    });

    await t.step("cluster groups the faces by identity far better than chance", async () => {
      // Thresholds from the embeddings: the median distance between images of one identity.
      const embeddings = decodeNpy(await Deno.readFile(join(dir, "emb", "train.npy")));
      const e = embeddings.data;
      const same: number[] = [];
      for (let i = 0; i < IDENTITIES * IMAGES; i++) {
        for (let j = i + 1; j < IDENTITIES * IMAGES; j++) {
          if (Math.floor(i / IMAGES) !== Math.floor(j / IMAGES)) continue;
          let s = 0;
          for (let k = 0; k < 16; k++) s += (e[i * 16 + k]! - e[j * 16 + k]!) ** 2;
          same.push(Math.sqrt(s));
        }
      }
      same.sort((a, b) => a - b);
      const median = same[Math.floor(same.length / 2)]!;
      const runs = [
        ["dbscan", String(median), "3"],
        ["chinese-whispers", String(1 - median * median / 2), "2"],
      ];
      for (const [method, threshold, minSize] of runs) {
        const out = join(dir, `clusters_${method}`);
        const result = JSON.parse(
          await ok(
            "cluster",
            "--checkpoint",
            run,
            "--data-dir",
            join(data, "train"),
            "--out",
            out,
            "--method",
            method!,
            "--cluster-threshold",
            threshold!,
            "--min-cluster-size",
            minSize!,
            "--json",
            "--quiet",
          ),
        );
        const { purity } = result;
        assert.ok(purity.clusters >= 2, `${method}: ${purity.clusters} clusters`);
        assert.ok(
          purity.purity > purity.baseline + 0.2,
          `${method}: purity ${purity.purity} vs ${purity.baseline}`,
        );
        assert.ok(purity.adjustedRandIndex > 0.15, `${method}: ARI ${purity.adjustedRandIndex}`);
        // Every image is copied exactly once, into a cluster folder or unclustered/.
        const copied = await filesUnder(out);
        assert.equal(copied.length, IDENTITIES * IMAGES);
        assert.equal(
          result.clusters.reduce((s: number, c: string[]) => s + c.length, 0) +
            result.unclustered.length,
          IDENTITIES * IMAGES,
        );
        assert.ok(copied.some((f) => f.includes("cluster_000")));
      }
    });

    await t.step("cluster also takes a flat folder of images (identities unknown)", async () => {
      const flat = join(dir, "flat");
      await Deno.mkdir(flat);
      for (let i = 0; i < 2; i++) {
        for (let j = 1; j <= 3; j++) {
          const name = `syn-train-${i}_000${j}.png`;
          await Deno.copyFile(join(data, "train", `syn-train-${i}`, name), join(flat, name));
        }
      }
      await Deno.writeTextFile(join(flat, "notes.txt"), "not an image");
      const out = join(dir, "flat_clusters");
      const r = await cli(
        "cluster",
        "--checkpoint",
        run,
        "--data-dir",
        flat,
        "--out",
        out,
        "--json",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /skipped .*notes\.txt: /);
      const result = JSON.parse(r.stdout);
      assert.equal(result.images, 6);
      assert.equal(result.purity, undefined);
      assert.equal((await filesUnder(out)).length, 6);
    });

    await t.step("compare prints a symmetric distance table with a zero diagonal", async () => {
      const a = join(data, "train", "syn-train-0", "syn-train-0_0001.png");
      const b = join(data, "train", "syn-train-1", "syn-train-1_0001.png");
      const text = await ok("compare", "--checkpoint", run, a, b, a);
      assert.match(text, /^Images:\n0: .*syn-train-0_0001\.png\n1: /);
      const json = JSON.parse(await ok("compare", "--checkpoint", run, a, b, a, "--json"));
      const d: number[][] = json.distances;
      assert.equal(d[0]![0], 0);
      assert.ok(Math.abs(d[0]![2]!) < 1e-6);
      assert.equal(d[0]![1], d[1]![0]);
      assert.ok(d[0]![1]! > 0 && d[0]![1]! <= 2);
      assert.ok(text.includes(d[0]![1]!.toFixed(4)));
    });

    await t.step(
      "compare crops or resizes images of another size to the model's input",
      async () => {
        const big = join(dir, "big.png");
        const data48 = renderSyntheticRef("syn:train:0:0", 48, SEED, { nuisance: 0.3 });
        await Deno.writeFile(big, encodePng({ width: 48, height: 48, data: data48 }));
        const small = join(data, "train", "syn-train-0", "syn-train-0_0001.png");
        const cropped = JSON.parse(await ok("compare", "--checkpoint", run, big, small, "--json"));
        const resized = JSON.parse(
          await ok("compare", "--checkpoint", run, big, small, "--json", "--resize", String(SIZE)),
        );
        // The resized 48 px rendering is nearly the 32 px one; the centre crop is a zoomed face.
        assert.ok(
          resized.distances[0][1] < cropped.distances[0][1],
          `resized ${resized.distances[0][1]}, cropped ${cropped.distances[0][1]}`,
        );
      },
    );

    await t.step(
      "validate lists missing images, and --allow-missing evaluates the rest",
      async () => {
        const lfw = join(data, "lfw");
        const victim = (await filesUnder(lfw))[0]!;
        await Deno.rename(victim, victim + ".bak");
        try {
          const args = [
            "validate",
            "--checkpoint",
            run,
            "--lfw-dir",
            lfw,
            "--lfw-pairs",
            join(data, "pairs.txt"),
          ];
          const failed = await cli(...args, "--quiet");
          assert.equal(failed.code, 1);
          assert.match(failed.stderr, /1 image of \d+ pairs? (is|are) missing/);
          const json = JSON.parse(await ok(...args, "--quiet", "--json", "--allow-missing"));
          assert.ok(json.lfw.skippedPairs > 0);
          assert.equal(json.lfw.pairs + json.lfw.skippedPairs, 80);
        } finally {
          await Deno.rename(victim + ".bak", victim);
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("The tools exit with 2 on usage errors and name the problem", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["classify", "FIT", "--checkpoint", "x", "--data-dir", "y", "--classifier", "z"],
      /mode must be TRAIN or CLASSIFY/,
    ],
    [["validate", "--checkpoint", "x"], /--lfw-dir with --lfw-pairs, or --data-dir/],
    [["validate", "--lfw-dir", "x", "--checkpoint", "m"], /--lfw-dir and --lfw-pairs go together/],
    [["embed", "--checkpoint", "x", "a.png"], /--out is required/],
    [["compare", "--checkpoint", "x", "a.png"], /at least two images, got 1/],
    [
      ["cluster", "--checkpoint", "x", "--data-dir", "d", "--out", "o", "--method", "kmeans"],
      /--method must be one of/,
    ],
    [
      ["make-dataset", "--out", "x", "--val-identities", "4"],
      /--val-identities must be at least 2 x --folds/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const missing = await cli(
    "validate",
    "--checkpoint",
    "/nonexistent/run",
    "--data-dir",
    "/nonexistent/data",
  );
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/nonexistent\/data/);
});

Deno.test("splitDataset() splits each kept identity into disjoint train and test images, reproducibly", () => {
  const dataset = [
    { name: "a", images: ["a1", "a2", "a3", "a4", "a5"] },
    { name: "b", images: ["b1", "b2"] },
    { name: "c", images: ["c1", "c2", "c3", "c4"] },
  ];
  const data = { dataset, paths: [], labels: new Int32Array() };
  const split = splitDataset(data, 4, 3, 7);
  assert.deepEqual(split.classes, ["a", "c"]);
  assert.deepEqual(split.train.labels, [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(split.test.labels, [0, 0, 1]);
  const a = [...split.train.paths.slice(0, 3), ...split.test.paths.slice(0, 2)].sort();
  assert.deepEqual(a, dataset[0]!.images);
  assert.deepEqual(splitDataset(data, 4, 3, 7), split);
  assert.notDeepEqual(
    [7, 8, 9, 10, 11].map((seed) => splitDataset(data, 4, 3, seed).train.paths.join()),
    Array(5).fill(split.train.paths.join()),
  );
});

Deno.test("formatDistanceTable() prints numbered images and a 4-decimal matrix", () => {
  const d = euclideanDistanceMatrix({ rows: 2, cols: 2, data: new Float32Array([0, 0, 3, 4]) });
  assert.deepEqual([...d.data], [0, 5, 5, 0]);
  assert.equal(
    formatDistanceTable(["x.png", "y.png"], d),
    "Images:\n0: x.png\n1: y.png\n\nDistance matrix\n         0        1\n0   0.0000   5.0000\n1   5.0000   0.0000",
  );
});
