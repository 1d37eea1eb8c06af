/**
 * Depthwise conv2d (channel multiplier 1) forward and both backward passes,
 * and prelu forward and backward, at MobileFaceNet's and MTCNN's typical
 * shapes: the pure kernels (the baseline, and what wasm-simd ran before its
 * SIMD kernels) against the wasm-simd kernels with 1 and all threads.
 *
 * Shapes (NHWC, TF "same" padding):
 * - MobileFaceNet conv_23 depthwise at batch 16: 16x56x56x64, 3x3/2;
 * - MobileFaceNet conv_3 depthwise at batch 16: 16x28x28x128, 3x3/1;
 * - MTCNN P-Net PReLU1 at a 12x12 crop batch of 64: 64x10x10x10.
 *
 * Run: deno bench -A bench/depthwise_bench.ts
 *
 * @module
 */

import type { Kernels } from "../core/kernels.ts";
import type { Tensor } from "../core/types.ts";
import { createPureKernels } from "../core/pure/kernels.ts";
import { createWasmSimdKernels } from "../backends/wasm-simd/kernels.ts";
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { ALL_THREADS } from "./_fixtures.ts";

function random(shape: number[], seed: number): Tensor {
  const [u] = uniforms(createRng(seed), shape.reduce((a, b) => a * b, 1));
  return { shape, data: Float32Array.from(u, (v) => 2 * v - 1) };
}

const rt1 = await createWasmSimdRuntime({ threads: 1 });
const rtN = await createWasmSimdRuntime({ threads: ALL_THREADS });
const sets: [string, Kernels<unknown>][] = [
  ["pure kernels", createPureKernels() as Kernels<unknown>],
  ["wasm-simd x1", createWasmSimdKernels(rt1) as Kernels<unknown>],
  [`wasm-simd x${ALL_THREADS}`, createWasmSimdKernels(rtN) as Kernels<unknown>],
];

const DEPTHWISE = [
  { label: "MobileFaceNet conv_23 dw 16x56x56x64 3x3/2", input: [16, 56, 56, 64], stride: 2 },
  { label: "MobileFaceNet conv_3 dw 16x28x28x128 3x3/1", input: [16, 28, 28, 128], stride: 1 },
];

for (const c of DEPTHWISE) {
  const x = random(c.input, 1);
  const f = random([3, 3, c.input[3]!, 1], 2);
  const o = { stride: c.stride, padding: "same" } as const;
  sets.forEach(([name, k], i) => {
    const xh = k.upload(x);
    const fh = k.upload(f);
    const y = k.depthwiseConv2d(xh, fh, o);
    const dy = k.upload(random([...k.shape(y)], 3));
    k.dispose(y);
    Deno.bench({
      name,
      group: `${c.label} forward + backward`,
      baseline: i === 0,
      fn() {
        const out = k.depthwiseConv2d(xh, fh, o);
        const dx = k.depthwiseConv2dBackpropInput(dy, fh, { ...o, inputShape: c.input });
        const df = k.depthwiseConv2dBackpropFilter(xh, dy, {
          ...o,
          filterShape: [3, 3, c.input[3]!, 1],
        });
        k.download(out);
        k.download(dx);
        k.download(df);
        k.dispose(out);
        k.dispose(dx);
        k.dispose(df);
      },
    });
  });
}

{
  const shape = [64, 10, 10, 10];
  const x = random(shape, 4);
  const alpha = random([10], 5);
  const dy = random(shape, 6);
  sets.forEach(([name, k], i) => {
    const xh = k.upload(x);
    const ah = k.upload(alpha);
    const gh = k.upload(dy);
    Deno.bench({
      name,
      group: "MTCNN P-Net PReLU1 64x10x10x10 forward + backward",
      baseline: i === 0,
      fn() {
        const y = k.prelu(xh, ah);
        const g = k.preluBackward(gh, xh, ah);
        k.download(y);
        k.download(g.dx);
        k.download(g.dAlpha);
        k.dispose(y);
        k.dispose(g.dx);
        k.dispose(g.dAlpha);
      },
    });
  });
}
