import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";
import { join } from "node:path";
import { loadCheckpoint } from "../io/checkpoint.ts";

const cli = runCli;

async function metrics(dir: string): Promise<Record<string, number | string>[]> {
  const text = await Deno.readTextFile(join(dir, "metrics.jsonl"));
  return text.trim().split("\n").map((line) => JSON.parse(line));
}

Deno.test("train --help documents every flag and exits 0", async () => {
  const { code, stdout } = await cli(["train", "--help"]);
  assert.equal(code, 0);
  for (const flag of ["--people-per-batch", "--alpha", "--optimizer", "--resume", "--preset"]) {
    assert.ok(stdout.includes(flag), `help lacks ${flag}`);
  }
});

Deno.test("train rejects unknown flags and bad values with one line and exit code 2", async () => {
  for (
    const args of [
      ["train", "--no-such-flag"],
      ["train", "--alpha", "-1"],
      ["train", "--optimizer", "FOO"],
      ["train", "--batch-size", "10"],
      ["train", "--epoch-size", "2.5"],
    ]
  ) {
    const { code, stderr } = await cli(args);
    assert.equal(code, 2, `${args.join(" ")} exited ${code}: ${stderr}`);
    assert.equal(stderr.trim().split("\n").length, 1, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, /^error: /);
  }
});

Deno.test("train on the tiny preset (pure backend) raises validation accuracy well above chance", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { code, stderr } = await cli([
      "train",
      "--preset",
      "tiny",
      "--backend",
      "pure",
      "--out",
      dir,
    ]);
    assert.equal(code, 0, stderr);
    const rows = await metrics(dir);
    assert.equal(rows.length, 5);
    // Validation has 400 pairs (std ~0.07 per fold), so compare the better of
    // the last two epochs with the first.
    const first = rows[0]!.accuracy as number;
    const last = Math.max(rows[3]!.accuracy as number, rows[4]!.accuracy as number);
    assert.ok(last >= 0.7, `final accuracy ${last}`);
    assert.ok(last >= first + 0.1, `accuracy went from ${first} to ${last}`);
    for (const key of ["loss", "triplets", "val", "far", "auc", "eer", "imagesPerSec", "seconds"]) {
      assert.equal(typeof rows[0]![key], "number", key);
    }
    assert.equal(rows[0]!.backend, "pure");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a resumed run ends bit-identical to the same run uninterrupted (pure backend)", async () => {
  const whole = await Deno.makeTempDir();
  const parts = await Deno.makeTempDir();
  try {
    const base = ["train", "--preset", "tiny", "--backend", "pure", "--quiet", "--epoch-size", "3"];
    assert.equal((await cli([...base, "--max-nrof-epochs", "2", "--out", whole])).code, 0);
    assert.equal((await cli([...base, "--max-nrof-epochs", "1", "--out", parts])).code, 0);
    const resumed = await cli([...base, "--max-nrof-epochs", "2", "--resume", parts]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const a = await loadCheckpoint(whole);
    const b = await loadCheckpoint(parts);
    assert.equal(a.meta.epoch, 2);
    assert.equal(b.meta.epoch, 2);
    assert.equal(a.state.step, b.state.step);
    assert.deepEqual(a.meta.rng, b.meta.rng);
    for (const group of ["params", "stats"] as const) {
      for (const [name, tensor] of Object.entries(a.state[group])) {
        assert.deepEqual(b.state[group][name]!.data, tensor.data, `${group} ${name}`);
      }
    }
    assert.deepEqual(a.state.ema, b.state.ema);
    assert.deepEqual(a.state.optimizer, b.state.optimizer);
    assert.deepEqual(
      (await metrics(whole)).map((m) => m.accuracy),
      (await metrics(parts)).map((m) => m.accuracy),
    );
    // The report's logs continue across the resume: the same steps and the same last validation.
    for (const file of ["steps.jsonl", "validation.json"]) {
      assert.equal(
        await Deno.readTextFile(join(parts, file)),
        await Deno.readTextFile(join(whole, file)),
        file,
      );
    }
  } finally {
    await Deno.remove(whole, { recursive: true });
    await Deno.remove(parts, { recursive: true });
  }
});

Deno.test("train refuses to resume from a checkpoint of another embedding size", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = ["train", "--preset", "tiny", "--backend", "pure", "--quiet", "--epoch-size", "1"];
    assert.equal((await cli([...base, "--max-nrof-epochs", "1", "--out", dir])).code, 0);
    const { code, stderr } = await cli([
      ...base,
      "--max-nrof-epochs",
      "2",
      "--embedding-size",
      "8",
      "--resume",
      dir,
    ]);
    assert.equal(code, 1);
    assert.match(stderr, /embedding/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a diverging run stops with a clear message and keeps the last good checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = [
      "train",
      "--preset",
      "tiny",
      "--backend",
      "pure",
      "--quiet",
      "--epoch-size",
      "2",
      "--optimizer",
      "SGD",
    ];
    assert.equal((await cli([...base, "--max-nrof-epochs", "1", "--out", dir])).code, 0);
    const { code, stderr } = await cli([
      ...base,
      "--max-nrof-epochs",
      "3",
      "--learning-rate",
      "1e30",
      "--resume",
      dir,
    ]);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /became (NaN|-?Infinity) at step \d+/);
    assert.match(stderr, /last good checkpoint is .*ckpt-/);
    const kept = await loadCheckpoint(dir);
    // The epoch that diverged never writes a checkpoint; the kept one is finite.
    assert.ok(kept.meta.epoch >= 1 && kept.meta.epoch < 3, `kept epoch ${kept.meta.epoch}`);
    assert.match(stderr, new RegExp(`ckpt-${kept.state.step}\\b`));
    for (const tensor of Object.values(kept.state.params)) {
      assert.ok(tensor.data.every(Number.isFinite));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
