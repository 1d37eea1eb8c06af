import assert from "node:assert/strict";
import fc from "fast-check";
import { retrievalMetrics } from "../core/pure/retrieval.ts";

function line(xs: readonly number[]) {
  return { rows: xs.length, cols: 1, data: new Float32Array(xs) };
}

function close(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} vs ${expected}`);
}

Deno.test("retrievalMetrics() matches a hand-computed case", () => {
  // Points 0(A) 1(B) 2.5(A) 3(A) 10(B). Per query, the R nearest others:
  // q0 A R=2: B, A -> p@1 0, RP 1/2, AP@R (1/2)/2
  // q1 B R=1: A    -> 0, 0, 0
  // q2 A R=2: A, B -> 1, 1/2, (1/1)/2
  // q3 A R=2: A, B -> 1, 1/2, 1/2
  // q4 B R=1: A    -> 0, 0, 0
  const m = retrievalMetrics(line([0, 1, 2.5, 3, 10]), ["A", "B", "A", "A", "B"]);
  close(m.precisionAt1, 2 / 5);
  close(m.rPrecision, 1.5 / 5);
  close(m.mapAtR, 1.25 / 5);
  assert.equal(m.queries, 5);
  assert.equal(m.loneQueries, 0);
});

Deno.test("retrievalMetrics() MAP@R weights hits by their rank", () => {
  // Points 0(A) 1(A) 2(B) 3.1(A) 4.3(A); every A query has R = 3.
  // q0 sees A, B, A: AP@R (1/1 + 2/3)/3 = 5/9, RP 2/3, p@1 1.
  // q1 sees 0 (A; tie with 2 at distance 1, lower index first), 2 B, 3 A: 5/9, 2/3, 1.
  // q2 (B) is lone. q3 sees 2 B, 4 A, 1 A: (1/2 + 2/3)/3 = 7/18, 2/3, 0.
  // q4 sees 3 A, 2 B, 1 A: 5/9, 2/3, 1.
  const m = retrievalMetrics(line([0, 1, 2, 3.1, 4.3]), [0, 0, 1, 0, 0]);
  close(m.mapAtR, (3 * 5 / 9 + 7 / 18) / 4);
  close(m.rPrecision, 2 / 3);
  close(m.precisionAt1, 3 / 4);
  assert.equal(m.queries, 4);
  assert.equal(m.loneQueries, 1);
});

Deno.test("retrievalMetrics() breaks distance ties by index and leaves out lone labels", () => {
  // Query 1 (B) is equidistant from 0 (A) and 2 (B): the lower index, A, ranks first.
  const m = retrievalMetrics(line([0, 1, 2, 50]), ["A", "B", "B", "C"]);
  // Queries: 0 (A) is lone, 3 (C) is lone; 1 -> A first (miss); 2 -> B first (hit).
  assert.equal(m.queries, 2);
  assert.equal(m.loneQueries, 2);
  close(m.precisionAt1, 1 / 2);
  assert.deepEqual(retrievalMetrics(line([0, 1]), [0, 1]), {
    precisionAt1: 0,
    rPrecision: 0,
    mapAtR: 0,
    queries: 0,
    loneQueries: 2,
  });
});

Deno.test("retrievalMetrics() is 1 for well-separated classes and MAP@R never exceeds R-precision", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 2, maxLength: 20 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 20, maxLength: 20 }),
      (labels, jitter) => {
        const separated = retrievalMetrics(
          line(labels.map((l, i) => l * 100 + jitter[i]!)),
          labels,
        );
        if (separated.queries > 0) {
          assert.equal(separated.precisionAt1, 1);
          assert.equal(separated.rPrecision, 1);
          close(separated.mapAtR, 1);
        }
        const mixed = retrievalMetrics(line(jitter.slice(0, labels.length)), labels);
        assert.ok(mixed.mapAtR <= mixed.rPrecision + 1e-12);
        assert.ok(mixed.rPrecision >= 0 && mixed.rPrecision <= 1);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("retrievalMetrics() rejects a label count that differs from the rows", () => {
  assert.throws(() => retrievalMetrics(line([0, 1]), [0]), /Got 1 labels for 2 embeddings/);
});

/** The definitions written out plainly: sort every other row, ties by index. */
function naive(x: number[][], labels: number[]) {
  let p1 = 0, rp = 0, map = 0, queries = 0;
  for (let q = 0; q < x.length; q++) {
    const r = labels.filter((l) => l === labels[q]).length - 1;
    if (r === 0) continue;
    queries++;
    const d = (j: number) => x[q]!.reduce((s, v, k) => s + (v - x[j]![k]!) ** 2, 0);
    const order = x.map((_, j) => j).filter((j) => j !== q).sort((a, b) => d(a) - d(b) || a - b);
    const rel = order.slice(0, r).map((j) => labels[j] === labels[q] ? 1 : 0);
    p1 += rel[0]!;
    rp += rel.reduce((s: number, v) => s + v, 0) / r;
    let hits = 0;
    map += rel.reduce((s: number, v, i) => (v ? s + ++hits / (i + 1) : s), 0) / r;
  }
  return queries === 0 ? [0, 0, 0] : [p1 / queries, rp / queries, map / queries];
}

Deno.test("retrievalMetrics() equals the plainly written definitions, ties included", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 25 }).chain((n) =>
        fc.tuple(
          fc.array(fc.array(fc.integer({ min: -2, max: 2 }), { minLength: 2, maxLength: 2 }), {
            minLength: n,
            maxLength: n,
          }),
          fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
        )
      ),
      ([points, labels]) => {
        const m = retrievalMetrics(
          { rows: points.length, cols: 2, data: new Float32Array(points.flat()) },
          labels,
        );
        const [p1, rp, map] = naive(points, labels);
        close(m.precisionAt1, p1!);
        close(m.rPrecision, rp!);
        close(m.mapAtR, map!);
      },
    ),
    { numRuns: 200 },
  );
});
