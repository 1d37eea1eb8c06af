import assert from "node:assert/strict";
import { join } from "node:path";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

Deno.test({
  name: "deno task train --backend=tfjs --device=cpu on the tiny preset rises well above chance",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      // Three of the tiny preset's five epochs keep this under half a minute
      // on two cores; the run is seeded, so its numbers are reproducible.
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          CLI,
          "train",
          "--preset",
          "tiny",
          "--backend",
          "tfjs",
          "--device",
          "cpu",
          "--max-nrof-epochs",
          "3",
          "--out",
          dir,
        ],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const stdout = new TextDecoder().decode(output.stdout);
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, stderr);
      // The device is printed at start.
      assert.match(stdout + stderr, /tfjs[^\n]*cpu/);
      const rows = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n")
        .map((line) => JSON.parse(line) as Record<string, number | string>);
      assert.equal(rows.length, 3);
      assert.equal(rows[0]!.backend, "tfjs");
      // Chance is 0.5 accuracy and 0.5 AUC on the 400 balanced validation pairs.
      const first = rows[0]!.accuracy as number;
      const best = Math.max(rows[1]!.accuracy as number, rows[2]!.accuracy as number);
      assert.ok(best >= 0.7, `accuracy ${best}`);
      assert.ok(best >= first + 0.05, `accuracy went from ${first} to ${best}`);
      assert.ok((rows[2]!.auc as number) >= 0.8, `AUC ${rows[2]!.auc}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
