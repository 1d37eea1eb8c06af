/**
 * The wasm-simd runtime: the kernels instantiated over one shared
 * `WebAssembly.Memory`, a bump allocator over that memory, and a persistent
 * pool of Workers (created once) that run a kernel's per-thread shares in
 * parallel, synchronised with `Atomics`.
 *
 * @module
 */

import {
  ARGS_OFFSET,
  CTL_CHUNK,
  CTL_ERROR,
  CTL_ERROR_LENGTH,
  CTL_FUNCTION,
  CTL_GENERATION,
  CTL_NARGS,
  CTL_PENDING,
  CTL_SHUTDOWN,
  CTL_SLOTS,
  CTL_THREADS,
  DEFAULT_POLL_MICROSECONDS,
  ERROR_OFFSET,
  HEAP_BASE,
  INITIAL_PAGES,
  MAX_ARGS,
  MAXIMUM_PAGES,
} from "./_control.ts";
import { loadKernels, type SimdFlavor } from "./_loader.ts";

export type { SimdFlavor } from "./_loader.ts";

/**
 * Names of the kernels that run on the pool (each takes `tid, nt` last).
 *
 * @example
 * ```ts
 * import { POOL_KERNELS } from "@facenet-deno/facenet/wasm-simd";
 * import assert from "node:assert/strict";
 *
 * assert.ok(POOL_KERNELS.includes("gemm"));
 * assert.ok(POOL_KERNELS.includes("convForward"));
 * assert.equal(new Set(POOL_KERNELS).size, POOL_KERNELS.length);
 * ```
 *
 * @category Backends
 */
export const POOL_KERNELS = [
  "gemm",
  "debugTrap",
  "addScaled",
  "scaleArray",
  "multiplyArrays",
  "relu",
  "reluBackward",
  "channelAffine",
  "channelSums",
  "im2col",
  "col2im",
  "pool",
  "poolBackward",
  "globalAvgPool",
  "globalAvgPoolBackward",
  "l2Normalize",
  "l2NormalizeBackward",
  "pairwiseSquaredDistances",
  "packPanels",
  "convForward",
  "packPanelsTransposed",
  "convFilterGrad",
  "sumSlices",
  "optimizerStep",
  "movingAverage",
  "selectTripletsScan",
  "prelu",
  "preluBackward",
  "depthwiseForward",
  "depthwiseBackpropInput",
  "depthwiseBackpropFilter",
  "softmaxRows",
  "softmaxRowsBackward",
] as const;

/**
 * A kernel that runs on the pool.
 *
 * @category Backends
 */
export type PoolKernel = typeof POOL_KERNELS[number];

/**
 * A GEMM's sizes and operand addresses: C (m x n) = op(A) (m x k) · op(B) (k x n).
 *
 * @category Backends
 */
export interface GemmProblem {
  /** Rows of C. */
  readonly m: number;
  /** Columns of C. */
  readonly n: number;
  /** Inner dimension. */
  readonly k: number;
  /** Byte address of A (m x k, or k x m when transposed). */
  readonly a: number;
  /** Byte address of B (k x n, or n x k when transposed). */
  readonly b: number;
  /** Byte address of C. */
  readonly c: number;
}

/**
 * Options of {@linkcode WasmSimdRuntime.gemm}.
 *
 * @category Backends
 */
export interface GemmOptions {
  /** Use A transposed (A stored k x m). */
  readonly transA?: boolean;
  /** Use B transposed (B stored n x k). */
  readonly transB?: boolean;
  /** Add to C instead of overwriting it. */
  readonly accumulate?: boolean;
  /** Leading dimension of A in floats (default: packed). */
  readonly lda?: number;
  /** Leading dimension of B in floats (default: packed). */
  readonly ldb?: number;
  /** Leading dimension of C in floats (default n). */
  readonly ldc?: number;
  /** Threads to use (default: all for more than 2^18 flops, else 1). */
  readonly threads?: number;
}

/**
 * Options of {@linkcode createWasmSimdRuntime}.
 *
 * @category Backends
 */
export interface WasmSimdRuntimeOptions {
  /** Threads (the caller plus workers); default `navigator.hardwareConcurrency`. */
  readonly threads?: number;
  /** Kernel build; default "auto" (relaxed SIMD where the runtime supports it). */
  readonly flavor?: SimdFlavor;
  /**
   * Microseconds a waiting thread polls before it sleeps in `Atomics.wait`
   * (default 50; 0 sleeps at once). Longer polls save the wake-up of a
   * sleeping thread between kernels dispatched back to back; on a machine
   * where other processes keep the cores busy they delay those processes.
   */
  readonly pollMicroseconds?: number;
}

type KernelFunction = (...args: number[]) => number | void;

/**
 * The kernels over a shared memory, with an allocator and a thread pool.
 * Create it with {@linkcode createWasmSimdRuntime}.
 *
 * @example
 * ```ts
 * import { createWasmSimdRuntime, WasmSimdRuntime } from "@facenet-deno/facenet/wasm-simd";
 * import assert from "node:assert/strict";
 *
 * const rt = await createWasmSimdRuntime({ threads: 1 });
 * assert.ok(rt instanceof WasmSimdRuntime);
 * assert.equal(rt.threads, 1);
 * const x = rt.put(new Float32Array([1.5, -2]));
 * assert.deepEqual(Array.from(rt.read(x, 2)), [1.5, -2]);
 * rt.dispose();
 * ```
 *
 * @category Backends
 */
export class WasmSimdRuntime {
  /** Threads taking part in pool kernels (the caller counts as one). */
  readonly threads: number;
  /** Whether the relaxed-SIMD (fused multiply-add) build is in use. */
  readonly relaxed: boolean;
  /** The shared memory of all threads. */
  readonly memory: WebAssembly.Memory;
  readonly #exports: Record<string, KernelFunction>;
  readonly #workers: Worker[];
  readonly #ctl: Int32Array;
  readonly #args: Float64Array;
  readonly #pollMs: number;
  readonly #scratchStride: number;
  #scratch = 0;
  #top = HEAP_BASE;
  readonly #sizes = new Map<number, number>();
  readonly #free = new Map<number, number[]>();
  /** Free blocks by their end address, to give the top of the heap back. */
  readonly #freeByEnd = new Map<number, number>();
  #disposed = false;

  /** Use {@linkcode createWasmSimdRuntime}. */
  constructor(
    memory: WebAssembly.Memory,
    instance: WebAssembly.Instance,
    workers: Worker[],
    relaxed: boolean,
    pollMicroseconds = DEFAULT_POLL_MICROSECONDS,
  ) {
    this.memory = memory;
    this.#pollMs = pollMicroseconds / 1000;
    this.#exports = instance.exports as unknown as Record<string, KernelFunction>;
    this.#workers = workers;
    this.threads = workers.length + 1;
    this.relaxed = relaxed;
    const buffer = memory.buffer;
    this.#ctl = new Int32Array(buffer, 0, CTL_SLOTS);
    this.#args = new Float64Array(buffer, ARGS_OFFSET, MAX_ARGS);
    this.#scratchStride = alignUp(this.call("gemmScratchBytes", []), 65536);
    this.#scratch = this.alloc(this.#scratchStride * this.threads);
  }

  /**
   * Allocates `bytes` (64-byte aligned), rounded up to a size class (multiples
   * of 64 bytes up to 4 KiB, then four classes per power of two, so at most
   * 25% is wasted), reusing a freed block of that class or of one of the next
   * three, else growing the heap. Workloads whose sizes vary (training rounds
   * with different triplet counts) therefore stop growing the memory.
   */
  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) {
      throw new RangeError(`Allocation size ${bytes} is not a non-negative integer.`);
    }
    let size = sizeClass(bytes);
    for (let i = 0, c = size; i < 4; i++, c = sizeClass(c + 1)) {
      const reuse = this.#free.get(c)?.pop();
      if (reuse !== undefined) {
        this.#freeByEnd.delete(reuse + c);
        this.#sizes.set(reuse, c);
        return reuse;
      }
    }
    size = Math.max(size, 64);
    const address = alignUp(this.#top, 64);
    const end = address + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / 65536);
      if (have / 65536 + pages > MAXIMUM_PAGES) {
        throw new RangeError(`Allocation of ${bytes} bytes exceeds the 2 GiB wasm memory.`);
      }
      this.memory.grow(pages);
    }
    this.#top = end;
    this.#sizes.set(address, size);
    return address;
  }

  /** Returns a block from {@linkcode WasmSimdRuntime.alloc} for reuse. */
  free(address: number): void {
    const size = this.#sizes.get(address);
    if (size === undefined) throw new RangeError(`Address ${address} is not an allocated block.`);
    this.#sizes.delete(address);
    if (address + size === this.#top) {
      // The top block: lower the top, and again past free blocks below it.
      this.#top = address;
      for (;;) {
        const below = this.#freeByEnd.get(this.#top);
        if (below === undefined) break;
        this.#freeByEnd.delete(this.#top);
        const list = this.#free.get(this.#top - below) as number[];
        list.splice(list.lastIndexOf(below), 1);
        this.#top = below;
      }
      return;
    }
    const list = this.#free.get(size);
    if (list === undefined) this.#free.set(size, [address]);
    else list.push(address);
    this.#freeByEnd.set(address + size, address);
  }

  /**
   * Lowers the heap top to the end of the highest allocated block and forgets
   * the free blocks above it, so the next allocations reuse that space
   * whatever their sizes. The free lists reuse blocks of a size class or the
   * next three only, so a workload whose tensor sizes keep changing widely
   * (MTCNN's image pyramid, one photo after another) calls this between
   * passes to keep the heap bounded; the memory itself never shrinks.
   */
  trim(): void {
    let end = HEAP_BASE;
    for (const [address, size] of this.#sizes) end = Math.max(end, address + size);
    for (const [size, list] of [...this.#free]) {
      const kept: number[] = [];
      for (const address of list) {
        if (address + size <= end) kept.push(address);
        else this.#freeByEnd.delete(address + size);
      }
      if (kept.length > 0) this.#free.set(size, kept);
      else this.#free.delete(size);
    }
    this.#top = end;
  }

  /** Bytes currently allocated (not freed). */
  get allocatedBytes(): number {
    let total = 0;
    for (const size of this.#sizes.values()) total += size;
    return total;
  }

  /** Allocates `count` float32 values; returns the address. */
  allocF32(count: number): number {
    return this.alloc(count * 4);
  }

  /** Allocates and fills with `data`; returns the address. */
  put(data: Float32Array): number {
    const address = this.allocF32(data.length);
    this.f32(address, data.length).set(data);
    return address;
  }

  /** A view (valid until the memory grows) of `count` floats at `address`. */
  f32(address: number, count: number): Float32Array {
    return new Float32Array(this.memory.buffer, address, count);
  }

  /** A copy of `count` floats at `address`. */
  read(address: number, count: number): Float32Array {
    return this.f32(address, count).slice();
  }

  /** Calls an export on the calling thread only. */
  call(name: string, args: readonly number[]): number {
    const fn = this.#exports[name];
    if (fn === undefined) throw new TypeError(`Unknown wasm-simd kernel "${name}".`);
    return (fn(...args) as number | undefined) ?? 0;
  }

  /** Per-thread GEMM scratch: the base address and the stride between threads. */
  get scratch(): { readonly base: number; readonly stride: number } {
    return { base: this.#scratch, stride: this.#scratchStride };
  }

  /**
   * Runs a pool kernel on `options.threads` threads (default all): each thread calls
   * it with `args` followed by its thread index and the thread count. Blocks
   * until every share is done; the first error of any thread is rethrown and
   * the pool stays usable.
   */
  run(
    name: PoolKernel,
    args: readonly number[],
    options: { readonly threads?: number } = {},
  ): void {
    const threads = options.threads ?? this.threads;
    if (this.#disposed) throw new TypeError("The wasm-simd runtime was disposed.");
    const nt = Math.max(1, Math.min(this.threads, Math.floor(threads)));
    const fn = this.#exports[name];
    if (fn === undefined) throw new TypeError(`Unknown wasm-simd kernel "${name}".`);
    const ctl = this.#ctl;
    Atomics.store(ctl, CTL_CHUNK, 0);
    if (nt === 1 || this.#workers.length === 0) {
      fn(...args, 0, 1);
      return;
    }
    if (args.length > MAX_ARGS) throw new RangeError(`Kernel "${name}" has too many arguments.`);
    this.#args.set(args);
    Atomics.store(ctl, CTL_FUNCTION, POOL_KERNELS.indexOf(name));
    Atomics.store(ctl, CTL_NARGS, args.length);
    Atomics.store(ctl, CTL_THREADS, nt);
    Atomics.store(ctl, CTL_ERROR, 0);
    Atomics.store(ctl, CTL_PENDING, this.#workers.length);
    Atomics.add(ctl, CTL_GENERATION, 1);
    Atomics.notify(ctl, CTL_GENERATION);
    let mainError: unknown = undefined;
    try {
      fn(...args, 0, nt);
    } catch (error) {
      mainError = error;
    }
    const spinUntil = performance.now() + this.#pollMs;
    for (let i = 0;; i++) {
      const pending = Atomics.load(ctl, CTL_PENDING);
      if (pending === 0) break;
      if ((i & 63) === 63 && performance.now() > spinUntil) {
        Atomics.wait(ctl, CTL_PENDING, pending);
      }
    }
    if (mainError !== undefined) throw mainError;
    if (Atomics.load(ctl, CTL_ERROR) !== 0) {
      const length = Atomics.load(ctl, CTL_ERROR_LENGTH);
      const bytes = new Uint8Array(this.memory.buffer, ERROR_OFFSET, length).slice();
      throw new Error(new TextDecoder().decode(bytes));
    }
  }

  /**
   * C = op(A)·op(B) (+ C when `accumulate`) on float32 matrices at the given
   * addresses, row-major with leading dimensions `lda`, `ldb`, `ldc`
   * (defaults: packed). Bit-identical for every thread count.
   *
   * @param problem Sizes (`C` is m x n, the inner dimension k) and the byte
   *   addresses of A, B and C in {@linkcode WasmSimdRuntime.memory}.
   * @param options Transposes, accumulation, leading dimensions, threads
   *   (default: all for more than 2^18 flops, else 1).
   */
  gemm(problem: GemmProblem, options: GemmOptions = {}): void {
    const { m, n, k, a, b, c } = problem;
    for (const [name, v] of Object.entries(problem)) {
      if (!Number.isInteger(v) || v < 0) {
        throw new RangeError(`GEMM ${name} must be a non-negative integer, got ${v}`);
      }
    }
    const transA = options.transA ?? false;
    const transB = options.transB ?? false;
    const lda = options.lda ?? (transA ? m : k);
    const ldb = options.ldb ?? (transB ? k : n);
    const ldc = options.ldc ?? n;
    const flops = 2 * m * n * k;
    const threads = options.threads ?? (flops < 1 << 18 ? 1 : this.threads);
    this.run("gemm", [
      m,
      n,
      k,
      a,
      lda,
      transA ? 1 : 0,
      b,
      ldb,
      transB ? 1 : 0,
      c,
      ldc,
      options.accumulate ? 1 : 0,
      this.#scratch,
      this.#scratchStride,
    ], { threads });
  }

  /** Terminates the workers; the runtime is unusable afterwards. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    Atomics.store(this.#ctl, CTL_SHUTDOWN, 1);
    Atomics.add(this.#ctl, CTL_GENERATION, 1);
    Atomics.notify(this.#ctl, CTL_GENERATION);
    for (const worker of this.#workers) worker.terminate();
  }
}

/** The size class of an allocation of `bytes` (see `WasmSimdRuntime.alloc`). */
function sizeClass(bytes: number): number {
  if (bytes <= 4096) return Math.max(64, alignUp(bytes, 64));
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 2);
  return alignUp(bytes, step);
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/**
 * Instantiates the kernels over a new shared memory and starts the worker pool.
 *
 * @param options Threads (default the number of cores) and the kernel build.
 * @returns The runtime; call `dispose()` to stop its workers.
 * @throws {RangeError} When `threads` is not a positive integer.
 * @throws {TypeError} When the runtime lacks WebAssembly SIMD or threads.
 * @example
 * ```ts
 * import { createWasmSimdRuntime } from "@facenet-deno/facenet/wasm-simd";
 * import assert from "node:assert/strict";
 * const rt = await createWasmSimdRuntime({ threads: 1 });
 * const a = rt.put(new Float32Array([1, 2, 3, 4]));
 * const b = rt.put(new Float32Array([1, 0, 0, 1]));
 * const c = rt.allocF32(4);
 * rt.gemm({ m: 2, n: 2, k: 2, a, b, c });
 * assert.deepEqual(Array.from(rt.read(c, 4)), [1, 2, 3, 4]);
 * rt.dispose();
 * ```
 *
 * @category Backends
 */
export async function createWasmSimdRuntime(
  options: WasmSimdRuntimeOptions = {},
): Promise<WasmSimdRuntime> {
  const threads = options.threads ?? navigator.hardwareConcurrency ?? 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`Thread count ${threads} is not a positive integer.`);
  }
  const poll = options.pollMicroseconds ?? DEFAULT_POLL_MICROSECONDS;
  if (!(poll >= 0 && poll <= 1e6)) {
    throw new RangeError(`Poll time ${poll} us is not between 0 and 1000000.`);
  }
  const { module, relaxed } = await loadKernels(options.flavor ?? "auto");
  const memory = new WebAssembly.Memory({
    initial: INITIAL_PAGES,
    maximum: MAXIMUM_PAGES,
    shared: true,
  });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const workers: Worker[] = [];
  try {
    const ready: Promise<void>[] = [];
    for (let tid = 1; tid < threads; tid++) {
      const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
      workers.push(worker);
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.onmessage = (event: MessageEvent<{ ready?: true; error?: string }>) => {
            if (event.data.ready) resolve();
            else reject(new Error(`wasm-simd worker ${tid} failed: ${event.data.error}`));
          };
          worker.onerror = (event: ErrorEvent) => {
            event.preventDefault();
            reject(new Error(`wasm-simd worker ${tid} failed: ${event.message}`));
          };
        }),
      );
      worker.postMessage({ module, memory, names: POOL_KERNELS, tid, pollMs: poll / 1000 });
    }
    await Promise.all(ready);
  } catch (error) {
    for (const worker of workers) worker.terminate();
    throw error;
  }
  return new WasmSimdRuntime(memory, instance, workers, relaxed, poll);
}
