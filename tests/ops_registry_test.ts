import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { ModelSpec, NodeSpec } from "../core/model_spec.ts";
import type { Kernels } from "../core/kernels.ts";
import type { NamedTensors } from "../core/types.ts";
import { type AnyOpDef, opRegistry, OPS } from "../core/ops/mod.ts";
import { backward, forward } from "../core/executor.ts";
import { inferShapes } from "../core/shapes.ts";
import { initParameters } from "../core/init.ts";
import { createPureKernels } from "../core/pure/kernels.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { createWasmSimdKernels } from "../backends/wasm-simd/kernels.ts";
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";
import { TFJS_OPS } from "../backends/tfjs/ops.ts";
import { ONNX_OPS } from "../backends/onnx/export.ts";
import { compileModel } from "../backends/tfjs/compile.ts";
import { buildGraphModelArtifacts, loadExportedModel } from "../backends/tfjs/export.ts";
import { writeGraphModelFolder } from "../cli/export.ts";
import { assertClose } from "./conformance.ts";
import { TOY_OPS, TOY_TFJS_OPS } from "./fixtures/toy_square_op.ts";

tf.env().set("PROD", true);
await tf.setBackend("cpu");

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

Deno.test("every op of the registry has a tfjs and an ONNX adapter and its kernels on every executor backend", async () => {
  const rt = await createWasmSimdRuntime({ threads: 1 });
  try {
    const backends: [string, Kernels<unknown>][] = [
      ["pure", createPureKernels() as Kernels<unknown>],
      ["wasm-simd", createWasmSimdKernels(rt) as Kernels<unknown>],
    ];
    const names = new Set<string>();
    for (const op of OPS) {
      assert.ok(!names.has(op.op), `op "${op.op}" is listed twice`);
      names.add(op.op);
      assert.ok(op.op in TFJS_OPS, `op "${op.op}" has no tfjs adapter (backends/tfjs/ops.ts)`);
      assert.ok(op.op in ONNX_OPS, `op "${op.op}" has no ONNX adapter (backends/onnx/export.ts)`);
      for (const [backend, k] of backends) {
        for (const kernel of op.kernels) {
          assert.equal(
            typeof (k as unknown as Record<string, unknown>)[kernel],
            "function",
            `op "${op.op}" needs kernel "${kernel}", which ${backend} lacks`,
          );
        }
      }
    }
    for (const name of [...Object.keys(TFJS_OPS), ...Object.keys(ONNX_OPS)]) {
      assert.ok(names.has(name), `adapter "${name}" has no op in the registry`);
    }
  } finally {
    rt.dispose();
  }
});

Deno.test("a tfjs adapter table that lacks a registered op is refused by name", () => {
  const { conv2d: _, ...withoutConv } = TFJS_OPS;
  const spec: ModelSpec = {
    name: "c",
    nodes: [
      { op: "input", name: "x", shape: [3, 3, 1] },
      { op: "conv2d", name: "conv", input: "x", filters: 2, kernel: 3 },
      { op: "flatten", name: "f", input: "conv" },
      { op: "l2Normalize", name: "e", input: "f" },
    ],
    prelogits: "f",
    output: "e",
  };
  assert.throws(() => compileModel(spec, { adapters: withoutConv }), /"conv2d".*no tfjs adapter/);
  assert.throws(
    () =>
      buildGraphModelArtifacts(spec, {
        params: {},
        stats: {},
        optimizer: { name: "SGD", slots: {}, iterations: 0 },
        ema: null,
        step: 0,
      }, { adapters: withoutConv }),
    /"conv2d".*no tfjs adapter/,
  );
});

/** A graph that uses every built-in op at least once. */
const EVERY_OP: ModelSpec = {
  name: "every-op",
  nodes: [
    { op: "input", name: "input", shape: [7, 6, 2] },
    { op: "conv2d", name: "conv", input: "input", filters: 3, kernel: 3, stride: 2 },
    { op: "batchNorm", name: "bn", input: "conv" },
    { op: "relu", name: "relu", input: "bn" },
    { op: "depthwiseConv2d", name: "dw", input: "relu", kernel: 3, bias: true },
    { op: "prelu", name: "prelu", input: "dw" },
    { op: "conv2d", name: "up", input: "prelu", filters: 3, kernel: 1, bias: true },
    { op: "add", name: "res", inputs: ["relu", "up"], scale: 0.3 },
    { op: "maxPool", name: "mp", input: "res", size: 3, stride: 2, padding: "same" },
    { op: "avgPool", name: "ap", input: "res", size: 3, stride: 2, padding: "same" },
    { op: "concat", name: "cat", inputs: ["mp", "ap"] },
    { op: "flatten", name: "flat", input: "cat" },
    { op: "globalAvgPool", name: "gap", input: "cat" },
    { op: "concat", name: "both", inputs: ["flat", "gap"] },
    { op: "dropout", name: "drop", input: "both", keepProbability: 0.7 },
    { op: "dense", name: "fc", input: "drop", units: 4 },
    { op: "softmax", name: "prob", input: "fc" },
    { op: "dense", name: "fc2", input: "prob", units: 4 },
    { op: "l2Normalize", name: "emb", input: "fc2" },
  ],
  prelogits: "fc2",
  output: "emb",
};

Deno.test("each op's forward and backward call only the kernels it lists", () => {
  const used = new Set(EVERY_OP.nodes.map((n) => n.op));
  for (const op of OPS) assert.ok(used.has(op.op), `the test graph lacks op "${op.op}"`);
  const pure = createPureKernels();
  const calls: string[] = [];
  const spied = OPS.map((op): AnyOpDef => {
    const allowed = new Set<string>(op.kernels);
    const spy = new Proxy(pure, {
      get(target, key) {
        const v = Reflect.get(target, key);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          const name = String(key);
          // Handle bookkeeping is the executor's business, not a kernel of the op.
          if (!["shape", "dispose"].includes(name)) {
            assert.ok(allowed.has(name), `op "${op.op}" calls kernel "${name}" it does not list`);
          }
          calls.push(`${op.op}.${name}`);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return {
      ...op,
      forward: (node: NodeSpec, c: { kernels: unknown }) =>
        op.forward(node, { ...c, kernels: spy } as never),
      backward: (node: NodeSpec, c: { kernels: unknown }) =>
        op.backward(node, { ...c, kernels: spy } as never),
    } as AnyOpDef;
  });
  const ops = opRegistry(spied);
  const init = initParameters(EVERY_OP, createRng(3));
  const [u] = uniforms(createRng(4), 3 * 7 * 6 * 2);
  const images = { shape: [3, 7, 6, 2], data: Float32Array.from(u, (v) => 2 * v - 1) };
  for (const training of [false, true]) {
    const r = forward(pure, EVERY_OP, init, images, {
      training,
      rng: createRng(5),
      outputs: ["fc2"],
      forBackward: training,
      ops,
    });
    if (training) {
      backward(r.tape!, {
        fc2: { shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i % 3 - 1) },
      });
    }
  }
  for (const op of OPS) {
    if (op.op === "input") continue;
    assert.ok(calls.some((c) => c.startsWith(`${op.op}.`)), `op "${op.op}" never ran`);
  }
});

Deno.test("no switch over node ops outside core/ops/ and the adapter tables", async () => {
  const offenders: string[] = [];
  async function walk(dir: string) {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) {
        if (e.name !== "assembly") await walk(path);
      } else if (e.name.endsWith(".ts")) {
        const rel = relative(ROOT, path);
        if (rel.startsWith("core/ops/")) continue;
        const text = await Deno.readTextFile(path);
        if (/switch \(node\.op\)|case "conv2d"/.test(text)) offenders.push(rel);
      }
    }
  }
  await walk(join(ROOT, "core"));
  await walk(join(ROOT, "backends"));
  assert.deepEqual(offenders, []);
});

Deno.test("a graph of every op exports to a tfjs graph model that embeds as the specification", async () => {
  const init = initParameters(EVERY_OP, createRng(6));
  // Non-trivial moving statistics, so inference mode is not the identity.
  const stats: NamedTensors = {};
  for (const [name, t] of Object.entries(init.stats)) {
    const variance = name.endsWith("moving_variance");
    stats[name] = { shape: t.shape, data: t.data.map((_, i) => variance ? 0.5 + i / 7 : i / 5) };
  }
  const [u] = uniforms(createRng(7), 3 * 7 * 6 * 2);
  const x = Float32Array.from(u, (v) => 2 * v - 1);
  const expected = forward(
    createPureKernels(),
    EVERY_OP,
    { params: init.params, stats },
    { shape: [3, 7, 6, 2], data: x },
    { training: false },
  ).outputs["emb"]!;
  const dir = await Deno.makeTempDir();
  try {
    const path = await writeGraphModelFolder(
      dir,
      buildGraphModelArtifacts(EVERY_OP, {
        params: init.params,
        stats,
        optimizer: { name: "SGD", slots: {}, iterations: 0 },
        ema: null,
        step: 0,
      }),
    );
    const model = await loadExportedModel(new URL(`file://${path}`));
    const e = await model.embed({ n: 3, height: 7, width: 6, channels: 2, data: x });
    model.dispose();
    assertClose(e.data, expected.data, { abs: 1e-5, rel: 1e-4 }, "exported embeddings");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- The toy op: one file, one registry line, one adapter per backend. ---

const TOY: ModelSpec = {
  name: "toy",
  nodes: [
    { op: "input", name: "input", shape: [2, 3, 2] },
    { op: "square" as never, name: "sq", input: "input" } as unknown as NodeSpec,
    { op: "flatten", name: "flat", input: "sq" },
    { op: "dense", name: "fc", input: "flat", units: 3 },
    { op: "l2Normalize", name: "emb", input: "fc" },
  ],
  prelogits: "fc",
  output: "emb",
};

Deno.test("without its registry line the toy op is an unknown op", () => {
  assert.throws(() => inferShapes(TOY), /Node "sq" has unknown op "square"/);
  assert.deepEqual(inferShapes(TOY, TOY_OPS).nodes.get("sq"), [2, 3, 2]);
});

Deno.test("the toy op runs forward and backward on the pure, wasm-simd and tfjs backends, and exports", async () => {
  const { params } = initParameters(TOY, createRng(8), TOY_OPS);
  const [u] = uniforms(createRng(9), 3 * 2 * 3 * 2);
  const x = Float32Array.from(u, (v) => 2 * v - 1);
  const images = { shape: [3, 2, 3, 2], data: x };
  const dy = { shape: [3, 3], data: Float32Array.from({ length: 9 }, (_, i) => (i % 4) - 1.5) };

  // Expected by hand: fc = (x^2 flattened) @ W + b.
  const w = params["fc/weights"]!.data;
  const expectedFc = new Float32Array(9);
  for (let n = 0; n < 3; n++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let d = 0; d < 12; d++) s += x[n * 12 + d]! ** 2 * w[d * 3 + j]!;
      expectedFc[n * 3 + j] = s;
    }
  }
  const tol = { abs: 1e-5, rel: 1e-5 };

  const run = <T>(k: Kernels<T>) => {
    const r = forward(k, TOY, { params, stats: {} }, images, {
      training: true,
      outputs: ["fc"],
      forBackward: true,
      ops: TOY_OPS,
    });
    const g = backward(r.tape!, { fc: dy }, { inputGradient: true });
    return { fc: r.outputs["fc"]!.data, dw: g.params["fc/weights"]!.data, dx: g.input!.data };
  };
  const pure = run(createPureKernels());
  assertClose(pure.fc, expectedFc, tol, "pure fc");
  // d/dx of sum(dy * fc) = 2 x * (dy @ W^T).
  const expectedDx = new Float32Array(36);
  for (let n = 0; n < 3; n++) {
    for (let d = 0; d < 12; d++) {
      let s = 0;
      for (let j = 0; j < 3; j++) s += dy.data[n * 3 + j]! * w[d * 3 + j]!;
      expectedDx[n * 12 + d] = 2 * x[n * 12 + d]! * s;
    }
  }
  assertClose(pure.dx, expectedDx, tol, "pure dx");

  const rt = await createWasmSimdRuntime({ threads: 1 });
  try {
    const wasm = run(createWasmSimdKernels(rt));
    assertClose(wasm.fc, pure.fc, tol, "wasm-simd fc");
    assertClose(wasm.dw, pure.dw, tol, "wasm-simd dW");
    assertClose(wasm.dx, pure.dx, tol, "wasm-simd dx");
  } finally {
    rt.dispose();
  }

  const compiled = compileModel(TOY, { ops: TOY_OPS, adapters: TOY_TFJS_OPS });
  const tfParams = Object.fromEntries(
    Object.entries(params).map(([k, t]) => [k, tf.tensor(t.data, [...t.shape])]),
  );
  const xT = tf.tensor4d(x, [3, 2, 3, 2]);
  const dyT = tf.tensor2d(dy.data, [3, 3]);
  const [fc, dw, dx] = tf.tidy(() => {
    const f = (xs: tf.Tensor, ws: tf.Tensor) =>
      compiled.forward({
        x: xs,
        params: { ...tfParams, "fc/weights": ws },
        stats: {},
        training: true,
      }).prelogits;
    const grads = tf.grads((xs: tf.Tensor, ws: tf.Tensor) => tf.sum(tf.mul(f(xs, ws), dyT)))([
      xT,
      tfParams["fc/weights"]!,
    ]);
    return [f(xT, tfParams["fc/weights"]!), grads[1]!, grads[0]!];
  });
  assertClose(fc!.dataSync(), pure.fc, tol, "tfjs fc");
  assertClose(dw!.dataSync(), pure.dw, tol, "tfjs dW");
  assertClose(dx!.dataSync(), pure.dx, tol, "tfjs dx");
  tf.dispose([fc!, dw!, dx!, xT, dyT, ...Object.values(tfParams)]);

  const state = {
    params: params as NamedTensors,
    stats: {},
    optimizer: { name: "SGD" as const, slots: {}, iterations: 0 },
    ema: null,
    step: 0,
  };
  const dir = await Deno.makeTempDir();
  try {
    const exported = buildGraphModelArtifacts(TOY, state, {
      ops: TOY_OPS,
      adapters: TOY_TFJS_OPS,
    });
    const path = await writeGraphModelFolder(dir, exported);
    const model = await loadExportedModel(new URL(`file://${path}`));
    const e = await model.embed({ n: 3, height: 2, width: 3, channels: 2, data: x });
    model.dispose();
    const inference = forward(createPureKernels(), TOY, { params, stats: {} }, images, {
      training: false,
      ops: TOY_OPS,
    });
    assertClose(e.data, inference.outputs["emb"]!.data, tol, "exported embeddings");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
