/**
 * What every wasm-simd kernel family shares: the tensor handle, the thread
 * policy, allocation in the shared memory, and the helpers several families
 * call (channel sums, the per-channel affine pass, two-operand elementwise
 * kernels, the GEMM on handles).
 *
 * @module
 */

import type { Padding } from "../../../core/model_spec.ts";
import type { PoolKernel, WasmSimdRuntime } from "../runtime.ts";
import { windowGeometry } from "../../../core/pure/_window.ts";

/**
 * A tensor handle of the wasm-simd kernels: an address in the shared memory and a shape.
 *
 * @category Backends
 */
export interface WasmTensor {
  /** Byte address of the float32 values. */
  readonly ptr: number;
  /** The shape. */
  readonly shape: readonly number[];
  /** Number of values. */
  readonly size: number;
}

/** Output pixels per indirection block of convForward (assembly/gemm.ts CONV_MC). */
export const CONV_MC = 120;
/** Byte budget of one im2col buffer; larger batches are processed in image chunks. */
export const IM2COL_BUDGET = 64 * 1024 * 1024;

/** The number of values of a shape. */
export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Whether two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Output size and leading pad of one spatial axis (core/pure/_window.ts). */
export function axis(
  size: number,
  window: number,
  stride: number,
  padding: Padding,
): { out: number; pad: number } {
  const g = windowGeometry(size, window, stride, padding);
  return { out: g.out, pad: g.padBefore };
}

/** Throws a RangeError unless the stride is a positive integer. */
export function checkStride(stride: number): void {
  if (!Number.isInteger(stride) || stride < 1) {
    throw new RangeError(`Stride must be a positive integer, got ${stride}`);
  }
}

/**
 * Creates the shared context of the kernel families.
 *
 * @param rt The runtime.
 * @param parallelThreshold Work below which a kernel runs on the calling thread only.
 * @returns The context.
 */
export function createKernelContext(rt: WasmSimdRuntime, parallelThreshold: number) {
  const options = { parallelThreshold };
  const threshold = options.parallelThreshold ?? 32768;
  if (!(threshold >= 0)) {
    throw new RangeError(`Parallel threshold must be >= 0, got ${threshold}`);
  }
  const threadsFor = (work: number) => (work < threshold ? 1 : rt.threads);
  const run = (name: PoolKernel, args: readonly number[], work: number) =>
    rt.run(name, args, { threads: threadsFor(work) });

  const make = (shape: readonly number[]): WasmTensor => {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) {
        throw new RangeError(`Shape [${shape.join(", ")}] has an invalid dimension ${d}`);
      }
    }
    const size = product(shape);
    return { ptr: rt.alloc(size * 4), shape: [...shape], size };
  };
  const release = (t: WasmTensor) => rt.free(t.ptr);
  const view = (t: WasmTensor) => rt.f32(t.ptr, t.size);
  const vector = (values: ArrayLike<number>): WasmTensor => {
    const t = make([values.length]);
    view(t).set(values);
    return t;
  };
  /** A float64 vector in the shared memory; returns its address (free with rt.free). */
  const vector64 = (values: ArrayLike<number>): number => {
    const ptr = rt.alloc(values.length * 8);
    new Float64Array(rt.memory.buffer, ptr, values.length).set(values);
    return ptr;
  };
  const need4d = (x: WasmTensor, what: string) => {
    if (x.shape.length !== 4) {
      throw new RangeError(`${what} must be 4-D [n, h, w, c], got [${x.shape.join(", ")}]`);
    }
    return x.shape as readonly [number, number, number, number];
  };
  const channels = (x: WasmTensor) => {
    const c = x.shape[x.shape.length - 1] ?? 1;
    return { c, rows: c === 0 ? 0 : x.size / c };
  };
  const checkVector = (v: WasmTensor, c: number, what: string) => {
    if (v.shape.length !== 1 || v.shape[0] !== c) {
      throw new RangeError(`${what} must have shape [${c}], got [${v.shape.join(", ")}]`);
    }
  };

  /** Per-channel f64 sums (see channelSums in assembly/elementwise.ts). */
  const channelSums = (
    a: WasmTensor,
    b: WasmTensor | null,
    center: WasmTensor | null,
    mode: 0 | 1 | 2,
  ): { s1: Float64Array; s2: Float64Array } => {
    const { c, rows } = channels(a);
    const nt = Math.min(threadsFor(a.size), Math.max(1, rows));
    const partial = rt.alloc(nt * c * 16);
    try {
      rt.run("channelSums", [a.ptr, b?.ptr ?? 0, center?.ptr ?? 0, rows, c, partial, mode], {
        threads: nt,
      });
      const all = new Float64Array(rt.memory.buffer, partial, nt * 2 * c);
      const s1 = new Float64Array(c);
      const s2 = new Float64Array(c);
      for (let t = 0; t < nt; t++) {
        for (let j = 0; j < c; j++) {
          s1[j]! += all[t * 2 * c + j]!;
          s2[j]! += all[t * 2 * c + c + j]!;
        }
      }
      return { s1, s2 };
    } finally {
      rt.free(partial);
    }
  };

  /**
   * Centered per-channel affine maps in float64, rounded once (see
   * channelAffine in assembly/elementwise.ts): `(x - m) * p + q`, or with
   * `y`, `x * p + (y - m) * q + r`.
   */
  const affine = (
    x: WasmTensor,
    y: WasmTensor | null,
    m: ArrayLike<number>,
    p: ArrayLike<number>,
    q: ArrayLike<number>,
    r: ArrayLike<number> | null,
  ): WasmTensor => {
    const { c, rows } = channels(x);
    const out = make(x.shape);
    const mv = vector(m);
    const pv = vector64(p);
    const qv = vector64(q);
    const rv = r === null ? null : vector64(r);
    try {
      run("channelAffine", [
        x.ptr,
        y?.ptr ?? 0,
        out.ptr,
        rows,
        c,
        pv,
        qv,
        rv ?? 0,
        mv.ptr,
      ], x.size);
    } finally {
      release(mv);
      rt.free(pv);
      rt.free(qv);
      if (rv !== null) rt.free(rv);
    }
    return out;
  };

  const elementwise2 = (name: PoolKernel, a: WasmTensor, b: WasmTensor, what: string) => {
    if (!sameShape(a.shape, b.shape)) {
      throw new RangeError(
        `${what} needs equal shapes, got [${a.shape.join(", ")}] and [${b.shape.join(", ")}]`,
      );
    }
    const out = make(a.shape);
    run(name, [a.ptr, b.ptr, out.ptr, a.size], a.size);
    return out;
  };

  /** y [rows, cout] (+)= op(a) . op(b), the GEMM on handles' addresses. */
  const gemm = (
    m: number,
    n: number,
    k: number,
    a: number,
    b: number,
    c: number,
    options: { transA?: boolean; transB?: boolean; accumulate?: boolean },
  ) => rt.gemm({ m, n, k, a, b, c }, { ...options, threads: threadsFor(m * n * k / 16) });

  const checkShape = (t: WasmTensor, shape: readonly number[], what: string) => {
    if (!sameShape(t.shape, shape)) {
      throw new RangeError(
        `${what} has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`,
      );
    }
  };

  return {
    rt,
    threadsFor,
    run,
    make,
    release,
    view,
    vector,
    vector64,
    need4d,
    channels,
    checkVector,
    channelSums,
    affine,
    elementwise2,
    gemm,
    checkShape,
  };
}

/** The shared context of the kernel families. */
export type KernelContext = ReturnType<typeof createKernelContext>;
