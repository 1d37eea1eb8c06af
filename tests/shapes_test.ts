/**
 * Shape inference: output shapes by TF's padding rules, parameter shapes and
 * counts, and errors that name the node and the shapes.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { inferShapes } from "../core/shapes.ts";
import type { ModelSpec, NodeSpec } from "../core/model_spec.ts";

/** A spec whose body is `nodes` after an input of the given shape, ending flat. */
function specOf(input: [number, number, number], nodes: NodeSpec[]): ModelSpec {
  const last = nodes[nodes.length - 1]?.name ?? "x";
  return {
    name: "t",
    nodes: [
      { op: "input", name: "x", shape: input },
      ...nodes,
      { op: "flatten", name: "flat", input: last },
      { op: "l2Normalize", name: "emb", input: "flat" },
    ],
    prelogits: "flat",
    output: "emb",
  };
}

Deno.test("inferShapes() gives TensorFlow's conv output sizes for 'same' and 'valid'", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 1, max: 4 }),
      (size, kernel, stride) => {
        const same = inferShapes(
          specOf([size, size, 2], [
            { op: "conv2d", name: "c", input: "x", filters: 5, kernel, stride, padding: "same" },
          ]),
        );
        assert.deepEqual(same.nodes.get("c"), [
          Math.ceil(size / stride),
          Math.ceil(size / stride),
          5,
        ]);
        if (kernel <= size) {
          const valid = inferShapes(
            specOf([size, size, 2], [
              { op: "conv2d", name: "c", input: "x", filters: 5, kernel, stride, padding: "valid" },
            ]),
          );
          const out = Math.ceil((size - kernel + 1) / stride);
          assert.deepEqual(valid.nodes.get("c"), [out, out, 5]);
          assert.equal(valid.flops, 2 * out * out * 5 * kernel * kernel * 2);
        }
      },
    ),
  );
});

Deno.test("inferShapes() lists parameters and statistics under node names", () => {
  const s = inferShapes(specOf([8, 8, 3], [
    { op: "conv2d", name: "c", input: "x", filters: 4, kernel: [1, 3], bias: true },
    { op: "batchNorm", name: "c/BatchNorm", input: "c", scale: false },
    { op: "batchNorm", name: "bn2", input: "c/BatchNorm" },
  ]));
  assert.deepEqual(s.params, {
    "c/weights": [1, 3, 3, 4],
    "c/biases": [4],
    "c/BatchNorm/beta": [4],
    "bn2/gamma": [4],
    "bn2/beta": [4],
  });
  assert.deepEqual(Object.keys(s.stats), [
    "c/BatchNorm/moving_mean",
    "c/BatchNorm/moving_variance",
    "bn2/moving_mean",
    "bn2/moving_variance",
  ]);
  assert.equal(s.parameterCount, 36 + 4 + 4 + 8);
});

Deno.test("inferShapes() rejects a conv whose kernel exceeds its input, naming the node and shapes", () => {
  assert.throws(
    () =>
      inferShapes(specOf([3, 3, 8], [
        { op: "conv2d", name: "too_big", input: "x", filters: 1, kernel: 5, padding: "valid" },
      ])),
    /Node "too_big" \(conv2d\): kernel 5x5 exceeds its input \[3, 3, 8\] with "valid" padding/,
  );
  assert.throws(
    () =>
      inferShapes(specOf([2, 2, 1], [
        { op: "maxPool", name: "pool", input: "x", size: 3, stride: 1 },
      ])),
    /Node "pool" \(maxPool\): window 3x3 exceeds its input \[2, 2, 1\]/,
  );
});

Deno.test("inferShapes() rejects a concat of mismatched spatial sizes, naming both inputs", () => {
  assert.throws(
    () =>
      inferShapes(specOf([8, 8, 3], [
        { op: "conv2d", name: "a", input: "x", filters: 2, kernel: 3 },
        { op: "conv2d", name: "b", input: "x", filters: 2, kernel: 3, stride: 2 },
        { op: "concat", name: "mixed", inputs: ["a", "b"] },
      ])),
    /Node "mixed" \(concat\): inputs "a" \[8, 8, 2\] and "b" \[4, 4, 2\] differ outside the channel axis/,
  );
});

Deno.test("inferShapes() rejects an add of different shapes", () => {
  assert.throws(
    () =>
      inferShapes(specOf([4, 4, 3], [
        { op: "conv2d", name: "a", input: "x", filters: 2, kernel: 1 },
        { op: "add", name: "sum", inputs: ["x", "a"], scale: 0.1 },
      ])),
    /Node "sum" \(add\): inputs "x" \[4, 4, 3\] and "a" \[4, 4, 2\] differ/,
  );
});

Deno.test("inferShapes() rejects a dense layer after an unflattened map", () => {
  assert.throws(
    () =>
      inferShapes({
        name: "t",
        nodes: [
          { op: "input", name: "x", shape: [5, 5, 8] },
          { op: "dense", name: "fc", input: "x", units: 3 },
          { op: "l2Normalize", name: "emb", input: "fc" },
        ],
        prelogits: "fc",
        output: "emb",
      }),
    /Node "fc" \(dense\): needs a flat \[d\] input, got \[5, 5, 8\] from "x"/,
  );
});

Deno.test("inferShapes() rejects unknown ops, undefined inputs and repeated names, naming the node", () => {
  assert.throws(
    () =>
      inferShapes(specOf([4, 4, 3], [
        { op: "softsign", name: "weird", input: "x" } as unknown as NodeSpec,
      ])),
    /Node "weird" has unknown op "softsign"/,
  );
  assert.throws(
    () => inferShapes(specOf([4, 4, 3], [{ op: "relu", name: "r", input: "nowhere" }])),
    /Node "r" reads "nowhere", which is not defined before it/,
  );
  assert.throws(
    () => inferShapes(specOf([4, 4, 3], [{ op: "relu", name: "x", input: "x" }])),
    /Node name "x" is used twice/,
  );
  assert.throws(
    () =>
      inferShapes(specOf([4, 4, 3], [
        { op: "dropout", name: "d", input: "x", keepProbability: 0 },
      ])),
    /Node "d" \(dropout\): keep probability must be in \(0, 1\], got 0/,
  );
});

Deno.test("inferShapes() checks the prelogits and output nodes", () => {
  const base = specOf([2, 2, 1], []);
  assert.throws(() => inferShapes({ ...base, output: "missing" }), /Output node "missing"/);
  assert.throws(() => inferShapes({ ...base, prelogits: "x" }), /must be flat and of one size/);
});
