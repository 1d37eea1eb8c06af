/**
 * The reverse-mode executor on the pure kernels: whole-graph gradients of
 * random small graphs equal central finite differences (float64 storage),
 * every handle is released exactly once, and the graph semantics (batch norm
 * modes, dropout, concat/add shapes) hold.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { backward, forward } from "../core/executor.ts";
import { inferShapes } from "../core/shapes.ts";
import { initParameters } from "../core/init.ts";
import { modelSpec } from "../core/models/registry.ts";
import { createPureKernels, type PureTensor } from "../core/pure/kernels.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import type { Kernels } from "../core/kernels.ts";
import type { ModelSpec, NodeSpec, Padding } from "../core/model_spec.ts";
import type { NamedTensors, Tensor } from "../core/types.ts";

/** Float64 kernels whose download keeps float64 (a test-only view for finite differences). */
function float64Kernels(): Kernels<PureTensor> {
  const k = createPureKernels({ precision: "float64" });
  return { ...k, download: (x) => ({ shape: [...x.shape], data: x.data as Float32Array }) };
}

/** Wraps kernels to track every handle they hand out; `live` holds the undisposed ones. */
function trackingKernels(): {
  kernels: Kernels<PureTensor>;
  live: Set<PureTensor>;
  peak: () => number;
} {
  const base = createPureKernels();
  const live = new Set<PureTensor>();
  let peak = 0;
  const track = (v: unknown): unknown => {
    if (Array.isArray(v)) v.forEach(track);
    else if (v !== null && typeof v === "object") {
      if ("shape" in v && "data" in v) live.add(v as PureTensor);
      else Object.values(v).forEach(track);
    }
    peak = Math.max(peak, live.size);
    return v;
  };
  const wrapped: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(base)) {
    if (typeof f !== "function") continue;
    wrapped[name] = (...args: unknown[]) => {
      if (name === "dispose") {
        const h = args[0] as PureTensor;
        assert.ok(live.delete(h), "a handle was disposed twice or was never created");
        return;
      }
      const r = (f as (...a: unknown[]) => unknown)(...args);
      return ["download", "shape"].includes(name) ? r : track(r);
    };
  }
  return { kernels: { ...base, ...wrapped } as Kernels<PureTensor>, live, peak: () => peak };
}

function randomData(size: number, seed: number, scale = 1): Float64Array {
  const [u] = uniforms(createRng(seed), size);
  return Float64Array.from(u, (v) => (2 * v - 1) * scale);
}

/** A float64 tensor passed through the float32-typed contract (test-only). */
function t64(shape: number[], data: Float64Array): Tensor {
  return { shape, data: data as unknown as Float32Array };
}

const blockArb = fc.oneof(
  fc.record({
    kind: fc.constant("conv" as const),
    filters: fc.integer({ min: 1, max: 3 }),
    kernel: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 2 }),
    padding: fc.constantFrom<Padding>("same", "valid"),
    bias: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("bn" as const), scale: fc.boolean() }),
  fc.record({ kind: fc.constant("relu" as const) }),
  fc.record({
    kind: fc.constantFrom("maxPool" as const, "avgPool" as const),
    size: fc.integer({ min: 1, max: 2 }),
    stride: fc.integer({ min: 1, max: 2 }),
    padding: fc.constantFrom<Padding>("same", "valid"),
  }),
  fc.record({ kind: fc.constant("branch" as const), filters: fc.integer({ min: 1, max: 2 }) }),
  fc.record({
    kind: fc.constant("residual" as const),
    scale: fc.double({ min: -1, max: 1, noNaN: true }),
  }),
  fc.record({ kind: fc.constant("fanout" as const) }),
);

const graphArb = fc.record({
  n: fc.integer({ min: 2, max: 3 }),
  h: fc.integer({ min: 2, max: 5 }),
  w: fc.integer({ min: 2, max: 5 }),
  c: fc.integer({ min: 1, max: 2 }),
  blocks: fc.array(blockArb, { minLength: 1, maxLength: 4 }),
  head: fc.constantFrom("gap", "flatten"),
  headBn: fc.boolean(),
  units: fc.integer({ min: 1, max: 3 }),
  keep: fc.constantFrom(1, 0.5),
  normalize: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1_000_000 }),
});

type GraphCase = typeof graphArb extends fc.Arbitrary<infer G> ? G : never;

/** Builds a valid spec from a generated case, adjusting windows that would not fit. */
function buildSpec(g: GraphCase): ModelSpec {
  const nodes: NodeSpec[] = [{ op: "input", name: "x", shape: [g.h, g.w, g.c] }];
  let net = "x";
  let shape: readonly number[] = [g.h, g.w, g.c];
  // inferShapes needs flat prelogits/output; use a probe that skips that check.
  const probe = (list: NodeSpec[]) => {
    const s = new Map<string, readonly number[]>();
    const spec = {
      name: "probe",
      nodes: [...list, { op: "flatten", name: "__f", input: list[list.length - 1]!.name }],
      prelogits: "__f",
      output: "__f",
    } as ModelSpec;
    for (const [k, v] of inferShapes(spec).nodes) s.set(k, v);
    return s;
  };
  const add = (node: NodeSpec): string => {
    nodes.push(node);
    shape = probe(nodes).get(node.name)!;
    return node.name;
  };
  g.blocks.forEach((b, i) => {
    const id = `b${i}`;
    const [h, w] = shape as [number, number, number];
    switch (b.kind) {
      case "conv": {
        const padding = b.kernel > Math.min(h, w) ? "same" : b.padding;
        net = add({
          op: "conv2d",
          name: id,
          input: net,
          filters: b.filters,
          kernel: b.kernel,
          stride: b.stride,
          padding,
          bias: b.bias,
        });
        break;
      }
      case "bn":
        net = add({ op: "batchNorm", name: id, input: net, scale: b.scale });
        break;
      case "relu":
        net = add({ op: "relu", name: id, input: net });
        break;
      case "maxPool":
      case "avgPool": {
        const padding = b.size > Math.min(h, w) ? "same" : b.padding;
        net = add({ op: b.kind, name: id, input: net, size: b.size, stride: b.stride, padding });
        break;
      }
      case "branch": {
        const src = net;
        const a = add({ op: "conv2d", name: `${id}/a`, input: src, filters: b.filters, kernel: 1 });
        const c = add({ op: "conv2d", name: `${id}/c`, input: src, filters: 1, kernel: 3 });
        net = add({ op: "concat", name: id, inputs: [a, c, src] });
        break;
      }
      case "residual": {
        const src = net;
        const channels = shape[2]!;
        const up = add({
          op: "conv2d",
          name: `${id}/up`,
          input: src,
          filters: channels,
          kernel: 1,
          bias: true,
        });
        net = add({ op: "add", name: id, inputs: [src, up], scale: b.scale });
        break;
      }
      case "fanout": {
        const src = net;
        const r = add({ op: "relu", name: `${id}/r`, input: src });
        net = add({ op: "add", name: id, inputs: [r, src], scale: 0.5 });
        break;
      }
    }
  });
  net = add(
    g.head === "gap"
      ? { op: "globalAvgPool", name: "head", input: net }
      : { op: "flatten", name: "head", input: net },
  );
  if (g.headBn) net = add({ op: "batchNorm", name: "head/bn", input: net, scale: true });
  net = add({ op: "dropout", name: "drop", input: net, keepProbability: g.keep });
  const pre = add({ op: "dense", name: "fc", input: net, units: g.units });
  let out = pre;
  if (g.normalize) out = add({ op: "l2Normalize", name: "emb", input: pre });
  return { name: "random", nodes, prelogits: pre, output: out };
}

Deno.test("backward() of random small graphs equals central finite differences of the whole graph", () => {
  const k = float64Kernels();
  fc.assert(
    fc.property(graphArb, (g) => {
      const spec = buildSpec(g);
      const init = initParameters(spec, createRng(g.seed));
      // Perturb beta/biases/gamma away from their constant init; keep float64 values.
      const params: Record<string, Tensor> = {};
      let s = g.seed + 10;
      for (const [name, p] of Object.entries(init.params)) {
        const base = Float64Array.from(p.data);
        const noise = randomData(base.length, s++, 0.3);
        params[name] = t64([...p.shape], base.map((v, i) => v + noise[i]!));
      }
      const images = t64([g.n, g.h, g.w, g.c], randomData(g.n * g.h * g.w * g.c, g.seed + 1));
      const outShape = [g.n, inferShapes(spec).nodes.get(spec.output)![0]!];
      const r = t64(outShape, randomData(outShape[0]! * outShape[1]!, g.seed + 2));
      const rng = createRng(g.seed + 3);
      const lossOf = (ps: NamedTensors, x: Tensor): number => {
        const f = forward(k, spec, { params: ps, stats: init.stats }, x, {
          training: true,
          rng,
        });
        const y = f.outputs[spec.output]!.data;
        let sum = 0;
        for (let i = 0; i < y.length; i++) sum += y[i]! * r.data[i]!;
        return sum;
      };
      const f = forward(k, spec, { params, stats: init.stats }, images, {
        training: true,
        rng,
        forBackward: true,
      });
      const grads = backward(f.tape!, { [spec.output]: r }, { inputGradient: true });
      const h = 1e-6;
      const check = (analytic: number, plus: number, minus: number, what: string) => {
        const fd = (plus - minus) / (2 * h);
        assert.ok(
          Math.abs(fd - analytic) <= 1e-5 * (1 + Math.abs(fd)),
          `${what}: finite difference ${fd}, analytic ${analytic}`,
        );
      };
      for (const [name, p] of Object.entries(params)) {
        const g2 = grads.params[name]!;
        for (let i = 0; i < p.data.length; i++) {
          const at = (delta: number) => {
            const d = Float64Array.from(p.data);
            d[i]! += delta;
            return lossOf({ ...params, [name]: t64([...p.shape], d) }, images);
          };
          check(g2.data[i]!, at(h), at(-h), `${name}[${i}]`);
        }
      }
      for (let i = 0; i < images.data.length; i++) {
        const at = (delta: number) => {
          const d = Float64Array.from(images.data);
          d[i]! += delta;
          return lossOf(params, t64([...images.shape], d));
        };
        check(grads.input!.data[i]!, at(h), at(-h), `input[${i}]`);
      }
    }),
    { numRuns: 12 },
  );
});

Deno.test("forward() and backward() release every handle they create exactly once", () => {
  fc.assert(
    fc.property(graphArb, (g) => {
      const spec = buildSpec(g);
      const { params, stats } = initParameters(spec, createRng(g.seed));
      const images = {
        shape: [g.n, g.h, g.w, g.c],
        data: Float32Array.from(randomData(g.n * g.h * g.w * g.c, g.seed)),
      };
      const { kernels, live } = trackingKernels();
      const f = forward(kernels, spec, { params, stats }, images, {
        training: true,
        rng: createRng(1),
        forBackward: true,
      });
      assert.ok(live.size > 0);
      const out = f.outputs[spec.output]!;
      backward(f.tape!, { [spec.output]: out });
      assert.equal(live.size, 0);
      forward(kernels, spec, { params, stats }, images, { training: false });
      assert.equal(live.size, 0);
    }),
    { numRuns: 15 },
  );
});

const bnSpec: ModelSpec = {
  name: "bn",
  nodes: [
    { op: "input", name: "x", shape: [2, 2, 3] },
    { op: "batchNorm", name: "bn", input: "x", scale: true },
    { op: "dropout", name: "drop", input: "bn", keepProbability: 1 },
    { op: "globalAvgPool", name: "pool", input: "drop" },
    { op: "l2Normalize", name: "emb", input: "pool" },
  ],
  prelogits: "pool",
  output: "emb",
};

Deno.test("batch norm in training mode normalizes each channel; inference mode uses the moving statistics", () => {
  const k = createPureKernels();
  const { params, stats } = initParameters(bnSpec, createRng(0));
  const images = { shape: [4, 2, 2, 3], data: Float32Array.from(randomData(48, 5, 3)) };
  const train = forward(k, bnSpec, { params, stats }, images, {
    training: true,
    outputs: ["bn"],
  });
  const y = train.outputs["bn"]!.data;
  for (let c = 0; c < 3; c++) {
    let s = 0;
    let s2 = 0;
    for (let i = c; i < y.length; i += 3) {
      s += y[i]!;
      s2 += y[i]! ** 2;
    }
    const v = train.batchStatistics["bn"]!.variance[c]!;
    assert.ok(Math.abs(s / 16) < 1e-5);
    assert.ok(Math.abs(s2 / 16 - v / (v + 0.001)) < 1e-4);
  }
  assert.equal(train.batchStatistics["bn"]!.count, 16);
  // Inference with moving mean 0, variance 1: y = x / sqrt(1 + eps).
  const inf = forward(k, bnSpec, { params, stats }, images, { training: false, outputs: ["bn"] });
  inf.outputs["bn"]!.data.forEach((v, i) => {
    assert.ok(Math.abs(v - images.data[i]! / Math.sqrt(1.001)) < 1e-5);
  });
});

Deno.test("dropout with keep probability 1 is the identity, and inverted dropout keeps its expectation", () => {
  const k = createPureKernels();
  const { params, stats } = initParameters(bnSpec, createRng(0));
  const images = { shape: [4, 2, 2, 3], data: Float32Array.from(randomData(48, 6)) };
  const r = forward(k, bnSpec, { params, stats }, images, {
    training: true,
    rng: createRng(1),
    outputs: ["bn", "drop"],
  });
  assert.deepEqual(r.outputs["drop"], r.outputs["bn"]);
  assert.deepEqual(r.rng, createRng(1));

  const spec: ModelSpec = {
    name: "drop",
    nodes: [
      { op: "input", name: "x", shape: [10, 10, 10] },
      { op: "flatten", name: "f", input: "x" },
      { op: "dropout", name: "drop", input: "f", keepProbability: 0.25 },
      { op: "l2Normalize", name: "emb", input: "drop" },
    ],
    prelogits: "drop",
    output: "emb",
  };
  const ones = { shape: [2, 10, 10, 10], data: new Float32Array(2000).fill(1) };
  assert.throws(
    () => forward(k, spec, { params: {}, stats: {} }, ones, { training: true }),
    /dropout in training mode needs an RNG/,
  );
  const d = forward(k, spec, { params: {}, stats: {} }, ones, {
    training: true,
    rng: createRng(2),
    outputs: ["drop"],
  });
  const values = d.outputs["drop"]!.data;
  assert.ok(values.every((v) => v === 0 || v === 4));
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  assert.ok(Math.abs(mean - 1) < 0.15, `mean ${mean}`);
  assert.equal(d.rng!.counter, 2 * 2000);
  const inference = forward(k, spec, { params: {}, stats: {} }, ones, {
    training: false,
    outputs: ["drop"],
  });
  assert.ok(inference.outputs["drop"]!.data.every((v) => v === 1));
});

Deno.test("forward() output shapes of concat and add agree with shape inference", () => {
  fc.assert(
    fc.property(graphArb, (g) => {
      const spec = buildSpec(g);
      const shapes = inferShapes(spec);
      const { params, stats } = initParameters(spec, createRng(g.seed));
      const names = spec.nodes.filter((n) => n.op === "concat" || n.op === "add").map((n) =>
        n.name
      );
      const images = { shape: [g.n, g.h, g.w, g.c], data: new Float32Array(g.n * g.h * g.w * g.c) };
      const r = forward(createPureKernels(), spec, { params, stats }, images, {
        training: false,
        outputs: names,
      });
      for (const name of names) {
        assert.deepEqual([...r.outputs[name]!.shape], [g.n, ...shapes.nodes.get(name)!]);
      }
    }),
    { numRuns: 30 },
  );
});

Deno.test("forward() rejects images that do not match the input node, naming both shapes", () => {
  const { params, stats } = initParameters(bnSpec, createRng(0));
  const images = { shape: [1, 3, 3, 3], data: new Float32Array(27) };
  assert.throws(
    () => forward(createPureKernels(), bnSpec, { params, stats }, images, { training: false }),
    /\[1, 3, 3, 3\] do not match input "x" \[2, 2, 3\]/,
  );
});

Deno.test("backward() refuses a used tape and forward() refuses a tape in inference mode", () => {
  const k = createPureKernels();
  const { params, stats } = initParameters(bnSpec, createRng(0));
  const images = { shape: [2, 2, 2, 3], data: Float32Array.from(randomData(24, 1)) };
  assert.throws(
    () => forward(k, bnSpec, { params, stats }, images, { training: false, forBackward: true }),
    TypeError,
  );
  const f = forward(k, bnSpec, { params, stats }, images, { training: true, forBackward: true });
  const out = f.outputs["emb"]!;
  backward(f.tape!, { emb: out });
  assert.throws(() => backward(f.tape!, { emb: out }), /already used/);
});

Deno.test("forward() in inference mode keeps only the activations that later nodes still read", () => {
  // nano: 40-odd nodes in a chain with one two-branch block; parameters stay uploaded.
  const spec = modelSpec("nano", { embeddingSize: 8, imageSize: 16 });
  const { params, stats } = initParameters(spec, createRng(0));
  const { kernels, live, peak } = trackingKernels();
  const images = { shape: [2, 16, 16, 3], data: Float32Array.from(randomData(2 * 16 * 16 * 3, 3)) };
  forward(kernels, spec, { params, stats }, images, { training: false });
  assert.equal(live.size, 0);
  const paramCount = Object.keys(params).length;
  // At most: the block input, two branch values, their concat, a new value and
  // the moving statistics of one batch norm.
  assert.ok(peak() - paramCount <= 6, `peak ${peak()} with ${paramCount} parameters`);
  assert.ok(spec.nodes.length > 30);
});
