// The pure entry point in a browser: bundled by `deno bundle` (no tfjs, no
// node: import, so it bundles), served on 127.0.0.1 and run in headless
// Chromium, where evaluate() and selectTriplets() must give exactly what they
// give under Deno.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createRng,
  evaluate,
  l2Normalize,
  type SelectionStrategy,
  selectTriplets,
  uniforms,
} from "../pure.ts";
import { Browser, IGNORE_CHROMIUM } from "./_chromium.ts";
import { runDeno } from "./_cli.ts";

const PURE = new URL("../pure.ts", import.meta.url).pathname;

/** 8 people x 5 images of 6-d unit embeddings, seeded. */
interface Input {
  rows: number;
  cols: number;
  data: number[];
  /** Pairs of rows, and whether both rows are of one person. */
  a: number[];
  b: number[];
  same: boolean[];
}

function embeddings(): Input {
  const [u] = uniforms(createRng(42), 40 * 6);
  const centres = [...u.slice(0, 8 * 6)];
  const data = new Float32Array(40 * 6);
  const [noise] = uniforms(createRng(43), 40 * 6);
  for (let i = 0; i < 40; i++) {
    for (let c = 0; c < 6; c++) {
      data[i * 6 + c] = centres[Math.floor(i / 5) * 6 + c]! + 0.4 * noise[i * 6 + c]!;
    }
  }
  const unit = l2Normalize({ rows: 40, cols: 6, data });
  const a = Array.from({ length: 20 }, (_, i) => 2 * i);
  const b = a.map((r, i) => (i % 3 !== 0 ? 5 * Math.floor(r / 5) + (r + 1) % 5 : (r + 7) % 40));
  const same = a.map((r, i) => Math.floor(r / 5) === Math.floor(b[i]! / 5));
  return { rows: 40, cols: 6, data: [...unit.data], a, b, same };
}

const STRATEGIES: SelectionStrategy[] = ["vggface", "facenet", "hard", "all"];

function inDeno(x: Input) {
  const m = { rows: x.rows, cols: x.cols, data: Float32Array.from(x.data) };
  const side = (rows: number[]) => ({
    rows: rows.length,
    cols: 6,
    data: Float32Array.from(rows.flatMap((r) => [...m.data.subarray(6 * r, 6 * r + 6)])),
  });
  const r = evaluate(side(x.a), side(x.b), x.same, { nrofFolds: 5 });
  return {
    evaluation: {
      accuracy: r.accuracy,
      thresholdsChosen: r.thresholdsChosen,
      tpr: [...r.tpr],
      fpr: [...r.fpr],
      auc: r.auc,
      val: r.val,
      eer: r.eer,
    },
    selections: STRATEGIES.map((strategy) => {
      const s = selectTriplets(m, [5, 5, 5, 5, 5, 5, 5, 5], {
        alpha: 0.2,
        strategy,
        rng: createRng(7),
      });
      return { triplets: s.triplets, pairs: s.pairs, rng: s.rng };
    }),
  };
}

// The same computation as page code, written against the bundle's exports.
const PAGE_CODE = `async (x) => {
  const m = await import("/pure.js");
  const e = { rows: x.rows, cols: x.cols, data: Float32Array.from(x.data) };
  const side = (rows) => ({
    rows: rows.length,
    cols: 6,
    data: Float32Array.from(rows.flatMap((r) => [...e.data.subarray(6 * r, 6 * r + 6)])),
  });
  const r = m.evaluate(side(x.a), side(x.b), x.same, { nrofFolds: 5 });
  return {
    evaluation: {
      accuracy: r.accuracy,
      thresholdsChosen: r.thresholdsChosen,
      tpr: [...r.tpr],
      fpr: [...r.fpr],
      auc: r.auc,
      val: r.val,
      eer: r.eer,
    },
    selections: ${JSON.stringify(STRATEGIES)}.map((strategy) => {
      const s = m.selectTriplets(e, [5, 5, 5, 5, 5, 5, 5, 5], {
        alpha: 0.2,
        strategy,
        rng: m.createRng(7),
      });
      return { triplets: s.triplets, pairs: s.pairs, rng: s.rng };
    }),
  };
}`;

Deno.test("the pure entry point's module graph has no npm: or node: import", async () => {
  const info = await runDeno(["info", "--json", PURE]);
  assert.equal(info.code, 0, info.stderr);
  const modules: { specifier: string }[] = JSON.parse(info.stdout).modules;
  const outside = modules.map((m) => m.specifier).filter((s) => !s.startsWith("file://"));
  assert.deepEqual(outside, []);
  assert.ok(modules.length > 30);
});

Deno.test({
  name:
    "the bundled pure entry point computes evaluate() and selectTriplets() in Chromium exactly as in Deno",
  ignore: IGNORE_CHROMIUM,
  async fn() {
    const dir = await Deno.makeTempDir();
    const bundled = await runDeno([
      "bundle",
      "--platform",
      "browser",
      "--format",
      "esm",
      PURE,
      "-o",
      join(dir, "pure.js"),
    ]);
    assert.equal(bundled.code, 0, bundled.stderr);
    const bundle = await Deno.readTextFile(join(dir, "pure.js"));
    assert.ok(!/from\s*["'](node:|npm:)/.test(bundle), "the bundle imports node: or npm:");
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/pure.js") {
        return new Response(bundle, { headers: { "content-type": "text/javascript" } });
      }
      if (path === "/") {
        return new Response("<!DOCTYPE html><title>pure</title><link rel=icon href=data:,>", {
          headers: { "content-type": "text/html" },
        });
      }
      return new Response("not found", { status: 404 });
    });
    const browser = await Browser.launch();
    try {
      const origin = `http://127.0.0.1:${server.addr.port}`;
      await browser.goto(`${origin}/`);
      const x = embeddings();
      const inPage = await browser.evaluate<ReturnType<typeof inDeno>>(
        `(${PAGE_CODE})(${JSON.stringify(x)})`,
      );
      const expected = JSON.parse(JSON.stringify(inDeno(x)));
      assert.deepEqual(inPage, expected);
      // Not a vacuous comparison: triplets were selected and the ROC moves.
      assert.ok(expected.selections.every((s: { triplets: unknown[] }) => s.triplets.length > 0));
      assert.ok(expected.evaluation.auc > 0.5 && expected.evaluation.auc <= 1);
      assert.deepEqual(browser.problems, []);
      assert.deepEqual(browser.requests, [`${origin}/`, `${origin}/pure.js`]);
    } finally {
      await browser.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
