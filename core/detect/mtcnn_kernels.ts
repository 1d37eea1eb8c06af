/**
 * MTCNN's three networks (FaceNet's det1/det2/det3) run directly on any
 * {@link Kernels} implementation (the pure kernels, the wasm-simd kernels),
 * from the float32 constants of the TFLite files, named as in those files
 * (`pnet/conv1/weights/read`, `rnet/prelu1/alpha/read`, ...).
 *
 * Layouts of the files: conv weights `[out, kh, kw, in]` (turned into the
 * kernels' HWIO here), dense weights `[out, in]` reading the NHWC tensor
 * flattened in H, W, C order, PReLU `relu(x) + alpha * -relu(-x)` per channel,
 * softmax over the last axis. Convolutions are VALID; pools are 2x2/2 or
 * 3x3/2 with TF "SAME" or "VALID" padding as in the files.
 *
 * @module
 */

import type { Kernels } from "../kernels.ts";
import type { NamedTensors, Tensor } from "../types.ts";
import type { MtcnnNets, OnetOutput, PnetOutput, RnetOutput } from "./mtcnn.ts";

/** The layers of one net, in order. */
type Layer =
  | { readonly kind: "conv"; readonly name: string }
  | { readonly kind: "prelu"; readonly name: string }
  | { readonly kind: "pool"; readonly size: number; readonly padding: "same" | "valid" }
  | { readonly kind: "dense"; readonly name: string };

const conv = (name: string): Layer => ({ kind: "conv", name });
const prelu = (name: string): Layer => ({ kind: "prelu", name });
const dense = (name: string): Layer => ({ kind: "dense", name });
const pool = (size: number, padding: "same" | "valid"): Layer => ({ kind: "pool", size, padding });

/** The trunk of each net and its heads (name, softmax or not), as in FaceNet's det1/2/3. */
const NETS = {
  pnet: {
    trunk: [
      conv("pnet/conv1"),
      prelu("pnet/PReLU1"),
      pool(2, "same"),
      conv("pnet/conv2"),
      prelu("pnet/PReLU2"),
      conv("pnet/conv3"),
      prelu("pnet/PReLU3"),
    ],
    heads: [["prob", conv("pnet/conv4-1"), true], ["reg", conv("pnet/conv4-2"), false]],
  },
  rnet: {
    trunk: [
      conv("rnet/conv1"),
      prelu("rnet/prelu1"),
      pool(3, "same"),
      conv("rnet/conv2"),
      prelu("rnet/prelu2"),
      pool(3, "valid"),
      conv("rnet/conv3"),
      prelu("rnet/prelu3"),
      dense("rnet/conv4"),
      prelu("rnet/prelu4"),
    ],
    heads: [["prob", dense("rnet/conv5-1"), true], ["reg", dense("rnet/conv5-2"), false]],
  },
  onet: {
    trunk: [
      conv("onet/conv1"),
      prelu("onet/prelu1"),
      pool(3, "same"),
      conv("onet/conv2"),
      prelu("onet/prelu2"),
      pool(3, "valid"),
      conv("onet/conv3"),
      prelu("onet/prelu3"),
      pool(2, "same"),
      conv("onet/conv4"),
      prelu("onet/prelu4"),
      dense("onet/conv5"),
      prelu("onet/prelu5"),
    ],
    heads: [
      ["prob", dense("onet/conv6-1"), true],
      ["reg", dense("onet/conv6-2"), false],
      ["landmarks", dense("onet/conv6-3"), false],
    ],
  },
} as const satisfies Record<
  string,
  { trunk: readonly Layer[]; heads: readonly (readonly [string, Layer, boolean])[] }
>;

function constant(constants: NamedTensors, name: string): Tensor {
  const t = constants[name];
  if (t === undefined) throw new RangeError(`The MTCNN weights have no tensor "${name}"`);
  return t;
}

/** `[out, kh, kw, in]` to `[kh, kw, in, out]`. */
function toHwio(t: Tensor): Tensor {
  const [o, kh, kw, i] = t.shape as [number, number, number, number];
  const out = new Float32Array(t.data.length);
  for (let a = 0; a < o; a++) {
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let c = 0; c < i; c++) {
          out[((y * kw + x) * i + c) * o + a] = t.data[((a * kh + y) * kw + x) * i + c]!;
        }
      }
    }
  }
  return { shape: [kh, kw, i, o], data: out };
}

/** `[out, in]` to `[in, out]`. */
function transpose2d(t: Tensor): Tensor {
  const [o, i] = t.shape as [number, number];
  const out = new Float32Array(t.data.length);
  for (let a = 0; a < o; a++) for (let c = 0; c < i; c++) out[c * o + a] = t.data[a * i + c]!;
  return { shape: [i, o], data: out };
}

function softmaxLast(t: Tensor): Tensor {
  const c = t.shape[t.shape.length - 1]!;
  const out = new Float32Array(t.data.length);
  for (let r = 0; r < t.data.length; r += c) {
    let m = -Infinity;
    for (let k = 0; k < c; k++) m = Math.max(m, t.data[r + k]!);
    let s = 0;
    for (let k = 0; k < c; k++) s += out[r + k] = Math.exp(t.data[r + k]! - m);
    for (let k = 0; k < c; k++) out[r + k]! /= s;
  }
  return { shape: t.shape, data: out };
}

/**
 * The three MTCNN networks on a kernel implementation.
 *
 * @param kernels The kernels (pure or wasm-simd).
 * @param constants The float32 constants of `pnet.tflite`, `rnet.tflite` and
 * `onet.tflite` together, by tensor name (see io/tflite.ts).
 * @returns The nets, and `dispose` to free the uploaded weights.
 * @throws {RangeError} When a weight tensor is missing.
 * @example Weights that are missing are named
 * ```ts
 * import { createKernelMtcnnNets } from "./mtcnn_kernels.ts";
 * import { createPureKernels } from "../pure/kernels.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => createKernelMtcnnNets(createPureKernels(), {}), /no tensor "pnet\/conv1\/weights\/read"/);
 * ```
 */
export function createKernelMtcnnNets<T>(
  kernels: Kernels<T>,
  constants: NamedTensors,
): MtcnnNets & { dispose(): void } {
  const handles = new Map<string, T>();
  const upload = (key: string, t: Tensor) => handles.set(key, kernels.upload(t));
  const alphas = new Map<string, Float32Array>();
  for (const net of Object.values(NETS)) {
    for (const layer of [...net.trunk, ...net.heads.map((h) => h[1])]) {
      if (layer.kind === "conv") {
        upload(`${layer.name}/w`, toHwio(constant(constants, `${layer.name}/weights/read`)));
        upload(`${layer.name}/b`, constant(constants, `${layer.name}/Conv2D_bias`));
      } else if (layer.kind === "dense") {
        const base = layer.name.split("/").pop()!;
        upload(
          `${layer.name}/w`,
          transpose2d(constant(constants, `${layer.name}/weights/read/transpose`)),
        );
        upload(`${layer.name}/b`, constant(constants, `${layer.name}/${base}/MatMul_bias`));
      } else if (layer.kind === "prelu") {
        alphas.set(layer.name, constant(constants, `${layer.name}/alpha/read`).data);
      }
    }
  }
  const k = kernels;
  const apply = (layer: Layer, x: T): T => {
    if (layer.kind === "conv") {
      const y = k.conv2d(x, handles.get(`${layer.name}/w`)!, { stride: 1, padding: "valid" });
      const z = k.biasAdd(y, handles.get(`${layer.name}/b`)!);
      k.dispose(y);
      return z;
    }
    if (layer.kind === "pool") {
      return k.maxPool(x, { size: layer.size, stride: 2, padding: layer.padding });
    }
    if (layer.kind === "dense") {
      const shape = k.shape(x);
      const flat = k.reshape(x, [shape[0]!, shape.slice(1).reduce((a, b) => a * b, 1)]);
      const y = k.matMul(flat, handles.get(`${layer.name}/w`)!, {});
      k.dispose(flat);
      const z = k.biasAdd(y, handles.get(`${layer.name}/b`)!);
      k.dispose(y);
      return z;
    }
    // PReLU: relu(x) - alpha * relu(-x), alpha per channel (broadcast to the full shape).
    const alpha = alphas.get(layer.name)!;
    const shape = k.shape(x);
    const n = shape.reduce((a, b) => a * b, 1);
    const full = new Float32Array(n);
    for (let i = 0; i < n; i += alpha.length) full.set(alpha, i);
    const a = k.upload({ shape, data: full });
    const pos = k.relu(x);
    const negX = k.scale(x, -1);
    const neg = k.relu(negX);
    const scaled = k.multiply(neg, a);
    const y = k.add(pos, scaled, -1);
    for (const h of [a, pos, negX, neg, scaled]) k.dispose(h);
    return y;
  };
  const run = (
    net: (typeof NETS)[keyof typeof NETS],
    input: Tensor,
  ): Record<string, Tensor> => {
    let x = k.upload(input);
    for (const layer of net.trunk) {
      const y = apply(layer, x);
      k.dispose(x);
      x = y;
    }
    const out: Record<string, Tensor> = {};
    for (const [name, layer, softmax] of net.heads) {
      const y = apply(layer, x);
      const t = k.download(y);
      k.dispose(y);
      out[name] = softmax ? softmaxLast(t) : t;
    }
    k.dispose(x);
    return out;
  };
  return {
    pnet: (input) => Promise.resolve().then(() => run(NETS.pnet, input) as unknown as PnetOutput),
    rnet: (input) => Promise.resolve().then(() => run(NETS.rnet, input) as unknown as RnetOutput),
    onet: (input) => Promise.resolve().then(() => run(NETS.onet, input) as unknown as OnetOutput),
    dispose() {
      for (const h of handles.values()) k.dispose(h);
      handles.clear();
    },
  };
}
