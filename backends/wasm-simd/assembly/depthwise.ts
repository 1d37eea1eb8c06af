// AssemblyScript source (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.
// Per-channel kernels of MTCNN and MobileFaceNet: parametric relu and depthwise
// convolution (channel multiplier 1, NHWC, filter [kh, kw, c, 1]), f32x4 over channels.

import { madd, rangeEnd, rangeStart } from "./common";

/** out = x > 0 ? x : alpha[channel] * x, over `rows` rows of `c` channels; split by row. */
export function prelu(x: usize, alpha: usize, out: usize, rows: i32, c: i32, tid: i32, nt: i32): void {
  const s = rangeStart(rows, tid, nt, 1);
  const e = rangeEnd(rows, tid, nt, 1);
  const zero = f32x4.splat(0);
  for (let r = s; r < e; r++) {
    const row = <usize>r * (<usize>c << 2);
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      const o = row + (<usize>j << 2);
      const v = v128.load(x + o);
      const neg = f32x4.mul(v, v128.load(alpha + (<usize>j << 2)));
      v128.store(out + o, v128.bitselect(v, neg, f32x4.gt(v, zero)));
    }
    for (; j < c; j++) {
      const o = row + (<usize>j << 2);
      const v = load<f32>(x + o);
      store<f32>(out + o, v > 0 ? v : load<f32>(alpha + (<usize>j << 2)) * v);
    }
  }
}

/**
 * Parametric relu's gradients: dx = dy * (x > 0 ? 1 : alpha[channel]) and
 * t = dy * x where x <= 0, else 0 (its channel sums are alpha's gradient).
 */
export function preluBackward(
  dy: usize, x: usize, alpha: usize, dx: usize, t: usize, rows: i32, c: i32, tid: i32, nt: i32,
): void {
  const s = rangeStart(rows, tid, nt, 1);
  const e = rangeEnd(rows, tid, nt, 1);
  const zero = f32x4.splat(0);
  for (let r = s; r < e; r++) {
    const row = <usize>r * (<usize>c << 2);
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      const o = row + (<usize>j << 2);
      const v = v128.load(x + o);
      const g = v128.load(dy + o);
      const pos = f32x4.gt(v, zero);
      v128.store(dx + o, v128.bitselect(g, f32x4.mul(g, v128.load(alpha + (<usize>j << 2))), pos));
      v128.store(t + o, v128.andnot(f32x4.mul(g, v), pos));
    }
    for (; j < c; j++) {
      const o = row + (<usize>j << 2);
      const v = load<f32>(x + o);
      const g = load<f32>(dy + o);
      store<f32>(dx + o, v > 0 ? g : g * load<f32>(alpha + (<usize>j << 2)));
      store<f32>(t + o, v > 0 ? 0 : g * v);
    }
  }
}

/** dst[0..c) += a[0..c) * b[0..c), f32x4 with a scalar tail. */
// @ts-ignore: decorator
@inline function accumulateProduct(dst: usize, a: usize, b: usize, c: i32): void {
  let j = 0;
  for (; j + 4 <= c; j += 4) {
    const o = <usize>j << 2;
    v128.store(dst + o, madd(v128.load(a + o), v128.load(b + o), v128.load(dst + o)));
  }
  for (; j < c; j++) {
    const o = <usize>j << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(a + o) * load<f32>(b + o));
  }
}

/**
 * Depthwise convolution forward; split by output row (n * oh). Per output
 * cell, the valid taps are found once and each adds x * f over the channels.
 */
export function depthwiseForward(
  x: usize, f: usize, out: usize, n: i32, h: i32, w: i32, c: i32, kh: i32, kw: i32, stride: i32,
  padTop: i32, padLeft: i32, oh: i32, ow: i32, tid: i32, nt: i32,
): void {
  const s = rangeStart(n * oh, tid, nt, 1);
  const e = rangeEnd(n * oh, tid, nt, 1);
  const cb = <usize>c << 2;
  for (let ro = s; ro < e; ro++) {
    const b = ro / oh;
    const oy = ro % oh;
    for (let ox = 0; ox < ow; ox++) {
      const dst = out + <usize>((b * oh + oy) * ow + ox) * cb;
      memory.fill(dst, 0, cb);
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * stride - padTop + ky;
        if (iy < 0 || iy >= h) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * stride - padLeft + kx;
          if (ix < 0 || ix >= w) continue;
          accumulateProduct(
            dst,
            x + <usize>((b * h + iy) * w + ix) * cb,
            f + <usize>(ky * kw + kx) * cb,
            c,
          );
        }
      }
    }
  }
}

/**
 * Depthwise convolution's input gradient, gathered per input cell (no write
 * conflicts): dx[b, iy, ix] = sum over taps whose output cell exists of
 * dy[b, oy, ox] * f[ky, kx]; split by input row (n * h).
 */
export function depthwiseBackpropInput(
  dy: usize, f: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, kh: i32, kw: i32, stride: i32,
  padTop: i32, padLeft: i32, oh: i32, ow: i32, tid: i32, nt: i32,
): void {
  const s = rangeStart(n * h, tid, nt, 1);
  const e = rangeEnd(n * h, tid, nt, 1);
  const cb = <usize>c << 2;
  for (let ri = s; ri < e; ri++) {
    const b = ri / h;
    const iy = ri % h;
    for (let ix = 0; ix < w; ix++) {
      const dst = dx + <usize>((b * h + iy) * w + ix) * cb;
      memory.fill(dst, 0, cb);
      for (let ky = 0; ky < kh; ky++) {
        const ty = iy + padTop - ky;
        if (ty < 0 || ty % stride != 0) continue;
        const oy = ty / stride;
        if (oy >= oh) continue;
        for (let kx = 0; kx < kw; kx++) {
          const tx = ix + padLeft - kx;
          if (tx < 0 || tx % stride != 0) continue;
          const ox = tx / stride;
          if (ox >= ow) continue;
          accumulateProduct(
            dst,
            dy + <usize>((b * oh + oy) * ow + ox) * cb,
            f + <usize>(ky * kw + kx) * cb,
            c,
          );
        }
      }
    }
  }
}

/**
 * Depthwise convolution's filter gradient: df[ky, kx] = sum over the batch
 * and output cells of x[b, oy*s + ky - pt, ox*s + kx - pl] * dy[b, oy, ox];
 * split by tap (each thread owns whole taps: no write conflicts). Each
 * output row's sum is formed in f32 and added into an f64 total.
 */
export function depthwiseBackpropFilter(
  x: usize, dy: usize, df: usize, n: i32, h: i32, w: i32, c: i32, kh: i32, kw: i32, stride: i32,
  padTop: i32, padLeft: i32, oh: i32, ow: i32, scratch: usize, tid: i32, nt: i32,
): void {
  const s = rangeStart(kh * kw, tid, nt, 1);
  const e = rangeEnd(kh * kw, tid, nt, 1);
  const cb = <usize>c << 2;
  // f64 totals per channel, this thread's slice of the scratch.
  const total = scratch + <usize>tid * (<usize>c << 3);
  for (let tap = s; tap < e; tap++) {
    const ky = tap / kw;
    const kx = tap % kw;
    memory.fill(total, 0, <usize>c << 3);
    for (let b = 0; b < n; b++) {
      for (let oy = 0; oy < oh; oy++) {
        const iy = oy * stride - padTop + ky;
        if (iy < 0 || iy >= h) continue;
        let j = 0;
        for (; j + 4 <= c; j += 4) {
          let acc = f32x4.splat(0);
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * stride - padLeft + kx;
            if (ix < 0 || ix >= w) continue;
            const xv = v128.load(x + <usize>((b * h + iy) * w + ix) * cb + (<usize>j << 2));
            const gv = v128.load(dy + <usize>((b * oh + oy) * ow + ox) * cb + (<usize>j << 2));
            acc = madd(xv, gv, acc);
          }
          const t = total + (<usize>j << 3);
          v128.store(t, f64x2.add(v128.load(t), f64x2.promote_low_f32x4(acc)));
          v128.store(
            t,
            f64x2.add(
              v128.load(t, 16),
              f64x2.promote_low_f32x4(v128.shuffle<f32>(acc, acc, 2, 3, 2, 3)),
            ),
            16,
          );
        }
        for (; j < c; j++) {
          let acc: f32 = 0;
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * stride - padLeft + kx;
            if (ix < 0 || ix >= w) continue;
            acc += load<f32>(x + <usize>((b * h + iy) * w + ix) * cb + (<usize>j << 2)) *
              load<f32>(dy + <usize>((b * oh + oy) * ow + ox) * cb + (<usize>j << 2));
          }
          const t = total + (<usize>j << 3);
          store<f64>(t, load<f64>(t) + <f64>acc);
        }
      }
    }
    for (let j = 0; j < c; j++) {
      store<f32>(df + <usize>tap * cb + (<usize>j << 2), <f32>load<f64>(total + (<usize>j << 3)));
    }
  }
}
