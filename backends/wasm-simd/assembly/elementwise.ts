// AssemblyScript source (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.
// Elementwise kernels over f32 arrays; each thread takes a 4-aligned slice.

import { madd, rangeEnd, rangeStart } from "./common";

/** out = a + scale * b. */
export function addScaled(a: usize, b: usize, out: usize, n: i32, scale: f32, tid: i32, nt: i32): void {
  const s = rangeStart(n, tid, nt, 16);
  const e = rangeEnd(n, tid, nt, 16);
  const vs = f32x4.splat(scale);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, madd(v128.load(b + o), vs, v128.load(a + o)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + scale * load<f32>(b + o));
  }
}

/** out = scale * x. */
export function scaleArray(x: usize, out: usize, n: i32, scale: f32, tid: i32, nt: i32): void {
  const s = rangeStart(n, tid, nt, 16);
  const e = rangeEnd(n, tid, nt, 16);
  const vs = f32x4.splat(scale);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(x + o), vs));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * scale);
  }
}

/** out = a * b. */
export function multiplyArrays(a: usize, b: usize, out: usize, n: i32, tid: i32, nt: i32): void {
  const s = rangeStart(n, tid, nt, 16);
  const e = rangeEnd(n, tid, nt, 16);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** out = max(x, 0). */
export function relu(x: usize, out: usize, n: i32, tid: i32, nt: i32): void {
  const s = rangeStart(n, tid, nt, 16);
  const e = rangeEnd(n, tid, nt, 16);
  const zero = f32x4.splat(0);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    v128.store(out + o, v128.and(v, f32x4.gt(v, zero)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(out + o, v > 0 ? v : 0);
  }
}

/** out = dy * (y > 0). */
export function reluBackward(dy: usize, y: usize, out: usize, n: i32, tid: i32, nt: i32): void {
  const s = rangeStart(n, tid, nt, 16);
  const e = rangeEnd(n, tid, nt, 16);
  const zero = f32x4.splat(0);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), zero)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(y + o) > 0 ? load<f32>(dy + o) : 0);
  }
}

// Two float32 values at `ptr` as an f64x2.
// @ts-ignore: decorator
@inline function load2(ptr: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(ptr));
}

// An f64x2 rounded to two float32 values at `ptr`.
// @ts-ignore: decorator
@inline function store2(ptr: usize, v: v128): void {
  v128.store64_lane(ptr, f32x4.demote_f64x2_zero(v), 0);
}

/**
 * Per-channel affine maps of rows x channels, computed in float64 and rounded
 * once (like the pure kernels), centered so that large channel means do not
 * cancel: with `y` zero, out = (x - m[c]) * p[c] + q[c] (bias add with m = 0,
 * batch-norm apply with m = mean); with `y` non-zero, out = x * p[c] +
 * (y - m[c]) * q[c] + r[c] (batch-norm backward). p, q, r are float64 vectors,
 * m a float32 vector.
 */
export function channelAffine(
  x: usize, y: usize, out: usize, rows: i32, c: i32, p: usize, q: usize, r: usize, m: usize,
  tid: i32, nt: i32,
): void {
  const s = rangeStart(rows, tid, nt, 1);
  const e = rangeEnd(rows, tid, nt, 1);
  const rowBytes = <usize>c << 2;
  for (let row = s; row < e; row++) {
    const base = <usize>row * rowBytes;
    let j = 0;
    if (y == 0) {
      for (; j + 2 <= c; j += 2) {
        const o = <usize>j << 2;
        const o8 = <usize>j << 3;
        const d = f64x2.sub(load2(x + base + o), load2(m + o));
        store2(out + base + o, f64x2.add(f64x2.mul(d, v128.load(p + o8)), v128.load(q + o8)));
      }
      for (; j < c; j++) {
        const o = <usize>j << 2;
        const o8 = <usize>j << 3;
        const d = <f64>load<f32>(x + base + o) - <f64>load<f32>(m + o);
        store<f32>(out + base + o, <f32>(d * load<f64>(p + o8) + load<f64>(q + o8)));
      }
    } else {
      for (; j + 2 <= c; j += 2) {
        const o = <usize>j << 2;
        const o8 = <usize>j << 3;
        const d = f64x2.sub(load2(y + base + o), load2(m + o));
        const t = f64x2.add(f64x2.mul(d, v128.load(q + o8)), v128.load(r + o8));
        store2(out + base + o, f64x2.add(f64x2.mul(load2(x + base + o), v128.load(p + o8)), t));
      }
      for (; j < c; j++) {
        const o = <usize>j << 2;
        const o8 = <usize>j << 3;
        const d = <f64>load<f32>(y + base + o) - <f64>load<f32>(m + o);
        store<f32>(
          out + base + o,
          <f32>(<f64>load<f32>(x + base + o) * load<f64>(p + o8) + d * load<f64>(q + o8) +
            load<f64>(r + o8)),
        );
      }
    }
  }
}

/** Rows summed in float32 before each float64 accumulation in channelSums. */
const SUM_BLOCK: i32 = 16;

/**
 * Per-channel sums over rows; thread `tid` writes its partial sums to
 * `partial + tid * 2c` f64: s1 = sum(a), and s2 = sum((b - center[c]) * a) in
 * mode 1 or sum((a - center[c])^2) in mode 2. Blocks of SUM_BLOCK rows are
 * summed in f32x4, the block sums accumulate in float64.
 */
export function channelSums(
  a: usize, b: usize, center: usize, rows: i32, c: i32, partial: usize, mode: i32, tid: i32, nt: i32,
): void {
  const s = rangeStart(rows, tid, nt, 1);
  const e = rangeEnd(rows, tid, nt, 1);
  const s1 = partial + <usize>tid * (<usize>c << 4);
  const s2 = s1 + (<usize>c << 3);
  memory.fill(s1, 0, <usize>c << 4);
  const rowBytes = <usize>c << 2;
  for (let r0 = s; r0 < e; r0 += SUM_BLOCK) {
    const r1 = min(e, r0 + SUM_BLOCK);
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      const o = <usize>j << 2;
      const o8 = <usize>j << 3;
      const cv = mode != 0 ? v128.load(center + o) : f32x4.splat(0);
      let acc1 = f32x4.splat(0);
      let acc2 = f32x4.splat(0);
      for (let row = r0; row < r1; row++) {
        const base = <usize>row * rowBytes + o;
        const av = v128.load(a + base);
        acc1 = f32x4.add(acc1, av);
        if (mode == 1) {
          acc2 = madd(f32x4.sub(v128.load(b + base), cv), av, acc2);
        } else if (mode == 2) {
          const d = f32x4.sub(av, cv);
          acc2 = madd(d, d, acc2);
        }
      }
      v128.store(s1 + o8, f64x2.add(v128.load(s1 + o8), f64x2.promote_low_f32x4(acc1)));
      v128.store(s1 + o8, f64x2.add(v128.load(s1 + o8, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(acc1, acc1, 2, 3, 2, 3))), 16);
      if (mode != 0) {
        v128.store(s2 + o8, f64x2.add(v128.load(s2 + o8), f64x2.promote_low_f32x4(acc2)));
        v128.store(s2 + o8, f64x2.add(v128.load(s2 + o8, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(acc2, acc2, 2, 3, 2, 3))), 16);
      }
    }
    for (; j < c; j++) {
      const o = <usize>j << 2;
      const o8 = <usize>j << 3;
      const cj = mode != 0 ? <f64>load<f32>(center + o) : 0;
      let acc1: f64 = 0;
      let acc2: f64 = 0;
      for (let row = r0; row < r1; row++) {
        const base = <usize>row * rowBytes + o;
        const av = <f64>load<f32>(a + base);
        acc1 += av;
        if (mode == 1) acc2 += (<f64>load<f32>(b + base) - cj) * av;
        else if (mode == 2) acc2 += (av - cj) * (av - cj);
      }
      store<f64>(s1 + o8, load<f64>(s1 + o8) + acc1);
      store<f64>(s2 + o8, load<f64>(s2 + o8) + acc2);
    }
  }
}
