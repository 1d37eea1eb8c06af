// AssemblyScript source (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.
// Row-wise kernels on [rows, d] matrices: L2 normalization and its VJP,
// pairwise squared distances.

import { madd, rangeEnd, rangeStart } from "./common";

function dot(a: usize, b: usize, d: i32): f64 {
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= d; j += 4) {
    const o = <usize>j << 2;
    acc = madd(v128.load(a + o), v128.load(b + o), acc);
  }
  let sum: f64 = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) +
    <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
  for (; j < d; j++) {
    const o = <usize>j << 2;
    sum += <f64>load<f32>(a + o) * <f64>load<f32>(b + o);
  }
  return sum;
}

/** out = x / sqrt(max(sum(x^2), eps)) per row. */
export function l2Normalize(x: usize, out: usize, rows: i32, d: i32, eps: f64, tid: i32, nt: i32): void {
  const s = rangeStart(rows, tid, nt, 1);
  const e = rangeEnd(rows, tid, nt, 1);
  for (let r = s; r < e; r++) {
    const src = x + (<usize>(r * d) << 2);
    const dst = out + (<usize>(r * d) << 2);
    const inv = <f32>(1 / Math.sqrt(max(dot(src, src, d), eps)));
    const vi = f32x4.splat(inv);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      v128.store(dst + o, f32x4.mul(v128.load(src + o), vi));
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      store<f32>(dst + o, load<f32>(src + o) * inv);
    }
  }
}

/**
 * VJP of l2Normalize: with s = sum(x^2) > eps, dx = (dy - x (x.dy) / s) / sqrt(s);
 * otherwise (the clamp is active) dx = dy / sqrt(eps).
 */
export function l2NormalizeBackward(
  dy: usize, x: usize, dx: usize, rows: i32, d: i32, eps: f64, tid: i32, nt: i32,
): void {
  const s = rangeStart(rows, tid, nt, 1);
  const e = rangeEnd(rows, tid, nt, 1);
  for (let r = s; r < e; r++) {
    const xr = x + (<usize>(r * d) << 2);
    const gr = dy + (<usize>(r * d) << 2);
    const out = dx + (<usize>(r * d) << 2);
    const ss = dot(xr, xr, d);
    const norm = Math.sqrt(max(ss, eps));
    const a = <f32>(1 / norm);
    const b = ss > eps ? <f32>(-dot(xr, gr, d) / (ss * norm)) : <f32>0;
    const va = f32x4.splat(a);
    const vb = f32x4.splat(b);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      v128.store(out + o, madd(v128.load(xr + o), vb, f32x4.mul(v128.load(gr + o), va)));
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      store<f32>(out + o, load<f32>(xr + o) * b + load<f32>(gr + o) * a);
    }
  }
}

/** out[i, j] = sum((x_i - x_j)^2) for the rows i of this thread's share. */
export function pairwiseSquaredDistances(x: usize, out: usize, rows: i32, d: i32, tid: i32, nt: i32): void {
  const s = rangeStart(rows, tid, nt, 1);
  const e = rangeEnd(rows, tid, nt, 1);
  for (let i = s; i < e; i++) {
    const xi = x + (<usize>(i * d) << 2);
    const dst = out + (<usize>i * <usize>rows << 2);
    for (let j = 0; j < rows; j++) {
      const xj = x + (<usize>(j * d) << 2);
      let acc = f32x4.splat(0);
      let k = 0;
      for (; k + 4 <= d; k += 4) {
        const o = <usize>k << 2;
        const diff = f32x4.sub(v128.load(xi + o), v128.load(xj + o));
        acc = madd(diff, diff, acc);
      }
      let sum: f64 = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) +
        <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
      for (; k < d; k++) {
        const o = <usize>k << 2;
        const diff = <f64>load<f32>(xi + o) - <f64>load<f32>(xj + o);
        sum += diff * diff;
      }
      store<f32>(dst + (<usize>j << 2), <f32>sum);
    }
  }
}

/**
 * Softmax over the last axis of `rows` rows of `c` values: `exp(x - max) /
 * sum`, exponentials and the sum in f64 (as the pure kernel); split by row.
 */
export function softmaxRows(x: usize, out: usize, rows: i32, c: i32, tid: i32, nt: i32): void {
  const s = rangeStart(rows, tid, nt, 1);
  const e = rangeEnd(rows, tid, nt, 1);
  for (let r = s; r < e; r++) {
    const xr = x + (<usize>r * <usize>c << 2);
    const or = out + (<usize>r * <usize>c << 2);
    let m: f32 = -Infinity;
    for (let j = 0; j < c; j++) m = max(m, load<f32>(xr + (<usize>j << 2)));
    let sum: f64 = 0;
    for (let j = 0; j < c; j++) sum += Math.exp(<f64>load<f32>(xr + (<usize>j << 2)) - <f64>m);
    const inv: f64 = 1 / sum;
    for (let j = 0; j < c; j++) {
      const v = Math.exp(<f64>load<f32>(xr + (<usize>j << 2)) - <f64>m);
      store<f32>(or + (<usize>j << 2), <f32>(v * inv));
    }
  }
}

/** Softmax's vector-Jacobian product from its output: y * (dy - sum(dy * y)) per row. */
export function softmaxRowsBackward(
  dy: usize, y: usize, out: usize, rows: i32, c: i32, tid: i32, nt: i32,
): void {
  const s = rangeStart(rows, tid, nt, 1);
  const e = rangeEnd(rows, tid, nt, 1);
  for (let r = s; r < e; r++) {
    const base = <usize>r * <usize>c << 2;
    let dot: f64 = 0;
    for (let j = 0; j < c; j++) {
      const o = base + (<usize>j << 2);
      dot += <f64>load<f32>(dy + o) * <f64>load<f32>(y + o);
    }
    for (let j = 0; j < c; j++) {
      const o = base + (<usize>j << 2);
      const yv = <f64>load<f32>(y + o);
      store<f32>(out + o, <f32>(yv * (<f64>load<f32>(dy + o) - dot)));
    }
  }
}
