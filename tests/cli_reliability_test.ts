// The tools under hostile use, in process (so a full disk can be injected
// through io/atomic.ts): outputs stay whole on ENOSPC, the output policy
// refuses empty, root and foreign folders, inputs that would hang are refused,
// and a run folder is never mixed with another run.
import assert from "node:assert/strict";
import { join } from "node:path";
import { setWriteFaultHook } from "../io/atomic.ts";
import { saveCheckpoint } from "../io/checkpoint.ts";
import { encodePng } from "../io/images.ts";
import { initModelState } from "../core/model_state.ts";
import { modelSpec } from "../core/models/registry.ts";
import { createRng } from "../core/pure/rng.ts";
import { exportCommand } from "../cli/export.ts";
import { embedCommand } from "../cli/embed.ts";
import { classifyCommand } from "../cli/classify.ts";
import { compareCommand } from "../cli/compare.ts";
import { validateCommand } from "../cli/validate.ts";
import { UsageError } from "../cli/flags.ts";
import { prepareRunFolder, reconcileMetrics } from "../cli/_output.ts";

/** The flag naming the checkpoint of the tools. */
const CKPT = "--checkpoint";
const SIZE = 16;

let stdout = "";

/** Runs `fn` with console output captured: returns what went to stderr; stdout goes to `stdout`. */
async function quietly(fn: () => Promise<unknown>): Promise<string> {
  const { log, error } = console;
  let stderr = "";
  console.log = (...args: unknown[]) => {
    stdout += args.join(" ") + "\n";
  };
  console.error = (...args: unknown[]) => {
    stderr += args.join(" ") + "\n";
  };
  try {
    await fn();
  } finally {
    console.log = log;
    console.error = error;
  }
  return stderr;
}

async function checkpoint(dir: string, seed: number): Promise<string> {
  const spec = modelSpec("nano", { embeddingSize: 8, imageSize: SIZE });
  const options = {
    loss: { kind: "triplet" as const, alpha: 0.2 },
    optimizer: { name: "ADAGRAD" as const },
    weightDecay: 0,
    movingAverageDecay: 0.999,
  };
  const state = initModelState(spec, options, createRng(seed));
  return await saveCheckpoint(join(dir, `run${seed}`), {
    state,
    meta: {
      model: "nano",
      embeddingSize: 8,
      epoch: 0,
      rng: createRng(seed),
      config: { imageSize: SIZE },
    },
  });
}

async function images(dir: string, identities: number, perIdentity: number): Promise<string> {
  const root = join(dir, `data${identities}x${perIdentity}`);
  for (let c = 0; c < identities; c++) {
    await Deno.mkdir(join(root, `p${c}`), { recursive: true });
    for (let i = 0; i < perIdentity; i++) {
      const data = new Float32Array(SIZE * SIZE * 3).map((_, k) => (k * (c + 3) + i * 17) % 256);
      await Deno.writeFile(
        join(root, `p${c}`, `${i}.png`),
        encodePng({ width: SIZE, height: SIZE, data }),
      );
    }
  }
  return root;
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) out.push(entry.name);
  return out.sort();
}

function failWrites(suffix: string, bytes: number): void {
  setWriteFaultHook((path) => (path.endsWith(suffix) ? bytes : undefined));
}

Deno.test("The tools keep their previous outputs whole on a full disk and refuse empty, root and foreign output paths", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cli_reliab_" });
  try {
    const ckpt = await checkpoint(dir, 1);
    const other = await checkpoint(dir, 2);
    const data = await images(dir, 3, 3);

    await t.step("export swaps in a complete folder, or leaves the old one", async () => {
      const out = join(dir, "export");
      assert.equal(await quietly(() => exportCommand([CKPT, ckpt, "--out", out])), "");
      const modelJson = await Deno.readTextFile(join(out, "model.json"));
      const shards = await names(out);
      failWrites(".bin", 100);
      await assert.rejects(
        quietly(() => exportCommand([CKPT, other, "--out", out, "--force"])),
        /No space left/,
      );
      setWriteFaultHook(null);
      assert.equal(await Deno.readTextFile(join(out, "model.json")), modelJson);
      assert.deepEqual(await names(out), shards);
      assert.deepEqual(await names(dir).then((n) => n.filter((x) => x.startsWith("."))), []);
      await assert.rejects(exportCommand([CKPT, ckpt, "--out", out]), /not empty.*--force/);
      await assert.rejects(exportCommand([CKPT, ckpt, "--out", ""]), UsageError);
      await assert.rejects(exportCommand([CKPT, ckpt, "--out", "/"]), /filesystem root/);
      await assert.rejects(
        exportCommand([CKPT, ckpt, "--out", data, "--force"]),
        /replaces only a previous export/,
      );
    });

    await t.step(
      "embed --out DIR/ writes DIR/embeddings.*, never hidden files, and keeps them on ENOSPC",
      async () => {
        const out = join(dir, "emb");
        await Deno.mkdir(out);
        await quietly(() => embedCommand([CKPT, ckpt, "--data-dir", data, "--out", out + "/"]));
        assert.deepEqual(await names(out), [
          "embeddings.jsonl",
          "embeddings.npy",
          "embeddings_classes.json",
          "embeddings_label_strings.json",
          "embeddings_labels.npy",
        ]);
        const npy = await Deno.readFile(join(out, "embeddings.npy"));
        await assert.rejects(
          embedCommand([CKPT, ckpt, "--data-dir", data, "--out", out]),
          /embeddings\.npy already exists.*--force/,
        );
        failWrites("embeddings.npy", 64);
        await assert.rejects(
          quietly(() => embedCommand([CKPT, other, "--data-dir", data, "--out", out, "--force"])),
          /No space left/,
        );
        setWriteFaultHook(null);
        assert.deepEqual(await Deno.readFile(join(out, "embeddings.npy")), npy);
        assert.equal((await names(out)).length, 5);
      },
    );

    await t.step(
      "classify TRAIN keeps the old classifier on ENOSPC; CLASSIFY warns on another checkpoint",
      async () => {
        const file = join(dir, "classifier.json");
        const args = ["--data-dir", data, "--classifier", file];
        const fit = [...args, "--max-iterations", "5"];
        await quietly(() => classifyCommand(["TRAIN", CKPT, ckpt, ...fit]));
        const saved = await Deno.readTextFile(file);
        assert.match(JSON.parse(saved).embeddingModel.sha256, /^[0-9a-f]{64}$/);
        failWrites("classifier.json", 100);
        await assert.rejects(
          quietly(() => classifyCommand(["TRAIN", CKPT, other, ...fit])),
          /No space left/,
        );
        setWriteFaultHook(null);
        assert.equal(await Deno.readTextFile(file), saved);
        assert.doesNotMatch(
          await quietly(() => classifyCommand(["CLASSIFY", CKPT, ckpt, ...args])),
          /warning/,
        );
        assert.match(
          await quietly(() => classifyCommand(["CLASSIFY", CKPT, other, ...args])),
          /warning: .*classifier\.json was trained on the embeddings of another checkpoint/,
        );
        await assert.rejects(
          classifyCommand(["TRAIN", CKPT, ckpt, "--data-dir", data, "--classifier", ""]),
          UsageError,
        );
      },
    );

    await t.step("compare refuses /dev/zero and a FIFO instead of reading forever", async () => {
      const fifo = join(dir, "x.png");
      const r = await new Deno.Command("mkfifo", { args: [fifo] }).output();
      assert.equal(r.code, 0);
      const png = join(data, "p0", "0.png");
      await assert.rejects(
        quietly(() => compareCommand([CKPT, ckpt, "/dev/zero", png])),
        /Cannot read image \/dev\/zero: not a regular file/,
      );
      await assert.rejects(
        quietly(() => compareCommand([CKPT, ckpt, fifo, png])),
        /x\.png: not a regular file/,
      );
    });

    await t.step(
      "validate on identities of one image each reports retrieval metrics as undefined",
      async () => {
        const lone = await images(dir, 3, 1);
        stdout = "";
        await quietly(() => validateCommand([CKPT, ckpt, "--data-dir", lone, "--quiet"]));
        await quietly(() => validateCommand([CKPT, ckpt, "--data-dir", lone, "--quiet", "--json"]));
        const printed = stdout;
        assert.match(printed, /Retrieval metrics: undefined \(0 queries/);
        assert.doesNotMatch(printed, /0\.00000/);
        const json = JSON.parse(printed.trim().split("\n").at(-1)!);
        assert.deepEqual(json.retrieval, { queries: 0, loneQueries: 3, images: 3, identities: 3 });
      },
    );
  } finally {
    setWriteFaultHook(null);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prepareRunFolder() refuses another run's folder and resumes in the run folder, not inside ckpt-N", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_policy_" });
  try {
    const ckpt = await checkpoint(dir, 3); // dir/run3/ckpt-0
    const run = join(dir, "run3");
    await Deno.writeTextFile(join(run, "metrics.jsonl"), "");
    await assert.rejects(
      prepareRunFolder(run, undefined),
      /already holds a training run.*--resume/,
    );
    await assert.rejects(prepareRunFolder("", undefined), /must not be empty/);
    assert.equal(await prepareRunFolder(ckpt, ckpt), run);
    assert.equal(await prepareRunFolder(run, run), run);
    assert.equal(await prepareRunFolder(join(dir, "fresh"), ckpt), join(dir, "fresh"));
    await saveCheckpoint(run, {
      state: {
        ...(await import("../io/checkpoint.ts").then((m) => m.loadCheckpoint(ckpt))).state,
        step: 5,
      },
      meta: {
        model: "nano",
        embeddingSize: 8,
        epoch: 1,
        rng: createRng(3),
        config: { imageSize: SIZE },
      },
    });
    await assert.rejects(prepareRunFolder(ckpt, ckpt), /not the latest checkpoint .*ckpt-5/);
    // A first save killed midway leaves only a temporary folder: a fresh start is allowed.
    const killed = join(dir, "killed");
    await Deno.mkdir(join(killed, ".tmp-ckpt-5-0011223344556677"), { recursive: true });
    assert.equal(await prepareRunFolder(killed, undefined), killed);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reconcileMetrics() drops later and repeated epochs and restores the checkpoint's own record", async () => {
  const dir = await Deno.makeTempDir({ prefix: "reconcile_" });
  try {
    const path = join(dir, "metrics.jsonl");
    const line = (epoch: number, loss = epoch) => JSON.stringify({ epoch, loss }) + "\n";
    // Killed between checkpoint 3 and its metrics line, with a torn line.
    await Deno.writeTextFile(path, line(1) + line(2) + '{"epoch":3,"lo');
    await reconcileMetrics(path, 3, { epoch: 3, loss: 3 });
    assert.equal(await Deno.readTextFile(path), line(1) + line(2) + line(3));
    // An older run's interleaved epochs and records past the checkpoint.
    await Deno.writeTextFile(path, line(1) + line(2) + line(1, 9) + line(2, 9) + line(3, 9));
    await reconcileMetrics(path, 2, undefined);
    assert.equal(await Deno.readTextFile(path), line(1, 9) + line(2, 9));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
