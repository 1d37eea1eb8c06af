import assert from "node:assert/strict";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { describeSkipped, loadDatasetFolder } from "../io/dataset.ts";
import { encodePng } from "../io/images.ts";
import { formatPairs, pairImageStem, type Pairs, parsePairs, resolvePairs } from "../io/pairs.ts";
import { loadBatches } from "../io/pipeline.ts";

function pngBytes(value: number): Uint8Array {
  return encodePng({ width: 4, height: 4, data: new Float32Array(48).fill(value) });
}

function jpegBytes(value: number): Uint8Array {
  const rgba = new Uint8Array(16 * 16 * 4).fill(value);
  return new Uint8Array(jpeg.encode({ width: 16, height: 16, data: rgba }, 90).data);
}

/** A JPEG whose header and end are intact but whose tables are zeroed. */
function corruptJpeg(): Uint8Array {
  const bytes = jpegBytes(120).slice();
  bytes.fill(0, 20, 300);
  return bytes;
}

async function writeTree(root: string, files: Record<string, Uint8Array | string | null>) {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, rel);
    if (content === null) {
      await Deno.mkdir(path, { recursive: true });
      continue;
    }
    await Deno.mkdir(join(path, ".."), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
}

async function fixture(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "io_dataset_test_" });
  const jpg = jpegBytes(50);
  await writeTree(root, {
    "README.txt": "files at the root are not identities",
    "Zed/z_10.png": pngBytes(1),
    "Zed/z_02.png": pngBytes(2),
    "Zed/z_01.jpg": jpg,
    "Amy/a1.jpg": jpg,
    "Amy/a2.png": pngBytes(3),
    "Amy/.DS_Store": "\x00\x00\x00\x01Bud1",
    "Amy/notes.txt": "not an image",
    "Amy/cut.png": pngBytes(4).subarray(0, 40),
    "Amy/nested": null,
    "Amy/corrupt.jpg": corruptJpeg(),
    "Bob/b1.png": pngBytes(5),
    "Bob/cut.jpg": jpg.subarray(0, jpg.length - 50),
    "Empty": null,
  });
  return root;
}

Deno.test("loadDatasetFolder() sorts identities and images, skips bad files with reasons, drops empty identities", async () => {
  const root = await fixture();
  try {
    const loaded = await loadDatasetFolder(root);
    assert.deepEqual(loaded.dataset, [
      {
        name: "Amy",
        images: [join(root, "Amy/a1.jpg"), join(root, "Amy/a2.png"), join(root, "Amy/corrupt.jpg")],
      },
      { name: "Bob", images: [join(root, "Bob/b1.png")] },
      {
        name: "Zed",
        images: [
          join(root, "Zed/z_01.jpg"),
          join(root, "Zed/z_02.png"),
          join(root, "Zed/z_10.png"),
        ],
      },
    ]);
    assert.deepEqual(loaded.skipped.map((s) => s.path), [
      join(root, "Amy/.DS_Store"),
      join(root, "Amy/cut.png"),
      join(root, "Amy/nested"),
      join(root, "Amy/notes.txt"),
      join(root, "Bob/cut.jpg"),
    ]);
    const reasons = loaded.skipped.map((s) => s.reason);
    assert.match(reasons[0]!, /not a JPEG or PNG/);
    assert.match(reasons[1]!, /truncated PNG/);
    assert.match(reasons[2]!, /a folder inside an identity folder/);
    assert.match(reasons[3]!, /not a JPEG or PNG/);
    assert.match(reasons[4]!, /truncated JPEG/);
    assert.deepEqual(loaded.droppedClasses, [{ name: "Empty", images: 0 }]);
    const lines = describeSkipped(loaded);
    assert.equal(lines[0], "skipped 5 files");
    assert.equal(lines.length, 7);
    assert.ok(lines[2]!.startsWith(`  ${join(root, "Amy/cut.png")}: truncated PNG`));
    assert.equal(lines[6], "dropped 1 identity with too few images: Empty (0)");
    assert.deepEqual(describeSkipped(loaded, 2).slice(3, 4), ["  ... and 3 more"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadDatasetFolder() drops identities below the minimum, so labels are indices of the kept ones", async () => {
  const root = await fixture();
  try {
    const loaded = await loadDatasetFolder(root, { minNrofImagesPerClass: 3 });
    assert.deepEqual(loaded.dataset.map((c) => c.name), ["Amy", "Zed"]);
    assert.deepEqual(loaded.droppedClasses, [{ name: "Bob", images: 1 }, {
      name: "Empty",
      images: 0,
    }]);
    const all = await loadDatasetFolder(root, { minNrofImagesPerClass: 0 });
    assert.deepEqual(all.dataset.map((c) => c.name), ["Amy", "Bob", "Empty", "Zed"]);
    assert.deepEqual(all.dataset[2]!.images, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadDatasetFolder() with full decoding also skips a JPEG corrupt in the middle", async () => {
  const root = await fixture();
  try {
    const loaded = await loadDatasetFolder(root, { verify: "decode", concurrency: 2 });
    assert.deepEqual(loaded.dataset[0]!.images, [
      join(root, "Amy/a1.jpg"),
      join(root, "Amy/a2.png"),
    ]);
    const corrupt = loaded.skipped.find((s) => s.path === join(root, "Amy/corrupt.jpg"));
    assert.ok(corrupt !== undefined);
    assert.match(corrupt.reason, /corrupt JPEG/);
    assert.equal(loaded.skipped.length, 6);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadDatasetFolder() without verification keeps every file but still skips nested folders", async () => {
  const root = await fixture();
  try {
    const loaded = await loadDatasetFolder(root, { verify: "none" });
    assert.equal(loaded.dataset[0]!.images.length, 7 - 1);
    assert.deepEqual(loaded.skipped.map((s) => s.reason), ["a folder inside an identity folder"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadDatasetFolder() names a missing or non-folder root and rejects bad options", async () => {
  const root = await Deno.makeTempDir({ prefix: "io_dataset_test_" });
  try {
    await assert.rejects(
      loadDatasetFolder(join(root, "nope")),
      /Cannot read dataset folder .*nope: not found/,
    );
    await Deno.writeTextFile(join(root, "file"), "x");
    await assert.rejects(loadDatasetFolder(join(root, "file")), /file is not a folder/);
    await assert.rejects(loadDatasetFolder(root, { minNrofImagesPerClass: -1 }), RangeError);
    await assert.rejects(loadDatasetFolder(root, { concurrency: 0 }), RangeError);
    const empty = await loadDatasetFolder(root);
    assert.deepEqual(empty, { dataset: [], skipped: [], droppedClasses: [] });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a dataset written as PNGs with a pairs file reads back end to end: folder, pairs, batches", async () => {
  const root = await Deno.makeTempDir({ prefix: "io_dataset_test_" });
  try {
    // Three identities, three images each, every pixel holding (identity * 10 + image).
    const names = ["Ann", "Bob", "Cid"];
    for (const [c, name] of names.entries()) {
      await Deno.mkdir(join(root, name));
      for (let i = 1; i <= 3; i++) {
        const data = new Float32Array(6 * 5 * 3).fill(c * 10 + i);
        await Deno.writeFile(
          join(root, name, `${pairImageStem(name, i)}.png`),
          encodePng({ width: 6, height: 5, data }),
        );
      }
    }
    const pairs: Pairs = {
      folds: 2,
      pairsPerFold: 1,
      pairs: [
        { name1: "Ann", index1: 1, name2: "Ann", index2: 2, same: true },
        { name1: "Ann", index1: 3, name2: "Cid", index2: 1, same: false },
        { name1: "Bob", index1: 2, name2: "Bob", index2: 3, same: true },
        { name1: "Cid", index1: 2, name2: "Bob", index2: 1, same: false },
      ],
    };
    const pairsFile = join(root, "pairs.txt");
    await Deno.writeTextFile(pairsFile, formatPairs(pairs));

    const { dataset, skipped } = await loadDatasetFolder(root, { minNrofImagesPerClass: 3 });
    assert.deepEqual(dataset.map((c) => c.name), names);
    assert.deepEqual(skipped, []); // pairs.txt at the root is not part of any identity
    const resolved = await resolvePairs(
      parsePairs(await Deno.readTextFile(pairsFile), pairsFile),
      root,
    );
    assert.deepEqual(resolved.same, [true, false, true, false]);
    const values: number[] = [];
    for await (
      const batch of loadBatches(resolved.paths.flat(), { batchSize: 3, prepare: { size: 4 } })
    ) {
      for (let i = 0; i < batch.n; i++) values.push(batch.data[i * 4 * 4 * 3 + 5 * 3]!); // pixel (1, 1)
    }
    assert.deepEqual(values, [1, 2, 3, 21, 12, 13, 22, 11]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
