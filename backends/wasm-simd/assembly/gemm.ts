// AssemblyScript source (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.
//
// Cache-blocked, packed single-precision GEMM:
//   C[m x n] = op(A)[m x k] . op(B)[k x n]   (+ C when `accumulate`)
// op(A)(i, p) = transA ? A[p * lda + i] : A[i * lda + p]
// op(B)(p, j) = transB ? B[j * ldb + p] : B[p * ldb + j]
// Blocking follows the usual Goto scheme: an NC-wide slab of op(B) is packed
// into NR-column panels (L2), an MC x KC block of op(A) into MR-row panels,
// and an MR x NR register-blocked f32x4 micro-kernel runs over them.

import { madd, nextChunk, rangeEnd, rangeStart } from "./common";

const MR: i32 = 6;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 120;
const NC: i32 = 512;

/** Bytes of per-thread scratch the GEMM needs. */
export function gemmScratchBytes(): i32 {
  return (KC * NC + MC * KC + MR * NR) * 4 + 64;
}

export function packB(
  b: usize, ldb: i32, transB: bool, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize,
): void {
  for (let jp = 0; jp < nc; jp += NR) {
    const w = min(NR, nc - jp);
    const panel = dst + (<usize>(jp * kc) << 2);
    if (!transB) {
      if (w == NR) {
        let src = b + ((<usize>p0 * <usize>ldb + <usize>(j0 + jp)) << 2);
        const stride = <usize>ldb << 2;
        let out = panel;
        for (let p = 0; p < kc; p++) {
          v128.store(out, v128.load(src));
          v128.store(out, v128.load(src, 16), 16);
          src += stride;
          out += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const src = b + ((<usize>(p0 + p) * <usize>ldb + <usize>(j0 + jp)) << 2);
          const out = panel + (<usize>(p * NR) << 2);
          for (let jj = 0; jj < NR; jj++) {
            store<f32>(out + (<usize>jj << 2), jj < w ? load<f32>(src + (<usize>jj << 2)) : 0);
          }
        }
      }
    } else {
      for (let jj = 0; jj < NR; jj++) {
        let out = panel + (<usize>jj << 2);
        if (jj < w) {
          let src = b + ((<usize>(j0 + jp + jj) * <usize>ldb + <usize>p0) << 2);
          for (let p = 0; p < kc; p++) {
            store<f32>(out, load<f32>(src));
            src += 4;
            out += 32;
          }
        } else {
          for (let p = 0; p < kc; p++) {
            store<f32>(out, 0);
            out += 32;
          }
        }
      }
    }
  }
}

// Packs op(A) = A^T (A stored [k, m]) into MR-row panels: dst[(ip / MR) * kc * MR + p * MR + ii].
function packAT(a: usize, lda: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const h = min(MR, mc - ip);
    const panel = dst + (<usize>(ip * kc) << 2);
    if (h == MR) {
      let src = a + ((<usize>p0 * <usize>lda + <usize>(i0 + ip)) << 2);
      const stride = <usize>lda << 2;
      let out = panel;
      for (let p = 0; p < kc; p++) {
        v128.store(out, v128.load(src));
        store<u64>(out, load<u64>(src, 16), 16);
        src += stride;
        out += <usize>(MR * 4);
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const src = a + ((<usize>(p0 + p) * <usize>lda + <usize>(i0 + ip)) << 2);
        const out = panel + (<usize>(p * MR) << 2);
        for (let ii = 0; ii < MR; ii++) {
          store<f32>(out + (<usize>ii << 2), ii < h ? load<f32>(src + (<usize>ii << 2)) : 0);
        }
      }
    }
  }
}

// MR x NR = 6 x 8 micro-kernel: 12 accumulators, 2 B vectors, 1 broadcast.
// Row ii of A is read at aBase + min(ii, rows - 1) * rowStride + p * kStep:
// packed panels (rowStride 4, kStep 24) or A's own rows (rowStride lda * 4, kStep 4).
// Rows past the edge repeat the last valid row; their results are discarded.
export function kernel6x8(
  kc: i32, aBase: usize, rowStride: usize, kStep: usize, rows: i32, bp: usize, c: usize,
  ldcBytes: usize, acc: bool,
): void {
  const a0 = aBase;
  const a1 = rows > 1 ? a0 + rowStride : a0;
  const a2 = rows > 2 ? a1 + rowStride : a1;
  const a3 = rows > 3 ? a2 + rowStride : a2;
  const a4 = rows > 4 ? a3 + rowStride : a3;
  const a5 = rows > 5 ? a4 + rowStride : a4;
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0);
  let c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0);
  let c51 = f32x4.splat(0);
  let off: usize = 0;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(a0 + off);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(a1 + off);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(a2 + off);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(a3 + off);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    a = v128.load32_splat(a4 + off);
    c40 = madd(a, b0, c40);
    c41 = madd(a, b1, c41);
    a = v128.load32_splat(a5 + off);
    c50 = madd(a, b0, c50);
    c51 = madd(a, b1, c51);
    off += kStep;
    bp += 32;
  }
  const c1 = c + ldcBytes;
  const c2 = c1 + ldcBytes;
  const c3 = c2 + ldcBytes;
  const c4 = c3 + ldcBytes;
  const c5 = c4 + ldcBytes;
  if (acc) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c1));
    c11 = f32x4.add(c11, v128.load(c1, 16));
    c20 = f32x4.add(c20, v128.load(c2));
    c21 = f32x4.add(c21, v128.load(c2, 16));
    c30 = f32x4.add(c30, v128.load(c3));
    c31 = f32x4.add(c31, v128.load(c3, 16));
    c40 = f32x4.add(c40, v128.load(c4));
    c41 = f32x4.add(c41, v128.load(c4, 16));
    c50 = f32x4.add(c50, v128.load(c5));
    c51 = f32x4.add(c51, v128.load(c5, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c1, c10);
  v128.store(c1, c11, 16);
  v128.store(c2, c20);
  v128.store(c2, c21, 16);
  v128.store(c3, c30);
  v128.store(c3, c31, 16);
  v128.store(c4, c40);
  v128.store(c4, c41, 16);
  v128.store(c5, c50);
  v128.store(c5, c51, 16);
}

// Convolution geometry for packGather, set by convFilterGrad on this thread's
// instance (globals are per instance, so per thread).
let gatherA = false;
let gX: usize = 0;
let gH: i32 = 0;
let gW: i32 = 0;
let gCin: i32 = 0;
let gKw: i32 = 0;
let gStride: i32 = 0;
let gPadTop: i32 = 0;
let gPadLeft: i32 = 0;
let gOh: i32 = 0;
let gOw: i32 = 0;
/** First output pixel (k index) of the slice being gathered. */
let gK0: i32 = 0;

// Packs op(A) = cols^T, cols being the im2col matrix [pixels, kh * kw * cin]
// of the input gX, straight from the input (no column buffer): rows
// [i0, i0 + mc) of cols^T, columns (pixels) [p0, p0 + kc), in MR-row panels.
// Row i of cols^T is window cell t = i / cin, channel i % cin; the rows of one
// window row (ky) are contiguous in the input while the whole row is inside
// it, so they are copied as one run (3 cells of 9 values for a 3-channel
// input, not 9 of 3).
function packGather(i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  const cin = gCin;
  const rowLength = gKw * cin;
  const plane = gOh * gOw;
  let b = p0 / plane;
  const rem = p0 - b * plane;
  let oy = rem / gOw;
  let ox = rem - oy * gOw;
  const iEnd = i0 + mc;
  const panelBytes = <usize>(kc * MR) << 2;
  for (let p = 0; p < kc; p++) {
    let out = dst + (<usize>(p * MR) << 2);
    let lane = 0;
    let i = i0;
    const ix0 = ox * gStride - gPadLeft;
    while (i < iEnd) {
      const ky = i / rowLength;
      const j = i - ky * rowLength;
      const iy = oy * gStride - gPadTop + ky;
      const rowInside = iy >= 0 && iy < gH;
      const rowBase = gX + ((<usize>((b * gH + iy) * gW) * <usize>cin) << 2);
      // The rest of this window row, or of the rows asked for.
      const len = min(rowLength - j, iEnd - i);
      if (rowInside && ix0 >= 0 && ix0 + gKw <= gW) {
        const src = rowBase + ((<usize>ix0 * <usize>cin + <usize>j) << 2);
        for (let r = 0; r < len; r++) {
          store<f32>(out + (<usize>lane << 2), load<f32>(src + (<usize>r << 2)));
          lane++;
          if (lane == MR) {
            lane = 0;
            out += panelBytes;
          }
        }
      } else {
        // Cell by cell: a cell left or right of the input (or a row above or
        // below it) reads zeros.
        let kx = j / cin;
        let ci = j - kx * cin;
        let left = len;
        while (left > 0) {
          const ix = ix0 + kx;
          const valid = rowInside && ix >= 0 && ix < gW;
          const src = rowBase + ((<usize>ix * <usize>cin + <usize>ci) << 2);
          const count = min(cin - ci, left);
          for (let r = 0; r < count; r++) {
            store<f32>(out + (<usize>lane << 2), valid ? load<f32>(src + (<usize>r << 2)) : 0);
            lane++;
            if (lane == MR) {
              lane = 0;
              out += panelBytes;
            }
          }
          left -= count;
          kx++;
          ci = 0;
        }
      }
      i += len;
    }
    if (lane != 0) {
      for (; lane < MR; lane++) store<f32>(out + (<usize>lane << 2), 0);
    }
    ox++;
    if (ox == gOw) {
      ox = 0;
      oy++;
      if (oy == gOh) {
        oy = 0;
        b++;
      }
    }
  }
}

/** Single-threaded GEMM over the block rows [r0, r1) x columns [c0, c1) of C. */
function gemmBlock(
  k: i32, a: usize, lda: i32, transA: bool, b: usize, ldb: i32, transB: bool,
  c: usize, ldc: i32, accumulate: bool, scratch: usize, r0: i32, r1: i32, c0: i32, c1: i32,
): void {
  if (r0 >= r1 || c0 >= c1) return;
  if (k <= 0) {
    if (!accumulate) {
      for (let i = r0; i < r1; i++) {
        memory.fill(c + ((<usize>i * <usize>ldc + <usize>c0) << 2), 0, <usize>(c1 - c0) << 2);
      }
    }
    return;
  }
  const bpack = (scratch + 15) & ~(<usize>15);
  const apack = bpack + (<usize>(KC * NC) << 2);
  const tile = apack + (<usize>(MC * KC) << 2);
  const ldcBytes = <usize>ldc << 2;
  for (let jc = c0; jc < c1; jc += NC) {
    const nc = min(NC, c1 - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const acc = accumulate || pc > 0;
      packB(b, ldb, transB, pc, kc, jc, nc, bpack);
      for (let ic = r0; ic < r1; ic += MC) {
        const mc = min(MC, r1 - ic);
        if (gatherA) packGather(ic, mc, gK0 + pc, kc, apack);
        else if (transA) packAT(a, lda, ic, mc, pc, kc, apack);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bp = bpack + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const ap = transA
              ? apack + (<usize>(ir * kc) << 2)
              : a + ((<usize>(ic + ir) * <usize>lda + <usize>pc) << 2);
            const rowStride: usize = transA ? 4 : <usize>lda << 2;
            const kStep: usize = transA ? <usize>(MR * 4) : 4;
            const cp = c + ((<usize>(ic + ir) * <usize>ldc + <usize>(jc + jr)) << 2);
            if (mr == MR && nr == NR) {
              kernel6x8(kc, ap, rowStride, kStep, MR, bp, cp, ldcBytes, acc);
            } else {
              kernel6x8(kc, ap, rowStride, kStep, mr, bp, tile, <usize>(NR * 4), false);
              for (let ii = 0; ii < mr; ii++) {
                for (let jj = 0; jj < nr; jj++) {
                  const dst = cp + <usize>ii * ldcBytes + (<usize>jj << 2);
                  const v = load<f32>(tile + (<usize>(ii * NR + jj) << 2));
                  store<f32>(dst, acc ? load<f32>(dst) + v : v);
                }
              }
            }
          }
        }
      }
    }
  }
}

/**
 * Whether `nt` threads should split C's rows (each packs all of op(B)) rather
 * than its columns (each packs all of op(A) when A is transposed): the
 * split whose busiest thread has fewer row x column products plus packed
 * values. A partition only decides which thread computes which micro-tiles,
 * never the order of a sum, so results are the same for every thread count.
 */
function splitRows(m: i32, n: i32, nt: i32, transA: bool): bool {
  const rowUnits = (m + MR - 1) / MR;
  const colUnits = (n + NR - 1) / NR;
  // Packing a value costs about as much as one row x column product.
  const byRows = <i64>((rowUnits + nt - 1) / nt) * MR * <i64>n + <i64>n;
  const byCols = <i64>((colUnits + nt - 1) / nt) * NR * <i64>m + (transA ? <i64>m : 0);
  return byRows <= byCols;
}

/** Thread `tid`'s share of C (m x n) under splitRows, as gemmBlock's row and column ranges. */
function gemmShare(
  k: i32, a: usize, lda: i32, transA: bool, b: usize, ldb: i32, transB: bool, c: usize, ldc: i32,
  accumulate: bool, s: usize, m: i32, n: i32, tid: i32, nt: i32,
): void {
  if (splitRows(m, n, nt, transA)) {
    const units = (m + MR - 1) / MR;
    const per = (units + nt - 1) / nt;
    const r0 = min(m, tid * per * MR);
    const r1 = min(m, r0 + per * MR);
    gemmBlock(k, a, lda, transA, b, ldb, transB, c, ldc, accumulate, s, r0, r1, 0, n);
  } else {
    const units = (n + NR - 1) / NR;
    const per = (units + nt - 1) / nt;
    const c0 = min(n, tid * per * NR);
    const c1 = min(n, c0 + per * NR);
    gemmBlock(k, a, lda, transA, b, ldb, transB, c, ldc, accumulate, s, 0, m, c0, c1);
  }
}

/**
 * C = op(A) . op(B) (+ C), the part of thread `tid` of `nt` (see splitRows).
 */
export function gemm(
  m: i32, n: i32, k: i32, a: usize, lda: i32, transA: i32, b: usize, ldb: i32, transB: i32,
  c: usize, ldc: i32, accumulate: i32, scratch: usize, scratchStride: i32, tid: i32, nt: i32,
): void {
  const s = scratch + <usize>tid * <usize>scratchStride;
  gemmShare(k, a, lda, transA != 0, b, ldb, transB != 0, c, ldc, accumulate != 0, s, m, n, tid, nt);
}

/**
 * Packs B [k x n] (row-major, not transposed) into 8-column panels of all k
 * rows (the layout convForward reads); thread `tid` packs its share of panels.
 */
export function packPanels(b: usize, k: i32, n: i32, dst: usize, tid: i32, nt: i32): void {
  const units = (n + NR - 1) / NR;
  const per = (units + nt - 1) / nt;
  const j0 = min(n, tid * per * NR);
  const j1 = min(n, j0 + per * NR);
  if (j0 >= j1) return;
  packB(b, n, false, 0, k, j0, j1 - j0, dst + (<usize>(j0 * k) << 2));
}

/** Output pixels per block whose indirection pointers are built together. */
const CONV_MC: i32 = 120;

/**
 * 6 x 8 micro-kernel of the indirect convolution: for each of `taps` window
 * cells, six input-pixel pointers (an input row of `cin` floats, or a zero
 * row for padding) from `ind`, then `cin` multiply-adds against the packed
 * filter panel. Accumulators stay in registers across all taps.
 */
function convKernel6x8(
  taps: i32, cin: i32, ind: usize, bp: usize, c: usize, ldcBytes: usize,
): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0);
  let c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0);
  let c51 = f32x4.splat(0);
  const end = <usize>cin << 2;
  for (let t = 0; t < taps; t++) {
    const a0 = <usize>load<u32>(ind);
    const a1 = <usize>load<u32>(ind, 4);
    const a2 = <usize>load<u32>(ind, 8);
    const a3 = <usize>load<u32>(ind, 12);
    const a4 = <usize>load<u32>(ind, 16);
    const a5 = <usize>load<u32>(ind, 20);
    ind += 24;
    for (let off: usize = 0; off < end; off += 4) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      let a = v128.load32_splat(a0 + off);
      c00 = madd(a, b0, c00);
      c01 = madd(a, b1, c01);
      a = v128.load32_splat(a1 + off);
      c10 = madd(a, b0, c10);
      c11 = madd(a, b1, c11);
      a = v128.load32_splat(a2 + off);
      c20 = madd(a, b0, c20);
      c21 = madd(a, b1, c21);
      a = v128.load32_splat(a3 + off);
      c30 = madd(a, b0, c30);
      c31 = madd(a, b1, c31);
      a = v128.load32_splat(a4 + off);
      c40 = madd(a, b0, c40);
      c41 = madd(a, b1, c41);
      a = v128.load32_splat(a5 + off);
      c50 = madd(a, b0, c50);
      c51 = madd(a, b1, c51);
      bp += 32;
    }
  }
  const c1 = c + ldcBytes;
  const c2 = c1 + ldcBytes;
  const c3 = c2 + ldcBytes;
  const c4 = c3 + ldcBytes;
  const c5 = c4 + ldcBytes;
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c1, c10);
  v128.store(c1, c11, 16);
  v128.store(c2, c20);
  v128.store(c2, c21, 16);
  v128.store(c3, c30);
  v128.store(c3, c31, 16);
  v128.store(c4, c40);
  v128.store(c4, c41, 16);
  v128.store(c5, c50);
  v128.store(c5, c51, 16);
}

/**
 * Indirect convolution (no im2col): y[p, :] = sum over window cells and input
 * channels of x[pixel(p, cell), ci] * filter[cell, ci, :], with the filter
 * packed by packPanels into 8-column panels of kh * kw * cin rows. `zeros`
 * points at `kw * cin` zero floats (padding). Threads claim blocks of output
 * pixels (nextChunk).
 * With `transposed` (stride 1 only) it is the input gradient of a stride-1
 * convolution: `x` is dy [n, h, w, cin] (h, w, cin the forward output's
 * sizes), the output pixel (oy, ox) reads dy at (oy + padTop - ky,
 * ox + padLeft - kx), and `bpacked` comes from packPanelsTransposed.
 * With `mergeRows` (not transposed) a window row is one cell of kw * cin
 * channels: x[iy, ix0 .. ix0 + kw - 1, :] is contiguous in memory, so a
 * 3-channel input gives the micro-kernel 3 cells of 9 channels instead of 9
 * cells of 3. A window row that crosses the left or right border is copied,
 * zero-padded, to a per-thread buffer. The products and their order are
 * unchanged (cells in (ky, kx) order, channels within), so is the result.
 */
export function convForward(
  x: usize, bpacked: usize, y: usize, zeros: usize, n: i32, h: i32, w: i32, cin: i32, kh: i32,
  kw: i32, stride: i32, padTop: i32, padLeft: i32, oh: i32, ow: i32, cout: i32, scratch: usize,
  scratchStride: i32, transposed: i32, mergeRows: i32, tid: i32, _nt: i32,
): void {
  const pixels = n * oh * ow;
  const blocks = (pixels + CONV_MC - 1) / CONV_MC;
  const merged = mergeRows != 0 && transposed == 0;
  // Cells and channels per cell as the micro-kernel sees them.
  const taps = merged ? kh : kh * kw;
  const cells = merged ? kw * cin : cin;
  const kdim = kh * kw * cin;
  const ind = (scratch + <usize>tid * <usize>scratchStride + 15) & ~(<usize>15);
  const tile = ind + (<usize>(CONV_MC * taps) << 2) + 64;
  // Zero-padded copies of border window rows (mergeRows): one per (pixel, ky).
  const border = tile + (<usize>(MR * NR) << 2) + 64;
  const rowBytes = <usize>cells << 2;
  const ldcBytes = <usize>cout << 2;
  // Blocks of CONV_MC output pixels, claimed one at a time (nextChunk).
  for (let block = nextChunk(); block < blocks; block = nextChunk()) {
    const ic = block * CONV_MC;
    const mc = min(CONV_MC, pixels - ic);
    // Indirection: for each 6-pixel tile, for each cell, six row pointers.
    for (let ir = 0; ir < mc; ir += MR) {
      const rows = min(MR, mc - ir);
      for (let ii = 0; ii < MR; ii++) {
        const p = ic + ir + min(ii, rows - 1);
        const b = p / (oh * ow);
        const rem = p - b * oh * ow;
        const oy = rem / ow;
        const ox = rem - oy * ow;
        if (merged) {
          const ix0 = ox * stride - padLeft;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * stride - padTop + ky;
            const slot = (ir / MR) * taps * MR + ky * MR + ii;
            let ptr = zeros;
            if (iy >= 0 && iy < h) {
              const row = x + ((<usize>((b * h + iy) * w) * <usize>cin) << 2);
              if (ix0 >= 0 && ix0 + kw <= w) {
                ptr = row + ((<usize>ix0 * <usize>cin) << 2);
              } else {
                ptr = border + <usize>slot * rowBytes;
                for (let kx = 0; kx < kw; kx++) {
                  const ix = ix0 + kx;
                  const dst = ptr + ((<usize>(kx * cin)) << 2);
                  if (ix >= 0 && ix < w) {
                    memory.copy(dst, row + ((<usize>ix * <usize>cin) << 2), <usize>cin << 2);
                  } else {
                    memory.fill(dst, 0, <usize>cin << 2);
                  }
                }
              }
            }
            store<u32>(ind + (<usize>slot << 2), <u32>ptr);
          }
          continue;
        }
        for (let ky = 0; ky < kh; ky++) {
          const iy = transposed != 0 ? oy + padTop - ky : oy * stride - padTop + ky;
          for (let kx = 0; kx < kw; kx++) {
            const ix = transposed != 0 ? ox + padLeft - kx : ox * stride - padLeft + kx;
            const ptr = iy >= 0 && iy < h && ix >= 0 && ix < w
              ? x + ((<usize>((b * h + iy) * w + ix) * <usize>cin) << 2)
              : zeros;
            store<u32>(ind + (<usize>((ir / MR) * taps * MR + (ky * kw + kx) * MR + ii) << 2), <u32>ptr);
          }
        }
      }
    }
    for (let jr = 0; jr < cout; jr += NR) {
      const nr = min(NR, cout - jr);
      const bp = bpacked + (<usize>(jr * kdim) << 2);
      for (let ir = 0; ir < mc; ir += MR) {
        const rows = min(MR, mc - ir);
        const ip = ind + (<usize>((ir / MR) * taps * MR) << 2);
        const cp = y + ((<usize>(ic + ir) * <usize>cout + <usize>jr) << 2);
        if (rows == MR && nr == NR) {
          convKernel6x8(taps, cells, ip, bp, cp, ldcBytes);
        } else {
          convKernel6x8(taps, cells, ip, bp, tile, <usize>(NR * 4));
          for (let ii = 0; ii < rows; ii++) {
            memory.copy(cp + <usize>ii * ldcBytes, tile + (<usize>(ii * NR) << 2), <usize>nr << 2);
          }
        }
      }
    }
  }
}

/**
 * Packs a filter [taps, cin, cout] for the transposed (input-gradient)
 * convolution: B'[(t, co), ci] = filter[t, ci, co], rows ordered tap-major,
 * in 8-column panels over ci; thread `tid` packs its share of panels.
 */
export function packPanelsTransposed(
  f: usize, taps: i32, cin: i32, cout: i32, dst: usize, tid: i32, nt: i32,
): void {
  const units = (cin + NR - 1) / NR;
  const per = (units + nt - 1) / nt;
  const j0 = min(cin, tid * per * NR);
  const j1 = min(cin, j0 + per * NR);
  const krows = taps * cout;
  for (let jp = j0; jp < j1; jp += NR) {
    const panel = dst + (<usize>(jp * krows) << 2);
    for (let t = 0; t < taps; t++) {
      for (let co = 0; co < cout; co++) {
        const out = panel + (<usize>((t * cout + co) * NR) << 2);
        for (let jj = 0; jj < NR; jj++) {
          const ci = jp + jj;
          store<f32>(
            out + (<usize>jj << 2),
            ci < cin ? load<f32>(f + (<usize>((t * cin + ci) * cout + co) << 2)) : 0,
          );
        }
      }
    }
  }
}

/**
 * The filter gradient of a convolution, dw[kh * kw * cin, cout] =
 * cols(x)^T . dy, as a GEMM whose A panels are gathered from the input
 * (no im2col buffer). The sum over the k = n * oh * ow output pixels is cut
 * into slices of `sliceK` pixels (chosen from the sizes alone, never from the
 * thread count): slice s writes its partial product to out + s * m * cout
 * floats, and threads claim slices one at a time (nextChunk), so no thread
 * packs or gathers what another also does. sumSlices adds the partials in
 * slice order; with one slice `out` is dw itself.
 */
export function convFilterGrad(
  x: usize, dy: usize, out: usize, n: i32, h: i32, w: i32, cin: i32, kh: i32, kw: i32, stride: i32,
  padTop: i32, padLeft: i32, oh: i32, ow: i32, cout: i32, sliceK: i32, scratch: usize,
  scratchStride: i32, tid: i32, _nt: i32,
): void {
  gX = x;
  gH = h;
  gW = w;
  gCin = cin;
  gKw = kw;
  gStride = stride;
  gPadTop = padTop;
  gPadLeft = padLeft;
  gOh = oh;
  gOw = ow;
  gatherA = true;
  const m = kh * kw * cin;
  const k = n * oh * ow;
  const slices = (k + sliceK - 1) / sliceK;
  const s = scratch + <usize>tid * <usize>scratchStride;
  for (let slice = nextChunk(); slice < slices; slice = nextChunk()) {
    const k0 = slice * sliceK;
    gK0 = k0;
    gemmBlock(
      min(sliceK, k - k0), 0, 0, true, dy + (<usize>k0 * <usize>cout << 2), cout, false,
      out + (<usize>slice * <usize>m * <usize>cout << 2), cout, false, s, 0, m, 0, cout,
    );
  }
  gK0 = 0;
  gatherA = false;
}

/**
 * dst[i] = partial[0][i] + partial[1][i] + ... in slice order, for i in
 * thread `tid`'s share of [0, count).
 */
export function sumSlices(partial: usize, slices: i32, count: i32, dst: usize, tid: i32, nt: i32): void {
  const i0 = rangeStart(count, tid, nt, 4);
  const i1 = rangeEnd(count, tid, nt, 4);
  const stride = <usize>count << 2;
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const at = <usize>i << 2;
    let acc = v128.load(partial + at);
    for (let sl = 1; sl < slices; sl++) acc = f32x4.add(acc, v128.load(partial + <usize>sl * stride + at));
    v128.store(dst + at, acc);
  }
  for (; i < i1; i++) {
    const at = <usize>i << 2;
    let acc = load<f32>(partial + at);
    for (let sl = 1; sl < slices; sl++) acc += load<f32>(partial + <usize>sl * stride + at);
    store<f32>(dst + at, acc);
  }
}
