// AssemblyScript source (compiled by backends/wasm-simd/build_wasm.ts), not Deno TypeScript.

/** a * b + c: fused (relaxed-simd build) or multiply-then-add (plain SIMD build). */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** The sub-range [start, end) of [0, n) that thread `tid` of `nt` owns, in multiples of `align`. */
// @ts-ignore: decorator
@inline export function rangeStart(n: i32, tid: i32, nt: i32, align: i32): i32 {
  const units = (n + align - 1) / align;
  const per = (units + nt - 1) / nt;
  return min(n, tid * per * align);
}

// @ts-ignore: decorator
@inline export function rangeEnd(n: i32, tid: i32, nt: i32, align: i32): i32 {
  const units = (n + align - 1) / align;
  const per = (units + nt - 1) / nt;
  return min(n, (tid + 1) * per * align);
}

/** Traps on thread `failTid` (tests: errors inside a pool worker reach the caller). */
export function debugTrap(failTid: i32, tid: i32, _nt: i32): void {
  if (tid == failTid) unreachable();
}

/** Byte address of the job's shared chunk counter (CTL_CHUNK of _control.ts), zeroed per job. */
const CHUNK_COUNTER: usize = 32;

/**
 * The next unclaimed chunk of the current job (0, 1, 2, ... across all its
 * threads). Kernels that split their work this way balance it dynamically: a
 * thread that the machine holds back takes fewer chunks instead of holding
 * up the whole job. Which thread computes a chunk never changes its result.
 */
// @ts-ignore: decorator
@inline export function nextChunk(): i32 {
  return atomic.add<i32>(CHUNK_COUNTER, 1);
}
