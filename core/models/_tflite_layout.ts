/**
 * TFLite's weight layouts turned into the specs' (TensorFlow's): conv
 * weights `[out, kh, kw, in]` to HWIO, dense weights `[out, in]` to
 * `[in, out]`. Shared by the models whose parameters come from TFLite files.
 *
 * @module
 */

import type { Tensor } from "../types.ts";

/** `[out, kh, kw, in]` to `[kh, kw, in, out]`. */
export function toHwio(t: Tensor): Tensor {
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
export function transpose2d(t: Tensor): Tensor {
  const [o, i] = t.shape as [number, number];
  const out = new Float32Array(t.data.length);
  for (let a = 0; a < o; a++) for (let c = 0; c < i; c++) out[c * o + a] = t.data[a * i + c]!;
  return { shape: [i, o], data: out };
}
