// make-dataset --from fashion-mnist, as a real `deno run cli.ts` process, on a
// small IDX folder written here (the layout Debian's dataset-fashion-mnist
// installs, gzip-compressed).
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "./_cli.ts";
import { decodeImage } from "../io/images.ts";
import { parsePairs, resolvePairs } from "../io/pairs.ts";
import { gzip, idx } from "./_idx.ts";

Deno.test("make-dataset --from fashion-mnist writes classes 0-6 for training, 7-9 with LFW pairs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_fmnist_" });
  try {
    const source = join(dir, "idx");
    await Deno.mkdir(source);
    const count = 10 * 25;
    // Image i has label i % 10 and every pixel equal to i (mod 256).
    const pixels = new Uint8Array(count * 4 * 3);
    for (let i = 0; i < count; i++) pixels.fill(i % 256, i * 12, i * 12 + 12);
    const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
    await Deno.writeFile(
      join(source, "train-images-idx3-ubyte.gz"),
      await gzip(idx([count, 4, 3], pixels)),
    );
    await Deno.writeFile(
      join(source, "train-labels-idx1-ubyte.gz"),
      await gzip(idx([count], labels)),
    );
    const out = join(dir, "data");
    const made = await runCli([
      "make-dataset",
      "--from",
      "fashion-mnist",
      "--fashion-mnist-dir",
      source,
      "--out",
      out,
      "--images-per-identity",
      "20",
      "--pairs-per-fold",
      "3",
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /wrote 200 images and 60 pairs/);
    const names = async (d: string) =>
      (await Array.fromAsync(Deno.readDir(d))).map((e) => e.name).sort();
    assert.deepEqual(await names(join(out, "train")), [
      "0_tshirt_top",
      "1_trouser",
      "2_pullover",
      "3_dress",
      "4_coat",
      "5_sandal",
      "6_shirt",
    ]);
    assert.deepEqual(await names(join(out, "lfw")), ["7_sneaker", "8_bag", "9_ankle_boot"]);
    // The third image of class 8 is image 28 of the file: a 3x4 gray image of value 28.
    const image = decodeImage(await Deno.readFile(join(out, "lfw", "8_bag", "8_bag_0003.png")));
    assert.deepEqual([image.width, image.height], [3, 4]);
    assert.ok(image.data.every((v) => v === 28));
    const pairs = parsePairs(await Deno.readTextFile(join(out, "pairs.txt")), "pairs.txt");
    assert.deepEqual([pairs.folds, pairs.pairsPerFold], [10, 3]);
    const resolved = await resolvePairs(pairs, join(out, "lfw"));
    assert.equal(resolved.paths.length, 60);
    // Synthetic-only flags are refused with this source.
    const bad = await runCli([
      "make-dataset",
      "--from",
      "fashion-mnist",
      "--fashion-mnist-dir",
      source,
      "--out",
      join(dir, "other"),
      "--image-size",
      "32",
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--image-size has no effect with --from fashion-mnist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
