/**
 * The shared backend conformance suite: one function that registers the
 * Deno.test cases comparing a backend against the pure specifications
 * (core/pure) and the pure reference backend. Every backend runs it with one
 * call, with an explicit, justified skip list (Hono's `runTest`, tfjs's
 * `describeWithFlags`).
 *
 * Tolerances are stated once here (float32 backends: see DEFAULT_TOLERANCE)
 * and overridden per backend only with a reason. Inputs are generated away
 * from decision boundaries (margin ties, hinge kinks, pooling ties) instead
 * of loosening an equality, except where a backend promises exactness there:
 * triplet selection is also tested with inputs ON its boundaries
 * (`select:boundary:*`, eight times the runs), since every backend must pick
 * the specification's triplets.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import type { Backend, Model, ModelState, TrainingOptions } from "../core/backend.ts";
import type { ModelSpec, NodeSpec } from "../core/model_spec.ts";
import type {
  ImageBatch,
  Matrix,
  NamedTensors,
  OptimizerConfig,
  OptimizerName,
  SelectionStrategy,
} from "../core/types.ts";
import { l2Normalize, pairwiseSquaredDistances } from "../core/pure/distances.ts";
import { selectTriplets } from "../core/pure/select_triplets.ts";
import { tripletLoss } from "../core/pure/losses.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { initOptimizerState } from "../core/pure/optimizers.ts";
import { initParameters } from "../core/init.ts";
import { initModelState, LOGITS } from "../core/model_state.ts";
import { nano } from "../core/models/nano.ts";
import { createExecutorModel } from "../core/executor_model.ts";
import { createPureKernels } from "../core/pure/kernels.ts";

/** Absolute/relative tolerances: `|actual - expected| <= abs + rel * |expected|`. */
export interface Tolerance {
  readonly abs: number;
  readonly rel: number;
}

/** Tolerances per comparison kind. */
export interface ConformanceTolerances {
  /** Pairwise squared distances of unit-scale rows. */
  readonly distances: Tolerance;
  /** Losses and their gradients with respect to embeddings. */
  readonly loss: Tolerance;
  /** Forward values of small graphs (embeddings). */
  readonly forward: Tolerance;
  /** Parameters after one step (gradients times the learning rate), statistics. */
  readonly params: Tolerance;
}

/**
 * Float32 backends: distances by `|x|^2 + |y|^2 - 2xy` lose about 1e-6 on
 * unit rows; sums over a few hundred float32 terms keep about 1e-5 relative;
 * one optimizer step on gradients that agree to 1e-4 relative moves the
 * parameters by at most lr * 1e-4.
 */
export const DEFAULT_TOLERANCE: ConformanceTolerances = {
  distances: { abs: 1e-5, rel: 1e-5 },
  loss: { abs: 1e-5, rel: 1e-4 },
  forward: { abs: 1e-4, rel: 1e-4 },
  params: { abs: 2e-4, rel: 1e-3 },
};

/** Options of {@linkcode backendConformance}. */
export interface ConformanceOptions {
  /** Tests to skip, each group with its reason (printed). */
  readonly skip?: readonly { readonly reason: string; readonly tests: readonly string[] }[];
  /** Only these tests (by id); default all. */
  readonly only?: readonly string[];
  /** Tolerance overrides. */
  readonly tolerance?: Partial<ConformanceTolerances>;
  /** fast-check runs per property; default 15. */
  readonly numRuns?: number;
  /**
   * When a string, the whole suite is registered as ignored and the string is
   * printed as the reason (e.g. no WebGPU adapter outside CI).
   */
  readonly ignoreAll?: string;
  /** The reference backend; default: the pure backend. */
  readonly reference?: () => Promise<Backend> | Backend;
}

/** The ids of the suite's tests, for skip lists. */
export const CONFORMANCE_TESTS: readonly string[] = [
  "distances",
  "select:vggface",
  "select:facenet",
  "select:hard",
  "select:all",
  "select:boundary:vggface",
  "select:boundary:facenet",
  "select:boundary:hard",
  "select:boundary:all",
  "tripletLoss",
  "tripletLoss:soft",
  "op:conv2d",
  "op:batchNorm",
  "op:relu",
  "op:maxPool",
  "op:avgPool",
  "op:globalAvgPool",
  "op:concat",
  "op:add",
  "op:dense",
  "op:dropout",
  "op:prelu",
  "op:softmax",
  "op:depthwiseConv2d",
  "op:mtcnnBlock",
  "optimizer:SGD",
  "optimizer:MOM",
  "optimizer:ADAGRAD",
  "optimizer:ADADELTA",
  "optimizer:ADAM",
  "optimizer:RMSPROP",
  "softmax",
  "softmax:center",
  "softmax:arcface",
  "outputs",
  "nano",
];

/** Asserts elementwise closeness with a message naming the first bad index. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  what: string,
): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: length ${actual.length} vs ${expected.length}`,
  );
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const bound = tol.abs + tol.rel * Math.abs(e);
    if (!(Math.abs(a - e) <= bound)) {
      assert.fail(`${what}[${i}]: ${a} vs expected ${e} (|diff| ${Math.abs(a - e)} > ${bound})`);
    }
  }
}

function matrixArb(rows: fc.Arbitrary<number>, cols: fc.Arbitrary<number>): fc.Arbitrary<Matrix> {
  return fc.tuple(rows, cols).chain(([r, c]) =>
    fc.array(fc.float({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }), {
      minLength: r * c,
      maxLength: r * c,
    }).map((v) => ({ rows: r, cols: c, data: Float32Array.from(v) }))
  );
}

interface SelectionCase {
  embeddings: Matrix;
  numPerClass: number[];
  alpha: number;
  anchorClasses: number;
  seed: number;
}

const selectionArb: fc.Arbitrary<SelectionCase> = fc.record({
  numPerClass: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 2, maxLength: 5 }),
  cols: fc.integer({ min: 2, max: 6 }),
  alpha: fc.double({ min: 0.05, max: 1.5, noNaN: true }),
  seed: fc.nat({ max: 1_000_000 }),
  anchorFraction: fc.double({ min: 0, max: 1, noNaN: true }),
}).chain(({ numPerClass, cols, alpha, seed, anchorFraction }) => {
  const rows = numPerClass.reduce((a, b) => a + b, 0);
  return fc.array(fc.float({ min: -1, max: 1, noNaN: true, noDefaultInfinity: true }), {
    minLength: rows * cols,
    maxLength: rows * cols,
  }).map((values) => ({
    embeddings: l2Normalize({ rows, cols, data: Float32Array.from(values) }),
    numPerClass,
    alpha,
    anchorClasses: Math.max(1, Math.round(anchorFraction * numPerClass.length)),
    seed,
  }));
});

/**
 * Whether a case is at least `gap` away from every decision boundary of the
 * strategy (margin `d(a,n) - d(a,p) = alpha`, semi-hard `d(a,n) = d(a,p)`,
 * and for "hard" equal distances among negatives).
 */
function awayFromTies(c: SelectionCase, strategy: SelectionStrategy, gap: number): boolean {
  const d = pairwiseSquaredDistances(c.embeddings).data;
  const n = c.embeddings.rows;
  const cls: number[] = [];
  c.numPerClass.forEach((k, i) => {
    for (let j = 0; j < k; j++) cls.push(i);
  });
  for (let a = 0; a < n; a++) {
    if (cls[a]! >= c.anchorClasses) continue;
    for (let p = a + 1; p < n; p++) {
      if (cls[p] !== cls[a]) continue;
      const dp = d[a * n + p]!;
      for (let r = 0; r < n; r++) {
        if (cls[r] === cls[a]) continue;
        const dn = d[a * n + r]!;
        if (Math.abs(dn - dp - c.alpha) < gap) return false;
        if (strategy === "facenet" && Math.abs(dn - dp) < gap) return false;
        if (strategy === "hard") {
          for (let r2 = r + 1; r2 < n; r2++) {
            if (cls[r2] !== cls[a] && Math.abs(d[a * n + r2]! - dn) < gap) return false;
          }
        }
      }
    }
  }
  return true;
}

/** The double next to `x` towards `direction` (+1 or -1). */
function nextDouble(x: number, direction: 1 | -1): number {
  if (x === 0) return direction * Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, (x > 0) === (direction > 0) ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

/**
 * Selection cases ON the decision boundaries, where a backend whose
 * distances differ from the specification's by a float32 rounding would pick
 * other triplets: alpha is `d(a,r) - d(a,p)` of one (anchor, positive,
 * negative) of the specification's float32 distances, exactly, one double
 * ulp off, or a few float32 ulps of the distance off; some rows of other
 * classes are copies of a positive (so `d(a,r) = d(a,p)`: facenet's
 * semi-hard boundary) or of another negative (exact ties for "hard"). Every
 * case has at least one anchor/positive pair.
 */
const boundarySelectionArb: fc.Arbitrary<SelectionCase> = fc.record({
  numPerClass: fc.array(fc.integer({ min: 2, max: 6 }), { minLength: 2, maxLength: 5 }),
  cols: fc.integer({ min: 2, max: 8 }),
  seed: fc.nat({ max: 1_000_000 }),
  anchorFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  copies: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 3 }),
  pick: fc.tuple(fc.nat(), fc.nat(), fc.nat()),
  nudge: fc.constantFrom(0, 0, 0, 1, -1, 2, -2, 3, -3),
}).chain((c) => {
  const rows = c.numPerClass.reduce((a, b) => a + b, 0);
  return fc.array(fc.float({ min: -1, max: 1, noNaN: true, noDefaultInfinity: true }), {
    minLength: rows * c.cols,
    maxLength: rows * c.cols,
  }).map((values): SelectionCase => {
    const e = l2Normalize({ rows, cols: c.cols, data: Float32Array.from(values) });
    const cls: number[] = [];
    c.numPerClass.forEach((k, i) => {
      for (let j = 0; j < k; j++) cls.push(i);
    });
    // Copy row `from` over a row `to` of another class (an exact tie in distance).
    for (const [from, to] of c.copies) {
      const f = from % rows;
      const t = to % rows;
      if (cls[f] !== cls[t]) e.data.copyWithin(t * c.cols, f * c.cols, (f + 1) * c.cols);
    }
    const anchorClasses = Math.max(1, Math.round(c.anchorFraction * c.numPerClass.length));
    const d = pairwiseSquaredDistances(e).data;
    // One (a, p, r) with d(a,r) > d(a,p): alpha puts it on the margin.
    const a = c.pick[0] % (c.numPerClass[0]! - 1);
    const p = a + 1 + (c.pick[1] % (c.numPerClass[0]! - a - 1));
    const others = rows - c.numPerClass[0]!;
    let alpha = 0.2;
    for (let i = 0; i < others; i++) {
      const r = c.numPerClass[0]! + ((c.pick[2] + i) % others);
      const margin = d[a * rows + r]! - d[a * rows + p]!;
      if (margin > 1e-6) {
        alpha = margin;
        break;
      }
    }
    if (c.nudge === 1 || c.nudge === -1) alpha = nextDouble(alpha, c.nudge);
    else if (c.nudge !== 0) alpha += Math.sign(c.nudge) * (Math.abs(c.nudge) - 1) * 2 ** -24 * 2;
    return { embeddings: e, numPerClass: c.numPerClass, alpha, anchorClasses, seed: c.seed };
  });
});

/**
 * Registers the conformance tests of a backend.
 *
 * @param name The backend's name in test names, e.g. "tfjs cpu".
 * @param makeBackend Creates a fresh backend (disposed by each test).
 * @param options Skips, tolerances, runs.
 */
export function backendConformance(
  name: string,
  makeBackend: () => Promise<Backend>,
  options: ConformanceOptions = {},
): void {
  const tol: ConformanceTolerances = { ...DEFAULT_TOLERANCE, ...options.tolerance };
  const numRuns = options.numRuns ?? 15;
  // Every id a backend names must be a test of the suite (a typo would
  // silently skip nothing or select nothing).
  const known = new Set(CONFORMANCE_TESTS);
  for (const id of [...(options.only ?? []), ...(options.skip ?? []).flatMap((g) => g.tests)]) {
    if (!known.has(id)) throw new RangeError(`[${name}] unknown conformance test id "${id}"`);
  }
  const skipped = new Map<string, string>();
  for (const group of options.skip ?? []) {
    if (group.reason.trim() === "") throw new RangeError(`[${name}] a skip needs a reason`);
    for (const t of group.tests) skipped.set(t, group.reason);
  }
  if (options.ignoreAll !== undefined) {
    console.log(`[${name}] conformance suite ignored: ${options.ignoreAll}`);
  }
  for (const [id, reason] of skipped) console.log(`[${name}] skipping "${id}": ${reason}`);

  const register = (id: string, title: string, fn: (backend: Backend) => Promise<void>) => {
    if (!known.has(id)) throw new RangeError(`Test id "${id}" is missing from CONFORMANCE_TESTS`);
    const selected = options.only === undefined || options.only.includes(id);
    if (!selected) return;
    Deno.test({
      name: `${name}: ${title}`,
      ignore: options.ignoreAll !== undefined || skipped.has(id),
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const backend = await makeBackend();
        try {
          await fn(backend);
        } finally {
          backend.dispose();
        }
      },
    });
  };

  register(
    "distances",
    "pairwiseSquaredDistances() equals the specification",
    async (backend) => {
      await fc.assert(
        fc.asyncProperty(
          matrixArb(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 9 })),
          async (x) => {
            const actual = await backend.pairwiseSquaredDistances(x);
            const expected = pairwiseSquaredDistances(x);
            assert.equal(actual.rows, expected.rows);
            assert.equal(actual.cols, expected.cols);
            // Rows of norm up to 2 * sqrt(9): scale the tolerance by the squared norms.
            let scale = 1;
            for (const v of x.data) scale = Math.max(scale, v * v * x.cols);
            assertClose(actual.data, expected.data, {
              abs: tol.distances.abs * scale,
              rel: tol.distances.rel,
            }, "distances");
          },
        ),
        { numRuns },
      );
    },
  );

  for (
    const [strategy, boundary] of [
      ["vggface", false],
      ["facenet", false],
      ["hard", false],
      ["all", false],
      ["vggface", true],
      ["facenet", true],
      ["hard", true],
      ["all", true],
    ] as const
  ) {
    register(
      boundary ? `select:boundary:${strategy}` : `select:${strategy}`,
      `selectTriplets() with strategy "${strategy}" picks the specification's triplets${
        boundary ? " with inputs on its decision boundaries" : ""
      }`,
      async (backend) => {
        const check = async (c: SelectionCase, shuffle: boolean) => {
          const opts = {
            alpha: c.alpha,
            strategy,
            anchorClasses: c.anchorClasses,
            rng: createRng(c.seed),
            shuffle,
          };
          const actual = await backend.selectTriplets(c.embeddings, c.numPerClass, opts);
          const expected = selectTriplets(c.embeddings, c.numPerClass, opts);
          assert.deepEqual(
            actual.triplets.map((t) => [...t]),
            expected.triplets.map((t) => [...t]),
          );
          assert.equal(actual.pairs, expected.pairs);
          assert.deepEqual(actual.rng, expected.rng);
          assert.equal(actual.noCandidateFraction, expected.noCandidateFraction);
          assertClose(
            [actual.meanPosDist, actual.meanNegDist],
            [expected.meanPosDist, expected.meanNegDist],
            tol.distances,
            "mean distances",
          );
        };
        if (boundary) {
          // Issue 18's case: d(a,n) - d(a,p) equals alpha to float32 rounding;
          // the specification selects nothing, a float32 GEMM picked [0, 1, 2].
          await check({
            embeddings: {
              rows: 3,
              cols: 4,
              data: new Float32Array([
                ...[-1, -0.737, 0.511, -0.083],
                ...[0.066, -0.562, -0.906, 0.358],
                ...[0.359, 0.869, -0.233, 0.039],
              ]),
            },
            numPerClass: [2, 1],
            alpha: 1.6251857280731201,
            anchorClasses: 2,
            seed: 1,
          }, false);
        }
        await fc.assert(
          fc.asyncProperty(
            boundary
              ? boundarySelectionArb
              : selectionArb.filter((c) => awayFromTies(c, strategy, 1e-3)),
            fc.boolean(),
            check,
          ),
          { numRuns: boundary ? 8 * numRuns : numRuns },
        );
      },
    );
  }

  for (const soft of [false, true]) {
    register(
      soft ? "tripletLoss:soft" : "tripletLoss",
      `tripletLoss() ${
        soft ? "with the soft margin " : ""
      }equals the specification, loss and gradient`,
      async (backend) => {
        await fc.assert(
          fc.asyncProperty(
            matrixArb(
              fc.integer({ min: 1, max: 6 }).map((k) => 3 * k),
              fc.integer({ min: 1, max: 8 }),
            ),
            fc.double({ min: 0.05, max: 1, noNaN: true }),
            async (x, alpha) => {
              const e = l2Normalize(x);
              const expected = tripletLoss(e, { alpha, softMargin: soft });
              // Away from the hinge's kink: |d(a,p) - d(a,n) + alpha| >= 1e-3.
              if (!soft) {
                const d = pairwiseSquaredDistances(e).data;
                const n = e.rows;
                for (let t = 0; t < n; t += 3) {
                  fc.pre(Math.abs(d[t * n + t + 1]! - d[t * n + t + 2]! + alpha) >= 1e-3);
                }
              }
              const actual = await backend.tripletLoss(e, { alpha, softMargin: soft });
              assertClose([actual.loss], [expected.loss], tol.loss, "loss");
              assertClose(actual.gradient.data, expected.gradient.data, tol.loss, "gradient");
            },
          ),
          { numRuns },
        );
      },
    );
  }

  registerModelTests(register, tol, numRuns, options.reference);
}

// ---------------------------------------------------------------------------
// Models: every op forward and backward, optimizers, batch-norm statistics.

/**
 * The specifications as a backend: core/pure functions and the core's
 * executor model on the pure kernels.
 */
export function pureReference(): Backend {
  return {
    name: "pure",
    device: "pure specification",
    pairwiseSquaredDistances: (x) => Promise.resolve(pairwiseSquaredDistances(x)),
    selectTriplets: (e, n, o) => Promise.resolve(selectTriplets(e, n, o)),
    tripletLoss: (e, o) => Promise.resolve(tripletLoss(e, o)),
    createModel: (spec, state, options) =>
      Promise.resolve(createExecutorModel(createPureKernels(), spec, state, options)),
    dispose: () => {},
  };
}

type Register = (id: string, title: string, fn: (backend: Backend) => Promise<void>) => void;

/** Ops of the model graph with a random small graph each. */
export const OP_TESTS = [
  "conv2d",
  "batchNorm",
  "relu",
  "maxPool",
  "avgPool",
  "globalAvgPool",
  "concat",
  "add",
  "dense",
  "dropout",
  "prelu",
  "softmax",
  "depthwiseConv2d",
  "mtcnnBlock",
] as const;

/** Optimizers, one step each (two for the stateful ones). */
export const OPTIMIZER_TESTS: readonly OptimizerName[] = [
  "SGD",
  "MOM",
  "ADAGRAD",
  "ADADELTA",
  "ADAM",
  "RMSPROP",
];

interface GraphCase {
  spec: ModelSpec;
  seed: number;
  n: number;
}

function head(nodes: NodeSpec[], last: string, flat: boolean): NodeSpec[] {
  const out = [...nodes];
  let x = last;
  if (!flat) {
    out.push({ op: "flatten", name: "flat", input: x });
    x = "flat";
  }
  out.push({ op: "dense", name: "fc", input: x, units: 3 });
  out.push({ op: "l2Normalize", name: "embeddings", input: "fc" });
  return out;
}

/** A random small graph around one op: input, the op (and helpers), flatten, dense, l2Normalize. */
function graphArb(op: typeof OP_TESTS[number]): fc.Arbitrary<GraphCase> {
  return fc.record({
    h: fc.integer({ min: 3, max: 6 }),
    w: fc.integer({ min: 3, max: 6 }),
    c: fc.integer({ min: 1, max: 3 }),
    k: fc.integer({ min: 1, max: 3 }),
    k2: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 2 }),
    same: fc.boolean(),
    flag: fc.boolean(),
    filters: fc.integer({ min: 1, max: 3 }),
    real: fc.double({ min: 0.1, max: 0.95, noNaN: true }),
    seed: fc.nat({ max: 1_000_000 }),
    triplets: fc.integer({ min: 1, max: 2 }),
  }).map((r) => {
    const input: NodeSpec = { op: "input", name: "input", shape: [r.h, r.w, r.c] };
    // A 1x1 conv with bias in front of an op, so that the op's input gradient
    // reaches a parameter (on the image input it would not be computed).
    const pre: NodeSpec = {
      op: "conv2d",
      name: "pre",
      input: "input",
      filters: r.c,
      kernel: 1,
      bias: true,
    };
    const padding = r.same ? "same" as const : "valid" as const;
    let nodes: NodeSpec[];
    switch (op) {
      case "conv2d":
        nodes = head(
          [input, {
            op: "conv2d",
            name: "conv",
            input: "input",
            filters: r.filters,
            kernel: r.flag ? Math.min(r.k, r.h) : [Math.min(r.k, r.h), Math.min(r.k2, r.w)],
            stride: r.stride,
            padding,
            bias: r.flag,
          }],
          "conv",
          false,
        );
        break;
      case "batchNorm":
        nodes = head(
          [input, {
            op: "batchNorm",
            name: "bn",
            input: "input",
            scale: r.flag,
            decay: r.real,
            epsilon: 1e-3 * (1 + r.k),
          }],
          "bn",
          false,
        );
        // A second batch norm on flat features (no Bessel correction there).
        nodes.splice(nodes.length - 1, 0, { op: "batchNorm", name: "bn2", input: "fc" });
        nodes[nodes.length - 1] = { op: "l2Normalize", name: "embeddings", input: "bn2" };
        break;
      case "relu":
        nodes = head([input, pre, { op: "relu", name: "relu", input: "pre" }], "relu", false);
        break;
      case "maxPool":
      case "avgPool":
        nodes = head(
          [input, pre, {
            op,
            name: "pool",
            input: "pre",
            size: Math.min(r.k, r.h, r.w),
            stride: r.stride,
            padding,
          }],
          "pool",
          false,
        );
        break;
      case "globalAvgPool":
        nodes = head([input, pre, { op: "globalAvgPool", name: "gap", input: "pre" }], "gap", true);
        break;
      case "concat":
        nodes = head(
          [
            input,
            { op: "conv2d", name: "branch", input: "input", filters: r.filters, kernel: 1 },
            { op: "concat", name: "cat", inputs: ["input", "branch", "input"] },
          ],
          "cat",
          false,
        );
        break;
      case "add":
        nodes = head(
          [
            input,
            { op: "conv2d", name: "up", input: "input", filters: r.c, kernel: r.k, bias: true },
            { op: "add", name: "res", inputs: ["input", "up"], scale: r.flag ? 1 : r.real },
          ],
          "res",
          false,
        );
        break;
      case "dense":
        nodes = head(
          [
            input,
            { op: "flatten", name: "f0", input: "input" },
            { op: "dense", name: "hidden", input: "f0", units: r.filters + 1, bias: r.flag },
          ],
          "hidden",
          true,
        );
        break;
      case "dropout":
        nodes = head(
          [
            input,
            { op: "flatten", name: "f0", input: "input" },
            { op: "dropout", name: "drop", input: "f0", keepProbability: r.real },
          ],
          "drop",
          true,
        );
        break;
      case "prelu":
        // On the image map, or on flat features after a dense layer.
        nodes = r.flag
          ? head([input, pre, { op: "prelu", name: "act", input: "pre" }], "act", false)
          : head(
            [
              input,
              { op: "flatten", name: "f0", input: "input" },
              { op: "dense", name: "hidden", input: "f0", units: r.filters + 1 },
              { op: "prelu", name: "act", input: "hidden" },
            ],
            "act",
            true,
          );
        break;
      case "softmax":
        // Over the channels of a map (P-Net's face probability), or over flat features.
        nodes = r.flag
          ? head(
            [
              input,
              { op: "conv2d", name: "conv", input: "input", filters: r.filters + 1, kernel: 1 },
              { op: "softmax", name: "prob", input: "conv" },
            ],
            "prob",
            false,
          )
          : head(
            [
              input,
              { op: "flatten", name: "f0", input: "input" },
              { op: "dense", name: "hidden", input: "f0", units: r.filters + 1 },
              { op: "softmax", name: "prob", input: "hidden" },
            ],
            "prob",
            true,
          );
        break;
      case "depthwiseConv2d":
        nodes = head(
          [input, pre, {
            op: "depthwiseConv2d",
            name: "dw",
            input: "pre",
            kernel: r.same ? Math.min(r.k, r.h) : [Math.min(r.k, r.h), Math.min(r.k2, r.w)],
            stride: r.stride,
            padding: r.flag ? padding : "same",
            bias: r.flag,
          }],
          "dw",
          false,
        );
        break;
      case "mtcnnBlock":
        // A P-Net-like block: conv with bias and no batch norm, prelu, TF
        // "same" max pooling (odd maps), conv, prelu, a softmax head and a
        // flatten (H, W, C order) into the dense layers.
        nodes = head(
          [
            input,
            {
              op: "conv2d",
              name: "conv1",
              input: "input",
              filters: 2,
              kernel: Math.min(r.k, r.h, r.w),
              padding: "valid",
              bias: true,
            },
            { op: "prelu", name: "prelu1", input: "conv1" },
            {
              op: "maxPool",
              name: "pool1",
              input: "prelu1",
              size: 2 + (r.flag ? 1 : 0),
              stride: 2,
              padding: "same",
            },
            { op: "conv2d", name: "conv2", input: "pool1", filters: 3, kernel: 1, bias: true },
            { op: "prelu", name: "prelu2", input: "conv2" },
            { op: "softmax", name: "prob", input: "prelu2" },
          ],
          "prob",
          false,
        );
        break;
    }
    return {
      spec: { name: `random-${op}`, nodes, prelogits: "fc", output: "embeddings" },
      seed: r.seed,
      n: 3 * r.triplets,
    };
  });
}

/** Random positive moving variances and random means, so inference mode is not trivial. */
function randomState(
  spec: ModelSpec,
  optimizer: OptimizerConfig,
  seed: number,
  ema: boolean,
): ModelState {
  const { params, stats, rng } = initParameters(spec, createRng(seed));
  let state = rng;
  const noisy: NamedTensors = {};
  for (const [name, t] of Object.entries(stats)) {
    const [u, next] = uniforms(state, t.data.length);
    state = next;
    const variance = name.endsWith("moving_variance");
    noisy[name] = {
      shape: t.shape,
      data: Float32Array.from(u, (v) => variance ? 0.5 + v : v - 0.5),
    };
  }
  // Biases, beta and gamma away from their init values, so their gradients matter.
  const shifted: NamedTensors = {};
  for (const [name, t] of Object.entries(params)) {
    if (name.endsWith("/weights")) {
      shifted[name] = t;
      continue;
    }
    const [u, next] = uniforms(state, t.data.length);
    state = next;
    shifted[name] = { shape: t.shape, data: Float32Array.from(t.data, (v, i) => v + u[i]! - 0.5) };
  }
  return {
    params: shifted,
    stats: noisy,
    optimizer: initOptimizerState(optimizer, shifted),
    ema: ema ? shifted : null,
    step: 0,
  };
}

function randomImages(spec: ModelSpec, n: number, seed: number): ImageBatch {
  const input = spec.nodes.find((x) => x.op === "input");
  if (input === undefined || input.op !== "input") throw new RangeError("No input node");
  const [h, w, c] = input.shape;
  const [u] = uniforms(createRng(seed + 1), n * h * w * c);
  return { n, height: h, width: w, channels: c, data: Float32Array.from(u, (v) => 2 * v - 1) };
}

function maxAbs(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, Math.abs(xs[i]!));
  return m;
}

function assertNamedClose(
  actual: NamedTensors,
  expected: NamedTensors,
  tol: Tolerance,
  what: string,
): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: names`);
  for (const [name, e] of Object.entries(expected)) {
    const a = actual[name]!;
    assert.deepEqual([...a.shape], [...e.shape], `${what} ${name}: shape`);
    assertClose(a.data, e.data, tol, `${what} ${name}`);
  }
}

/** Compares one training step (and embeddings) of a backend with the reference. */
async function compareStep(
  backend: Backend,
  reference: Backend,
  c: {
    spec: ModelSpec;
    state: ModelState;
    options: TrainingOptions;
    images: ImageBatch;
    seed: number;
    labels?: Int32Array;
  },
  tol: ConformanceTolerances,
  steps: number,
  learningRate: number,
): Promise<void> {
  const models: Model[] = [];
  try {
    const actual = await backend.createModel(c.spec, c.state, c.options);
    models.push(actual);
    const expected = await reference.createModel(c.spec, c.state, c.options);
    models.push(expected);
    // Inference-mode forward.
    const ea = await actual.embed(c.images, { training: false });
    const ee = await expected.embed(c.images, { training: false });
    assertClose(ea.data, ee.data, tol.forward, "inference embeddings");
    let rngA = createRng(c.seed + 7);
    let rngE = rngA;
    for (let s = 0; s < steps; s++) {
      const labels = c.labels === undefined ? {} : { labels: c.labels };
      const ra = await actual.trainStep(c.images, { learningRate, rng: rngA, ...labels });
      const re = await expected.trainStep(c.images, { learningRate, rng: rngE, ...labels });
      assert.deepEqual(ra.rng, re.rng, "the step consumes the RNG like the reference");
      rngA = ra.rng;
      rngE = re.rng;
      assertClose(
        [ra.loss, ra.regularization],
        [re.loss, re.regularization],
        tol.loss,
        `step ${s + 1} loss`,
      );
    }
    const sa = await actual.getState();
    const se = await expected.getState();
    assert.equal(sa.step, se.step);
    assert.equal(sa.optimizer.iterations, se.optimizer.iterations);
    // Parameters moved by lr * gradient: compare the moves. The gradients
    // agree to tol.params.rel of the parameter's own move, or of a tenth of
    // the largest move in the model for parameters whose exact gradient is
    // about zero (e.g. a batch norm's beta before another batch norm, where
    // both backends see only float32 cancellation noise); plus float32
    // rounding of the values.
    const moves: Record<string, number> = {};
    for (const name of Object.keys(se.params)) {
      const before = c.state.params[name]!.data;
      moves[name] = maxAbs(Array.from(se.params[name]!.data, (v, i) => v - before[i]!));
    }
    const largest = Math.max(0, ...Object.values(moves));
    const moveTol = (name: string): Tolerance => ({
      abs: 1e-6 + tol.params.rel * Math.max(moves[name]!, 0.1 * largest),
      rel: 1e-5,
    });
    for (const name of Object.keys(se.params)) {
      assertClose(sa.params[name]!.data, se.params[name]!.data, moveTol(name), `params ${name}`);
    }
    assertNamedClose(sa.stats, se.stats, tol.params, "statistics");
    for (const [slot, tensors] of Object.entries(se.optimizer.slots)) {
      assertNamedClose(sa.optimizer.slots[slot] ?? {}, tensors, tol.params, `slot ${slot}`);
    }
    assert.equal(sa.ema === null, se.ema === null);
    if (sa.ema !== null && se.ema !== null) assertNamedClose(sa.ema, se.ema, tol.params, "ema");
    // Training-mode forward (batch statistics, dropout from the RNG) and its statistics update.
    const ta = await actual.embed(c.images, { training: true, rng: rngA });
    const te = await expected.embed(c.images, { training: true, rng: rngE });
    assertClose(ta.data, te.data, tol.forward, "training embeddings");
    assertNamedClose(
      (await actual.getState()).stats,
      (await expected.getState()).stats,
      tol.params,
      "statistics after embed",
    );
  } finally {
    for (const m of models) m.dispose();
  }
}

function registerModelTests(
  register: Register,
  tol: ConformanceTolerances,
  numRuns: number,
  makeReference: (() => Promise<Backend> | Backend) | undefined,
): void {
  const reference = async () => await (makeReference ?? pureReference)();
  const sgd: TrainingOptions = {
    loss: { kind: "triplet", alpha: 10 },
    optimizer: { name: "SGD" },
    weightDecay: 0,
    movingAverageDecay: null,
  };
  register(
    "outputs",
    "outputs() returns named nodes and the head's logits as the specification, embed() its output",
    async (backend) => {
      const ref = await reference();
      const models: Model[] = [];
      try {
        const g = fc.sample(graphArb("mtcnnBlock"), { numRuns: 1, seed: 5 })[0]!;
        const images = randomImages(g.spec, 4, 3);
        for (const arcface of [false, true]) {
          const options: TrainingOptions = {
            loss: {
              kind: "softmax",
              numClasses: 3,
              ...(arcface ? { arcface: { margin: 0.3, scale: 8 } } : {}),
            },
            optimizer: { name: "SGD" },
            weightDecay: 0,
            movingAverageDecay: 0.9,
          };
          const state = initModelState(g.spec, options, createRng(4));
          const a = await backend.createModel(g.spec, state, options);
          models.push(a);
          const e = await ref.createModel(g.spec, state, options);
          models.push(e);
          const names = ["prelu1", "prob", "fc", "embeddings", LOGITS];
          for (const useMovingAverage of [false, true]) {
            const o = { training: false, useMovingAverage, outputs: names };
            const oa = await a.outputs(images, o);
            const oe = await e.outputs(images, o);
            assert.deepEqual(Object.keys(oa), names);
            for (const name of names) {
              assert.deepEqual([...oa[name]!.shape], [...oe[name]!.shape], `${name}: shape`);
              assertClose(oa[name]!.data, oe[name]!.data, tol.forward, `output ${name}`);
            }
            assert.deepEqual([...oa[LOGITS]!.shape], [4, 3]);
            const emb = await a.embed(images, { training: false, useMovingAverage });
            assert.deepEqual(Array.from(emb.data), Array.from(oa["embeddings"]!.data));
          }
        }
        const triplet = await backend.createModel(
          g.spec,
          initModelState(g.spec, sgd, createRng(4)),
          sgd,
        );
        models.push(triplet);
        await assert.rejects(
          triplet.outputs(images, { training: false, outputs: [LOGITS] }),
          RangeError,
        );
        await assert.rejects(
          triplet.outputs(images, { training: false, outputs: ["nope"] }),
          RangeError,
        );
      } finally {
        for (const m of models) m.dispose();
        ref.dispose();
      }
    },
  );

  for (const op of OP_TESTS) {
    register(
      `op:${op}`,
      `${op} forward and backward on random small graphs equal the specification`,
      async (backend) => {
        const ref = await reference();
        try {
          await fc.assert(
            fc.asyncProperty(graphArb(op), async (g) => {
              // alpha 10 keeps every triplet on the linear side of the hinge (no kink).
              await compareStep(
                backend,
                ref,
                {
                  spec: g.spec,
                  state: randomState(g.spec, sgd.optimizer, g.seed, false),
                  options: sgd,
                  images: randomImages(g.spec, g.n, g.seed),
                  seed: g.seed,
                },
                tol,
                1,
                0.5,
              );
            }),
            // conv2d carries the most geometry (kernel, stride, padding): more runs.
            {
              numRuns: op === "conv2d" || op === "depthwiseConv2d"
                ? numRuns
                : Math.max(3, Math.ceil(numRuns / 3)),
            },
          );
        } finally {
          ref.dispose();
        }
      },
    );
  }

  const small: ModelSpec = {
    name: "small",
    nodes: [
      { op: "input", name: "input", shape: [6, 6, 2] },
      { op: "conv2d", name: "conv", input: "input", filters: 3, kernel: 3, stride: 2 },
      { op: "batchNorm", name: "bn", input: "conv" },
      { op: "relu", name: "relu", input: "bn" },
      { op: "globalAvgPool", name: "gap", input: "relu" },
      { op: "dense", name: "fc", input: "gap", units: 4 },
      { op: "l2Normalize", name: "embeddings", input: "fc" },
    ],
    prelogits: "fc",
    output: "embeddings",
  };
  for (const name of OPTIMIZER_TESTS) {
    register(
      `optimizer:${name}`,
      `two ${name} steps with weight decay and a moving average equal the specification`,
      async (backend) => {
        const ref = await reference();
        try {
          const options: TrainingOptions = {
            loss: { kind: "triplet", alpha: 10 },
            optimizer: { name },
            weightDecay: 0.01,
            movingAverageDecay: 0.9,
          };
          await compareStep(
            backend,
            ref,
            {
              spec: small,
              state: randomState(small, options.optimizer, 3, true),
              options,
              images: randomImages(small, 6, 3),
              seed: 3,
            },
            tol,
            2,
            0.05,
          );
        } finally {
          ref.dispose();
        }
      },
    );
  }

  const softmaxCases: [string, string, TrainingOptions["loss"]][] = [
    ["softmax", "softmax cross-entropy", { kind: "softmax", numClasses: 3 }],
    ["softmax:center", "softmax with center loss and the prelogits norm penalty", {
      kind: "softmax",
      numClasses: 3,
      centerLossFactor: 0.5,
      centerLossAlfa: 0.6,
      prelogitsNormLossFactor: 0.1,
      prelogitsNormP: 1.5,
    }],
    ["softmax:arcface", "softmax with the ArcFace margin", {
      kind: "softmax",
      numClasses: 3,
      arcface: { margin: 0.5, scale: 8 },
    }],
  ];
  for (const [id, what, loss] of softmaxCases) {
    register(
      id,
      `three steps of ${what} equal the specification`,
      async (backend) => {
        const ref = await reference();
        try {
          const options: TrainingOptions = {
            loss,
            optimizer: { name: "ADAM" },
            weightDecay: 0.01,
            movingAverageDecay: 0.9,
          };
          await compareStep(
            backend,
            ref,
            {
              spec: small,
              state: initModelState(small, options, createRng(8)),
              options,
              images: randomImages(small, 6, 8),
              seed: 8,
              labels: Int32Array.from([0, 1, 2, 2, 1, 1]),
            },
            tol,
            3,
            0.05,
          );
        } finally {
          ref.dispose();
        }
      },
    );
  }

  register(
    "nano",
    "a full nano training step (loss, parameters, statistics, slots, moving averages) equals the specification",
    async (backend) => {
      const ref = await reference();
      try {
        // 32x32 keeps the pure reference step near a second on two cores.
        const spec = nano({ keepProbability: 0.8, imageSize: 32 });
        const options: TrainingOptions = {
          loss: { kind: "triplet", alpha: 0.2 },
          optimizer: { name: "ADAGRAD" },
          weightDecay: 1e-4,
          movingAverageDecay: 0.9999,
        };
        await compareStep(
          backend,
          ref,
          {
            spec,
            state: randomState(spec, options.optimizer, 5, true),
            options,
            images: randomImages(spec, 6, 5),
            seed: 5,
          },
          tol,
          1,
          0.1,
        );
      } finally {
        ref.dispose();
      }
    },
  );
}
