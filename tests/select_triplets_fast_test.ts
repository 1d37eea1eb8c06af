import assert from "node:assert/strict";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs";
import {
  gramMatrix,
  gramSelectionBand,
  selectTripletsFast,
  type SelectTripletsFastOptions,
} from "../core/select_triplets_fast.ts";
import { createTfjsBackend } from "../backends/tfjs/backend.ts";
import { l2Normalize, pairwiseSquaredDistances } from "../core/pure/distances.ts";
import { createRng, uniforms } from "../core/pure/rng.ts";
import { selectTriplets, type SelectTripletsLimitOptions } from "../core/pure/select_triplets.ts";
import type { Matrix, SelectionStrategy, TripletSelection } from "../core/types.ts";

tf.env().set("PROD", true);

const STRATEGIES: readonly SelectionStrategy[] = ["vggface", "facenet", "hard", "all"];

interface Case {
  embeddings: Matrix;
  numPerClass: number[];
  options: SelectTripletsLimitOptions;
}

/** The double `steps` ulps from `x` (steps may be negative). */
function ulpsAway(x: number, steps: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigInt64(0, view.getBigInt64(0) + BigInt(steps));
  return view.getFloat64(0);
}

/**
 * Batches of clustered rows (sometimes on a coarse grid, so that many
 * distances tie exactly, sometimes scaled far from unit norm), with alpha
 * either free or ON a margin `d(a,r) - d(a,p)` of the specification's
 * distances (exactly, a few double ulps or float32 ulps away), every
 * strategy, some anchor classes left out, and sometimes a small
 * `maxTriplets`.
 */
const caseArb: fc.Arbitrary<Case> = fc.record({
  // The first class has a pair; others may be empty or single.
  numPerClass: fc.tuple(
    fc.integer({ min: 2, max: 8 }),
    fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 6 }),
  ).map(([first, rest]) => [first, ...rest]),
  cols: fc.integer({ min: 1, max: 12 }),
  spread: fc.constantFrom(0.1, 0.5, 2),
  grid: fc.boolean(),
  scale: fc.constantFrom(1, 1, 1, 1e-4, 300),
  seed: fc.nat({ max: 1_000_000 }),
  strategy: fc.constantFrom(...STRATEGIES),
  alphaFree: fc.double({ min: 0.01, max: 2, noNaN: true }),
  onMargin: fc.boolean(),
  pick: fc.nat(),
  nudge: fc.constantFrom(0, 0, 1, -1, 2, -2, 2 ** 29, -(2 ** 29)),
  anchorFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  maxTriplets: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
  shuffle: fc.boolean(),
}).map((c): Case => {
  const rows = c.numPerClass.reduce((a, b) => a + b, 0);
  const [u] = uniforms(createRng(c.seed), (c.numPerClass.length + rows) * c.cols);
  const data = new Float32Array(rows * c.cols);
  let row = 0;
  c.numPerClass.forEach((size, k) => {
    for (let i = 0; i < size; i++, row++) {
      for (let j = 0; j < c.cols; j++) {
        const centre = 2 * u[k * c.cols + j]! - 1;
        const noise = c.spread * (2 * u[(c.numPerClass.length + row) * c.cols + j]! - 1);
        data[row * c.cols + j] = centre + noise;
      }
    }
  });
  let embeddings = l2Normalize({ rows, cols: c.cols, data });
  if (c.grid) {
    embeddings = {
      ...embeddings,
      data: embeddings.data.map((v) => Math.round(v * 4) / 4),
    };
  }
  if (c.scale !== 1) {
    embeddings = { ...embeddings, data: embeddings.data.map((v) => v * c.scale) };
  }
  let alpha = c.alphaFree;
  if (c.onMargin && rows > 0) {
    // A margin d(a,r) - d(a,p) > 0 of the specification's float32 distances.
    const d = pairwiseSquaredDistances(embeddings).data;
    const cls: number[] = [];
    c.numPerClass.forEach((size, k) => cls.push(...new Array<number>(size).fill(k)));
    const margins: number[] = [];
    for (let a = 0; a < rows && margins.length < 64; a++) {
      for (let p = a + 1; p < rows && cls[p] === cls[a]; p++) {
        for (let r = 0; r < rows; r++) {
          const m = d[a * rows + r]! - d[a * rows + p]!;
          if (cls[r] !== cls[a] && m > 0) margins.push(m);
        }
      }
    }
    if (margins.length > 0) {
      const nudged = ulpsAway(margins[c.pick % margins.length]!, c.nudge);
      if (nudged > 0 && Number.isFinite(nudged)) alpha = nudged;
    }
  }
  const options: SelectTripletsLimitOptions = {
    alpha,
    strategy: c.strategy,
    anchorClasses: Math.max(1, Math.round(c.anchorFraction * c.numPerClass.length)),
    rng: createRng(c.seed + 1),
    shuffle: c.shuffle,
    ...(c.maxTriplets === undefined ? {} : { maxTriplets: c.maxTriplets }),
  };
  return { embeddings, numPerClass: c.numPerClass, options };
});

/** The outcome of a selection: its result, or the RangeError message it threw. */
async function outcome(
  run: () => TripletSelection | Promise<TripletSelection>,
): Promise<TripletSelection | string> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return `RangeError: ${error.message}`;
  }
}

/**
 * Asserts a selection equals the specification's: triplets, RNG, counts,
 * errors; the mean distances (from the Gram matrix) within the bound on a
 * distance's error that the band is made of (at most the band itself).
 */
function assertSameSelection(
  actual: TripletSelection | string,
  expected: TripletSelection | string,
  c: Case,
): void {
  if (typeof expected === "string" || typeof actual === "string") {
    assert.equal(actual, expected);
    return;
  }
  assert.deepEqual(actual.triplets, expected.triplets);
  assert.deepEqual(actual.rng, expected.rng);
  assert.equal(actual.pairs, expected.pairs);
  assert.equal(actual.noCandidateFraction, expected.noCandidateFraction);
  const { rows, cols, data } = c.embeddings;
  let m = 0;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < cols; k++) s += data[r * cols + k]! ** 2;
    m = Math.max(m, s);
  }
  const tolerance = gramSelectionBand(cols, m, c.options.alpha, "float32");
  assert.ok(Math.abs(actual.meanPosDist - expected.meanPosDist) <= tolerance, "meanPosDist");
  assert.ok(Math.abs(actual.meanNegDist - expected.meanNegDist) <= tolerance, "meanNegDist");
}

/**
 * A Gram matrix as bad as a float32 GEMM may make it: every entry off the
 * real dot product by up to the float32 bound `cols u / (1 - cols u)` times
 * the largest squared norm (less the final rounding), most of them by all of it.
 */
function worstFloat32Gram(x: Matrix, seed: number): Float32Array {
  const { rows: n, cols } = x;
  let m = 0;
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let k = 0; k < cols; k++) s += x.data[r * cols + k]! ** 2;
    m = Math.max(m, s);
  }
  const u = 2 ** -24;
  const bound = ((cols * u) / (1 - cols * u) - 2 * u) * m;
  const [signs] = uniforms(createRng(seed), n * n);
  const g = new Float32Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let r = 0; r < n; r++) {
      let dot = 0;
      for (let k = 0; k < cols; k++) dot += x.data[a * cols + k]! * x.data[r * cols + k]!;
      const s = signs[a * n + r]!;
      g[a * n + r] = dot + (s < 0.4 ? -bound : s < 0.8 ? bound : (2 * s - 1) * bound);
    }
  }
  return g;
}

Deno.test("selectTripletsFast() equals the specification on random and boundary batches, every strategy, maxTriplets included", async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      assertSameSelection(
        await outcome(() => selectTripletsFast(c.embeddings, c.numPerClass, c.options)),
        await outcome(() => selectTriplets(c.embeddings, c.numPerClass, c.options)),
        c,
      );
    }),
    { numRuns: 400 },
  );
});

Deno.test("selectTripletsFast() equals the specification with a float32 Gram matrix erring by its whole bound", async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, fc.nat(), async (c, seed) => {
      const options: SelectTripletsFastOptions = {
        ...c.options,
        gram: { data: worstFloat32Gram(c.embeddings, seed), accumulation: "float32" },
      };
      assertSameSelection(
        await outcome(() => selectTripletsFast(c.embeddings, c.numPerClass, options)),
        await outcome(() => selectTriplets(c.embeddings, c.numPerClass, c.options)),
        c,
      );
    }),
    { numRuns: 400 },
  );
});

for (const device of ["cpu", "wasm"] as const) {
  Deno.test({
    name: `tfjs ${device}: selectTriplets() equals the specification on random and boundary ` +
      `batches, every strategy, maxTriplets included`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const backend = await createTfjsBackend({ device });
      try {
        await fc.assert(
          fc.asyncProperty(caseArb, async (c) => {
            assertSameSelection(
              await outcome(() => backend.selectTriplets(c.embeddings, c.numPerClass, c.options)),
              await outcome(() => selectTriplets(c.embeddings, c.numPerClass, c.options)),
              c,
            );
          }),
          { numRuns: 150 },
        );
      } finally {
        backend.dispose();
      }
    },
  });
}

Deno.test({
  name: "tfjs cpu and wasm: selectTriplets() equals the specification on batches of up to " +
    "600 rows of 128 dimensions",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    for (const device of ["cpu", "wasm"] as const) {
      const backend = await createTfjsBackend({ device });
      try {
        for (const [classes, perClass, spread] of [[15, 40, 0.6], [30, 20, 3]] as const) {
          const rows = classes * perClass;
          const [u] = uniforms(createRng(classes), rows * 128 + classes * 128);
          const data = Float32Array.from(
            { length: rows * 128 },
            (_, i) =>
              u[rows * 128 + Math.floor(i / 128 / perClass) * 128 + (i % 128)]! +
              spread * (u[i]! - 0.5),
          );
          const embeddings = l2Normalize({ rows, cols: 128, data });
          const numPerClass = new Array<number>(classes).fill(perClass);
          for (const strategy of ["vggface", "facenet", "hard"] as const) {
            const options = { alpha: 0.2, strategy, rng: createRng(5) };
            assertSameSelection(
              await backend.selectTriplets(embeddings, numPerClass, options),
              selectTriplets(embeddings, numPerClass, options),
              { embeddings, numPerClass, options },
            );
          }
        }
      } finally {
        backend.dispose();
      }
    }
  },
});

Deno.test("gramMatrix() holds the float64 dot products rounded to float32, for any row count", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 11 }),
      fc.integer({ min: 0, max: 9 }),
      fc.nat(),
      (rows, cols, seed) => {
        const [u] = uniforms(createRng(seed), rows * cols);
        const x = { rows, cols, data: Float32Array.from(u, (v) => 4 * v - 2) };
        const g = gramMatrix(x);
        assert.equal(g.length, rows * rows);
        for (let a = 0; a < rows; a++) {
          for (let r = 0; r < rows; r++) {
            let dot = 0;
            for (let k = 0; k < cols; k++) dot += x.data[a * cols + k]! * x.data[r * cols + k]!;
            assert.equal(g[a * rows + r], Math.fround(dot), `entry (${a}, ${r})`);
          }
        }
      },
    ),
  );
});

Deno.test("selectTripletsFast() runs the specification for rows too large or too small for float32 products", () => {
  for (const scale of [1e-12, 1e12]) {
    const embeddings = {
      rows: 4,
      cols: 1,
      data: Float32Array.from([0, 0.1, 0.2, 5], (v) => v * scale),
    };
    const options = { alpha: 0.2 * scale * scale, strategy: "all", shuffle: false } as const;
    assert.deepEqual(
      selectTripletsFast(embeddings, [2, 2], options),
      selectTriplets(embeddings, [2, 2], options),
    );
  }
});

Deno.test("selectTripletsFast() and gramSelectionBand() reject malformed input", () => {
  const embeddings = { rows: 2, cols: 1, data: new Float32Array([0, 1]) };
  const options = { alpha: 0.2, shuffle: false, strategy: "all" } as const;
  assert.throws(
    () =>
      selectTripletsFast(embeddings, [1, 1], {
        ...options,
        gram: { data: new Float32Array(3), accumulation: "float32" },
      }),
    RangeError,
  );
  assert.throws(
    () =>
      selectTripletsFast(embeddings, [1, 1], {
        ...options,
        gram: { data: [0, 0, 0, 1] as unknown as Float32Array, accumulation: "float32" },
      }),
    TypeError,
  );
  assert.throws(() => selectTripletsFast(embeddings, [2, 1], options), RangeError);
  assert.throws(() => selectTripletsFast(embeddings, [2], { alpha: 0.2 }), TypeError);
  assert.throws(() => gramSelectionBand(-1, 1, 0.2, "float32"), RangeError);
  assert.throws(() => gramSelectionBand(4, NaN, 0.2, "float64"), RangeError);
  assert.throws(() => gramSelectionBand(2 ** 24, 1, 0.2, "float32"), RangeError);
  assert.throws(
    () => gramSelectionBand(4, 1, 0.2, "float16" as unknown as "float32"),
    RangeError,
  );
  assert.throws(() => gramMatrix({ rows: 2, cols: 2, data: new Float32Array(3) }), RangeError);
});
