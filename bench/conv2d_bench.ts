/**
 * conv2d forward and backward (input and filter gradients together) at
 * nano's and inception-resnet-v1's typical shapes: the pure kernels (the
 * baseline), tfjs on each device (its registered `Conv2D`,
 * `Conv2DBackpropInput`, `Conv2DBackpropFilter` kernels) and the wasm-simd
 * kernels with 1 and all threads. Every result is downloaded.
 *
 * Shapes (NHWC input, HWIO filter, TF "same" padding):
 * - nano Conv2d_2a_3x3 at the reference implementation's batch 90: 90x32x32x16, 3x3/2 to 32;
 * - inception-resnet-v1 block35 at batch 8: 8x35x35x256, 1x1 to 32
 *   (Branch_0) and 8x35x35x32, 3x3 to 32 (Branch_1/Conv2d_0b_3x3).
 *
 * tfjs's wasm device registers no Conv2DBackpropFilter, and tfjs's cpu
 * Conv2DBackpropFilter takes 10-60 s at these shapes (measured alone: 14 s
 * for the nano shape, against 0.2 s for its Conv2DBackpropInput), so its
 * raw-kernel backward members are `[slow]`. The tfjs backend itself computes
 * the filter gradient with Conv2D on those devices (backends/tfjs/compile.ts
 * `conv2dCpu`); the "backend's conv2dCpu gradient" members time that path.
 *
 * Run: deno bench -A bench/conv2d_bench.ts
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { Tensor } from "../core/types.ts";
import { conv2dCpu } from "../backends/tfjs/compile.ts";
import {
  benchGroup,
  closeCheck,
  createKernelSets,
  kernelRunner,
  type Member,
  onTfjs,
  randomTensor,
  tfjsDevices,
  tfjsHasKernel,
} from "./_fixtures.ts";

interface ConvCase {
  readonly label: string;
  readonly input: readonly [number, number, number, number];
  readonly kernel: number;
  readonly filters: number;
  readonly stride: number;
}

const CASES: readonly ConvCase[] = [
  { label: "nano Conv2d_2a_3x3", input: [90, 32, 32, 16], kernel: 3, filters: 32, stride: 2 },
  { label: "irv1 block35 1x1", input: [8, 35, 35, 256], kernel: 1, filters: 32, stride: 1 },
  { label: "irv1 block35 3x3", input: [8, 35, 35, 32], kernel: 3, filters: 32, stride: 1 },
];

const kernelSets = await createKernelSets();
const devices = await tfjsDevices();

function describe(c: ConvCase): string {
  const [n, h, w, cin] = c.input;
  return `${c.label} ${n}x${h}x${w}x${cin} ${c.kernel}x${c.kernel}/${c.stride} to ${c.filters}`;
}

async function tfjsMember(
  label: string,
  device: Parameters<typeof onTfjs>[0],
  inputs: readonly Tensor[],
  op: (xs: tf.Tensor[]) => tf.Tensor[],
): Promise<Member<Float32Array>> {
  const handles = await onTfjs(device, () => inputs.map((t) => tf.tensor(t.data, [...t.shape])));
  return {
    name: label,
    run: () =>
      onTfjs(device, async () => {
        const outs = op(handles);
        const parts = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
        for (const t of outs) t.dispose();
        const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
        let at = 0;
        for (const p of parts) {
          all.set(p, at);
          at += p.length;
        }
        return all;
      }),
  };
}

let seed = 40;
for (const c of CASES) {
  const [n, h, w, cin] = c.input;
  const oh = Math.ceil(h / c.stride);
  const ow = Math.ceil(w / c.stride);
  const filterShape = [c.kernel, c.kernel, cin, c.filters];
  const x = randomTensor(c.input, seed++);
  // Glorot-like scale keeps outputs and gradients O(1).
  const filter = randomTensor(filterShape, seed++, Math.sqrt(3 / (c.kernel * c.kernel * cin)));
  const dy = randomTensor([n, oh, ow, c.filters], seed++);
  const geometry = { stride: c.stride, padding: "same" as const };
  const strides: [number, number] = [c.stride, c.stride];
  // Forward and gradient values are O(1) to O(30); float32 sums of up to
  // 90*16*16 products round at ~1e-5 relative.
  const tolerance = { atol: 1e-3, rtol: 1e-3 };
  const [pure, ...wasmSimd] = kernelSets;
  // Members near a second per call: few iterations keep the file to minutes.
  const few = { n: 3, warmup: 0 };

  // --- forward ---
  const forward: Member<Float32Array>[] = [{
    name: pure!.label,
    ...few,
    run: kernelRunner(pure!.kernels, [x, filter], (k, [xh, fh]) => [k.conv2d(xh, fh, geometry)]),
  }];
  for (const d of devices) {
    forward.push({
      ...(await tfjsMember(d.label, d.device, [x, filter], ([xh, fh]) => [
        tf.conv2d(xh as tf.Tensor4D, fh as tf.Tensor4D, strides, "same"),
      ])),
      ...(d.device === "wasm" ? {} : few),
    });
  }
  for (const e of wasmSimd) {
    forward.push({
      name: e.label,
      run: kernelRunner(e.kernels, [x, filter], (k, [xh, fh]) => [k.conv2d(xh, fh, geometry)]),
    });
  }
  await benchGroup(`conv2d forward, ${describe(c)}`, forward, { check: closeCheck(tolerance) });

  // --- backward: input gradient and filter gradient ---
  const backwardOp = <T>(k: import("../core/kernels.ts").Kernels<T>, [xh, fh, dyh]: T[]) => [
    k.conv2dBackpropInput(dyh!, fh!, { ...geometry, inputShape: c.input }),
    k.conv2dBackpropFilter(xh!, dyh!, { ...geometry, filterShape }),
  ];
  const backward: Member<Float32Array>[] = [{
    name: pure!.label,
    ...few,
    run: kernelRunner(pure!.kernels, [x, filter, dy], backwardOp),
  }];
  for (const d of devices) {
    if (!tfjsHasKernel(d.device, "Conv2DBackpropFilter")) continue;
    const member = await tfjsMember(d.label, d.device, [x, filter, dy], ([xh, fh, dyh]) => {
      const attrs = { strides, pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined };
      return [
        tf.engine().runKernel(
          "Conv2DBackpropInput",
          { dy: dyh!, filter: fh! },
          { ...attrs, inputShape: [...c.input] } as never,
        ) as tf.Tensor,
        tf.engine().runKernel(
          "Conv2DBackpropFilter",
          { x: xh!, dy: dyh! },
          { ...attrs, filterShape } as never,
        ) as tf.Tensor,
      ];
    });
    backward.push({
      ...member,
      ...(d.device === "cpu" ? { slow: true, n: 1, warmup: 0 } : few),
    });
  }
  // What the tfjs backend trains with on cpu and wasm: conv2dCpu's custom
  // gradient (filter gradient by a Conv2D). tf.grads records the forward pass
  // too, so these members include one forward convolution.
  for (const d of devices.filter((d) => d.device !== "webgpu")) {
    const member = await tfjsMember(
      d.label,
      d.device,
      [x, filter, dy],
      ([xh, fh, dyh]) =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          conv2dCpu(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, "same")
        )([xh!, fh!], dyh!),
    );
    backward.push({
      ...member,
      name: `${d.label} (backend's conv2dCpu gradient, forward included)`,
      ...(d.device === "wasm" ? {} : few),
    });
  }
  for (const e of wasmSimd) {
    backward.push({ name: e.label, run: kernelRunner(e.kernels, [x, filter, dy], backwardOp) });
  }
  await benchGroup(`conv2d backward (input + filter), ${describe(c)}`, backward, {
    check: closeCheck(tolerance),
  });
}
