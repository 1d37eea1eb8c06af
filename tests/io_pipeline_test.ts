import assert from "node:assert/strict";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { createRgbImage, type RgbImage, stackImages } from "../core/pure/image_ops.ts";
import { createRng } from "../core/pure/rng.ts";
import type { ImageBatch } from "../core/types.ts";
import { encodePng, ImageDecodeError, readImage } from "../io/images.ts";
import { ImageLoader, loadBatches, prepareImage, type PrepareOptions } from "../io/pipeline.ts";

async function fixtures(): Promise<{ dir: string; refs: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "io_pipeline_test_" });
  const refs: string[] = [];
  for (let i = 0; i < 7; i++) {
    // Sizes differ on purpose; values encode the index and the position.
    const w = 20 + i, h = 18 + (i % 3);
    const data = new Float32Array(w * h * 3).map((_, k) => (k * 7 + i * 31) % 256);
    const path = join(dir, `img_${i}.${i % 2 ? "jpg" : "png"}`);
    if (i % 2) {
      const rgba = new Uint8Array(w * h * 4).map((
        _,
        k,
      ) => (k % 4 === 3 ? 255 : data[(k >> 2) * 3 + (k % 4)]!));
      await Deno.writeFile(
        path,
        new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, 90).data),
      );
    } else {
      await Deno.writeFile(path, encodePng({ width: w, height: h, data }));
    }
    refs.push(path);
  }
  return { dir, refs };
}

async function collect(iterator: AsyncIterable<ImageBatch>): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const batch of iterator) out.push(batch);
  return out;
}

const prepare: PrepareOptions = {
  resize: { height: 24, width: 22 },
  size: 16,
  randomCrop: true,
  randomFlip: true,
  randomRotate: 10,
  rng: createRng(666),
};

Deno.test("ImageLoader.loadBatches() yields prepared batches in order, the same with and without workers", async () => {
  const { dir, refs } = await fixtures();
  try {
    const expected: RgbImage[] = [];
    for (let i = 0; i < refs.length; i++) {
      expected.push(prepareImage(await readImage(refs[i]!), prepare, i));
    }
    for (const workers of [0, 2]) {
      using loader = new ImageLoader({ workers });
      assert.equal(loader.workers, workers);
      const batches = await collect(
        loader.loadBatches(refs, { batchSize: 3, prefetch: 1, prepare }),
      );
      assert.deepEqual(batches.map((b) => b.n), [3, 3, 1]);
      for (const b of batches) assert.deepEqual([b.height, b.width, b.channels], [16, 16, 3]);
      assert.deepEqual(
        batches.map((b) => [...b.data]).flat(),
        [...stackImages(expected).data],
        `workers: ${workers}`,
      );
      // A second list through the same loader works too.
      const again = await loader.loadAll(refs.slice(0, 2), { prepare: { size: 10 } });
      assert.equal(again.n, 2);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadBatches() keeps exactly `prefetch` batches in flight ahead of the consumer", async () => {
  for (const prefetch of [0, 1, 3]) {
    const started: number[] = [];
    const decode = (ref: string) => {
      started.push(Number(ref));
      return Promise.resolve(createRgbImage(2, 2, new Float32Array(12).fill(Number(ref))));
    };
    const refs = Array.from({ length: 20 }, (_, i) => String(i));
    const iterator = loadBatches(refs, { batchSize: 2, prefetch, decode });
    const first = await iterator.next();
    assert.equal(first.done, false);
    assert.equal(started.length, 2 * (1 + prefetch), `prefetch ${prefetch}`);
    const second = await iterator.next();
    assert.equal((second.value as ImageBatch).data[0], 2);
    assert.equal(started.length, 2 * (2 + prefetch), `prefetch ${prefetch}`);
    await iterator.return();
    assert.equal(started.length, 2 * (2 + prefetch), "breaking out stops loading");
    assert.deepEqual(started, [...started].sort((a, b) => a - b));
  }
});

Deno.test("loadBatches() applies the final transform with each image's position", async () => {
  const decode = (ref: string) =>
    Promise.resolve(createRgbImage(1, 1, new Float32Array(3).fill(Number(ref))));
  const transform = (image: RgbImage, index: number) =>
    createRgbImage(1, 1, image.data.map((v) => v * 10 + index));
  const batches = await collect(loadBatches(["5", "6", "7"], { batchSize: 2, decode, transform }));
  assert.deepEqual(batches.map((b) => [...b.data]).flat(), [50, 50, 50, 61, 61, 61, 72, 72, 72]);
});

Deno.test("loadBatches() reports an unreadable image by name, with and without workers", async () => {
  const { dir, refs } = await fixtures();
  try {
    const bad = join(dir, "cut.png");
    const bytes = await Deno.readFile(refs[0]!);
    await Deno.writeFile(bad, bytes.subarray(0, bytes.length - 30));
    const list = [refs[1]!, refs[2]!, bad, refs[3]!];
    for (const workers of [0, 1]) {
      using loader = new ImageLoader({ workers });
      await assert.rejects(
        collect(loader.loadBatches(list, { batchSize: 2, prepare: { size: 8 } })),
        (error: unknown) => {
          assert.ok(error instanceof ImageDecodeError, `workers ${workers}: ${error}`);
          assert.equal(error.file, bad);
          assert.match(error.message, /cut\.png: truncated PNG/);
          return true;
        },
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadBatches() rejects mixed sizes, bad options, and a custom source with workers", async () => {
  const { dir, refs } = await fixtures();
  try {
    await assert.rejects(
      collect(loadBatches(refs, { batchSize: 2 })),
      /Images of batch 0 differ in size/,
    );
    await assert.rejects(
      collect(loadBatches(refs, { batchSize: 0 })),
      /Batch size must be a positive integer, got 0/,
    );
    await assert.rejects(collect(loadBatches(refs, { batchSize: 1, prefetch: -1 })), RangeError);
    await assert.rejects(
      collect(loadBatches(refs, { batchSize: 1, prepare: { size: 8, randomFlip: true } })),
      /needs prepare\.rng/,
    );
    using loader = new ImageLoader({ workers: 1 });
    await assert.rejects(
      collect(loader.loadBatches(refs, { batchSize: 1, decode: readImage })),
      /cannot run in workers/,
    );
    loader.close();
    await assert.rejects(collect(loader.loadBatches(refs, { batchSize: 1 })), /closed/);
    assert.throws(() => new ImageLoader({ workers: -1 }), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prepareImage() standardizes last, after cropping, as the reference implementation's input pipeline does", () => {
  const data = new Float32Array(4 * 4 * 3).map((_, i) => (i * 37) % 256);
  const image = createRgbImage(4, 4, data);
  const cropped = prepareImage(image, { size: 2 }, 0);
  const fixed = prepareImage(image, { size: 2, standardize: "fixed" }, 0);
  assert.deepEqual([...fixed.data], [...cropped.data].map((v) => Math.fround((v - 127.5) / 128)));
  const white = prepareImage(image, { size: 2, standardize: "prewhiten" }, 0).data;
  const mean = white.reduce((a, b) => a + b, 0) / white.length;
  const variance = white.reduce((a, b) => a + (b - mean) ** 2, 0) / white.length;
  assert.ok(
    Math.abs(mean) < 1e-5 && Math.abs(variance - 1) < 1e-4,
    `mean ${mean}, variance ${variance}`,
  );
  assert.deepEqual(prepareImage(image, { standardize: "none" }, 0), image);
  assert.throws(() => prepareImage(image, { standardize: "bogus" as "none" }, 0), /got bogus/);
});
