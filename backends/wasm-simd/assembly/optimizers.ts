// AssemblyScript source (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.
// Optimizer updates and the parameter moving average, in place, f32x4 with a
// scalar tail; the formulas are core/pure/optimizers.ts's.

import { rangeEnd, rangeStart } from "./common";

/**
 * One update of `n` parameters `v` with gradients `g` and slots `s1`, `s2`:
 * kind 0 SGD; 1 MOM (h1 momentum, h2 nesterov 0/1; s1 momentum); 2 ADAGRAD
 * (s1 accumulator); 3 ADADELTA (h1 rho, h2 epsilon; s1 accum, s2
 * accum_update); 4 ADAM (h1 beta1, h2 beta2, h3 epsilon, `lr` the bias-
 * corrected rate; s1 m, s2 v); 5 RMSPROP (h1 decay, h2 momentum, h3 epsilon;
 * s1 rms, s2 momentum). `c1`, `c2` are the complements 1 - h1, 1 - h2,
 * computed in float64 by the caller (1 - 0.999 in float32 is off by 1e-5).
 */
export function optimizerStep(
  kind: i32, v: usize, g: usize, s1: usize, s2: usize, n: i32, lr: f32, h1: f32, h2: f32, h3: f32,
  c1: f32, c2: f32, tid: i32, nt: i32,
): void {
  const s = rangeStart(n, tid, nt, 16);
  const e = rangeEnd(n, tid, nt, 16);
  const vlr = f32x4.splat(lr);
  const v1 = f32x4.splat(h1);
  const v2 = f32x4.splat(h2);
  const v3 = f32x4.splat(h3);
  const w1 = f32x4.splat(c1);
  const w2 = f32x4.splat(c2);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const gv = v128.load(g + o);
    const pv = v128.load(v + o);
    if (kind == 0) {
      v128.store(v + o, f32x4.sub(pv, f32x4.mul(vlr, gv)));
    } else if (kind == 1) {
      const a = f32x4.add(f32x4.mul(v1, v128.load(s1 + o)), gv);
      v128.store(s1 + o, a);
      const step = h2 != 0 ? f32x4.add(gv, f32x4.mul(v1, a)) : a;
      v128.store(v + o, f32x4.sub(pv, f32x4.mul(vlr, step)));
    } else if (kind == 2) {
      const a = f32x4.add(v128.load(s1 + o), f32x4.mul(gv, gv));
      v128.store(s1 + o, a);
      v128.store(v + o, f32x4.sub(pv, f32x4.div(f32x4.mul(vlr, gv), f32x4.sqrt(a))));
    } else if (kind == 3) {
      const rest = w1;
      const a = f32x4.add(f32x4.mul(v1, v128.load(s1 + o)), f32x4.mul(rest, f32x4.mul(gv, gv)));
      const up = v128.load(s2 + o);
      const update = f32x4.mul(
        f32x4.div(f32x4.sqrt(f32x4.add(up, v2)), f32x4.sqrt(f32x4.add(a, v2))),
        gv,
      );
      v128.store(s1 + o, a);
      v128.store(s2 + o, f32x4.add(f32x4.mul(v1, up), f32x4.mul(rest, f32x4.mul(update, update))));
      v128.store(v + o, f32x4.sub(pv, f32x4.mul(vlr, update)));
    } else if (kind == 4) {
      const m = f32x4.add(f32x4.mul(v1, v128.load(s1 + o)), f32x4.mul(w1, gv));
      const q = f32x4.add(
        f32x4.mul(v2, v128.load(s2 + o)),
        f32x4.mul(w2, f32x4.mul(gv, gv)),
      );
      v128.store(s1 + o, m);
      v128.store(s2 + o, q);
      v128.store(v + o, f32x4.sub(pv, f32x4.div(f32x4.mul(vlr, m), f32x4.add(f32x4.sqrt(q), v3))));
    } else {
      const ms = f32x4.add(
        f32x4.mul(v1, v128.load(s1 + o)),
        f32x4.mul(w1, f32x4.mul(gv, gv)),
      );
      const mom = f32x4.add(
        f32x4.mul(v2, v128.load(s2 + o)),
        f32x4.div(f32x4.mul(vlr, gv), f32x4.sqrt(f32x4.add(ms, v3))),
      );
      v128.store(s1 + o, ms);
      v128.store(s2 + o, mom);
      v128.store(v + o, f32x4.sub(pv, mom));
    }
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o);
    const pv = load<f32>(v + o);
    if (kind == 0) {
      store<f32>(v + o, pv - lr * gv);
    } else if (kind == 1) {
      const a = h1 * load<f32>(s1 + o) + gv;
      store<f32>(s1 + o, a);
      store<f32>(v + o, pv - lr * (h2 != 0 ? gv + h1 * a : a));
    } else if (kind == 2) {
      const a = load<f32>(s1 + o) + gv * gv;
      store<f32>(s1 + o, a);
      store<f32>(v + o, pv - lr * gv / Mathf.sqrt(a));
    } else if (kind == 3) {
      const a = h1 * load<f32>(s1 + o) + c1 * gv * gv;
      const up = load<f32>(s2 + o);
      const update = Mathf.sqrt(up + h2) / Mathf.sqrt(a + h2) * gv;
      store<f32>(s1 + o, a);
      store<f32>(s2 + o, h1 * up + c1 * update * update);
      store<f32>(v + o, pv - lr * update);
    } else if (kind == 4) {
      const m = h1 * load<f32>(s1 + o) + c1 * gv;
      const q = h2 * load<f32>(s2 + o) + c2 * gv * gv;
      store<f32>(s1 + o, m);
      store<f32>(s2 + o, q);
      store<f32>(v + o, pv - lr * m / (Mathf.sqrt(q) + h3));
    } else {
      const ms = h1 * load<f32>(s1 + o) + c1 * gv * gv;
      const mom = h2 * load<f32>(s2 + o) + lr * gv / Mathf.sqrt(ms + h3);
      store<f32>(s1 + o, ms);
      store<f32>(s2 + o, mom);
      store<f32>(v + o, pv - mom);
    }
  }
}

/** shadow = d * shadow + rest * value, in place (`rest` = 1 - d, computed in float64). */
export function movingAverage(shadow: usize, value: usize, n: i32, d: f32, rest: f32, tid: i32, nt: i32): void {
  const s = rangeStart(n, tid, nt, 16);
  const e = rangeEnd(n, tid, nt, 16);
  const vd = f32x4.splat(d);
  const vr = f32x4.splat(rest);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(shadow + o, f32x4.add(f32x4.mul(vd, v128.load(shadow + o)), f32x4.mul(vr, v128.load(value + o))));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(shadow + o, d * load<f32>(shadow + o) + rest * load<f32>(value + o));
  }
}
