/**
 * GEMM 512x512x512 as the models use it (the `matMul` kernel, result
 * downloaded): the pure kernels (the baseline), tfjs on each device and the
 * wasm-simd kernels with 1 and all threads. bench/gemm_bench.ts times the
 * wasm-simd runtime's raw GEMM without the kernel layer.
 *
 * Run: deno bench -A bench/matmul_bench.ts
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import {
  benchGroup,
  closeCheck,
  createKernelSets,
  kernelRunner,
  type Member,
  onTfjs,
  randomTensor,
  tfjsDevices,
} from "./_fixtures.ts";

const SIZE = 512;
const a = randomTensor([SIZE, SIZE], 31);
const b = randomTensor([SIZE, SIZE], 32);

const [pure, ...wasmSimd] = (await createKernelSets()).map((e): Member<Float32Array> => ({
  name: e.label,
  ...(e.label === "pure" ? { n: 3, warmup: 1 } : {}),
  run: kernelRunner(e.kernels, [a, b], (k, [x, y]) => [k.matMul(x, y)]),
}));
const members: Member<Float32Array>[] = [pure!];
for (const d of await tfjsDevices()) {
  const [ta, tb] = await onTfjs(d.device, () => [
    tf.tensor2d(a.data, [SIZE, SIZE]),
    tf.tensor2d(b.data, [SIZE, SIZE]),
  ]);
  members.push({
    name: d.label,
    ...(d.device === "wasm" ? {} : { n: 3, warmup: 1 }),
    run: () =>
      onTfjs(d.device, async () => {
        const c = tf.matMul(ta!, tb!);
        const out = (await c.data()) as Float32Array;
        c.dispose();
        return out;
      }),
  });
}
members.push(...wasmSimd);
// Sums of 512 products of values in [-1, 1]: |c| ~ 7, float32 rounding ~1e-5.
await benchGroup(`GEMM ${SIZE}x${SIZE}x${SIZE} (matMul)`, members, {
  check: closeCheck({ atol: 1e-3, rtol: 1e-4 }),
});
