/**
 * Does a Web Worker decoding pool help? Writes N LFW-sized (250x250) JPEGs to a
 * temp folder, then loads them as 160x160 batches of 30 (centre crop) while the
 * calling thread "computes" synchronously for a fixed time per batch, with 0, 1
 * and 2 workers. Prints wall time per configuration and the pure decode rate.
 *
 * Run: deno run -A bench/image_pipeline.ts [images=300] [computeMsPerBatch=100]
 *
 * @module
 */

import jpeg from "jpeg-js";
import { join } from "node:path";
import { ImageLoader } from "../io/pipeline.ts";

const n = Number(Deno.args[0] ?? 300);
const computeMs = Number(Deno.args[1] ?? 100);
const batchSize = 30;
const dir = await Deno.makeTempDir({ prefix: "image_pipeline_bench_" });
const refs: string[] = [];
for (let i = 0; i < n; i++) {
  // Smooth, photo-like content (noise would make JPEG decoding several times slower).
  const rgba = new Uint8Array(250 * 250 * 4);
  for (let p = 0; p < 250 * 250; p++) {
    const x = p % 250, y = Math.floor(p / 250);
    const v = 128 + 60 * Math.sin(x / 17 + i) * Math.cos(y / 23) + ((x * 7 + y * 13) % 9);
    rgba.set([v, v * 0.8 + 20, v * 0.6 + 40, 255], p * 4);
  }
  const path = join(dir, `${i}.jpg`);
  await Deno.writeFile(
    path,
    new Uint8Array(jpeg.encode({ width: 250, height: 250, data: rgba }, 90).data),
  );
  refs.push(path);
}

function busy(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  if (x < 0) console.log(x);
}

async function run(workers: number, compute: number): Promise<number> {
  using loader = new ImageLoader({ workers });
  // Warm up the workers (module loading) outside the timing.
  await loader.loadAll(refs.slice(0, Math.max(1, workers)), { prepare: { size: 160 } });
  const t0 = performance.now();
  for await (
    const _ of loader.loadBatches(refs, { batchSize, prefetch: 2, prepare: { size: 160 } })
  ) {
    busy(compute);
  }
  return performance.now() - t0;
}

console.log(
  `${n} JPEGs 250x250 -> 160x160, batches of ${batchSize}, ${navigator.hardwareConcurrency} cores`,
);
for (const compute of [0, computeMs]) {
  for (const workers of compute === 0 ? [0, 1, 2] : [2, 1, 0]) {
    const ms = await run(workers, compute);
    const batches = Math.ceil(n / batchSize);
    console.log(
      `compute ${compute} ms/batch, workers ${workers}: ${ms.toFixed(0)} ms total ` +
        `(${(ms / n).toFixed(2)} ms/image; compute alone ${batches * compute} ms)`,
    );
  }
}
await Deno.remove(dir, { recursive: true });
