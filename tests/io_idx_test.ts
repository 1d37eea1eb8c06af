import assert from "node:assert/strict";
import { join } from "node:path";
import { FASHION_MNIST_DIR, parseIdx, readIdxFile, readMnistSplit } from "../io/idx.ts";
import { gzip, idx } from "./_idx.ts";

Deno.test("parseIdx() reads big-endian dimensions and row-major bytes", () => {
  const parsed = parseIdx(idx([2, 1, 3], [1, 2, 3, 4, 5, 6]), "x");
  assert.deepEqual(parsed.shape, [2, 1, 3]);
  assert.deepEqual([...parsed.data], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(parseIdx(idx([300], new Array(300).fill(7))).shape, [300]);
});

Deno.test("parseIdx() rejects a wrong magic number, element type or length, naming the file", () => {
  assert.throws(() => parseIdx(new Uint8Array([1, 0, 8, 1]), "f.idx"), /f\.idx is not an IDX file/);
  assert.throws(
    () => parseIdx(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 0]), "f.idx"),
    /f\.idx: IDX element type 0xd is not supported/,
  );
  assert.throws(() => parseIdx(new Uint8Array([0, 0, 8, 2, 0, 0, 0, 1]), "f"), /truncated/);
  assert.throws(() => parseIdx(idx([2, 2], [1, 2, 3]), "f"), /needs 4 data bytes, the file has 3/);
  assert.throws(() => parseIdx("x" as unknown as Uint8Array), TypeError);
});

Deno.test("readIdxFile() and readMnistSplit() read gzip-compressed files as Debian installs them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pixels = Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 10);
    await Deno.writeFile(
      join(dir, "train-images-idx3-ubyte.gz"),
      await gzip(idx([3, 2, 2], pixels)),
    );
    await Deno.writeFile(join(dir, "train-labels-idx1-ubyte.gz"), await gzip(idx([3], [9, 0, 4])));
    const images = await readIdxFile(join(dir, "train-images-idx3-ubyte.gz"));
    assert.deepEqual([...images.data], pixels);
    const split = await readMnistSplit(dir, "train");
    assert.deepEqual([split.count, split.rows, split.cols], [3, 2, 2]);
    assert.deepEqual([...split.labels], [9, 0, 4]);
    await assert.rejects(
      readMnistSplit(dir, "t10k"),
      /t10k-images-idx3-ubyte\[\.gz\] not found; on Debian: apt-get install dataset-fashion-mnist/,
    );
    await Deno.writeFile(join(dir, "t10k-images-idx3-ubyte"), idx([2, 1, 1], [1, 2]));
    await Deno.writeFile(join(dir, "t10k-labels-idx1-ubyte"), idx([3], [1, 2, 3]));
    await assert.rejects(readMnistSplit(dir, "t10k"), /labels file has shape 3, expected \[2\]/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const installed = await Deno.stat(join(FASHION_MNIST_DIR, "train-labels-idx1-ubyte.gz")).then(
  () => true,
  () => false,
);
// Ignored where the dataset is not installed, except under CI (.ci/run installs it): there a
// missing dataset fails the test instead of skipping it unseen (as the headless-Chromium tests).
const inCi = Deno.env.get("CI") === "true";

Deno.test({
  name: "readMnistSplit() reads Debian's Fashion-MNIST: 60000 28x28 images, 6000 per class" +
    (installed || inCi
      ? ""
      : " (ignored: apt-get install dataset-fashion-mnist; .ci/run installs it)"),
  ignore: !installed && !inCi,
  fn: async () => {
    const split = await readMnistSplit(FASHION_MNIST_DIR, "train");
    assert.deepEqual([split.count, split.rows, split.cols], [60000, 28, 28]);
    const counts = new Array(10).fill(0);
    for (const label of split.labels) counts[label]++;
    assert.deepEqual(counts, new Array(10).fill(6000));
  },
});
