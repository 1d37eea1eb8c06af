// Nothing lost, nothing hangs: atomic outputs under injected write failures,
// bounded inputs (FIFOs, devices, oversized images), checkpoint integrity, and
// the library inputs that used to give silently wrong answers.
import assert from "node:assert/strict";
import { join } from "node:path";
import jpeg from "jpeg-js";
import {
  appendJsonLines,
  appendTextLines,
  readFileBounded,
  readJsonLines,
  replaceFolderAtomic,
  setWriteFaultHook,
  writeFileAtomic,
} from "../io/atomic.ts";
import {
  declaredImageSize,
  decodeImage,
  encodePng,
  probeImageFile,
  readImage,
} from "../io/images.ts";
import { loadDatasetFolder } from "../io/dataset.ts";
import { parsePairs, resolvePairs } from "../io/pairs.ts";
import { loadCheckpoint, saveCheckpoint } from "../io/checkpoint.ts";
import { VALIDATION_FILE, writeValidation } from "../io/run_log.ts";
import { retrievalMetrics } from "../core/pure/retrieval.ts";
import { parseSchedule } from "../core/pure/schedule.ts";
import { fixedImageStandardization } from "../core/pure/preprocess.ts";
import type { ModelState } from "../core/backend.ts";
import { alignCommand } from "../cli/align.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "reliab_" });
  try {
    await fn(dir);
  } finally {
    setWriteFaultHook(null);
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) found.push(entry.name);
  return found.sort();
}

async function mkfifo(path: string): Promise<void> {
  const r = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(r.code, 0, "mkfifo failed");
}

/** Fails every write of io/atomic.ts whose destination ends with `suffix`, after `bytes` bytes. */
function failWrites(suffix: string, bytes: number): void {
  setWriteFaultHook((path) => (path.endsWith(suffix) ? bytes : undefined));
}

Deno.test("writeFileAtomic() keeps the old file whole when the disk fills mid-write, and leaves no temporary file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "classifier.json");
    await writeFileAtomic(path, JSON.stringify({ old: true }));
    failWrites("classifier.json", 4096);
    await assert.rejects(writeFileAtomic(path, "x".repeat(10_000)), /No space left on device/);
    setWriteFaultHook(null);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { old: true });
    assert.deepEqual(await names(dir), ["classifier.json"]);
  });
});

Deno.test("writeFileAtomic() replaces a symlink instead of writing through it", async () => {
  await withTempDir(async (dir) => {
    const target = join(dir, "precious.txt");
    await Deno.writeTextFile(target, "keep me");
    await Deno.symlink(target, join(dir, "out.npy"));
    await writeFileAtomic(join(dir, "out.npy"), "new");
    assert.equal(await Deno.readTextFile(target), "keep me");
    assert.ok((await Deno.lstat(join(dir, "out.npy"))).isFile);
    await assert.rejects(writeFileAtomic("", "x"), TypeError);
    await assert.rejects(writeFileAtomic("/", "x"), /root/);
  });
});

Deno.test("appendJsonLines() cuts a torn last line before appending and rolls back a failed append", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "metrics.jsonl");
    await appendJsonLines(path, [{ epoch: 1 }]);
    await Deno.writeTextFile(path, '{"epoch":2,"lo', { append: true }); // a kill mid-append
    await appendJsonLines(path, [{ epoch: 2 }]);
    assert.equal(await Deno.readTextFile(path), '{"epoch":1}\n{"epoch":2}\n');
    failWrites("metrics.jsonl", 5);
    await assert.rejects(appendJsonLines(path, [{ epoch: 3, loss: 0.5 }]), /No space left/);
    setWriteFaultHook(null);
    assert.equal(await Deno.readTextFile(path), '{"epoch":1}\n{"epoch":2}\n');
    assert.deepEqual(await readJsonLines(path), [{ epoch: 1 }, { epoch: 2 }]);
  });
});

Deno.test("align cuts a listing line torn by a killed run instead of gluing its first line onto it", async () => {
  await withTempDir(async (dir) => {
    const input = join(dir, "raw");
    await Deno.mkdir(join(input, "ben"), { recursive: true });
    // A blank photo: no face, so align lists it without a box ("Unable to align").
    await Deno.writeFile(
      join(input, "ben", "wall.png"),
      encodePng({ width: 40, height: 32, data: new Float32Array(40 * 32 * 3).fill(200) }),
    );
    const output = join(dir, "aligned");
    await Deno.mkdir(output);
    // The listing name's 5 digits come from Math.random(): pin them to find the file.
    const listing = join(output, "bounding_boxes_12345.txt");
    await Deno.writeTextFile(listing, `${join(output, "ann", "a.png")} 1 2 3 4\n/killed/mid-app`);
    const random = Math.random;
    Math.random = () => 0.12345;
    try {
      assert.equal(await alignCommand([input, output, "--quiet"]), 0);
    } finally {
      Math.random = random;
    }
    assert.equal(
      await Deno.readTextFile(listing),
      `${join(output, "ann", "a.png")} 1 2 3 4\n${join(output, "ben", "wall.png")}\n`,
    );
  });
});

Deno.test("appendTextLines() cuts a torn last line, rolls back a failed append and refuses a line with a newline", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "list.txt");
    await Deno.writeTextFile(path, "one 1\ntwo 2\nthr");
    await appendTextLines(path, ["three 3", "four 4"]);
    assert.equal(await Deno.readTextFile(path), "one 1\ntwo 2\nthree 3\nfour 4\n");
    failWrites("list.txt", 3);
    await assert.rejects(appendTextLines(path, ["five 5"]), /No space left/);
    setWriteFaultHook(null);
    assert.equal(await Deno.readTextFile(path), "one 1\ntwo 2\nthree 3\nfour 4\n");
    assert.throws(() => appendTextLines(path, ["a\nb"]), /Line 0 must not contain a newline/);
  });
});

Deno.test("replaceFolderAtomic() leaves the previous folder intact when a file of the new one fails", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "export");
    await replaceFolderAtomic(out, async (tmp) => {
      await writeFileAtomic(join(tmp, "group1-shard1of1.bin"), new Uint8Array(100).fill(1));
      await writeFileAtomic(join(tmp, "model.json"), "{}");
    });
    failWrites(".bin", 50);
    await assert.rejects(
      replaceFolderAtomic(out, async (tmp) => {
        await writeFileAtomic(join(tmp, "model.json"), '{"new":1}');
        await writeFileAtomic(join(tmp, "group1-shard1of1.bin"), new Uint8Array(100).fill(2));
      }),
      /No space left/,
    );
    setWriteFaultHook(null);
    assert.deepEqual(await names(dir), ["export"]);
    assert.equal(await Deno.readTextFile(join(out, "model.json")), "{}");
    assert.deepEqual(
      [...await Deno.readFile(join(out, "group1-shard1of1.bin"))],
      Array(100).fill(1),
    );
  });
});

Deno.test("readFileBounded() refuses a FIFO, a device and an oversized file without reading them", async () => {
  await withTempDir(async (dir) => {
    const fifo = join(dir, "x.png");
    await mkfifo(fifo);
    await assert.rejects(readFileBounded(fifo, 1000), /not a regular file/);
    await assert.rejects(readFileBounded("/dev/zero", 1000), /not a regular file/);
    await Deno.writeFile(join(dir, "big.png"), new Uint8Array(2000));
    await assert.rejects(readFileBounded(join(dir, "big.png"), 1000), /2000 bytes, larger than/);
    await assert.rejects(
      readImage("/dev/zero"),
      /Cannot read image \/dev\/zero: not a regular file/,
    );
    await assert.rejects(readImage(fifo), /not a regular file/);
  });
});

Deno.test("loadDatasetFolder() skips a FIFO named like an image instead of hanging on it", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "Ann"));
    await Deno.writeFile(
      join(dir, "Ann", "a.png"),
      encodePng({ width: 2, height: 2, data: new Float32Array(12) }),
    );
    await mkfifo(join(dir, "Ann", "b.png"));
    for (const verify of ["header", "decode", "none"] as const) {
      const loaded = await loadDatasetFolder(dir, { verify });
      assert.deepEqual(loaded.dataset[0]!.images, [join(dir, "Ann", "a.png")]);
      assert.deepEqual(loaded.skipped, [
        { path: join(dir, "Ann", "b.png"), reason: "not a regular file" },
      ]);
    }
  });
});

/** A valid small PNG whose IHDR is patched to declare `width x height` (CRC left stale). */
function pngDeclaring(width: number, height: number): Uint8Array {
  const png = encodePng({ width: 4, height: 4, data: new Float32Array(48) }).slice();
  const view = new DataView(png.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return png;
}

Deno.test("decodeImage() refuses a PNG declaring 20000x20000 pixels from its header, before allocating", async () => {
  const bytes = pngDeclaring(20000, 20000);
  assert.deepEqual(declaredImageSize(bytes), { width: 20000, height: 20000 });
  assert.throws(
    () => decodeImage(bytes, "bomb.png"),
    /Cannot read image bomb\.png: image too large: 20000x20000 is 400\.0 megapixels, over the limit of 67\.1/,
  );
  await withTempDir(async (dir) => {
    await Deno.writeFile(join(dir, "bomb.png"), bytes);
    assert.match((await probeImageFile(join(dir, "bomb.png"))) ?? "", /image too large/);
    await Deno.mkdir(join(dir, "Ann"));
    await Deno.rename(join(dir, "bomb.png"), join(dir, "Ann", "bomb.png"));
    const loaded = await loadDatasetFolder(dir);
    assert.equal(loaded.dataset.length, 0);
    assert.match(loaded.skipped[0]!.reason, /image too large/);
  });
});

/** A JPEG with an APP1 segment of `padding` bytes before its frame header. */
function jpegWithApp1(width: number, height: number, padding: number): Uint8Array {
  const raw = jpeg.encode(
    { width, height, data: new Uint8Array(width * height * 4).fill(128) },
    90,
  ).data;
  const app1 = new Uint8Array(4 + padding);
  app1.set([0xff, 0xe1, (padding + 2) >> 8, (padding + 2) & 0xff]);
  const out = new Uint8Array(raw.length + app1.length);
  out.set(raw.subarray(0, 2));
  out.set(app1, 2);
  out.set(raw.subarray(2), 2 + app1.length);
  return out;
}

Deno.test("decodeImage() reads a JPEG's size past its EXIF segment and says 'too large', not 'corrupt', over the limit", async () => {
  const bytes = jpegWithApp1(40, 30, 30_000);
  assert.deepEqual(declaredImageSize(bytes), { width: 40, height: 30 });
  assert.equal(decodeImage(bytes, "ok.jpg").width, 40);
  assert.throws(
    () => decodeImage(bytes, "big.jpg", { maxPixels: 1000 }),
    /Cannot read image big\.jpg: image too large: 40x30 is 0\.0 megapixels, over the limit/,
  );
  await withTempDir(async (dir) => {
    await Deno.writeFile(join(dir, "big.jpg"), bytes);
    assert.equal(await probeImageFile(join(dir, "big.jpg")), null);
    assert.match(
      (await probeImageFile(join(dir, "big.jpg"), { maxPixels: 1000 })) ?? "",
      /image too large/,
    );
    await assert.rejects(
      readImage(join(dir, "big.jpg"), { maxFileBytes: 1000 }),
      /over the limit of 1000 bytes/,
    );
  });
});

Deno.test("decodeImage() decodes a JPEG exactly at the pixel limit and refuses one pixel less", () => {
  const bytes = jpegWithApp1(300, 200, 10);
  const image = decodeImage(bytes, "edge.jpg", { maxPixels: 300 * 200 });
  assert.deepEqual([image.width, image.height], [300, 200]);
  assert.throws(
    () => decodeImage(bytes, "edge.jpg", { maxPixels: 300 * 200 - 1 }),
    /image too large: 300x200/,
  );
});

Deno.test("resolvePairs() refuses pair names that leave --lfw-dir", async () => {
  await withTempDir(async (dir) => {
    const lfw = join(dir, "lfw");
    await Deno.mkdir(join(lfw, "Ann"), { recursive: true });
    await Deno.mkdir(join(dir, "secret"));
    await Deno.writeFile(join(dir, "secret", "secret_0001.png"), new Uint8Array(1));
    await Deno.writeFile(join(lfw, "Ann", "Ann_0001.png"), new Uint8Array(1));
    const pairs = parsePairs("1 1\nAnn 1 1\n../secret 1 Ann 1\n", "pairs.txt");
    await assert.rejects(resolvePairs(pairs, lfw), /"\.\.\/secret" .*resolves outside/);
    const slash = parsePairs("1 1\nAnn 1 1\nAnn/x 1 Ann 1\n", "pairs.txt");
    await assert.rejects(resolvePairs(slash, lfw), /"Ann\/x" is not a plain folder name/);
  });
});

Deno.test("retrievalMetrics(), parseSchedule() and fixedImageStandardization() reject bad inputs with clear errors", () => {
  const x = { rows: 2, cols: 1, data: new Float32Array([0, NaN]) };
  assert.throws(() => retrievalMetrics(x, [0, 0]), /must be finite, got NaN at row 1, column 0/);
  x.data[1] = Infinity;
  assert.throws(() => retrievalMetrics(x, [0, 0]), /got Infinity at row 1/);
  assert.throws(() => parseSchedule(5 as unknown as string), {
    name: "TypeError",
    message: "Schedule text must be a string (the file's contents), got number",
  });
  assert.throws(() => fixedImageStandardization(null as unknown as Float32Array), {
    name: "TypeError",
    message: "Image values must be a Float32Array, got null",
  });
});

function sampleState(step: number): ModelState {
  const t = (values: number[]) => ({ shape: [values.length], data: new Float32Array(values) });
  return {
    params: { "fc/weights": t([1, 2, 3]) },
    stats: { "bn/moving_mean": t([0.5]) },
    optimizer: {
      name: "ADAGRAD",
      slots: { accumulator: { "fc/weights": t([1, 1, 1]) } },
      iterations: step,
    },
    ema: { "fc/weights": t([1, 2, 3]) },
    step,
  };
}
const META = {
  model: "nano",
  embeddingSize: 3,
  epoch: 1,
  rng: { key: [1, 2] as [number, number], counter: 0 },
  config: {},
};

Deno.test("loadCheckpoint() refuses a NaN in any tensor group, naming the tensor, and a checksum mismatch", async () => {
  await withTempDir(async (dir) => {
    const path = await saveCheckpoint(dir, { state: sampleState(1), meta: META });
    const file = join(path, "model.safetensors");
    const original = await Deno.readFile(file);
    // Every tensor holds a distinctive value; overwrite its first float with NaN.
    const text = new TextDecoder().decode(original);
    const headerLength = Number(new DataView(original.buffer).getBigUint64(0, true));
    const header = JSON.parse(text.slice(8, 8 + headerLength));
    for (
      const name of [
        "ema/fc/weights",
        "params/fc/weights",
        "stats/bn/moving_mean",
        "optimizer/accumulator/fc/weights",
      ]
    ) {
      const bytes = original.slice();
      new DataView(bytes.buffer).setFloat32(
        8 + headerLength + header[name].data_offsets[0],
        NaN,
        true,
      );
      await Deno.writeFile(file, bytes);
      // The checksum catches the change first; without it the finite check names the tensor.
      await assert.rejects(loadCheckpoint(path), /SHA-256 [0-9a-f]{64} differs/);
      const meta = JSON.parse(await Deno.readTextFile(join(path, "checkpoint.json")));
      const { tensorsSha256: _, ...old } = meta;
      await Deno.writeTextFile(join(path, "checkpoint.json"), JSON.stringify(old));
      await assert.rejects(
        loadCheckpoint(path),
        new RegExp(`tensor ${name} holds NaN at index 0`),
      );
      await Deno.writeTextFile(join(path, "checkpoint.json"), JSON.stringify(meta));
    }
    await Deno.writeFile(file, original);
    assert.equal((await loadCheckpoint(path)).meta.step, 1);
  });
});

Deno.test("saveCheckpoint() refuses a non-finite state and keeps earlier checkpoints on ENOSPC", async () => {
  await withTempDir(async (dir) => {
    await saveCheckpoint(dir, { state: sampleState(1), meta: META });
    const bad = sampleState(2);
    bad.optimizer.slots["accumulator"]!["fc/weights"]!.data[1] = Infinity;
    await assert.rejects(
      saveCheckpoint(dir, { state: bad, meta: META }),
      /tensor optimizer\/accumulator\/fc\/weights holds Infinity at index 1/,
    );
    failWrites("model.safetensors", 10);
    await assert.rejects(saveCheckpoint(dir, { state: sampleState(2), meta: META }), /No space/);
    setWriteFaultHook(null);
    assert.deepEqual(await names(dir), ["ckpt-1"]);
    assert.equal((await loadCheckpoint(dir)).meta.step, 1);
  });
});

Deno.test("saveCheckpoint() cleans up what a killed save left, restoring a checkpoint moved aside", async () => {
  await withTempDir(async (dir) => {
    await saveCheckpoint(dir, { state: sampleState(1), meta: META });
    await Deno.mkdir(join(dir, ".tmp-ckpt-2-00112233aabbccdd"));
    await Deno.writeTextFile(join(dir, ".tmp-ckpt-2-00112233aabbccdd", "model.safetensors"), "x");
    await Deno.rename(join(dir, "ckpt-1"), join(dir, ".old-ckpt-1-0123456789abcdef"));
    await saveCheckpoint(dir, { state: sampleState(3), meta: META });
    assert.deepEqual(await names(dir), ["ckpt-1", "ckpt-3"]);
    assert.equal((await loadCheckpoint(join(dir, "ckpt-1"))).meta.step, 1);
  });
});

Deno.test("writeValidation() removes the temporary file a run killed inside the previous write left behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // What a kill between writing the temporary file and renaming it leaves.
    const stale = join(dir, `.${VALIDATION_FILE}.tmp-00112233aabbccdd`);
    await Deno.writeTextFile(stale, '{"epoch": 1, "st');
    // Another program's hidden file and a look-alike name stay.
    await Deno.writeTextFile(join(dir, ".keep"), "x");
    await Deno.writeTextFile(join(dir, `.${VALIDATION_FILE}.tmp-notahexid`), "x");
    const empty = { labels: [], x: [], y: [], explainedVariance: [0, 0], totalVariance: 0 };
    await writeValidation(dir, {
      format: 1,
      epoch: 2,
      step: 20,
      thresholds: [0, 1],
      tpr: [0, 1],
      fpr: [0, 1],
      thresholdsChosen: [0.5],
      valThresholds: [0.4],
      accuracy: 0.5,
      val: 0,
      farTarget: 1e-3,
      auc: 0.5,
      eer: 0.5,
      pairs: { distance: [], same: [] },
      map: empty,
    });
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, [".keep", `.${VALIDATION_FILE}.tmp-notahexid`, VALIDATION_FILE].sort());
    assert.equal(JSON.parse(await Deno.readTextFile(join(dir, VALIDATION_FILE))).step, 20);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
