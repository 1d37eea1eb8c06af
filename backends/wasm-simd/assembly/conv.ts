// AssemblyScript source (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.
// im2col / col2im for NHWC convolutions with HWIO filters: the column row of an
// output pixel holds its window in (ky, kx, ci) order, matching the filter
// reshaped to [kh * kw * cin, cout].

import { rangeEnd, rangeStart } from "./common";

/** Fills cols[p, :] for the output pixels p in this thread's share. */
export function im2col(
  x: usize, cols: usize, n: i32, h: i32, w: i32, cin: i32, kh: i32, kw: i32, stride: i32,
  padTop: i32, padLeft: i32, oh: i32, ow: i32, tid: i32, nt: i32,
): void {
  const pixels = n * oh * ow;
  const s = rangeStart(pixels, tid, nt, 1);
  const e = rangeEnd(pixels, tid, nt, 1);
  const kdim = kh * kw * cin;
  const cinBytes = <usize>cin << 2;
  for (let p = s; p < e; p++) {
    const b = p / (oh * ow);
    const rem = p - b * oh * ow;
    const oy = rem / ow;
    const ox = rem - oy * ow;
    let out = cols + (<usize>p * <usize>kdim << 2);
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * stride - padTop + ky;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ox * stride - padLeft + kx;
        const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
        if (cin >= 64) {
          if (inside) {
            memory.copy(out, x + ((<usize>((b * h + iy) * w + ix) * <usize>cin) << 2), cinBytes);
          } else {
            memory.fill(out, 0, cinBytes);
          }
        } else if (inside) {
          // Few channels: a plain loop beats a bulk-memory call per cell.
          const src = x + ((<usize>((b * h + iy) * w + ix) * <usize>cin) << 2);
          let ci = 0;
          for (; ci + 4 <= cin; ci += 4) v128.store(out + (<usize>ci << 2), v128.load(src + (<usize>ci << 2)));
          for (; ci < cin; ci++) store<f32>(out + (<usize>ci << 2), load<f32>(src + (<usize>ci << 2)));
        } else {
          for (let ci = 0; ci < cin; ci++) store<f32>(out + (<usize>ci << 2), 0);
        }
        out += cinBytes;
      }
    }
  }
}

/** dx = col2im(dcols): sums every column entry back into its input cell; split by image. */
export function col2im(
  dcols: usize, dx: usize, n: i32, h: i32, w: i32, cin: i32, kh: i32, kw: i32, stride: i32,
  padTop: i32, padLeft: i32, oh: i32, ow: i32, tid: i32, nt: i32,
): void {
  const s = rangeStart(n, tid, nt, 1);
  const e = rangeEnd(n, tid, nt, 1);
  const kdim = kh * kw * cin;
  const imageBytes = <usize>(h * w * cin) << 2;
  for (let b = s; b < e; b++) {
    memory.fill(dx + <usize>b * imageBytes, 0, imageBytes);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const p = (b * oh + oy) * ow + ox;
        let src = dcols + (<usize>p * <usize>kdim << 2);
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * stride - padTop + ky;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * stride - padLeft + kx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
              const dst = dx + ((<usize>((b * h + iy) * w + ix) * <usize>cin) << 2);
              let c = 0;
              for (; c + 4 <= cin; c += 4) {
                const o = <usize>c << 2;
                v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
              }
              for (; c < cin; c++) {
                const o = <usize>c << 2;
                store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
              }
            }
            src += <usize>cin << 2;
          }
        }
      }
    }
  }
}
