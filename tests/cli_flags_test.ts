/**
 * Issue 16's flag cases for every command: bounds that name the flag, flags
 * the chosen configuration does not use (one rule, declared per flag and
 * checked by parseFlags), the negative-number spelling, and a checkpoint path
 * that names a file. Parsing needs no I/O, so most cases run in process.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FLAG_LIMITS, type FlagTable, parseFlags, UsageError } from "../cli/flags.ts";
import { TRAIN_FLAGS } from "../cli/train_plan.ts";
import { VALIDATE_FLAGS } from "../cli/validate.ts";
import { EMBED_FLAGS } from "../cli/embed.ts";
import { CLASSIFY_FLAGS } from "../cli/classify.ts";
import { CLUSTER_FLAGS } from "../cli/cluster.ts";
import { COMPARE_FLAGS } from "../cli/compare.ts";
import { MAKE_DATASET_FLAGS } from "../cli/make_dataset.ts";
import { DETECT_FLAGS } from "../cli/detect.ts";
import { openBackend } from "../cli/backends.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { runCli } from "./_cli.ts";

const TABLES: Record<string, FlagTable> = {
  train: TRAIN_FLAGS,
  validate: VALIDATE_FLAGS,
  embed: EMBED_FLAGS,
  classify: CLASSIFY_FLAGS,
  cluster: CLUSTER_FLAGS,
  compare: COMPARE_FLAGS,
  "make-dataset": MAKE_DATASET_FLAGS,
  detect: DETECT_FLAGS,
};

/** Parses like the command does; returns the error message or the warnings. */
function parse(command: string, args: string[]): { error: string | null; warnings: string[] } {
  const warnings: string[] = [];
  try {
    parseFlags(args, TABLES[command]!, { onWarning: (m) => warnings.push(m) });
    return { error: null, warnings };
  } catch (e) {
    assert.ok(e instanceof UsageError, `${command} ${args.join(" ")}: ${e}`);
    return { error: e.message, warnings };
  }
}

Deno.test("flags that size memory or threads are bounded, and the message names the flag", () => {
  const cases: [string, string[], RegExp][] = [
    ["train", ["--threads", "1000"], /^--threads must be <= 64, got 1000$/],
    ["train", ["--image-size", "100000"], /^--image-size must be <= 1024, got 100000$/],
    ["train", ["--embedding-size", "100000000"], /^--embedding-size must be <= 4096/],
    ["train", ["--resize", "100000"], /^--resize must be <= 4096/],
    ["embed", ["--workers", "1000"], /^--workers must be <= 64, got 1000$/],
    ["embed", ["--threads", "1000"], /^--threads must be <= 64/],
    ["validate", ["--image-size", "100000"], /^--image-size must be <= 1024/],
    ["detect", ["--threads", "1000"], /^--threads must be <= 64/],
    ["train", ["--learning-rate-decay-factor", "0"], /^--learning-rate-decay-factor must be > 0/],
    ["train", ["--people-per-batch", "1"], /^--people-per-batch must be >= 2, got 1$/],
  ];
  for (const [command, args, message] of cases) {
    const { error } = parse(command, args);
    assert.match(error ?? "accepted", message, `${command} ${args.join(" ")}`);
  }
  // The limits themselves are accepted.
  assert.equal(parse("train", ["--threads", String(FLAG_LIMITS.threads)]).error, null);
  assert.equal(parse("train", ["--image-size", String(FLAG_LIMITS.imageSize)]).error, null);
});

Deno.test("a flag the chosen configuration does not use is refused, in every command", () => {
  const cases: [string, string[], RegExp][] = [
    [
      "train",
      ["--backend", "wasm-simd", "--device", "cpu"],
      /--device has no effect without --backend tfjs/,
    ],
    [
      "train",
      ["--backend", "pure", "--device", "cpu"],
      /--device has no effect without --backend tfjs/,
    ],
    [
      "train",
      ["--backend", "pure", "--threads", "2"],
      /--threads has no effect without --backend wasm-simd/,
    ],
    [
      "train",
      ["--backend", "tfjs", "--threads", "2"],
      /--threads has no effect without --backend wasm-simd/,
    ],
    ["train", ["--margin", "0.3"], /--margin has no effect without --loss arcface/],
    [
      "train",
      ["--loss", "softmax", "--scale", "16"],
      /--scale has no effect without --loss arcface/,
    ],
    [
      "train",
      ["--center-loss-factor", "0.1"],
      /--center-loss-factor has no effect with --loss triplet/,
    ],
    ["train", ["--prelogits-norm-p", "2"], /--prelogits-norm-p has no effect with --loss triplet/],
    [
      "train",
      ["--validate-every-n-epochs", "2"],
      /--validate-every-n-epochs has no effect with --loss triplet/,
    ],
    [
      "train",
      ["--loss", "softmax", "--alpha", "0.3"],
      /--alpha has no effect without --loss triplet/,
    ],
    [
      "train",
      ["--loss", "arcface", "--selection", "hard"],
      /--selection has no effect without --loss triplet/,
    ],
    ["train", ["--loss", "softmax", "--people-per-batch", "9"], /--people-per-batch has no effect/],
    ["train", ["--resize", "40"], /--resize has no effect without image files/],
    ["train", ["--random-crop"], /--random-crop has no effect without --data-dir/],
    [
      "train",
      ["--min-nrof-images-per-class", "3"],
      /--min-nrof-images-per-class has no effect without --data-dir/,
    ],
    [
      "train",
      ["--data-dir", "d", "--synthetic-nuisance", "1"],
      /--synthetic-nuisance has no effect with --data-dir/,
    ],
    ["train", ["--allow-missing"], /--allow-missing has no effect without --lfw-pairs/],
    [
      "train",
      ["--keep-checkpoints", "2"],
      /--keep-checkpoints has no effect without --out or --resume/,
    ],
    [
      "train",
      ["--learning-rate", "0.1", "--learning-rate-schedule-file", "lr.txt"],
      /--learning-rate has no effect with --learning-rate-schedule-file/,
    ],
    [
      "validate",
      ["--min-nrof-images-per-class", "2"],
      /--min-nrof-images-per-class has no effect without --data-dir/,
    ],
    ["validate", ["--data-dir", "d", "--far", "0.01"], /--far has no effect without --lfw-pairs/],
    ["validate", ["--subtract-mean"], /--subtract-mean has no effect without --lfw-pairs/],
    [
      "validate",
      ["--backend", "pure", "--threads", "2"],
      /--threads has no effect without --backend wasm-simd/,
    ],
    [
      "embed",
      ["--min-nrof-images-per-class", "2"],
      /--min-nrof-images-per-class has no effect without --data-dir/,
    ],
    [
      "compare",
      ["--backend", "wasm-simd", "--device", "webgpu"],
      /--device has no effect without --backend tfjs/,
    ],
    ["cluster", ["--seed", "3"], /--seed has no effect without --method chinese-whispers/],
    [
      "make-dataset",
      ["--from", "fashion-mnist", "--nuisance", "1"],
      /--nuisance has no effect with --from fashion-mnist/,
    ],
    [
      "make-dataset",
      ["--fashion-mnist-dir", "x"],
      /--fashion-mnist-dir has no effect without --from fashion-mnist/,
    ],
    [
      "detect",
      ["--detector-backend", "pure", "--threads", "2"],
      /--threads has no effect with --detector-backend pure/,
    ],
  ];
  for (const [command, args, message] of cases) {
    const { error } = parse(command, args);
    assert.match(error ?? "accepted", message, `${command} ${args.join(" ")}`);
  }
});

Deno.test("the same flags are accepted where they have an effect", () => {
  const cases: [string, string[]][] = [
    ["train", ["--backend", "tfjs", "--device", "cpu"]],
    ["train", ["--backend", "auto", "--device", "cpu"]],
    ["train", ["--backend", "wasm-simd", "--threads", "2"]],
    ["train", [
      "--loss",
      "arcface",
      "--margin",
      "0.3",
      "--scale",
      "16",
      "--center-loss-factor",
      "0.1",
    ]],
    ["train", ["--loss", "softmax", "--validate-every-n-epochs", "2"]],
    ["train", ["--alpha", "0.3", "--selection", "hard", "--people-per-batch", "9"]],
    ["train", [
      "--data-dir",
      "d",
      "--resize",
      "40",
      "--random-crop",
      "--min-nrof-images-per-class",
      "2",
    ]],
    ["train", ["--lfw-dir", "l", "--lfw-pairs", "p", "--resize", "40", "--allow-missing"]],
    ["train", ["--out", "run", "--keep-checkpoints", "2"]],
    // The held-out identities of a data folder are validated in this many folds.
    ["train", ["--data-dir", "d", "--lfw-nrof-folds", "5"]],
    ["train", ["--learning-rate=-1", "--learning-rate-schedule-file", "lr.txt"]],
    ["validate", ["--data-dir", "d", "--min-nrof-images-per-class", "2"]],
    ["validate", ["--lfw-pairs", "p", "--lfw-dir", "l", "--far", "0.01", "--subtract-mean"]],
    ["classify", ["TRAIN", "--l2", "0.1", "--use-split-dataset", "--seed", "3"]],
    ["classify", ["CLASSIFY", "--json"]],
    ["cluster", ["--method", "chinese-whispers", "--seed", "3"]],
    ["make-dataset", ["--from", "fashion-mnist", "--fashion-mnist-dir", "x"]],
  ];
  for (const [command, args] of cases) {
    const { error, warnings } = parse(command, args);
    assert.equal(error, null, `${command} ${args.join(" ")}`);
    assert.deepEqual(warnings, [], `${command} ${args.join(" ")}`);
  }
});

Deno.test("flags the reference implementation silently accepted only warn", () => {
  const cases: [string, string[], RegExp][] = [
    [
      "train",
      ["--learning-rate-schedule-file", "lr.txt", "--learning-rate-decay-factor", "0.5"],
      /^--learning-rate-decay-factor has no effect with --learning-rate-schedule-file; ignored$/,
    ],
    [
      "train",
      ["--learning-rate-schedule-file", "lr.txt", "--learning-rate-decay-epochs", "3"],
      /^--learning-rate-decay-epochs has no effect with --learning-rate-schedule-file/,
    ],
    [
      "classify",
      ["TRAIN", "--nrof-train-images-per-class", "3"],
      /^--nrof-train-images-per-class has no effect without --use-split-dataset/,
    ],
    ["classify", ["TRAIN", "--seed", "3"], /^--seed has no effect without --use-split-dataset/],
    ["classify", ["CLASSIFY", "--l2", "0.1"], /^--l2 has no effect in CLASSIFY mode; ignored$/],
    ["classify", ["TRAIN", "--json"], /^--json has no effect in TRAIN mode; ignored$/],
  ];
  for (const [command, args, message] of cases) {
    const { error, warnings } = parse(command, args);
    assert.equal(error, null, `${command} ${args.join(" ")}`);
    assert.equal(warnings.length, 1, `${command} ${args.join(" ")}: ${warnings}`);
    assert.match(warnings[0]!, message);
  }
});

Deno.test("--help is answered even beside a flag without effect", () => {
  assert.equal(parse("train", ["--backend", "pure", "--threads", "2", "--help"]).error, null);
});

Deno.test("a negative number after a space says to write --flag=-1", () => {
  for (
    const [command, flag] of [["train", "alpha"], ["train", "learning-rate"], ["validate", "far"]]
  ) {
    const { error } = parse(command!, [`--${flag}`, "-1"]);
    assert.equal(
      error,
      `--${flag} is missing its value (a value that starts with a dash, such as a negative ` +
        `number, is written --${flag}=-1)`,
    );
  }
  // The hinted spelling parses (and then meets the flag's own bound).
  assert.match(parse("train", ["--alpha=-1"]).error ?? "", /^--alpha must be > 0, got -1$/);
});

Deno.test("a checkpoint path naming a regular file says so instead of 'does not exist'", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "model.txt");
    await Deno.writeTextFile(file, "not a checkpoint");
    await assert.rejects(
      () => loadCheckpoint(file),
      /model\.txt is not a folder \(expected a ckpt-<step> folder/,
    );
    await assert.rejects(() => loadCheckpoint(join(dir, "missing")), /missing does not exist/);
    for (
      const args of [
        ["compare", "--checkpoint", file, file, file],
        ["train", "--preset", "tiny", "--backend", "pure", "--quiet", "--resume", file],
      ]
    ) {
      const r = await runCli(args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /is not a folder/, args.join(" "));
      assert.doesNotMatch(r.stderr, /does not exist|os error/, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--backend auto with a tfjs --device runs tfjs and warns that --threads is unused", async () => {
  const warnings: string[] = [];
  const backend = await openBackend("auto", {
    device: "cpu",
    threads: 2,
    onWarning: (m) => warnings.push(m),
  });
  try {
    assert.equal(backend.name, "tfjs");
    assert.deepEqual(warnings, ["--threads has no effect: --backend auto chose tfjs"]);
  } finally {
    backend.dispose();
  }
});
