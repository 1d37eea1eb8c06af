import assert from "node:assert/strict";
import {
  backendSpecRunner,
  createMtcnnNets,
  kernelSpecRunner,
  type SpecRunner,
} from "../core/detect/mtcnn_nets.ts";
import type { MtcnnNets } from "../core/detect/mtcnn.ts";
import { mtcnnParams } from "../core/models/mtcnn.ts";
import { createPureKernels } from "../core/pure/kernels.ts";
import { createWasmSimdBackend } from "../backends/wasm-simd/mod.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import type { Backend } from "../core/backend.ts";
import { probeWebGpuAdapter, type TfjsDevice } from "../backends/tfjs/device.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import type { Tensor } from "../core/types.ts";
import { interpreterNets, mtcnnConstants } from "./_mtcnn_fixtures.ts";

if (Deno.env.get("XDG_RUNTIME_DIR") === undefined) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

function randomInput(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const [u] = uniforms(createRng(seed), n);
  // Inputs as the pipeline feeds them: (v - 127.5) / 128 for v in 0..255.
  return { shape, data: Float32Array.from(u, (v) => (v * 255 - 127.5) * 0.0078125) };
}

/**
 * Largest difference allowed between a backend's net outputs and the
 * interpreter's: float32 sums against float64 ones. Measured at most 4.8e-7
 * (P-Net's face probability on tfjs wasm/webgpu) over every backend here;
 * 1e-5 leaves 20x room.
 */
const NETS_TOLERANCE = 1e-5;

function assertClose(got: Tensor, want: Tensor, tol: number, what: string): void {
  assert.deepEqual([...got.shape], [...want.shape], `${what} shape`);
  let worst = 0;
  got.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want.data[i]!))));
  assert.ok(worst <= tol, `${what}: max difference ${worst} > ${tol}`);
}

/**
 * Each net's outputs against the file's own graph (the reference interpreter, float64 sums)
 * on random inputs: P-Net on odd, even and minimal sizes, R-Net and O-Net on batches.
 */
async function checkNets(run: SpecRunner, label: string): Promise<void> {
  const nets: MtcnnNets = createMtcnnNets(run, mtcnnParams(await mtcnnConstants()));
  const ref = await interpreterNets();
  for (const [h, w, seed] of [[12, 12, 1], [31, 24, 2], [25, 37, 3]] as const) {
    const x = randomInput([1, h, w, 3], seed);
    const [got, want] = [await nets.pnet(x), await ref.pnet(x)];
    assertClose(got.prob, want.prob, NETS_TOLERANCE, `${label} pnet ${h}x${w} prob`);
    assertClose(got.reg, want.reg, NETS_TOLERANCE, `${label} pnet ${h}x${w} reg`);
  }
  const r = randomInput([3, 24, 24, 3], 4);
  const [gr, wr] = [await nets.rnet(r), await ref.rnet(r)];
  assertClose(gr.prob, wr.prob, NETS_TOLERANCE, `${label} rnet prob`);
  assertClose(gr.reg, wr.reg, NETS_TOLERANCE, `${label} rnet reg`);
  const o = randomInput([2, 48, 48, 3], 5);
  const [go, wo] = [await nets.onet(o), await ref.onet(o)];
  assertClose(go.prob, wo.prob, NETS_TOLERANCE, `${label} onet prob`);
  assertClose(go.reg, wo.reg, NETS_TOLERANCE, `${label} onet reg`);
  assertClose(go.landmarks, wo.landmarks, NETS_TOLERANCE, `${label} onet landmarks`);
}

Deno.test("MTCNN specs run by the executor on the pure kernels equal the TFLite files' own graphs within 1e-5", async () => {
  await checkNets(kernelSpecRunner(createPureKernels()), "pure kernels");
});

/** The nets through the Backend contract (a model per spec, Model.outputs). */
async function checkBackend(backend: Backend, label: string): Promise<void> {
  const runner = backendSpecRunner(backend);
  try {
    await checkNets(runner.run, label);
  } finally {
    runner.dispose();
    backend.dispose();
  }
}

Deno.test("MTCNN specs on the pure backend equal the TFLite files' own graphs within 1e-5", async () => {
  await checkBackend(createPureBackend(), "pure");
});

Deno.test("MTCNN specs on the wasm-simd backend equal the TFLite files' own graphs within 1e-5", async () => {
  await checkBackend(await createWasmSimdBackend({ threads: 2 }), "wasm-simd");
});

const adapter = await probeWebGpuAdapter();
for (const device of ["cpu", "wasm", "webgpu"] as TfjsDevice[]) {
  Deno.test({
    name: `MTCNN specs on tfjs (${device}) equal the TFLite files' own graphs within 1e-5`,
    ignore: device === "webgpu" && adapter === null,
    async fn() {
      await checkBackend(await createTfjsBackend({ device }), `tfjs ${device}`);
    },
  });
}
if (adapter === null) {
  console.log("tfjs webgpu MTCNN case ignored: no WebGPU adapter (mesa-vulkan-drivers gives one)");
}
