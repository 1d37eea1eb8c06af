import assert from "node:assert/strict";
import fc from "fast-check";
import { createWasmSimdRuntime } from "../backends/wasm-simd/runtime.ts";
import { selectionBand, selectTripletsWasm } from "../backends/wasm-simd/select_triplets.ts";
import { l2Normalize, pairwiseSquaredDistances } from "../core/pure/distances.ts";
import { createRng } from "../core/pure/rng.ts";
import { selectTriplets } from "../core/pure/select_triplets.ts";
import type { Matrix, SelectionStrategy } from "../core/types.ts";

const STRATEGIES: readonly SelectionStrategy[] = ["vggface", "facenet", "hard", "all"];

/** Rows in clusters (one per class, `spread` the noise) on the unit sphere. */
function clustered(
  classes: number,
  perClass: number,
  cols: number,
  seed: number,
  spread = 0.6,
): Matrix {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const data = new Float32Array(classes * perClass * cols);
  for (let c = 0; c < classes; c++) {
    const center = Array.from({ length: cols }, next);
    for (let i = 0; i < perClass; i++) {
      for (let k = 0; k < cols; k++) {
        data[(c * perClass + i) * cols + k] = center[k]! + spread * next();
      }
    }
  }
  return l2Normalize({ rows: classes * perClass, cols, data });
}

Deno.test({
  name: "selectTripletsWasm() equals the specification on batches of up to 546 rows, " +
    "every strategy, one and two threads",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    for (const threads of [1, 2]) {
      const rt = await createWasmSimdRuntime({ threads });
      try {
        // Up to 546 rows: more than two of the Gram matrix's 240-row strips.
        for (
          const [classes, perClass, cols, spread] of [
            [12, 10, 16, 0.6],
            [20, 9, 33, 0.6],
            [7, 13, 128, 0.6],
            [26, 21, 24, 3],
          ]
        ) {
          const e = clustered(classes!, perClass!, cols!, classes! * 7 + cols!, spread!);
          const numPerClass = new Array<number>(classes!).fill(perClass!);
          const large = e.rows > 480;
          // Batch-all on the large batch would list millions of triplets: not there.
          for (const strategy of large ? STRATEGIES.slice(0, 3) : STRATEGIES) {
            for (const alpha of large ? [0.2] : [0.05, 0.2, 0.6]) {
              const options = {
                alpha,
                strategy,
                rng: createRng(3),
                anchorClasses: classes! - 2,
                maxTriplets: 10_000_000,
              };
              const actual = selectTripletsWasm(rt, e, numPerClass, options);
              const expected = selectTriplets(e, numPerClass, options);
              assert.deepEqual(actual.triplets, expected.triplets, `${strategy} alpha ${alpha}`);
              assert.deepEqual(actual.rng, expected.rng);
              assert.equal(actual.noCandidateFraction, expected.noCandidateFraction);
              assert.ok(Math.abs(actual.meanNegDist - expected.meanNegDist) < 1e-5);
              assert.ok(Math.abs(actual.meanPosDist - expected.meanPosDist) < 1e-5);
            }
          }
        }
      } finally {
        rt.dispose();
      }
    }
  },
});

Deno.test({
  name: "selectTripletsWasm() equals the specification when every distance is on a margin " +
    "(rows on a coarse grid, many exact ties)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const rt = await createWasmSimdRuntime({ threads: 2 });
    try {
      // Rows with entries in {-1/2, 0, 1/2}: distances are multiples of 1/4, and
      // alpha = 1/4 puts a large share of the comparisons exactly on the margin.
      const e = clustered(16, 8, 8, 11);
      const grid = Float32Array.from(e.data, (v) => Math.round(v * 2) / 2);
      const x = { rows: e.rows, cols: e.cols, data: grid };
      const numPerClass = new Array<number>(16).fill(8);
      for (const strategy of STRATEGIES) {
        const options = { alpha: 0.25, strategy, rng: createRng(9), maxTriplets: 10_000_000 };
        const actual = selectTripletsWasm(rt, x, numPerClass, options);
        const expected = selectTriplets(x, numPerClass, options);
        assert.deepEqual(actual.triplets, expected.triplets, strategy);
        assert.deepEqual(actual.rng, expected.rng);
      }
    } finally {
      rt.dispose();
    }
  },
});

Deno.test({
  name: "selectTripletsWasm() refuses a batch-all selection over maxTriplets with the " +
    "specification's error",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const rt = await createWasmSimdRuntime({ threads: 1 });
    try {
      const embeddings = { rows: 4, cols: 1, data: new Float32Array([0, 0.1, 0.2, 5]) };
      const options = { alpha: 0.2, strategy: "all", shuffle: false, maxTriplets: 2 } as const;
      assert.throws(() => selectTriplets(embeddings, [2, 2], options), RangeError);
      let expected = "";
      try {
        selectTriplets(embeddings, [2, 2], options);
      } catch (error) {
        expected = (error as Error).message;
      }
      assert.throws(
        () => selectTripletsWasm(rt, embeddings, [2, 2], options),
        (error: Error) => error instanceof RangeError && error.message === expected,
      );
      assert.throws(
        () => selectTripletsWasm(rt, embeddings, [2, 2], { ...options, maxTriplets: -1 }),
        RangeError,
      );
    } finally {
      rt.dispose();
    }
  },
});

Deno.test({
  name: "selectTripletsWasm() runs the specification for rows too large or too small " +
    "for float32 products",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const rt = await createWasmSimdRuntime({ threads: 1 });
    try {
      for (const scale of [1e12, 1e-12, 0]) {
        const e = clustered(3, 3, 4, 5);
        const x = { rows: e.rows, cols: e.cols, data: e.data.map((v) => v * scale) };
        const options = { alpha: 0.2 * scale * scale || 0.2, rng: createRng(2) };
        const actual = selectTripletsWasm(rt, x, [3, 3, 3], options);
        const expected = selectTriplets(x, [3, 3, 3], options);
        assert.deepEqual(actual, expected);
      }
    } finally {
      rt.dispose();
    }
  },
});

Deno.test({
  name: "selectionBand() bounds the GEMM distances' distance from the specification's " +
    "(a quarter of the band), for widths up to 300",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const rt = await createWasmSimdRuntime({ threads: 1 });
    try {
      fc.assert(
        fc.property(
          fc.integer({ min: 2, max: 12 }),
          fc.integer({ min: 1, max: 300 }),
          fc.nat(),
          fc.constantFrom(1e-6, 1, 1e3),
          fc.boolean(),
          (rows, cols, seed, scale, normalize) => {
            let state = seed;
            const next = () => {
              state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
              return state / 2 ** 32 - 0.5;
            };
            let x: Matrix = {
              rows,
              cols,
              data: Float32Array.from({ length: rows * cols }, () => next() * scale),
            };
            if (normalize) x = l2Normalize(x);
            let maxNorm = 0;
            const norms = new Float32Array(rows);
            for (let r = 0; r < rows; r++) {
              let s = 0;
              for (let k = 0; k < cols; k++) s += x.data[r * cols + k]! ** 2;
              norms[r] = s;
              maxNorm = Math.max(maxNorm, s);
            }
            const a = rt.put(x.data);
            const g = rt.allocF32(rows * rows);
            try {
              rt.gemm({ m: rows, n: rows, k: cols, a, b: a, c: g }, { transB: true });
              const gram = rt.read(g, rows * rows);
              const exact = pairwiseSquaredDistances(x).data;
              const bound = selectionBand(cols, maxNorm, 0) / 4;
              for (let i = 0; i < rows; i++) {
                for (let j = 0; j < rows; j++) {
                  if (i === j) continue;
                  const approx = Math.fround(
                    Math.fround(norms[i]! + norms[j]!) - 2 * gram[i * rows + j]!,
                  );
                  const err = Math.abs(approx - exact[i * rows + j]!);
                  assert.ok(err <= bound, `|${approx} - ${exact[i * rows + j]}| > ${bound}`);
                }
              }
            } finally {
              rt.free(a);
              rt.free(g);
            }
          },
        ),
        { numRuns: 200 },
      );
    } finally {
      rt.dispose();
    }
  },
});
