// `train --data-dir` without a pairs file, as a real `deno run cli.ts` process:
// identities held out, their pairs written to the run folder, the settings fitted
// to the folder and a raw-pixel baseline printed and stored in metrics.jsonl.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "./_cli.ts";
import { parsePairs } from "../io/pairs.ts";

Deno.test("train --data-dir holds out identities, writes their pairs, fits its settings and reports a pixel baseline", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_heldout_" });
  try {
    const data = join(dir, "data");
    const made = await runCli([
      "make-dataset",
      "--out",
      data,
      "--identities",
      "7",
      "--images-per-identity",
      "20",
      "--image-size",
      "24",
      "--quiet",
    ]);
    assert.equal(made.code, 0, made.stderr);
    const run = join(dir, "run");
    const trained = await runCli([
      "train",
      "--preset",
      "tiny",
      "--backend",
      "pure",
      "--data-dir",
      join(data, "train"),
      "--validation-identities",
      "3",
      "--max-nrof-epochs",
      "1",
      "--epoch-size",
      "2",
      "--out",
      run,
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    const log = trained.stderr + trained.stdout;
    assert.match(
      log,
      /validation: 3 identities held out \(syn-train-\d+, syn-train-\d+, syn-train-\d+\), 400 pairs in 10 folds disjoint in images/,
    );
    assert.match(log, /settings fitted to the data \(an explicit flag wins\):/);
    assert.match(log, /--people-per-batch 4: the folder has 4 training identities \(preset 6\)/);
    assert.match(log, /--image-size 24: the folder's images are 24x24/);
    assert.doesNotMatch(log, /--max-nrof-epochs \d/); // explicit: kept
    assert.match(
      log,
      /pixel baseline \(the input pixels, L2-normalized, same pairs\): Accuracy: [01]\.\d{5}/,
    );
    const pairs = parsePairs(await Deno.readTextFile(join(run, "pairs.txt")), "pairs.txt");
    assert.deepEqual([pairs.folds, pairs.pairsPerFold], [10, 20]);
    const metrics = (await Deno.readTextFile(join(run, "metrics.jsonl"))).trim().split("\n")
      .map((line) => JSON.parse(line));
    assert.equal(metrics.length, 1);
    assert.ok(metrics[0].baselineAuc > 0.5 && metrics[0].baselineAuc <= 1);
    assert.ok(Number.isFinite(metrics[0].auc));
    // Holding out all but one identity is fine; all of them is a usage error.
    const bad = await runCli([
      "train",
      "--preset",
      "tiny",
      "--data-dir",
      join(data, "train"),
      "--validation-identities",
      "7",
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--validation-identities: Holding out 7 of 7 identities leaves 0/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
