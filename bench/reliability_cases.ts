// The hostile cases of issue 16, run against a CLI as a user would: every
// command a real subprocess with a time limit, the outputs checked afterwards.
// Prints one Markdown row per case and a summary (attempts, clean errors,
// right results, hangs, data lost, crashes).
//
//   deno run -A bench/reliability_cases.ts [--cli PATH/cli.ts] [--skip-risky] [--tmpfs]
//
// --skip-risky leaves out the cases that, on a CLI without input bounds, read
// without bound or allocate gigabytes (compare /dev/zero, the 20000x20000 PNG,
// training on it) or write to the filesystem root (export --out "").
// --tmpfs runs the full-disk cases on small tmpfs mounts (needs root); without
// it they are skipped.
import { parseArgs } from "node:util";
import { join } from "node:path";
import jpeg from "jpeg-js";

const args = parseArgs({
  args: Deno.args,
  options: {
    cli: { type: "string", default: new URL("../cli.ts", import.meta.url).pathname },
    "skip-risky": { type: "boolean" },
    tmpfs: { type: "boolean" },
    only: { type: "string" },
  },
});
const CLI = args.values.cli as string;
const TIMEOUT_MS = 30_000;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  hung: boolean;
  ms: number;
}

async function cli(argv: string[], timeoutMs = TIMEOUT_MS): Promise<Ran> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...argv],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder();
  return {
    code: out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
    hung,
    ms: performance.now() - started,
  };
}

async function must(argv: string[]): Promise<Ran> {
  const r = await cli(argv, 300_000);
  if (r.code !== 0) throw new Error(`setup failed: ${argv.join(" ")}\n${r.stderr}`);
  return r;
}

type Outcome = "clean error" | "right result" | "hang" | "crash" | "wrong result" | "data lost";
interface Row {
  readonly name: string;
  readonly outcome: Outcome;
  readonly detail: string;
}

function stackTrace(r: Ran): boolean {
  return /^\s+at .+:\d+:\d+\)?$/m.test(r.stderr);
}

function firstLine(r: Ran): string {
  if (r.hung) return `killed after ${(r.ms / 1000).toFixed(0)} s`;
  const line = r.stderr.split("\n").find((l) => /error|warning/i.test(l)) ?? "";
  return line.replace(/\s+/g, " ").slice(0, 110);
}

/** The usual judgement: hang, crash, clean error (exit 1/2 with a message) or "ok". */
function judge(r: Ran): Outcome | "ok" {
  if (r.hung) return "hang";
  if (stackTrace(r) || r.code > 2) return "crash";
  if (r.code !== 0) return "clean error";
  return "ok";
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    out.push(e.name);
    if (e.isDirectory) {
      for (const n of await listAll(join(dir, e.name))) out.push(`${e.name}/${n}`);
    }
  }
  return out.sort();
}

function jsonlValid(text: string): boolean {
  if (text.length > 0 && !text.endsWith("\n")) return false;
  return text.split("\n").filter((l) => l !== "").every((l) => {
    try {
      JSON.parse(l);
      return true;
    } catch {
      return false;
    }
  });
}

function epochsOf(text: string): number[] {
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => {
    try {
      return JSON.parse(l).epoch as number;
    } catch {
      return NaN;
    }
  });
}

// --- fixtures ---------------------------------------------------------------

const root = await Deno.makeTempDir({ prefix: "reliability_cases_" });
const help = await cli(["compare", "--help"]);
const CKPT = help.stdout.includes("--checkpoint") ? "--checkpoint" : "--model";
const TRAIN = ["train", "--preset", "tiny", "--backend", "pure", "--quiet", "--epoch-size", "1"];
const mounts: string[] = [];

const data = join(root, "data");
await must([
  "make-dataset",
  "--out",
  data,
  "--identities",
  "6",
  "--images-per-identity",
  "4",
  "--val-identities",
  "20",
  "--image-size",
  "32",
  "--pairs-per-fold",
  "2",
  "--quiet",
]);
const train = join(data, "train");
const run1 = join(root, "run1");
const run2 = join(root, "run2");
await must([...TRAIN, "--max-nrof-epochs", "1", "--out", run1]);
// run2 is another model with larger embeddings, so its outputs are larger than run1's.
await must([
  ...TRAIN,
  "--max-nrof-epochs",
  "1",
  "--seed",
  "7",
  "--embedding-size",
  "64",
  "--out",
  run2,
]);
const run3 = join(root, "run3"); // same model as run1, other weights
await must([...TRAIN, "--max-nrof-epochs", "1", "--seed", "7", "--out", run3]);
const small = join(root, "small");
for (const name of (await listAll(train)).filter((n) => !n.includes("/")).slice(0, 2)) {
  await Deno.mkdir(join(small, name), { recursive: true });
  for (const f of await listAll(join(train, name))) {
    await Deno.copyFile(join(train, name, f), join(small, name, f));
  }
}
const png0 = join(train, (await listAll(train)).find((n) => n.endsWith(".png"))!);

async function mkfifo(path: string): Promise<void> {
  await new Deno.Command("mkfifo", { args: [path] }).output();
}

async function tmpfs(name: string, bytes: number): Promise<string> {
  const dir = join(root, name);
  await Deno.mkdir(dir);
  const r = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir],
  }).output();
  if (r.code !== 0) throw new Error(`mount failed: ${new TextDecoder().decode(r.stderr)}`);
  mounts.push(dir);
  return dir;
}

/** Fills a tmpfs until `leave` bytes are free. */
async function fill(dir: string, leave: number): Promise<void> {
  const out = await new Deno.Command("df", { args: ["-B1", "--output=avail", dir] }).output();
  const avail = Number(new TextDecoder().decode(out.stdout).trim().split("\n")[1]);
  const n = Math.max(0, avail - leave);
  await Deno.writeFile(join(dir, "filler"), new Uint8Array(n));
}

function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return crc;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  const typed = new Uint8Array(4 + body.length);
  typed.set(new TextEncoder().encode(type));
  typed.set(body, 4);
  out.set(typed, 4);
  view.setUint32(8 + body.length, (crc32(typed) ^ 0xffffffff) >>> 0);
  return out;
}

/** A valid grayscale PNG of `side x side` black pixels: a decompression bomb of a few hundred KB. */
async function pngBomb(side: number): Promise<Uint8Array> {
  const row = new Uint8Array(side + 1);
  const writer = new CompressionStream("deflate");
  const w = writer.writable.getWriter();
  const pieces: Uint8Array[] = [];
  const reading = (async () => {
    for await (const p of writer.readable) pieces.push(p);
  })();
  const block = new Uint8Array(row.length * 256);
  for (let y = 0; y < side; y += 256) {
    await w.write(block.subarray(0, row.length * Math.min(256, side - y)));
  }
  await w.close();
  await reading;
  const idat = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) (idat.set(p, at), at += p.length);
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, side);
  new DataView(ihdr.buffer).setUint32(4, side);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

// --- the cases ----------------------------------------------------------------

type Case = {
  name: string;
  risky?: boolean;
  full?: boolean;
  run: () => Promise<Row | Omit<Row, "name">>;
};
const cases: Case[] = [];
const add = (name: string, run: Case["run"], flags: { risky?: boolean; full?: boolean } = {}) =>
  cases.push({ name, run, ...flags });

add("train --out into an existing run", async () => {
  const dir = join(root, "rerun");
  await must([...TRAIN, "--max-nrof-epochs", "1", "--out", dir]);
  const before = await Deno.readTextFile(join(dir, "metrics.jsonl"));
  const r = await cli([...TRAIN, "--max-nrof-epochs", "1", "--out", dir]);
  const after = await Deno.readTextFile(join(dir, "metrics.jsonl"));
  const j = judge(r);
  if (j !== "ok") return { outcome: after === before ? j : "data lost", detail: firstLine(r) };
  return { outcome: "data lost", detail: `exit 0; metrics epochs ${epochsOf(after)}` };
});

add("--resume RUN/ckpt-N without --out", async () => {
  const dir = join(root, "nest");
  await must([...TRAIN, "--max-nrof-epochs", "1", "--out", dir]);
  const ckpt = join(dir, (await listAll(dir)).find((n) => /^ckpt-\d+$/.test(n))!);
  const r = await cli([...TRAIN, "--max-nrof-epochs", "2", "--resume", ckpt]);
  const nested = (await listAll(ckpt)).filter((n) => n.includes("ckpt-") || n.includes("metrics"));
  const j = judge(r);
  if (j !== "ok") return { outcome: j, detail: firstLine(r) };
  if (nested.length > 0) {
    return { outcome: "wrong result", detail: `wrote ${nested[0]} inside ckpt` };
  }
  return { outcome: "right result", detail: `run continued in ${dir.slice(root.length + 1)}` };
});

add("torn last line in metrics.jsonl, then resume", async () => {
  const dir = join(root, "torn");
  await must([...TRAIN, "--max-nrof-epochs", "1", "--out", dir]);
  await Deno.writeTextFile(join(dir, "metrics.jsonl"), '{"epoch":2,"lo', { append: true });
  const r = await cli([...TRAIN, "--max-nrof-epochs", "2", "--resume", dir]);
  const text = await Deno.readTextFile(join(dir, "metrics.jsonl"));
  const j = judge(r);
  if (j !== "ok") return { outcome: j, detail: firstLine(r) };
  return jsonlValid(text)
    ? { outcome: "right result", detail: `epochs ${epochsOf(text)}` }
    : { outcome: "data lost", detail: "metrics.jsonl is not valid JSONL (a line glued on)" };
});

add('export --out ""', async () => {
  const r = await cli(["export", CKPT, run1, "--out", ""]);
  const j = judge(r);
  if (j !== "ok") return { outcome: j, detail: firstLine(r) };
  const wrote = await exists("/model.json");
  if (wrote) await Deno.remove("/model.json");
  return { outcome: "wrong result", detail: wrote ? "wrote /model.json" : "exit 0" };
}, { risky: true });

add("embed --out DIR/", async () => {
  const dir = join(root, "embdir");
  await Deno.mkdir(dir);
  const r = await cli(["embed", CKPT, run1, "--data-dir", train, "--out", dir + "/", "--quiet"]);
  const j = judge(r);
  if (j !== "ok") return { outcome: j, detail: firstLine(r) };
  const files = await listAll(dir);
  return files.some((f) => f.startsWith("."))
    ? { outcome: "wrong result", detail: `hidden files ${files.filter((f) => f.startsWith("."))}` }
    : { outcome: "right result", detail: files.join(", ").slice(0, 100) };
});

add("embed --out PREFIX where PREFIX.npy is a symlink", async () => {
  const dir = join(root, "symlink");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "precious.txt"), "keep me");
  await Deno.symlink(join(dir, "precious.txt"), join(dir, "e.npy"));
  const r = await cli([
    "embed",
    CKPT,
    run1,
    "--data-dir",
    train,
    "--out",
    join(dir, "e"),
    "--quiet",
  ]);
  const kept = (await Deno.readTextFile(join(dir, "precious.txt"))) === "keep me";
  const j = judge(r);
  if (!kept) return { outcome: "data lost", detail: "the symlink's target was overwritten" };
  return { outcome: j === "ok" ? "right result" : j, detail: firstLine(r) || "target intact" };
});

add("FIFO named x.png in a data folder (embed --data-dir)", async () => {
  const dir = join(root, "fifo_data");
  await Deno.mkdir(join(dir, "p0"), { recursive: true });
  await Deno.copyFile(png0, join(dir, "p0", "a.png"));
  await Deno.copyFile(png0, join(dir, "p0", "b.png"));
  await mkfifo(join(dir, "p0", "x.png"));
  const r = await cli(["embed", CKPT, run1, "--data-dir", dir, "--out", join(dir, "e")]);
  const j = judge(r);
  return { outcome: j === "ok" ? "right result" : j, detail: firstLine(r) || "FIFO skipped" };
});

add("FIFO named x.png in a data folder (train --data-dir)", async () => {
  const dir = join(root, "fifo_train");
  for (let c = 0; c < 4; c++) {
    await Deno.mkdir(join(dir, `p${c}`), { recursive: true });
    for (let i = 0; i < 3; i++) await Deno.copyFile(png0, join(dir, `p${c}`, `${i}.png`));
  }
  await mkfifo(join(dir, "p0", "x.png"));
  const r = await cli([
    ...TRAIN,
    "--max-nrof-epochs",
    "1",
    "--data-dir",
    dir,
    "--people-per-batch",
    "4",
    "--images-per-person",
    "3",
    "--out",
    join(root, "fifo_run"),
  ]);
  const j = judge(r);
  return { outcome: j === "ok" ? "right result" : j, detail: firstLine(r) || "FIFO skipped" };
});

add("compare FIFO.png x.png", async () => {
  const fifo = join(root, "pipe.png");
  await mkfifo(fifo);
  const r = await cli(["compare", CKPT, run1, fifo, png0]);
  const j = judge(r);
  return { outcome: j === "ok" ? "wrong result" : j, detail: firstLine(r) };
});

add("compare /dev/zero x.png", async () => {
  const r = await cli(["compare", CKPT, run1, "/dev/zero", png0], 10_000);
  const j = judge(r);
  return { outcome: j === "ok" ? "wrong result" : j, detail: firstLine(r) };
}, { risky: true });

let bomb: Uint8Array | undefined;
add("compare on a 20000x20000 PNG (a few hundred KB)", async () => {
  bomb ??= await pngBomb(20000);
  const path = join(root, "bomb.png");
  await Deno.writeFile(path, bomb);
  const r = await cli(["compare", CKPT, run1, path, png0]);
  const j = judge(r);
  return {
    outcome: j === "ok" ? "right result" : j,
    detail: `${(bomb.length / 1024).toFixed(0)} KB, ${(r.ms / 1000).toFixed(1)} s: ${firstLine(r)}`,
  };
}, { risky: true });

add("train on a folder holding the 20000x20000 PNG", async () => {
  bomb ??= await pngBomb(20000);
  const dir = join(root, "bomb_train");
  for (let c = 0; c < 4; c++) {
    await Deno.mkdir(join(dir, `p${c}`), { recursive: true });
    for (let i = 0; i < 3; i++) await Deno.copyFile(png0, join(dir, `p${c}`, `${i}.png`));
  }
  await Deno.writeFile(join(dir, "p0", "bomb.png"), bomb);
  const r = await cli([
    ...TRAIN.filter((a) => a !== "--quiet"),
    "--max-nrof-epochs",
    "1",
    "--data-dir",
    dir,
    "--people-per-batch",
    "4",
    "--images-per-person",
    "3",
    "--out",
    join(root, "bomb_run"),
  ], 120_000);
  const j = judge(r);
  const warned = /bomb\.png: image too large/.test(r.stderr);
  return {
    outcome: j === "ok" ? "right result" : j,
    detail: warned ? "skipped with a warning" : firstLine(r),
  };
}, { risky: true });

add("compare on a valid 8000x8000 JPEG", async () => {
  const side = 8000;
  const rgba = new Uint8Array(side * side * 4);
  for (let i = 0; i < rgba.length; i += 4) rgba[i] = rgba[i + 1] = rgba[i + 2] = (i >> 10) & 255;
  const path = join(root, "big.jpg");
  await Deno.writeFile(path, jpeg.encode({ width: side, height: side, data: rgba }, 80).data);
  const r = await cli(["compare", CKPT, run1, path, png0], 120_000);
  const j = judge(r);
  return {
    outcome: j === "ok" ? "right result" : j,
    detail: `${(r.ms / 1000).toFixed(1)} s: ${firstLine(r) || "decoded and compared"}`,
  };
});

add("checkpoint with a NaN written into its ema tensors (compare)", async () => {
  const dir = join(root, "nan");
  await Deno.mkdir(dir);
  const ckpt = join(run1, (await listAll(run1)).find((n) => /^ckpt-\d+$/.test(n))!);
  const target = join(dir, "ckpt-1");
  await Deno.mkdir(target);
  for (const f of ["checkpoint.json", "model.safetensors"]) {
    await Deno.copyFile(join(ckpt, f), join(target, f));
  }
  const bytes = await Deno.readFile(join(target, "model.safetensors"));
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const name = Object.keys(header).find((k) => k.startsWith("ema/"))!;
  new DataView(bytes.buffer).setFloat32(8 + n + header[name].data_offsets[0], NaN, true);
  await Deno.writeFile(join(target, "model.safetensors"), bytes);
  const r = await cli(["compare", CKPT, target, png0, png0, "--json"]);
  const j = judge(r);
  if (j !== "ok") return { outcome: j, detail: firstLine(r) };
  return { outcome: "wrong result", detail: `exit 0: ${r.stdout.trim().slice(0, 60)}` };
});

add("classify CLASSIFY with another checkpoint's classifier", async () => {
  const file = join(root, "cls.json");
  const common = ["--data-dir", train, "--classifier", file, "--quiet", "--max-iterations", "5"];
  await must(["classify", "TRAIN", CKPT, run1, ...common]);
  const r = await cli(["classify", "CLASSIFY", CKPT, run3, ...common]);
  const j = judge(r);
  if (j !== "ok") return { outcome: j, detail: firstLine(r) };
  return /warning/.test(r.stderr)
    ? { outcome: "right result", detail: firstLine(r) }
    : { outcome: "wrong result", detail: "exit 0 without a warning" };
});

add("validate --data-dir with one image per identity", async () => {
  const dir = join(root, "lone");
  for (let c = 0; c < 3; c++) {
    await Deno.mkdir(join(dir, `p${c}`), { recursive: true });
    await Deno.copyFile(png0, join(dir, `p${c}`, "a.png"));
  }
  const r = await cli(["validate", CKPT, run1, "--data-dir", dir, "--quiet"]);
  const j = judge(r);
  if (j !== "ok") return { outcome: j, detail: firstLine(r) };
  return /0\.00000/.test(r.stdout)
    ? { outcome: "wrong result", detail: r.stdout.trim().split("\n")[0]! }
    : { outcome: "right result", detail: r.stdout.trim().split("\n")[0]!.slice(0, 100) };
});

add("pairs.txt naming ../secret outside --lfw-dir", async () => {
  const dir = join(root, "escape");
  const lfw = join(dir, "lfw");
  for (const name of ["A", "B"]) {
    await Deno.mkdir(join(lfw, name), { recursive: true });
    for (let i = 1; i <= 2; i++) await Deno.copyFile(png0, join(lfw, name, `${name}_000${i}.png`));
  }
  await Deno.mkdir(join(dir, "secret"));
  await Deno.copyFile(png0, join(dir, "secret", "secret_0001.png"));
  // lfw/../secret/../secret_0001.png, where a join without a check lands.
  await Deno.copyFile(png0, join(dir, "secret_0001.png"));
  await Deno.writeTextFile(
    join(dir, "pairs.txt"),
    "2\t1\nA\t1\t2\n../secret\t1\tB\t1\nB\t1\t2\nA\t1\tB\t2\n",
  );
  const r = await cli([
    "validate",
    CKPT,
    run1,
    "--lfw-dir",
    lfw,
    "--lfw-pairs",
    join(dir, "pairs.txt"),
    "--quiet",
  ]);
  const j = judge(r);
  return { outcome: j === "ok" ? "wrong result" : j, detail: firstLine(r) || "read ../secret" };
});

// Full disk: the previous output must survive a failed rewrite.
add("classify TRAIN on a full disk over an existing classifier", async () => {
  const disk = await tmpfs("disk_cls", 1 << 20);
  const file = join(disk, "cls.json");
  const common = ["--classifier", file, "--quiet", "--max-iterations", "5"];
  await must(["classify", "TRAIN", CKPT, run1, "--data-dir", small, ...common]);
  await fill(disk, 0);
  const r = await cli(["classify", "TRAIN", CKPT, run2, "--data-dir", train, ...common]);
  let intact = true;
  try {
    JSON.parse(await Deno.readTextFile(file));
  } catch {
    intact = false;
  }
  const j = judge(r);
  if (!intact) {
    return {
      outcome: "data lost",
      detail: `classifier is ${(await Deno.stat(file)).size} bytes of invalid JSON`,
    };
  }
  return { outcome: j === "ok" ? "wrong result" : j, detail: firstLine(r) };
}, { full: true });

add("embed on a full disk over existing embeddings", async () => {
  const disk = await tmpfs("disk_emb", 1 << 20);
  const prefix = join(disk, "e");
  await must(["embed", CKPT, run1, "--data-dir", small, "--out", prefix, "--quiet"]);
  const old = await Deno.readFile(prefix + ".npy");
  await fill(disk, 0);
  const force = CKPT === "--checkpoint" ? ["--force"] : [];
  const r = await cli(["embed", CKPT, run2, "--data-dir", train, "--out", prefix, ...force]);
  const now = await Deno.readFile(prefix + ".npy");
  const j = judge(r);
  const same = now.length === old.length && now.every((b, i) => b === old[i]);
  if (!same) {
    return { outcome: "data lost", detail: `.npy is now ${now.length} of ${old.length} bytes` };
  }
  return { outcome: j === "ok" ? "wrong result" : j, detail: firstLine(r) };
}, { full: true });

add("export on a full disk over an existing export", async () => {
  const disk = await tmpfs("disk_exp", 4 << 20);
  const out = join(disk, "web");
  await must(["export", CKPT, run1, "--out", out]);
  await fill(disk, 0);
  const force = CKPT === "--checkpoint" ? ["--force"] : [];
  const r = await cli(["export", CKPT, run2, "--out", out, ...force]);
  const j = judge(r);
  // The export is consistent when model.json's manifest sizes match the shards on disk.
  let consistent = true;
  try {
    const model = JSON.parse(await Deno.readTextFile(join(out, "model.json")));
    for (const group of model.weightsManifest) {
      let expected = 0;
      for (const w of group.weights) {
        expected += 4 * w.shape.reduce((a: number, b: number) => a * b, 1);
      }
      let actual = 0;
      for (const p of group.paths) actual += (await Deno.stat(join(out, p))).size;
      if (expected !== actual) consistent = false;
    }
  } catch {
    consistent = false;
  }
  if (!consistent) return { outcome: "data lost", detail: "model.json and shards disagree" };
  return { outcome: j === "ok" ? "wrong result" : j, detail: firstLine(r) };
}, { full: true });

// --- run ------------------------------------------------------------------------

const rows: Row[] = [];
try {
  for (const c of cases) {
    if (args.values.only !== undefined && !c.name.includes(args.values.only as string)) continue;
    if (c.risky && args.values["skip-risky"]) continue;
    if (c.full && !args.values.tmpfs) continue;
    let row: Row;
    try {
      const r = await c.run();
      row = { name: c.name, ...r };
    } catch (error) {
      row = {
        name: c.name,
        outcome: "crash",
        detail: `harness: ${(error as Error).message.slice(0, 100)}`,
      };
    }
    rows.push(row);
    console.error(`${row.name}: ${row.outcome} (${row.detail})`);
  }
} finally {
  for (const m of mounts) await new Deno.Command("umount", { args: [m] }).output();
  await Deno.remove(root, { recursive: true });
}

console.log("| case | outcome | detail |");
console.log("|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.name} | ${r.outcome} | ${r.detail.replaceAll("|", "/")} |`);
}
const count = (o: Outcome) => rows.filter((r) => r.outcome === o).length;
console.log(
  `\n${rows.length} attempts: ${count("clean error")} clean errors, ${
    count("right result")
  } right results, ` +
    `${count("hang")} hangs, ${count("data lost")} data lost, ${
      count("wrong result")
    } wrong results, ` +
    `${count("crash")} crashes`,
);
