/**
 * Shared setup of the backend-comparison benches (bench/*_bench.ts): the
 * deterministic inputs, the backends and tfjs devices that exist on this
 * machine, result checks against the pure backend, and {@link benchGroup},
 * which validates every member of a group once and then registers one
 * `Deno.bench` per member with the pure backend as the group's baseline.
 *
 * Conventions of every member:
 * - the timed function produces the result as plain host data (tfjs results
 *   are downloaded with `await tensor.data()`, so GPU work is finished and
 *   counted; pure and wasm-simd kernel results are downloaded too);
 * - inputs are uploaded once, outside the timed function.
 *
 * Environment switches: `FACENET_BENCH_WEBGPU=0` drops the tfjs webgpu
 * members; `FACENET_BENCH_SLOW=1` enables the members marked `[slow]`, or a
 * regular expression enables those whose "group / member" matches.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { Backend, TrainingOptions } from "../core/backend.ts";
import type { Matrix, Tensor } from "../core/types.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { activateDevice, probeWebGpuAdapter, type TfjsDevice } from "../backends/tfjs/device.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { createWasmSimdBackend } from "../backends/wasm-simd/mod.ts";
import { createWasmSimdKernels } from "../backends/wasm-simd/kernels.ts";
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";
import type { Kernels } from "../core/kernels.ts";
import { createPureKernels } from "../core/pure/kernels.ts";

/** All threads of this machine (the "all threads" wasm-simd member). */
export const ALL_THREADS: number = Math.max(1, navigator.hardwareConcurrency);

/** The reference implementation's triplet training options (Adagrad, alpha 0.2, EMA 0.9999), with weight decay 1e-4. */
export const TRIPLET_TRAINING: TrainingOptions = {
  loss: { kind: "triplet", alpha: 0.2 },
  optimizer: { name: "ADAGRAD" },
  weightDecay: 1e-4,
  movingAverageDecay: 0.9999,
};

function envFlag(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

const SLOW = envFlag("FACENET_BENCH_SLOW");

/**
 * Whether a `[slow]` member runs: `FACENET_BENCH_SLOW=1` enables all of them;
 * any other value is a regular expression tested on `"<group> / <member>"`.
 *
 * @param group The group name.
 * @param member The member name (without the mark).
 * @returns True when the member runs.
 * @example
 * ```ts
 * import { slowEnabled } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * assert.equal(typeof slowEnabled("g", "pure"), "boolean");
 * ```
 */
export function slowEnabled(group: string, member: string): boolean {
  if (SLOW === undefined || SLOW === "" || SLOW === "0") return false;
  return SLOW === "1" || new RegExp(SLOW).test(`${group} / ${member}`);
}

/**
 * Deterministic uniform values in `[-scale, scale)` from the core RNG.
 *
 * @param count How many values.
 * @param seed RNG seed.
 * @param scale Half-width of the range; default 1.
 * @returns The values.
 * @example
 * ```ts
 * import { randomValues } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * const v = randomValues(4, 1, 0.5);
 * assert.equal(v.length, 4);
 * assert.ok(v.every((x) => x >= -0.5 && x < 0.5));
 * assert.deepEqual(v, randomValues(4, 1, 0.5));
 * ```
 */
export function randomValues(count: number, seed: number, scale = 1): Float32Array {
  const [u] = uniforms(createRng(seed), count);
  return Float32Array.from(u, (v) => (2 * v - 1) * scale);
}

/**
 * A deterministic random tensor.
 *
 * @param shape The shape.
 * @param seed RNG seed.
 * @param scale Half-width of the value range; default 1.
 * @returns The tensor.
 * @example
 * ```ts
 * import { randomTensor } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * assert.equal(randomTensor([2, 3], 7).data.length, 6);
 * ```
 */
export function randomTensor(shape: readonly number[], seed: number, scale = 1): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return { shape: [...shape], data: randomValues(size, seed, scale) };
}

/**
 * Embeddings that look like a trained model's: `people` identities with
 * `perPerson` rows each, every row its identity's random centre plus noise,
 * L2-normalized. Rows of one identity are consecutive.
 *
 * @param people Number of identities.
 * @param perPerson Rows per identity.
 * @param dim Embedding size.
 * @param seed RNG seed.
 * @returns The `people * perPerson x dim` matrix.
 * @example
 * ```ts
 * import { clusteredEmbeddings } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * const e = clusteredEmbeddings(2, 3, 4, 1);
 * assert.equal(e.rows, 6);
 * const norm = Math.hypot(...e.data.subarray(0, 4));
 * assert.ok(Math.abs(norm - 1) < 1e-6);
 * ```
 */
export function clusteredEmbeddings(
  people: number,
  perPerson: number,
  dim: number,
  seed: number,
): Matrix {
  const centres = randomValues(people * dim, seed);
  const noise = randomValues(people * perPerson * dim, seed + 1, 0.9);
  const data = new Float32Array(people * perPerson * dim);
  for (let r = 0; r < people * perPerson; r++) {
    const p = Math.floor(r / perPerson);
    let sq = 0;
    for (let j = 0; j < dim; j++) {
      const v = centres[p * dim + j]! + noise[r * dim + j]!;
      data[r * dim + j] = v;
      sq += v * v;
    }
    const s = 1 / Math.sqrt(sq);
    for (let j = 0; j < dim; j++) data[r * dim + j]! *= s;
  }
  return { rows: people * perPerson, cols: dim, data };
}

/**
 * Rounds every value to a multiple of `step` (a power of two): squared
 * distances of the result are exact in float32 and float64 alike, so margin
 * comparisons (`d(a,n) - d(a,p) < alpha`) cannot tip between backends.
 *
 * @param x The matrix.
 * @param step The grid step, e.g. 1/16.
 * @returns A new matrix on the grid.
 * @example
 * ```ts
 * import { quantized } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * const q = quantized({ rows: 1, cols: 2, data: new Float32Array([0.3, -0.26]) }, 0.25);
 * assert.deepEqual([...q.data], [0.25, -0.25]);
 * ```
 */
export function quantized(x: Matrix, step: number): Matrix {
  return { rows: x.rows, cols: x.cols, data: x.data.map((v) => Math.round(v / step) * step) };
}

/** Tolerances of {@link assertClose}: `|a - e| <= atol + rtol * |e|` per value. */
export interface Tolerance {
  /** Absolute tolerance. */
  readonly atol: number;
  /** Relative tolerance; default 0. */
  readonly rtol?: number;
}

/**
 * Checks that a result equals the pure backend's within a tolerance.
 *
 * @param what What is compared (named in the error).
 * @param actual The member's values.
 * @param expected The pure backend's values.
 * @param tolerance Absolute and relative tolerance.
 * @throws {Error} When lengths differ, a value is not finite, or a value is out of tolerance.
 * @example
 * ```ts
 * import { assertClose } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * assertClose("x", new Float32Array([1, 2]), new Float32Array([1, 2.0001]), { atol: 1e-3 });
 * assert.throws(() => assertClose("x", new Float32Array([1]), new Float32Array([2]), { atol: 0.1 }));
 * ```
 */
export function assertClose(
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance,
): void {
  if (actual.length !== expected.length) {
    throw new Error(
      `${what}: length ${actual.length} differs from the pure backend's ${expected.length}`,
    );
  }
  const rtol = tolerance.rtol ?? 0;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Math.abs(a - e) - (tolerance.atol + rtol * Math.abs(e));
    if (!Number.isFinite(a) || excess > worst) {
      worst = Number.isFinite(a) ? excess : Infinity;
      worstAt = i;
      if (!Number.isFinite(a)) break;
    }
  }
  if (worstAt >= 0) {
    throw new Error(
      `${what}: value ${actual[worstAt]} at index ${worstAt} differs from the pure backend's ${
        expected[worstAt]
      } beyond atol ${tolerance.atol}, rtol ${rtol}`,
    );
  }
}

/** A tfjs device that can run here, with its member label. */
export interface TfjsDeviceEntry {
  /** The tfjs device. */
  readonly device: TfjsDevice;
  /** Member label, e.g. "tfjs cpu" or "tfjs webgpu (llvmpipe, software)". */
  readonly label: string;
  /** True for a software WebGPU adapter (llvmpipe): slow, keep its work small. */
  readonly software: boolean;
}

let devicesPromise: Promise<TfjsDeviceEntry[]> | undefined;

/**
 * The tfjs devices this machine offers: cpu and wasm always, webgpu when
 * Deno finds an adapter (unless `FACENET_BENCH_WEBGPU=0`).
 *
 * @returns The devices, cpu first.
 * @example
 * ```ts
 * import { tfjsDevices } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * const devices = await tfjsDevices();
 * assert.equal(devices[0]!.label, "tfjs cpu");
 * ```
 */
export function tfjsDevices(): Promise<TfjsDeviceEntry[]> {
  devicesPromise ??= (async () => {
    const out: TfjsDeviceEntry[] = [
      { device: "cpu", label: "tfjs cpu", software: false },
      { device: "wasm", label: "tfjs wasm", software: false },
    ];
    if (envFlag("FACENET_BENCH_WEBGPU") !== "0") {
      const adapter = await probeWebGpuAdapter();
      if (adapter !== null) {
        const name = adapter.description.split(" ")[0] ?? "adapter";
        out.push({
          device: "webgpu",
          label: `tfjs webgpu (${name}${adapter.isFallbackAdapter ? ", software" : ""})`,
          software: adapter.isFallbackAdapter,
        });
      }
    }
    return out;
  })();
  return devicesPromise;
}

/**
 * Runs `fn` with a tfjs device active (inputs made inside stay on it).
 *
 * @param device The tfjs device.
 * @param fn What to run.
 * @returns What `fn` returns.
 * @example
 * ```ts
 * import { onTfjs } from "./_fixtures.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * assert.equal(await onTfjs("cpu", () => tf.getBackend()), "cpu");
 * ```
 */
export async function onTfjs<R>(device: TfjsDevice, fn: () => R | Promise<R>): Promise<R> {
  await activateDevice(device);
  return await fn();
}

/**
 * Whether a tfjs device registers a kernel (tfjs wasm, for example, has no
 * `Conv2DBackpropFilter`).
 *
 * @param device The tfjs device.
 * @param kernel The kernel name.
 * @returns True when registered.
 * @example
 * ```ts
 * import { tfjsHasKernel } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * assert.ok(tfjsHasKernel("cpu", "Conv2D"));
 * ```
 */
export function tfjsHasKernel(device: TfjsDevice, kernel: string): boolean {
  return tf.getKernel(kernel, device) !== undefined;
}

/** A backend instance under test with its member label. */
export interface BackendEntry {
  /** Member label: "pure", "tfjs cpu", "wasm-simd 1 thread", ... */
  readonly label: string;
  /** The backend. */
  readonly backend: Backend;
  /** True for a software WebGPU device. */
  readonly software: boolean;
  /** True when the backend can train conv nets. */
  readonly trains: boolean;
}

/** The wasm-simd thread counts benched: 1 and all threads (once when the machine has one core). */
export const WASM_SIMD_THREADS: readonly number[] = ALL_THREADS > 1 ? [1, ALL_THREADS] : [1];

/**
 * Member label of a wasm-simd setting.
 *
 * @param threads Thread count.
 * @returns E.g. "wasm-simd 1 thread", "wasm-simd 2 threads".
 * @example
 * ```ts
 * import { wasmSimdLabel } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * assert.equal(wasmSimdLabel(2), "wasm-simd 2 threads");
 * ```
 */
export function wasmSimdLabel(threads: number): string {
  return `wasm-simd ${threads} thread${threads === 1 ? "" : "s"}`;
}

/**
 * The pure backend followed by every other backend on this machine: tfjs on
 * each device ({@link tfjsDevices}); wasm-simd with 1 and all threads once
 * that backend exists.
 *
 * @returns The backends, the pure one first.
 * @example
 * ```ts
 * import { createBackends } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * const backends = await createBackends();
 * assert.equal(backends[0]!.label, "pure");
 * for (const b of backends) b.backend.dispose();
 * ```
 */
export async function createBackends(): Promise<BackendEntry[]> {
  const out: BackendEntry[] = [
    { label: "pure", backend: createPureBackend(), software: false, trains: true },
  ];
  for (const d of await tfjsDevices()) {
    out.push({
      label: d.label,
      backend: await createTfjsBackend({ device: d.device }),
      software: d.software,
      // Every device trains (on wasm the backend computes the filter gradient with Conv2D).
      trains: true,
    });
  }
  for (const threads of WASM_SIMD_THREADS) {
    out.push({
      label: wasmSimdLabel(threads),
      backend: await createWasmSimdBackend({ threads }),
      software: false,
      trains: true,
    });
  }
  return out;
}

/** A kernel set under test (core/kernels.ts) with its member label. */
export interface KernelEntry {
  /** Member label: "pure", "wasm-simd 1 thread", ... */
  readonly label: string;
  /** The kernels (handles are opaque to the benches). */
  readonly kernels: Kernels<unknown>;
}

/**
 * The pure kernels followed by the wasm-simd kernels with 1 and all threads.
 * The runtimes live until the process ends.
 *
 * @returns The kernel sets, the pure one first.
 * @example
 * ```ts
 * import { createKernelSets } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * const sets = await createKernelSets();
 * assert.equal(sets[0]!.label, "pure");
 * ```
 */
export async function createKernelSets(): Promise<KernelEntry[]> {
  const out: KernelEntry[] = [{ label: "pure", kernels: createPureKernels() }];
  for (const threads of WASM_SIMD_THREADS) {
    const rt = await createWasmSimdRuntime({ threads });
    out.push({ label: wasmSimdLabel(threads), kernels: createWasmSimdKernels(rt) });
  }
  return out;
}

/**
 * A timed function on a kernel set: the inputs are uploaded once; each call
 * runs `op`, downloads every output (concatenated in order) and releases them.
 *
 * @param kernels The kernel set.
 * @param inputs The input tensors, uploaded once.
 * @param op Computes the output handles from the input handles.
 * @returns The function to time; it returns the outputs' values.
 * @example
 * ```ts
 * import { kernelRunner } from "./_fixtures.ts";
 * import { createPureKernels } from "../core/pure/kernels.ts";
 * import assert from "node:assert/strict";
 * const run = kernelRunner(createPureKernels(), [{ shape: [2], data: new Float32Array([-1, 2]) }],
 *   (k, [x]) => [k.relu(x!)]);
 * assert.deepEqual([...run()], [0, 2]);
 * ```
 */
export function kernelRunner<T>(
  kernels: Kernels<T>,
  inputs: readonly Tensor[],
  op: (k: Kernels<T>, xs: T[]) => T[],
): () => Float32Array {
  const handles = inputs.map((t) => kernels.upload(t));
  return () => {
    const outs = op(kernels, handles);
    const parts = outs.map((h) => kernels.download(h).data);
    for (const h of outs) kernels.dispose(h);
    if (parts.length === 1) return parts[0]!;
    const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return all;
  };
}

/** One member of a {@link benchGroup}. */
export interface Member<R> {
  /** The member's name (the backend or device). */
  readonly name: string;
  /** Produces the result; awaited, so asynchronous (GPU) work is timed in full. */
  readonly run: () => R | Promise<R>;
  /**
   * Produces the result to validate, when it differs from a timed call's
   * (e.g. a training step from the initial state); default `run`.
   */
  readonly validate?: () => R | Promise<R>;
  /** Iterations (a suggestion for fast members); default: Deno's choice. */
  readonly n?: number;
  /** Warmup iterations; default: Deno's choice. */
  readonly warmup?: number;
  /**
   * Marks the member `[slow]` (the mark is appended to its name): it runs and
   * is validated only when {@link slowEnabled}, otherwise it is ignored.
   */
  readonly slow?: boolean;
}

/** Options of {@link benchGroup}. */
export interface BenchGroupOptions<R> {
  /**
   * Compares a member's result with the baseline's (the first member, the
   * pure backend); throws on a mismatch.
   */
  readonly check: (name: string, actual: R, expected: R) => void;
}

/**
 * Validates every member once against the first (the pure backend) and then
 * registers one `Deno.bench` per member in `group`, the first as the
 * baseline. A member whose result does not match throws here, before any
 * timing, so a fast wrong kernel cannot win.
 *
 * @param group The group name: operation and size.
 * @param members The pure backend first, then the others.
 * @param options The result check.
 * @returns Resolves when every member is validated and registered.
 * @throws {Error} When `members` is empty or a result does not match the baseline's.
 * @example
 * ```ts ignore
 * import { benchGroup } from "./_fixtures.ts";
 * await benchGroup("sum 3", [
 *   { name: "pure", run: () => 1 + 2 },
 *   { name: "other", run: () => 3 },
 * ], { check: (name, a, e) => { if (a !== e) throw new Error(name); } });
 * ```
 */
export async function benchGroup<R>(
  group: string,
  members: readonly Member<R>[],
  options: BenchGroupOptions<R>,
): Promise<void> {
  const [baseline] = members;
  if (baseline === undefined) throw new Error(`Group "${group}" has no members`);
  const ignored = (m: Member<R>) => m.slow === true && !slowEnabled(group, m.name);
  const active = members.filter((m) => !ignored(m));
  const others = active.filter((m) => m !== baseline);
  if (others.length > 0) {
    // The baseline's result is computed even when the baseline itself is not timed.
    const result = (m: Member<R>) => (m.validate ?? m.run)();
    const expected = await result(baseline);
    for (const m of others) {
      options.check(`${group} / ${m.name}`, await result(m), expected);
    }
  }
  members.forEach((m, i) => {
    Deno.bench({
      name: m.slow === true ? `${m.name} [slow]` : m.name,
      group,
      baseline: i === 0,
      ...(m.n === undefined ? {} : { n: m.n }),
      ...(m.warmup === undefined ? {} : { warmup: m.warmup }),
      ...(ignored(m) ? { ignore: true } : {}),
      async fn() {
        await m.run();
      },
    });
  });
}

/**
 * A result check for plain float arrays with a tolerance.
 *
 * @param tolerance Absolute and relative tolerance.
 * @returns A `check` for {@link benchGroup}.
 * @example
 * ```ts
 * import { closeCheck } from "./_fixtures.ts";
 * import assert from "node:assert/strict";
 * const check = closeCheck({ atol: 1e-3 });
 * assert.throws(() => check("x", new Float32Array([1]), new Float32Array([2])));
 * ```
 */
export function closeCheck(
  tolerance: Tolerance,
): (name: string, actual: ArrayLike<number>, expected: ArrayLike<number>) => void {
  return (name, actual, expected) => assertClose(name, actual, expected, tolerance);
}
