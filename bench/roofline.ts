/**
 * The ceiling of 128-bit WebAssembly SIMD on this machine: the peak f32x4
 * multiply-add rate of one core (a kernel of 12 independent accumulator
 * chains, no memory traffic; fused `relaxed_madd` where the runtime has
 * relaxed SIMD, else `mul` + `add`), next to the rate wasm-simd's GEMM
 * reaches on the shapes of a nano training step (batch 90, 64 px) and the
 * rate of each of nano's convolutions (forward, batch 90) on the conv kernel
 * the models use, so a kernel's rate can be read as a fraction of the
 * ceiling.
 *
 * Run: deno run -A bench/roofline.ts
 *
 * @module
 */

import asc from "assemblyscript/asc";
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";
import { createWasmSimdKernels } from "../backends/wasm-simd/kernels.ts";

/** Independent accumulators: 12 plus the two constants fit x64's 16 vector registers. */
const CHAINS = 12;

const SOURCE = (relaxed: boolean) => `
export function fmaLoop(iterations: i32, seed: f32): f32 {
  let a0 = f32x4.splat(seed); let a1 = f32x4.splat(seed + 1); let a2 = f32x4.splat(seed + 2);
  let a3 = f32x4.splat(seed + 3); let a4 = f32x4.splat(seed + 4); let a5 = f32x4.splat(seed + 5);
  let a6 = f32x4.splat(seed + 6); let a7 = f32x4.splat(seed + 7); let a8 = f32x4.splat(seed + 8);
  let a9 = f32x4.splat(seed + 9); let a10 = f32x4.splat(seed + 10); let a11 = f32x4.splat(seed + 11);
  let a12 = f32x4.splat(seed + 12); let a13 = f32x4.splat(seed + 13);
  let a14 = f32x4.splat(seed + 14); let a15 = f32x4.splat(seed + 15);
  const m = f32x4.splat(0.999 + seed * 1e-7); const c = f32x4.splat(seed * 1e-7);
  for (let i = 0; i < iterations; i++) {
    ${
  Array.from({ length: CHAINS }, (_, i) =>
    relaxed
      ? `a${i} = f32x4.relaxed_madd(a${i}, m, c);`
      : `a${i} = f32x4.add(f32x4.mul(a${i}, m), c);`).join("\n    ")
}
  }
  let s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  s = f32x4.add(s, f32x4.add(f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)), f32x4.add(f32x4.add(a12, a13), f32x4.add(a14, a15))));
  return f32x4.extract_lane(s, 0);
}
`;

async function compile(relaxed: boolean): Promise<Uint8Array<ArrayBuffer>> {
  let wasm: Uint8Array<ArrayBuffer> | undefined;
  const result = await asc.main(
    [
      "roofline.ts",
      "--outFile",
      "out.wasm",
      "-O3",
      "--runtime",
      "stub",
      "--enable",
      relaxed ? "simd,relaxed-simd" : "simd",
    ],
    {
      readFile: (name: string) => name === "roofline.ts" ? SOURCE(relaxed) : null,
      writeFile: (name: string, contents: Uint8Array | string) => {
        if (name.endsWith(".wasm") && contents instanceof Uint8Array) {
          wasm = new Uint8Array(contents);
        }
      },
      listFiles: () => [],
    },
  );
  if (result.error !== null || wasm === undefined) {
    throw new Error(`roofline kernel did not compile: ${result.error?.message}`);
  }
  return wasm;
}

/** Best of `reps` runs of `fn`, in milliseconds. */
function best(reps: number, fn: () => void): number {
  let min = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

console.log(
  `load average ${Deno.loadavg().map((v) => v.toFixed(1)).join(" ")}; best of many short runs`,
);
for (const relaxed of [false, true]) {
  const bytes = await compile(relaxed);
  if (!WebAssembly.validate(bytes)) {
    console.log(`${relaxed ? "relaxed_madd" : "mul + add"}: not supported by this runtime`);
    continue;
  }
  const { instance } = await WebAssembly.instantiate(bytes);
  const fmaLoop = instance.exports.fmaLoop as (n: number, seed: number) => number;
  const iterations = 5_000;
  fmaLoop(iterations, 1);
  const ms = best(4000, () => fmaLoop(iterations, 1));
  // CHAINS chains x 4 lanes x 2 flops (multiply and add) per iteration.
  const gflops = (iterations * CHAINS * 4 * 2) / (ms * 1e6);
  console.log(
    `peak f32x4 ${relaxed ? "relaxed_madd" : "mul + add"}, 1 thread: ${gflops.toFixed(1)} GFLOP/s`,
  );
}

// wasm-simd's GEMM on the nano step's largest shapes (C = A B, m x k times k x n).
const rt = await createWasmSimdRuntime({ threads: 1 });
try {
  for (
    const [label, m, n, k] of [
      ["conv 3x3 16->32 at 32x32 (im2col GEMM)", 90 * 16 * 16, 32, 144],
      ["conv 3x3 32->64 at 16x16", 90 * 8 * 8, 64, 288],
      ["conv 3x3 32->32 at 8x8 (block)", 90 * 8 * 8, 32, 288],
      ["conv 3x3 64->128 at 8x8", 90 * 4 * 4, 128, 576],
      ["bottleneck dense 2048->128", 90, 128, 2048],
      ["square 512", 512, 512, 512],
    ] as const
  ) {
    const a = rt.put(new Float32Array(m * k).fill(0.5));
    const b = rt.put(new Float32Array(k * n).fill(0.25));
    const c = rt.allocF32(m * n);
    const ms = best(40, () => rt.gemm({ m, n, k, a, b, c }, { threads: 1 }));
    console.log(
      `GEMM ${label} (${m}x${n}x${k}), 1 thread: ${
        (2 * m * n * k / (ms * 1e6)).toFixed(1)
      } GFLOP/s`,
    );
    rt.free(a);
    rt.free(b);
    rt.free(c);
  }
} finally {
  rt.dispose();
}

// nano's convolutions, forward, batch 90, through the Kernels the models run on.
const convRt = await createWasmSimdRuntime({ threads: 1 });
try {
  const kernels = createWasmSimdKernels(convRt);
  let total = 0;
  let totalFlops = 0;
  for (
    const [label, h, cin, k, cout, stride] of [
      ["Conv2d_1a_3x3", 64, 3, 3, 16, 2],
      ["Conv2d_2a_3x3", 32, 16, 3, 32, 2],
      ["Conv2d_3a_3x3", 16, 32, 3, 64, 2],
      ["block_1 1x1 (each of two)", 8, 64, 1, 32, 1],
      ["block_1 3x3", 8, 32, 3, 32, 1],
      ["block_1 1x1 up", 8, 64, 1, 64, 1],
      ["Conv2d_4a_3x3", 8, 64, 3, 128, 2],
    ] as const
  ) {
    const n = 90;
    const x = kernels.upload({
      shape: [n, h, h, cin],
      data: new Float32Array(n * h * h * cin).fill(0.5),
    });
    const f = kernels.upload({
      shape: [k, k, cin, cout],
      data: new Float32Array(k * k * cin * cout).fill(0.01),
    });
    const ms = best(20, () => kernels.dispose(kernels.conv2d(x, f, { stride, padding: "same" })));
    const out = Math.ceil(h / stride);
    const flops = 2 * n * out * out * cout * k * k * cin;
    const times = label.includes("each of two") ? 2 : 1;
    total += ms * times;
    totalFlops += flops * times;
    console.log(
      `conv ${label} ${h}x${h}x${cin} -> ${cout}, forward, 1 thread: ${ms.toFixed(2)} ms, ${
        (flops / (ms * 1e6)).toFixed(1)
      } GFLOP/s`,
    );
    kernels.dispose(x);
    kernels.dispose(f);
  }
  console.log(
    `nano's convolutions, forward, 1 thread: ${total.toFixed(1)} ms, ${
      (totalFlops / (total * 1e6)).toFixed(1)
    } GFLOP/s`,
  );
} finally {
  convRt.dispose();
}
