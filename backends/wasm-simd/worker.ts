/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

// A pool worker of the wasm-simd backend: instantiates the kernels over the
// shared memory, then loops: wait for a new job generation, run its share of
// the kernel, report errors through the control block, count down. Waiting
// polls for `pollMs` (WasmSimdRuntimeOptions.pollMicroseconds) before it
// sleeps in Atomics.wait: a training step dispatches kernels back to back,
// and waking a sleeping thread costs tens of microseconds each time
// (bench/dispatch_bench.ts).

import {
  ARGS_OFFSET,
  CTL_ERROR,
  CTL_ERROR_LENGTH,
  CTL_FUNCTION,
  CTL_GENERATION,
  CTL_NARGS,
  CTL_PENDING,
  CTL_SHUTDOWN,
  CTL_SLOTS,
  CTL_THREADS,
  ERROR_CAPACITY,
  ERROR_OFFSET,
  MAX_ARGS,
} from "./_control.ts";

interface InitMessage {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly names: readonly string[];
  readonly tid: number;
  /** Milliseconds to poll for the next job before sleeping. */
  readonly pollMs: number;
}

function serve(init: InitMessage): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const exportsObject = instance.exports as Record<string, unknown>;
  const fns = init.names.map((name) => exportsObject[name] as (...args: number[]) => void);
  const buffer = init.memory.buffer as SharedArrayBuffer;
  const ctl = new Int32Array(buffer, 0, CTL_SLOTS);
  const args = new Float64Array(buffer, ARGS_OFFSET, MAX_ARGS);
  const errorBytes = new Uint8Array(buffer, ERROR_OFFSET, ERROR_CAPACITY);
  let seen = Atomics.load(ctl, CTL_GENERATION);
  self.postMessage({ ready: true });
  for (;;) {
    const spinUntil = performance.now() + init.pollMs;
    let generation = Atomics.load(ctl, CTL_GENERATION);
    for (let i = 0; generation === seen; i++) {
      if ((i & 63) === 63 && performance.now() > spinUntil) {
        Atomics.wait(ctl, CTL_GENERATION, seen);
      }
      generation = Atomics.load(ctl, CTL_GENERATION);
    }
    seen = generation;
    if (Atomics.load(ctl, CTL_SHUTDOWN) !== 0) {
      self.close();
      return;
    }
    const nt = Atomics.load(ctl, CTL_THREADS);
    if (init.tid < nt) {
      try {
        const fn = fns[Atomics.load(ctl, CTL_FUNCTION)];
        if (fn === undefined) throw new RangeError("Unknown kernel index.");
        const nargs = Atomics.load(ctl, CTL_NARGS);
        const call: number[] = [];
        for (let i = 0; i < nargs; i++) call.push(args[i] ?? 0);
        call.push(init.tid, nt);
        fn(...call);
      } catch (error) {
        if (Atomics.compareExchange(ctl, CTL_ERROR, 0, 1) === 0) {
          const text = new TextEncoder().encode(
            `wasm-simd worker ${init.tid}: ${
              error instanceof Error ? error.message : String(error)
            }`,
          ).subarray(0, ERROR_CAPACITY);
          errorBytes.set(text);
          Atomics.store(ctl, CTL_ERROR_LENGTH, text.length);
        }
      }
    }
    if (Atomics.sub(ctl, CTL_PENDING, 1) === 1) Atomics.notify(ctl, CTL_PENDING);
  }
}

self.onmessage = (event: MessageEvent<InitMessage>) => {
  try {
    serve(event.data);
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
};
