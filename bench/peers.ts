/**
 * Our backends against what a user would run instead, side by side in one
 * run with interleaved rounds (this machine is shared and noisy: every round
 * runs each contender once, in turn, and the table reports medians and the
 * best round of each).
 *
 * - Triplet selection at the reference batch (45 people x 40 images, 128-d,
 *   alpha 0.2): FaceNet (TensorFlow)'s numpy `select_triplets`
 *   (bench/peer_select_triplets_numpy.py, Debian's python3-numpy) against
 *   wasm-simd with 1 and 2 threads, tfjs's cpu and wasm devices (the core's
 *   fast selection; the Gram matrix by tfjs's matMul on wasm) and the pure
 *   specification. Two batches:
 *   "clustered" (identities apart, as after training: few candidates) and
 *   "random" (unit rows without identities, as early in training: about half
 *   of the negatives are candidates). Every contender's triplets are checked
 *   equal to the specification's.
 * - The nano network (bench/peer_nano_torch.py, Debian's python3-torch, CPU,
 *   oneDNN): one triplet training step (forward, triplet loss, weight decay,
 *   backward, Adagrad, moving average) and inference, batch 90 of 64x64x3,
 *   against wasm-simd; both at 2 threads, and at 1 thread to show what the
 *   second thread gives. One PyTorch process serves the whole run; each round
 *   times every contender after a warm-up, and the ratios are medians of the
 *   per-round ratios. Every round also times a 512^3 GEMM on one and two
 *   threads: what the machine's second core gave at that moment (on a
 *   virtual machine whose host shares its cores, anywhere from 1x to 2x).
 *
 * Run: deno task bench:peers [--only selection|torch] [--rounds 5] [--reps 3] (PYTHON=... picks another
 * interpreter than Debian's /usr/bin/python3)
 *
 * @module
 */

import { parseArgs } from "node:util";
import { clusteredEmbeddings, randomValues } from "./_fixtures.ts";
import { createWasmSimdBackend } from "../backends/wasm-simd/mod.ts";
import type { WasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { l2Normalize } from "../core/pure/distances.ts";
import { createRng } from "../core/pure/rng.ts";
import { selectTriplets } from "../core/pure/select_triplets.ts";
import type { Backend } from "../core/backend.ts";
import type { ImageBatch, Matrix } from "../core/types.ts";
import { initModelState } from "../core/model_state.ts";
import { modelSpec } from "../core/models/registry.ts";
import { TRIPLET_TRAINING } from "./_fixtures.ts";

const PEOPLE = 45;
const PER_PERSON = 40;
const DIM = 128;
const ALPHA = 0.2;
/** Debian's interpreter (its python3-numpy, python3-torch) unless PYTHON names another. */
const PYTHON = Deno.env.get("PYTHON") ?? "/usr/bin/python3";
/** Pause after each PyTorch request before our runs (see torchComparison). */
const PEER_SETTLE_MS = Number(Deno.env.get("PEER_SETTLE_MS") ?? 300);

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    reps: { type: "string", default: "3" },
    only: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const reps = Number(values.reps);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function numpySelection(file: string, reps: number): Promise<number[]> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      new URL("./peer_select_triplets_numpy.py", import.meta.url).pathname,
      file,
      String(PEOPLE * PER_PERSON),
      String(DIM),
      String(PEOPLE),
      String(PER_PERSON),
      String(ALPHA),
      String(reps),
    ],
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("python3 bench/peer_select_triplets_numpy.py failed");
  return JSON.parse(new TextDecoder().decode(out.stdout)).times_ms;
}

/** Medians, bests, and the median over rounds of each contender's speed relative to `base` in the round. */
function pairedTable(
  times: Record<string, number[]>,
  perRound: readonly Record<string, number>[],
  base: string,
): void {
  console.log(
    `| contender | median ms | best ms | speed vs ${base} (median of per-round ratios) |`,
  );
  console.log("| --- | ---: | ---: | ---: |");
  for (const [name, ts] of Object.entries(times)) {
    const r = median(perRound.map((x) => x[base]! / x[name]!));
    console.log(
      `| ${name} | ${median(ts).toFixed(1)} | ${Math.min(...ts).toFixed(1)} | ${r.toFixed(2)}x |`,
    );
  }
}

async function timeOurs(backend: Backend, e: Matrix, reps: number): Promise<number[]> {
  const numPerClass = new Array<number>(PEOPLE).fill(PER_PERSON);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await backend.selectTriplets(e, numPerClass, { alpha: ALPHA, rng: createRng(i) });
    times.push(performance.now() - t);
  }
  return times;
}

/**
 * One PyTorch process for the whole comparison (bench/peer_nano_torch.py
 * serve): each request runs a warm-up and `reps` timed runs at a thread count.
 */
class TorchPeer {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffered = "";

  constructor(batch: number) {
    this.#child = new Deno.Command(PYTHON, {
      args: [new URL("./peer_nano_torch.py", import.meta.url).pathname, "serve", String(batch)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reader = this.#child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  async times(kind: "step" | "embed", threads: number, reps: number): Promise<number[]> {
    await this.#writer.write(new TextEncoder().encode(`${kind} ${threads} ${reps}\n`));
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("python3 bench/peer_nano_torch.py exited early");
      this.#buffered += value;
    }
    const cut = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, cut);
    this.#buffered = this.#buffered.slice(cut + 1);
    return JSON.parse(line).times_ms;
  }

  async close(): Promise<void> {
    await this.#writer.close();
    await this.#reader.cancel();
    const status = await this.#child.status;
    if (!status.success) throw new Error("python3 bench/peer_nano_torch.py failed");
  }
}

/**
 * The machine's own second-thread gain right now: a 512^3 GEMM on one thread
 * against two (its halves share nothing, so on two free cores it is ~2x).
 * On a virtual machine whose cores the host shares this is far below 2x at
 * times, and no kernel can beat it.
 */
function gemmSecondThreadGain(rt: WasmSimdRuntime): number {
  const size = 512;
  const a = rt.put(randomValues(size * size, 7));
  const b = rt.put(randomValues(size * size, 8));
  const c = rt.allocF32(size * size);
  try {
    const time = (threads: number) => {
      const t = performance.now();
      for (let i = 0; i < 3; i++) rt.gemm({ m: size, n: size, k: size, a, b, c }, { threads });
      return performance.now() - t;
    };
    time(2);
    return time(1) / time(2);
  } finally {
    for (const address of [a, b, c]) rt.free(address);
  }
}

async function torchComparison(): Promise<void> {
  const spec = modelSpec("nano");
  const state = initModelState(spec, TRIPLET_TRAINING, createRng(666));
  const images: ImageBatch = {
    n: 90,
    height: 64,
    width: 64,
    channels: 3,
    data: randomValues(90 * 64 * 64 * 3, 51),
  };
  const backends = [
    await createWasmSimdBackend({ threads: 1 }),
    await createWasmSimdBackend({ threads: 2 }),
  ];
  const models = await Promise.all(
    backends.map((b) => b.createModel(spec, state, TRIPLET_TRAINING)),
  );
  const torch = new TorchPeer(90);
  try {
    for (const kind of ["step", "embed"] as const) {
      const run = async (i: number) => {
        const t = performance.now();
        if (kind === "step") {
          await models[i]!.trainStep(images, { learningRate: 0.05, rng: createRng(3) });
        } else {
          await models[i]!.embed(images, { training: false });
        }
        return performance.now() - t;
      };
      for (let i = 0; i < 2; i++) for (let w = 0; w < 2; w++) await run(i);
      // Every round runs each contender in turn (a warm-up, then `reps` timed
      // runs), a second or so apart: this machine's speed drifts by tens of
      // percent over seconds, so ratios are taken within a round, then the
      // median over the rounds.
      const names = ["PyTorch x2", "wasm-simd x2", "PyTorch x1", "wasm-simd x1"] as const;
      const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
      const perRound: Record<string, number>[] = [];
      for (let r = 0; r < rounds; r++) {
        const round: Record<string, number> = {};
        for (const threads of [2, 1]) {
          const theirs = await torch.times(kind, threads, reps);
          // PyTorch's OpenMP threads keep spinning for a while after its
          // answer; let them go idle before timing ours.
          await new Promise((resolve) => setTimeout(resolve, PEER_SETTLE_MS));
          await run(threads - 1);
          const ours: number[] = [];
          for (let k = 0; k < reps; k++) ours.push(await run(threads - 1));
          times[`PyTorch x${threads}`]!.push(...theirs);
          times[`wasm-simd x${threads}`]!.push(...ours);
          round[`PyTorch x${threads}`] = median(theirs);
          round[`wasm-simd x${threads}`] = median(ours);
        }
        round.gemmGain = gemmSecondThreadGain(backends[1]!.runtime);
        perRound.push(round);
      }
      console.log(
        `\nnano ${
          kind === "step" ? "triplet training step (Adagrad, EMA)" : "inference"
        }, batch 90 x 64x64x3: ${rounds} interleaved rounds of ${reps} (after a warm-up each); load average ${
          Deno.loadavg().map((v) => v.toFixed(1)).join(" ")
        }`,
      );
      pairedTable(times, perRound, "PyTorch x2");
      const ratio = (a: string, b: string) => median(perRound.map((x) => x[a]! / x[b]!));
      console.log(
        `second thread (median over rounds of x1 / x2 in the round): wasm-simd ${
          ratio("wasm-simd x1", "wasm-simd x2").toFixed(2)
        }x, PyTorch ${ratio("PyTorch x1", "PyTorch x2").toFixed(2)}x; what this machine's second ` +
          `core gave a 512^3 GEMM (two independent halves) in the same rounds: ${
            median(perRound.map((x) => x.gemmGain!)).toFixed(2)
          }x (range ${Math.min(...perRound.map((x) => x.gemmGain!)).toFixed(2)}-${
            Math.max(...perRound.map((x) => x.gemmGain!)).toFixed(2)
          }x)`,
      );
      const free = perRound.filter((x) => x.gemmGain! >= 1.9);
      if (free.length > 0) {
        const gain = (x: Record<string, number>, who: string) => x[`${who} x1`]! / x[`${who} x2`]!;
        console.log(
          `in the ${free.length} of ${perRound.length} rounds whose GEMM check gained >= 1.9x ` +
            `(both cores free): second thread wasm-simd ${
              median(free.map((x) => gain(x, "wasm-simd"))).toFixed(2)
            }x, PyTorch ${median(free.map((x) => gain(x, "PyTorch"))).toFixed(2)}x (medians)`,
        );
      }
    }
  } finally {
    await torch.close();
    for (const m of models) m.dispose();
    for (const b of backends) b.dispose();
  }
}

async function selectionComparison(): Promise<void> {
  const batches: [string, Matrix][] = [
    ["clustered", clusteredEmbeddings(PEOPLE, PER_PERSON, DIM, 21)],
    [
      "random",
      l2Normalize({
        rows: PEOPLE * PER_PERSON,
        cols: DIM,
        data: randomValues(PEOPLE * PER_PERSON * DIM, 7),
      }),
    ],
  ];
  const wasm1 = await createWasmSimdBackend({ threads: 1 });
  const wasm2 = await createWasmSimdBackend({ threads: 2 });
  const tfjsCpu = await createTfjsBackend({ device: "cpu" });
  const tfjsWasm = await createTfjsBackend({ device: "wasm" });
  const dir = await Deno.makeTempDir();
  try {
    console.log(
      `triplet selection, ${PEOPLE} people x ${PER_PERSON} images, ${DIM}-d, alpha ${ALPHA}: ` +
        `${rounds} interleaved rounds of ${reps} runs each; load average ${
          Deno.loadavg().map((v) => v.toFixed(1)).join(" ")
        }`,
    );
    for (const [label, e] of batches) {
      const file = `${dir}/${label}.f32`;
      await Deno.writeFile(
        file,
        new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength),
      );
      const numPerClass = new Array<number>(PEOPLE).fill(PER_PERSON);
      const options = { alpha: ALPHA, rng: createRng(1) };
      const expected = selectTriplets(e, numPerClass, options);
      for (const backend of [wasm1, wasm2, tfjsCpu, tfjsWasm]) {
        const actual = await backend.selectTriplets(e, numPerClass, options);
        if (JSON.stringify(actual.triplets) !== JSON.stringify(expected.triplets)) {
          throw new Error(`${backend.device}: triplets differ from the specification's (${label})`);
        }
      }
      const times: Record<string, number[]> = {
        numpy: [],
        pure: [],
        "wasm-simd x1": [],
        "wasm-simd x2": [],
        "tfjs cpu": [],
        "tfjs wasm": [],
      };
      for (let r = 0; r < rounds; r++) {
        times.numpy!.push(...await numpySelection(file, reps));
        times["wasm-simd x1"]!.push(...await timeOurs(wasm1, e, reps));
        times["wasm-simd x2"]!.push(...await timeOurs(wasm2, e, reps));
        times["tfjs cpu"]!.push(...await timeOurs(tfjsCpu, e, reps));
        times["tfjs wasm"]!.push(...await timeOurs(tfjsWasm, e, reps));
        if (r === 0) {
          const t = performance.now();
          selectTriplets(e, numPerClass, { alpha: ALPHA, rng: createRng(r) });
          times.pure!.push(performance.now() - t);
        }
      }
      const base = median(times.numpy!);
      console.log(
        `\n${label}: ${expected.triplets.length} triplets of ${expected.pairs} pairs ` +
          `(no candidate: ${(100 * expected.noCandidateFraction).toFixed(1)}%)`,
      );
      console.log("| contender | median ms | best ms | speed vs numpy (median) |");
      console.log("| --- | ---: | ---: | ---: |");
      for (const [name, ts] of Object.entries(times)) {
        const m = median(ts);
        console.log(
          `| ${name} | ${m.toFixed(1)} | ${Math.min(...ts).toFixed(1)} | ${
            (base / m).toFixed(1)
          }x |`,
        );
      }
    }
  } finally {
    wasm1.dispose();
    wasm2.dispose();
    tfjsCpu.dispose();
    tfjsWasm.dispose();
    await Deno.remove(dir, { recursive: true });
  }
}

if (values.only === undefined || values.only === "selection") await selectionComparison();
if (values.only === undefined || values.only === "torch") await torchComparison();
