// AssemblyScript source (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.
// NHWC pooling with TensorFlow semantics; split by image.

import { rangeEnd, rangeStart } from "./common";

/** Max (mode 0) or average (mode 1, padded cells not counted) pooling. */
export function pool(
  x: usize, out: usize, n: i32, h: i32, w: i32, c: i32, size: i32, stride: i32, padTop: i32,
  padLeft: i32, oh: i32, ow: i32, mode: i32, tid: i32, nt: i32,
): void {
  const s = rangeStart(n, tid, nt, 1);
  const e = rangeEnd(n, tid, nt, 1);
  for (let b = s; b < e; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = max(oy * stride - padTop, 0);
      const y1 = min(oy * stride - padTop + size, h);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = max(ox * stride - padLeft, 0);
        const x1 = min(ox * stride - padLeft + size, w);
        const dst = out + ((<usize>((b * oh + oy) * ow + ox) * <usize>c) << 2);
        const inv: f32 = 1 / <f32>((y1 - y0) * (x1 - x0));
        let j = 0;
        for (; j + 4 <= c; j += 4) {
          let acc = mode == 0 ? f32x4.splat(-Infinity) : f32x4.splat(0);
          for (let iy = y0; iy < y1; iy++) {
            for (let ix = x0; ix < x1; ix++) {
              const v = v128.load(x + ((<usize>((b * h + iy) * w + ix) * <usize>c + <usize>j) << 2));
              acc = mode == 0 ? f32x4.max(acc, v) : f32x4.add(acc, v);
            }
          }
          v128.store(dst + (<usize>j << 2), mode == 0 ? acc : f32x4.mul(acc, f32x4.splat(inv)));
        }
        for (; j < c; j++) {
          let acc: f32 = mode == 0 ? -Infinity : 0;
          for (let iy = y0; iy < y1; iy++) {
            for (let ix = x0; ix < x1; ix++) {
              const v = load<f32>(x + ((<usize>((b * h + iy) * w + ix) * <usize>c + <usize>j) << 2));
              acc = mode == 0 ? (v > acc ? v : acc) : acc + v;
            }
          }
          store<f32>(dst + (<usize>j << 2), mode == 0 ? acc : acc * inv);
        }
      }
    }
  }
}

/**
 * Pooling gradient into dx (zeroed here): max (mode 0) sends each window's dy
 * to its first maximum in row-major window order; average (mode 1) spreads
 * dy / count over the window's valid cells.
 */
export function poolBackward(
  dy: usize, x: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, size: i32, stride: i32,
  padTop: i32, padLeft: i32, oh: i32, ow: i32, mode: i32, tid: i32, nt: i32,
): void {
  const s = rangeStart(n, tid, nt, 1);
  const e = rangeEnd(n, tid, nt, 1);
  const imageBytes = <usize>(h * w * c) << 2;
  for (let b = s; b < e; b++) {
    memory.fill(dx + <usize>b * imageBytes, 0, imageBytes);
    for (let oy = 0; oy < oh; oy++) {
      const y0 = max(oy * stride - padTop, 0);
      const y1 = min(oy * stride - padTop + size, h);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = max(ox * stride - padLeft, 0);
        const x1 = min(ox * stride - padLeft + size, w);
        const g = dy + ((<usize>((b * oh + oy) * ow + ox) * <usize>c) << 2);
        if (mode == 0) {
          for (let j = 0; j < c; j++) {
            let best: f32 = -Infinity;
            let at: usize = 0;
            let found = false;
            for (let iy = y0; iy < y1; iy++) {
              for (let ix = x0; ix < x1; ix++) {
                const o = (<usize>((b * h + iy) * w + ix) * <usize>c + <usize>j) << 2;
                const v = load<f32>(x + o);
                if (!found || v > best) {
                  best = v;
                  at = o;
                  found = true;
                }
              }
            }
            if (found) store<f32>(dx + at, load<f32>(dx + at) + load<f32>(g + (<usize>j << 2)));
          }
        } else {
          const inv: f32 = 1 / <f32>((y1 - y0) * (x1 - x0));
          for (let iy = y0; iy < y1; iy++) {
            for (let ix = x0; ix < x1; ix++) {
              const d = dx + ((<usize>((b * h + iy) * w + ix) * <usize>c) << 2);
              let j = 0;
              for (; j + 4 <= c; j += 4) {
                const o = <usize>j << 2;
                v128.store(d + o, f32x4.add(v128.load(d + o), f32x4.mul(v128.load(g + o), f32x4.splat(inv))));
              }
              for (; j < c; j++) {
                const o = <usize>j << 2;
                store<f32>(d + o, load<f32>(d + o) + load<f32>(g + o) * inv);
              }
            }
          }
        }
      }
    }
  }
}

/** Mean over the spatial axes: [n, hw, c] to [n, c] (f32x4 sums). */
export function globalAvgPool(x: usize, out: usize, n: i32, hw: i32, c: i32, tid: i32, nt: i32): void {
  const s = rangeStart(n, tid, nt, 1);
  const e = rangeEnd(n, tid, nt, 1);
  for (let b = s; b < e; b++) {
    const dst = out + (<usize>(b * c) << 2);
    for (let j = 0; j < c; j++) {
      let acc: f64 = 0;
      let src = x + ((<usize>b * <usize>hw * <usize>c + <usize>j) << 2);
      for (let p = 0; p < hw; p++) {
        acc += <f64>load<f32>(src);
        src += <usize>c << 2;
      }
      store<f32>(dst + (<usize>j << 2), <f32>(acc / <f64>hw));
    }
  }
}

/** Gradient of global average pooling: dx[b, p, c] = dy[b, c] / hw. */
export function globalAvgPoolBackward(dy: usize, dx: usize, n: i32, hw: i32, c: i32, tid: i32, nt: i32): void {
  const s = rangeStart(n, tid, nt, 1);
  const e = rangeEnd(n, tid, nt, 1);
  const inv: f32 = 1 / <f32>hw;
  for (let b = s; b < e; b++) {
    const g = dy + (<usize>(b * c) << 2);
    for (let p = 0; p < hw; p++) {
      const d = dx + ((<usize>(b * hw + p) * <usize>c) << 2);
      let j = 0;
      for (; j + 4 <= c; j += 4) {
        const o = <usize>j << 2;
        v128.store(d + o, f32x4.mul(v128.load(g + o), f32x4.splat(inv)));
      }
      for (; j < c; j++) {
        const o = <usize>j << 2;
        store<f32>(d + o, load<f32>(g + o) * inv);
      }
    }
  }
}
