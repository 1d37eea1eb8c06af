// Layout of the control block the main thread and the pool workers share at the
// bottom of the WebAssembly memory (below the kernels' memoryBase of 64 KiB).

/** Int32 slot: job generation; workers wait on it. */
export const CTL_GENERATION = 0;
/** Int32 slot: workers still running the current job; the caller waits on it. */
export const CTL_PENDING = 1;
/** Int32 slot: 1 when a worker failed the current job. */
export const CTL_ERROR = 2;
/** Int32 slot: index of the kernel to run. */
export const CTL_FUNCTION = 3;
/** Int32 slot: number of arguments. */
export const CTL_NARGS = 4;
/** Int32 slot: byte length of the error message. */
export const CTL_ERROR_LENGTH = 5;
/** Int32 slot: number of threads taking part in the job. */
export const CTL_THREADS = 6;
/** Int32 slot: 1 tells the workers to exit. */
export const CTL_SHUTDOWN = 7;
/**
 * Int32 slot: the job's chunk counter (byte 32, assembly/common.ts
 * nextChunk); zeroed before every job.
 */
export const CTL_CHUNK = 8;
/** Number of Int32 slots of the control block. */
export const CTL_SLOTS = 16;
/** Byte offset of the Float64 arguments. */
export const ARGS_OFFSET = 256;
/** Maximum number of arguments of a kernel. */
export const MAX_ARGS = 32;
/** Byte offset and capacity of the error message. */
export const ERROR_OFFSET = 1024;
/** Capacity of the error message in bytes. */
export const ERROR_CAPACITY = 3072;
/** First byte the allocator may hand out (above the kernels' static area). */
export const HEAP_BASE = 131072;
/** Page counts of the shared memory (must match build_wasm.ts). */
export const INITIAL_PAGES = 32;
/** Maximum pages (2 GiB). */
export const MAXIMUM_PAGES = 32768;
/**
 * Microseconds a waiting thread (an idle worker, or the caller waiting for
 * the workers' shares) polls the control block before it sleeps in
 * `Atomics.wait`: waking a sleeping thread cost ~47 us a dispatch here (more
 * on a virtual machine whose idle CPU halted), a polling one ~1 us
 * (bench/dispatch_bench.ts). Short, because a poller that shares a core with
 * another busy process delays it by as long as it polls.
 */
export const DEFAULT_POLL_MICROSECONDS = 50;
