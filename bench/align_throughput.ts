/**
 * `align` throughput: the six demo photos of `@vladmandic/face-api`
 * (1920 px group photos, 3-5 faces each) in a folder per photo, aligned by
 * the CLI's `align` (MTCNN on the chosen detector backend, the largest and
 * most central face, margin 44, 182 px PNGs), timed end to end in this
 * process (weights loaded once; decoding, detection, cropping and writing
 * included). Prints photos per second.
 *
 * Run: deno run -A bench/align_throughput.ts [--detector-backend wasm-simd|tfjs|pure] [--threads N]
 *
 * @module
 */

import { join } from "node:path";
import { alignCommand } from "../cli/align.ts";
import { DEMO_PHOTOS_PACKAGE, npmPackageFile } from "../io/npm_assets.ts";

const dir = await Deno.makeTempDir({ prefix: "align_bench_" });
try {
  const input = join(dir, "photos");
  for (let n = 1; n <= 6; n++) {
    await Deno.mkdir(join(input, `person${n}`), { recursive: true });
    await Deno.copyFile(
      await npmPackageFile(DEMO_PHOTOS_PACKAGE, `demo/sample${n}.jpg`),
      join(input, `person${n}`, `sample${n}.jpg`),
    );
  }
  const start = performance.now();
  const code = await alignCommand([input, join(dir, "aligned"), "--quiet", ...Deno.args]);
  const seconds = (performance.now() - start) / 1000;
  if (code !== 0) throw new Error(`align exited with ${code}`);
  console.log(
    `align: 6 photos in ${seconds.toFixed(2)} s = ${(6 / seconds).toFixed(2)} photos/s (${
      Deno.args.join(" ") || "default detector: wasm-simd, all threads"
    })`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
