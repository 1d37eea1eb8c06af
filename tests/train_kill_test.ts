// The kill test: a tiny training is SIGKILLed at random moments (a seeded
// draw, printed on failure) and resumed each time; after every kill the latest
// checkpoint loads and metrics.jsonl holds valid records with no epoch twice
// and none past the checkpoint, and the finished run equals an uninterrupted
// one bit for bit. Bounded: 10 kills of processes that each live under 4 s.
import assert from "node:assert/strict";
import { join } from "node:path";
import { latestCheckpoint, loadCheckpoint } from "../io/checkpoint.ts";
import { readJsonLines } from "../io/atomic.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const EPOCHS = 5;
const KILLS = 10;
const SEED = 20261128;
const BASE = [
  "run",
  "-A",
  CLI,
  "train",
  "--preset",
  "tiny",
  "--backend",
  "pure",
  "--quiet",
  "--epoch-size",
  "1",
  "--max-nrof-epochs",
  String(EPOCHS),
];

/** mulberry32: a small seeded generator, so a failing schedule of kills can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function train(
  args: string[],
  killAfterMs?: number,
): Promise<{ killed: boolean; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...BASE, ...args],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let killed = false;
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, killAfterMs);
  const out = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(out.stderr);
  if (!killed || out.success) {
    assert.equal(out.code, 0, `train ${args.join(" ")} failed:\n${stderr}`);
    killed = false;
  }
  return { killed, stderr };
}

async function epochsOf(run: string): Promise<number[]> {
  // readJsonLines throws on any complete line that is not JSON; a torn last
  // line (a kill inside the append) is not a record.
  const records = await readJsonLines(join(run, "metrics.jsonl"));
  return records.map((r) => (r as { epoch: number }).epoch);
}

/** Asserts a finished run equals the uninterrupted one: epochs, steps, weights, no leftovers. */
async function assertSameAsWhole(run: string, whole: string, context: string): Promise<void> {
  assert.deepEqual(
    await epochsOf(run),
    Array.from({ length: EPOCHS }, (_, i) => i + 1),
    context,
  );
  // steps.jsonl: every global step once, in order, as in the uninterrupted run.
  const stepsOf = async (dir: string) =>
    (await readJsonLines(join(dir, "steps.jsonl"))).map((r) => (r as { step: number }).step);
  assert.deepEqual(await stepsOf(run), await stepsOf(whole), context);
  const a = await loadCheckpoint(run);
  const b = await loadCheckpoint(whole);
  assert.equal(a.meta.epoch, EPOCHS);
  assert.equal(a.state.step, b.state.step);
  for (const [name, tensor] of Object.entries(b.state.params)) {
    assert.deepEqual(a.state.params[name]!.data, tensor.data, `params ${name}; ${context}`);
  }
  const left: string[] = [];
  for await (const entry of Deno.readDir(run)) {
    if (entry.name.startsWith(".")) left.push(entry.name);
  }
  assert.deepEqual(left, [], `temporary checkpoint folders left behind; ${context}`);
}

Deno.test("train killed at random moments keeps a loadable checkpoint and metrics.jsonl without a duplicate epoch", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kill_test_" });
  const whole = join(dir, "whole");
  const random = seeded(SEED);
  const history: string[] = [];
  try {
    // The uninterrupted run, timed: a kill lands after a fifth of its duration
    // (about the start-up) plus a random share of what is left to train, so
    // kills hit every phase of a run and few runs finish unkilled.
    const started = performance.now();
    await train(["--out", whole]);
    const duration = performance.now() - started;
    let kills = 0;
    let round = 0;
    let run = join(dir, `run${round}`);
    for (let attempt = 0; kills < KILLS && attempt < 3 * KILLS; attempt++) {
      const latest0 = await latestCheckpoint(run);
      if (latest0 !== null && (await loadCheckpoint(latest0)).meta.epoch === EPOCHS) {
        await assertSameAsWhole(run, whole, `seed ${SEED}:\n${history.join("\n")}`);
        run = join(dir, `run${++round}`); // finished: start another run to kill
        continue;
      }
      const resume = latest0 !== null;
      const remaining = resume ? EPOCHS - (await loadCheckpoint(latest0)).meta.epoch : EPOCHS;
      const delay = Math.round((0.2 + 0.8 * random() * (remaining / EPOCHS)) * duration);
      const { killed } = await train(resume ? ["--resume", run] : ["--out", run], delay);
      if (killed) kills++;
      const latest = await latestCheckpoint(run);
      const epochs = await epochsOf(run);
      history.push(
        `${resume ? "resume" : "start"} ${killed ? `kill@${delay}ms` : "finished"} -> ` +
          `${latest === null ? "no checkpoint" : latest.slice(dir.length + 1)}, epochs [${epochs}]`,
      );
      const context = `seed ${SEED}:\n${history.join("\n")}`;
      if (latest === null) {
        assert.deepEqual(epochs, [], context);
        continue;
      }
      const { meta } = await loadCheckpoint(latest);
      // The checkpoint is written before its metrics line: never a record past it,
      // at most its own record missing (restored on resume), never an epoch twice.
      assert.ok(epochs.every((e, i) => e === i + 1), context);
      assert.ok(epochs.length === meta.epoch || epochs.length === meta.epoch - 1, context);
    }
    if (Deno.env.get("KILL_TEST_VERBOSE")) console.log(history.join("\n"));
    assert.equal(kills, KILLS, `only ${kills} kills in ${3 * KILLS} attempts`);
    // Finish the last run and compare it with the uninterrupted one.
    if ((await latestCheckpoint(run)) === null) await train(["--out", run]);
    else await train(["--resume", run]);
    await assertSameAsWhole(run, whole, `seed ${SEED}:\n${history.join("\n")}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
