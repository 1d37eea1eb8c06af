// AssemblyScript source (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.
// Triplet selection scan (backends/wasm-simd/select_triplets.ts drives it): per
// anchor row, the approximate squared distances |a|^2 + |r|^2 - 2 a.r from a
// Gram matrix, then per (anchor, positive) pair SIMD compares that count the
// negatives that are surely candidates and those that may be (within `band` of
// a decision boundary). A pair whose two counts differ is flagged (count -1)
// and resolved by the caller with the specification's exact distances; for
// the others the count is exact and the chosen negative is found here.

import { rangeEnd, rangeStart } from "./common";

const VGGFACE = 0;
const FACENET = 1;
const HARD = 2;
const ALL = 3;

/** The `kk`-th (0-based) set bit of the 4-bit mask `m`. */
// @ts-ignore: decorator
@inline function nthBit(m: i32, kk: i32): i32 {
  for (let i = 0; i < kk; i++) m &= m - 1;
  return ctz<i32>(m);
}

/**
 * The specification's distance between rows `a` and `r` of `x` (`cols`
 * wide): squared differences summed in float64 in column order, rounded to
 * float32 once, as core/pure/distances.ts computes it.
 */
function exactDistance(x: usize, cols: i32, a: i32, r: i32): f64 {
  const pa = x + (<usize>(a * cols) << 2);
  const pr = x + (<usize>(r * cols) << 2);
  let s: f64 = 0;
  for (let k = 0; k < cols; k++) {
    const o = <usize>k << 2;
    const d = <f64>load<f32>(pa + o) - <f64>load<f32>(pr + o);
    s += d * d;
  }
  return <f64><f32>s;
}

/**
 * Scans the anchors `[first, last)` of this thread. `g` holds the Gram matrix
 * `X X^T` in strips of `strip` rows: row `a` is valid from column
 * `strip * floor(a / strip)` on, the entries left of it are read from the
 * column (the matrix is symmetric). `anchors` holds four i32 per anchor: its
 * row, its class's first row, its class's end row, and the index of its first
 * (anchor, positive) pair in canonical order. Outputs per pair: `chosen` (the
 * negative, -1 for none, -2 when flagged), `counts` (candidates, -1 when
 * flagged), `pos` (the approximate d(a,p)); per anchor `negSums` (the sum of
 * its approximate distances to other classes, float64). Except for "all",
 * flagged pairs are resolved here with the specification's distances of the
 * rows `x` (`cols` wide) inside the band. Scratch per thread: four arrays of
 * `scratchStride / 4` bytes.
 */
export function selectTripletsScan(
  x: usize,
  cols: i32,
  g: usize,
  norms: usize,
  n: i32,
  strip: i32,
  anchors: usize,
  numAnchors: i32,
  alpha: f64,
  band: f64,
  strategy: i32,
  us: usize,
  chosen: usize,
  counts: usize,
  pos: usize,
  negSums: usize,
  scratch: usize,
  scratchStride: i32,
  tid: i32,
  nt: i32,
): void {
  const first = rangeStart(numAnchors, tid, nt, 1);
  const last = rangeEnd(numAnchors, tid, nt, 1);
  const part = <usize>(scratchStride / 4);
  const row = scratch + <usize>tid * <usize>scratchStride;
  const vals = row + part;
  const idxs = vals + part;
  const cands = idxs + part;
  const n4 = (n + 3) & ~3;
  const two = f32x4.splat(2);
  const semi = strategy == FACENET;
  for (let t = first; t < last; t++) {
    const rec = anchors + (<usize>t << 4);
    const a = load<i32>(rec);
    const s = load<i32>(rec, 4);
    const e = load<i32>(rec, 8);
    const k0 = load<i32>(rec, 12);
    const na = load<f32>(norms + (<usize>a << 2));
    const vna = f32x4.splat(na);
    const grow = g + ((<usize>a * <usize>n) << 2);
    const own = (a / strip) * strip;
    // Distances of the row; their float64 sum over all rows.
    let sum: f64 = 0;
    for (let r = 0; r < own; r++) {
      const v: f32 = (na + load<f32>(norms + (<usize>r << 2))) -
        <f32>2 * load<f32>(g + ((<usize>r * <usize>n + <usize>a) << 2));
      store<f32>(row + (<usize>r << 2), v);
      sum += <f64>v;
    }
    let acc0 = f64x2.splat(0);
    let acc1 = f64x2.splat(0);
    let r = own;
    for (; r + 4 <= n; r += 4) {
      const o = <usize>r << 2;
      const v = f32x4.sub(
        f32x4.add(vna, v128.load(norms + o)),
        f32x4.mul(two, v128.load(grow + o)),
      );
      v128.store(row + o, v);
      acc0 = f64x2.add(acc0, f64x2.promote_low_f32x4(v));
      acc1 = f64x2.add(acc1, f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 0, 1)));
    }
    sum += f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1) +
      f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1);
    for (; r < n; r++) {
      const o = <usize>r << 2;
      const v: f32 = (na + load<f32>(norms + o)) - <f32>2 * load<f32>(grow + o);
      store<f32>(row + o, v);
      sum += <f64>v;
    }
    for (; r < n4; r++) store<f32>(row + (<usize>r << 2), Infinity);
    // The anchor's own class is never a negative: out of the sum, +inf in the row.
    let maxHi: f64 = -Infinity;
    for (let c = s; c < e; c++) {
      const o = row + (<usize>c << 2);
      const v = load<f32>(o);
      if (c >= a + 1) {
        store<f32>(pos + (<usize>(k0 + c - a - 1) << 2), v);
        maxHi = max(maxHi, <f64>v + alpha + band);
      }
      sum -= <f64>v;
      store<f32>(o, Infinity);
    }
    store<f64>(negSums + (<usize>t << 3), sum);

    // The negatives any pair of this anchor may take, in row order.
    const limit = f32x4.splat(<f32>maxHi);
    let count4 = 0;
    for (let q = 0; q < n4; q += 4) {
      let m = i32x4.bitmask(f32x4.lt(v128.load(row + (<usize>q << 2)), limit));
      while (m != 0) {
        const b = ctz<i32>(m);
        store<f32>(vals + (<usize>count4 << 2), load<f32>(row + (<usize>(q + b) << 2)));
        store<i32>(idxs + (<usize>count4 << 2), q + b);
        count4++;
        m &= m - 1;
      }
    }
    const len = count4;
    for (; count4 & 3; count4++) store<f32>(vals + (<usize>count4 << 2), Infinity);

    for (let p = a + 1; p < e; p++) {
      const k = k0 + p - a - 1;
      const dp = <f64>load<f32>(pos + (<usize>k << 2));
      const loSure = f32x4.splat(<f32>(dp + alpha - band));
      const hiMaybe = f32x4.splat(<f32>(dp + alpha + band));
      // facenet also needs d(a,r) > d(a,p); other rules: no lower bound.
      const lowSure = f32x4.splat(semi ? <f32>(dp + band) : -Infinity);
      const lowMaybe = f32x4.splat(semi ? <f32>(dp - band) : -Infinity);
      let sure = i32x4.splat(0);
      let maybe = i32x4.splat(0);
      if (semi) {
        for (let q = 0; q < count4; q += 4) {
          const v = v128.load(vals + (<usize>q << 2));
          sure = i32x4.sub(sure, v128.and(f32x4.lt(v, loSure), f32x4.gt(v, lowSure)));
          maybe = i32x4.sub(maybe, v128.and(f32x4.lt(v, hiMaybe), f32x4.gt(v, lowMaybe)));
        }
      } else {
        // Two vectors a step: the loads and compares of both overlap.
        let sure1 = i32x4.splat(0);
        let maybe1 = i32x4.splat(0);
        let q = 0;
        for (; q + 8 <= count4; q += 8) {
          const v = v128.load(vals + (<usize>q << 2));
          const w = v128.load(vals + (<usize>q << 2), 16);
          sure = i32x4.sub(sure, f32x4.lt(v, loSure));
          maybe = i32x4.sub(maybe, f32x4.lt(v, hiMaybe));
          sure1 = i32x4.sub(sure1, f32x4.lt(w, loSure));
          maybe1 = i32x4.sub(maybe1, f32x4.lt(w, hiMaybe));
        }
        if (q < count4) {
          const v = v128.load(vals + (<usize>q << 2));
          sure = i32x4.sub(sure, f32x4.lt(v, loSure));
          maybe = i32x4.sub(maybe, f32x4.lt(v, hiMaybe));
        }
        sure = i32x4.add(sure, sure1);
        maybe = i32x4.add(maybe, maybe1);
      }
      const count = i32x4.extract_lane(sure, 0) + i32x4.extract_lane(sure, 1) +
        i32x4.extract_lane(sure, 2) + i32x4.extract_lane(sure, 3);
      const countMaybe = i32x4.extract_lane(maybe, 0) + i32x4.extract_lane(maybe, 1) +
        i32x4.extract_lane(maybe, 2) + i32x4.extract_lane(maybe, 3);
      const outChosen = chosen + (<usize>k << 2);
      const outCount = counts + (<usize>k << 2);
      if (count != countMaybe) {
        if (strategy == ALL) {
          store<i32>(outCount, -1);
          store<i32>(outChosen, -2);
        } else if (strategy != HARD) {
          resolveDraw(x, cols, a, p, alpha, semi, load<f64>(us + (<usize>k << 3)), vals, idxs,
            cands, count, count4, loSure, lowSure, hiMaybe, lowMaybe, outChosen, outCount);
        } else {
          resolve(x, cols, a, p, k, alpha, band, strategy, us, vals, idxs, cands, len,
            f32x4.extract_lane(loSure, 0), f32x4.extract_lane(lowSure, 0),
            f32x4.extract_lane(hiMaybe, 0), f32x4.extract_lane(lowMaybe, 0), outChosen, outCount);
        }
        continue;
      }
      store<i32>(outCount, count);
      if (count == 0) {
        store<i32>(outChosen, -1);
        continue;
      }
      if (strategy == VGGFACE || strategy == FACENET) {
        const u = load<f64>(us + (<usize>k << 3));
        let kk = <i32>Math.floor(u * <f64>count);
        if (kk > count - 1) kk = count - 1;
        let found = -1;
        if (kk < count - kk) {
          for (let q = 0; q < count4; q += 4) {
            const v = v128.load(vals + (<usize>q << 2));
            const m = i32x4.bitmask(v128.and(f32x4.lt(v, loSure), f32x4.gt(v, lowSure)));
            const c = popcnt<i32>(m);
            if (kk < c) {
              found = load<i32>(idxs + (<usize>(q + nthBit(m, kk)) << 2));
              break;
            }
            kk -= c;
          }
        } else {
          // Nearer the end: count from there (the (count-1-kk)-th from the last).
          let back = count - 1 - kk;
          for (let q = count4 - 4; q >= 0; q -= 4) {
            const v = v128.load(vals + (<usize>q << 2));
            const m = i32x4.bitmask(v128.and(f32x4.lt(v, loSure), f32x4.gt(v, lowSure)));
            const c = popcnt<i32>(m);
            if (back < c) {
              found = load<i32>(idxs + (<usize>(q + nthBit(m, c - 1 - back)) << 2));
              break;
            }
            back -= c;
          }
        }
        store<i32>(outChosen, found);
      } else if (strategy == HARD) {
        // The nearest candidate (first on ties); flagged when another candidate
        // lies within `band` of it, since the exact order could differ.
        const lo = f32x4.extract_lane(loSure, 0);
        let best: f32 = Infinity;
        let bestRow = -1;
        for (let q = 0; q < len; q++) {
          const v = load<f32>(vals + (<usize>q << 2));
          if (v < best && v < lo) {
            best = v;
            bestRow = load<i32>(idxs + (<usize>q << 2));
          }
        }
        const near = f32x4.splat(<f32>(<f64>best + band));
        let close = i32x4.splat(0);
        for (let q = 0; q < count4; q += 4) {
          const v = v128.load(vals + (<usize>q << 2));
          close = i32x4.sub(close, v128.and(f32x4.lt(v, near), f32x4.lt(v, loSure)));
        }
        const closeCount = i32x4.extract_lane(close, 0) + i32x4.extract_lane(close, 1) +
          i32x4.extract_lane(close, 2) + i32x4.extract_lane(close, 3);
        if (closeCount > 1) {
          resolve(x, cols, a, p, k, alpha, band, strategy, us, vals, idxs, cands, len,
            f32x4.extract_lane(loSure, 0), f32x4.extract_lane(lowSure, 0),
            f32x4.extract_lane(hiMaybe, 0), f32x4.extract_lane(lowMaybe, 0), outChosen, outCount);
        } else {
          store<i32>(outChosen, bestRow);
        }
      } else {
        store<i32>(outChosen, -1);
      }
    }
  }
}

/**
 * Resolves pair `k` = (a, p) as the specification does: the candidates among
 * the compacted negatives (`vals`, `idxs`, `len` of them), the sure ones by
 * their approximate distance, those inside the band by the exact distances;
 * then the drawn candidate, or for "hard" the exactly nearest (first on ties)
 * among those the approximate distances cannot rule out.
 */
function resolve(
  x: usize, cols: i32, a: i32, p: i32, k: i32, alpha: f64, band: f64, strategy: i32, us: usize,
  vals: usize, idxs: usize, cands: usize, len: i32,
  loSure: f32, lowSure: f32, hiMaybe: f32, lowMaybe: f32, outChosen: usize, outCount: usize,
): void {
  const dp = exactDistance(x, cols, a, p);
  let count = 0;
  let minApprox: f32 = Infinity;
  for (let q = 0; q < len; q++) {
    const v = load<f32>(vals + (<usize>q << 2));
    if (!(v < hiMaybe && v > lowMaybe)) continue;
    const r = load<i32>(idxs + (<usize>q << 2));
    let take = v < loSure && v > lowSure;
    if (!take) {
      const dn = exactDistance(x, cols, a, r);
      take = dn - dp < alpha && (strategy != FACENET || dp < dn);
    }
    if (take) {
      store<i32>(cands + (<usize>count << 2), q);
      count++;
      if (v < minApprox) minApprox = v;
    }
  }
  store<i32>(outCount, count);
  if (count == 0) {
    store<i32>(outChosen, -1);
    return;
  }
  if (strategy == HARD) {
    // Candidates farther than the band from the nearest approximate one are
    // farther in exact distance too.
    const near = <f64>minApprox + band;
    let best: f64 = Infinity;
    let bestRow = -1;
    for (let i = 0; i < count; i++) {
      const q = load<i32>(cands + (<usize>i << 2));
      if (<f64>load<f32>(vals + (<usize>q << 2)) >= near) continue;
      const r = load<i32>(idxs + (<usize>q << 2));
      const d = exactDistance(x, cols, a, r);
      if (d < best) {
        best = d;
        bestRow = r;
      }
    }
    store<i32>(outChosen, bestRow);
    return;
  }
  const u = load<f64>(us + (<usize>k << 3));
  let kk = <i32>Math.floor(u * <f64>count);
  if (kk > count - 1) kk = count - 1;
  store<i32>(outChosen, load<i32>(idxs + (<usize>load<i32>(cands + (<usize>kk << 2)) << 2)));
}

/**
 * Resolves pair (a, p) of a drawing strategy as the specification does, with
 * SIMD scans: the negatives inside the band (maybe but not surely candidates)
 * are decided by their exact distances, then the `floor(u * count)`-th
 * candidate in row order is found among the sure ones (`sure` of them) and
 * the admitted ones.
 */
function resolveDraw(
  x: usize, cols: i32, a: i32, p: i32, alpha: f64, semi: bool, u: f64,
  vals: usize, idxs: usize, cands: usize, sure: i32, count4: i32,
  loSure: v128, lowSure: v128, hiMaybe: v128, lowMaybe: v128, outChosen: usize, outCount: usize,
): void {
  const dp = exactDistance(x, cols, a, p);
  let admitted = 0;
  for (let q = 0; q < count4; q += 4) {
    const v = v128.load(vals + (<usize>q << 2));
    let m = i32x4.bitmask(v128.and(f32x4.lt(v, hiMaybe), f32x4.gt(v, lowMaybe))) &
      ~i32x4.bitmask(v128.and(f32x4.lt(v, loSure), f32x4.gt(v, lowSure)));
    while (m != 0) {
      const qq = q + ctz<i32>(m);
      m &= m - 1;
      const dn = exactDistance(x, cols, a, load<i32>(idxs + (<usize>qq << 2)));
      if (dn - dp < alpha && (!semi || dp < dn)) {
        store<i32>(cands + (<usize>admitted << 2), qq);
        admitted++;
      }
    }
  }
  const count = sure + admitted;
  store<i32>(outCount, count);
  if (count == 0) {
    store<i32>(outChosen, -1);
    return;
  }
  let kk = <i32>Math.floor(u * <f64>count);
  if (kk > count - 1) kk = count - 1;
  let j = 0;
  for (let q = 0; q < count4; q += 4) {
    const v = v128.load(vals + (<usize>q << 2));
    let m = i32x4.bitmask(v128.and(f32x4.lt(v, loSure), f32x4.gt(v, lowSure)));
    while (j < admitted) {
      const qq = load<i32>(cands + (<usize>j << 2));
      if (qq >= q + 4) break;
      m |= 1 << (qq - q);
      j++;
    }
    const c = popcnt<i32>(m);
    if (kk < c) {
      store<i32>(outChosen, load<i32>(idxs + (<usize>(q + nthBit(m, kk)) << 2)));
      return;
    }
    kk -= c;
  }
  store<i32>(outChosen, -1);
}
