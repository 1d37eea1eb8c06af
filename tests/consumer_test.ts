// A project of its own, with an empty deno.json, uses this package: importing
// mod.ts by path and by URL (the tree served on 127.0.0.1) type-checks and
// runs, and `deno install -g` of cli.ts from another folder gives a working
// command. No import map of ours is involved: every third-party import site
// names its full npm: specifier (through _deps/).
import assert from "node:assert/strict";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

const CONSUMER = (base: string) => `
import {
  createPureBackend,
  createRng,
  evaluate,
  initModelState,
  modelSpec,
  type TfjsBackend,
} from "${base}/mod.ts";
import { selectTriplets } from "${base}/pure.ts";
import { decodeImage } from "${base}/io/mod.ts";

const spec = modelSpec("nano", { imageSize: 16, embeddingSize: 4 });
const training = {
  loss: { kind: "triplet", alpha: 0.2 },
  optimizer: { name: "SGD" },
  weightDecay: 0,
  movingAverageDecay: null,
} as const;
const model = await createPureBackend().createModel(spec, initModelState(spec, training, createRng(1)), training);
const e = await model.embed({ n: 2, height: 16, width: 16, channels: 3, data: new Float32Array(2 * 16 * 16 * 3).fill(0.25) }, { training: false });
const report = evaluate(e, e, [true, true], { nrofFolds: 2 });
const selection = selectTriplets(e, [2], { alpha: 0.2, rng: createRng(2) });
const backend: TfjsBackend | null = null;
console.log(JSON.stringify({ cols: e.cols, accuracy: report.accuracyMean, pairs: selection.pairs, backend, decode: typeof decodeImage }));
`;

async function consumerProject(base: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "facenet-consumer-" });
  await Deno.writeTextFile(join(dir, "deno.json"), "{}\n");
  await Deno.writeTextFile(join(dir, "main.ts"), CONSUMER(base));
  return dir;
}

/** Runs `deno <args>` in `dir`, where no deno.json of this package is found. */
async function inDir(dir: string, args: string[]) {
  const o = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: o.code,
    stdout: new TextDecoder().decode(o.stdout),
    stderr: new TextDecoder().decode(o.stderr),
  };
}

const EXPECTED = { cols: 4, accuracy: 1, pairs: 1, backend: null, decode: "function" };

Deno.test("a consumer with an empty deno.json imports mod.ts by path: deno check passes and it runs", async () => {
  const dir = await consumerProject(ROOT);
  try {
    const checked = await inDir(dir, ["check", "main.ts"]);
    assert.equal(checked.code, 0, checked.stderr);
    const ran = await inDir(dir, ["run", "-A", "main.ts"]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(JSON.parse(ran.stdout.trim().split("\n").at(-1)!), EXPECTED);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a consumer with an empty deno.json imports mod.ts by URL from 127.0.0.1: deno check passes and it runs", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const body = await Deno.readFile(join(ROOT, path));
      const type = path.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const host = `127.0.0.1:${server.addr.port}`;
  const dir = await consumerProject(`http://${host}`);
  try {
    const checked = await inDir(dir, ["check", `--allow-import=${host}`, "main.ts"]);
    assert.equal(checked.code, 0, checked.stderr);
    const ran = await inDir(dir, ["run", "-A", "main.ts"]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(JSON.parse(ran.stdout.trim().split("\n").at(-1)!), EXPECTED);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno install -g of cli.ts from another folder gives a command that runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet-install-" });
  try {
    await Deno.writeTextFile(join(dir, "deno.json"), "{}\n");
    const root = join(dir, "root");
    const installed = await inDir(dir, [
      "install",
      "-g",
      "-A",
      "--root",
      root,
      "-n",
      "facenet",
      join(ROOT, "cli.ts"),
    ]);
    assert.equal(installed.code, 0, installed.stderr);
    const bin = join(root, "bin", "facenet");
    const help = await new Deno.Command(bin, {
      args: ["--help"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(help.stdout);
    assert.equal(help.code, 0, new TextDecoder().decode(help.stderr));
    assert.match(out, /usage: .*<command>/);
    // A command that loads the heavy graph (tfjs, wasm-simd, image codecs) too.
    const made = await new Deno.Command(bin, {
      args: ["make-dataset", "--help"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
