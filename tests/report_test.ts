import assert from "node:assert/strict";
import { join } from "node:path";
import { decode as decodePng } from "fast-png";
import { evaluate } from "../core/pure/evaluation.ts";
import type { RefPair } from "../core/validate.ts";
import { readRunLog, type RunLog, validationRecord } from "../io/run_log.ts";
import { MAP_IDENTITIES, renderReport } from "../io/report_html.ts";
import { Browser, IGNORE_CHROMIUM } from "./_chromium.ts";
import { runCli } from "./_cli.ts";

/** A deterministic run: 3 epochs x 20 steps, 14 identities x 5 images of 8-d embeddings. */
function fixtureRun(): RunLog {
  let seed = 12345;
  const uniform = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const identities = 14;
  const perIdentity = 5;
  const d = 8;
  const centres = Array.from({ length: identities }, () => Array.from({ length: d }, uniform));
  const refs: string[] = [];
  const rows: number[][] = [];
  for (let i = 0; i < identities; i++) {
    for (let j = 0; j < perIdentity; j++) {
      refs.push(`syn:validation:${i}:${j}`);
      const v = centres[i]!.map((c) => c + 0.6 * (uniform() - 0.5));
      const norm = Math.hypot(...v);
      rows.push(v.map((x) => x / norm));
    }
  }
  const pairs: RefPair[] = [];
  for (let k = 0; k < 60; k++) {
    const i = k % identities;
    const same = k % 2 === 0;
    const other = same ? i : (i + 1 + (k % (identities - 1))) % identities;
    pairs.push({
      a: `syn:validation:${i}:${k % perIdentity}`,
      b: `syn:validation:${other}:${(k + 1) % perIdentity}`,
      same,
    });
  }
  const index = new Map(refs.map((r, i) => [r, i]));
  const side = (key: "a" | "b") => ({
    rows: pairs.length,
    cols: d,
    data: Float32Array.from(pairs.flatMap((p) => rows[index.get(p[key])!]!)),
  });
  const e1 = side("a");
  const e2 = side("b");
  const report = evaluate(e1, e2, pairs.map((p) => p.same), { nrofFolds: 10 });
  const distances = Float64Array.from(pairs, (_, i) => {
    let s = 0;
    for (let c = 0; c < d; c++) s += (e1.data[i * d + c]! - e2.data[i * d + c]!) ** 2;
    return s;
  });
  const validation = validationRecord(
    {
      report,
      refs,
      embeddings: { rows: refs.length, cols: d, data: Float32Array.from(rows.flat()) },
      distances,
    },
    pairs,
    { epoch: 3, step: 60 },
  );
  const steps = Array.from({ length: 60 }, (_, s) => ({
    epoch: Math.floor(s / 20) + 1,
    step: s + 1,
    loss: 0.2 * Math.exp(-s / 30) + 0.02 * Math.sin(s),
    triplets: 200 - 2 * s,
    learningRate: 0.05,
  }));
  const epochs = [1, 2, 3].map((e) => ({
    epoch: e,
    step: 20 * e,
    loss: 0.2 / e,
    triplets: 180 - 30 * e,
    accuracy: 0.6 + 0.1 * e,
    val: 0.1 * e,
    auc: 0.7 + 0.08 * e,
    eer: 0.3 - 0.05 * e,
    backend: "pure",
  }));
  return {
    dir: "runs/fixture",
    epochs,
    steps,
    validation,
    checkpoint: {
      path: "runs/fixture/ckpt-60",
      meta: { model: "nano", step: 60, config: { alpha: 0.2, optimizer: "ADAM" } },
    },
  };
}

const EXPECTED_SERIES: Record<string, number> = {
  loss: 1,
  triplets: 1,
  epochs: 3,
  roc: 1,
  distances: 2,
  map: MAP_IDENTITIES + 1, // 14 identities: the 10 largest coloured, the other 4 in one grey series
};

Deno.test("renderReport() draws every chart with its series, no script and no external resource", () => {
  const html = renderReport(fixtureRun());
  for (const [chart, n] of Object.entries(EXPECTED_SERIES)) {
    assert.ok(html.includes(`data-chart="${chart}" data-series="${n}"`), `chart ${chart}`);
  }
  assert.ok(!/<script/i.test(html));
  assert.ok(html.includes(`Content-Security-Policy" content="default-src 'none'`));
  const urls = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(urls, ["data:,"]);
  assert.ok(html.includes("<th>alpha</th><td>0.2</td>"));
});

Deno.test("renderReport() escapes labels and settings and says when the run has no validation", () => {
  const run = fixtureRun();
  const html = renderReport({
    ...run,
    validation: null,
    checkpoint: { path: "x", meta: { config: { note: "<b>&" } } },
  });
  assert.ok(html.includes("<td>&lt;b&gt;&amp;</td>"));
  assert.ok(html.includes("No validation.json"));
  assert.ok(!html.includes('data-chart="roc"'));
  assert.ok(html.includes('data-chart="loss"'));
});

Deno.test("readRunLog() tolerates a partial last line but rejects corruption inside a file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const line = JSON.stringify({ epoch: 1, step: 1, loss: 1, triplets: 3, learningRate: 0.1 });
    await Deno.writeTextFile(join(dir, "steps.jsonl"), `${line}\n${line}\n{"epoch":1,"st`);
    assert.equal((await readRunLog(dir)).steps.length, 2);
    await Deno.writeTextFile(join(dir, "steps.jsonl"), `${line}\n{oops\n${line}\n${line}\n`);
    await assert.rejects(readRunLog(dir), /steps.jsonl:2: not JSON/);
    await Deno.remove(join(dir, "steps.jsonl"));
    await assert.rejects(readRunLog(dir), /neither metrics.jsonl nor steps.jsonl/);
    await assert.rejects(readRunLog(join(dir, "nope")), /not found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: the CLI writes report.html for a run directory and rejects a missing one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = fixtureRun();
    await Deno.writeTextFile(
      join(dir, "metrics.jsonl"),
      run.epochs.map((e) => JSON.stringify(e) + "\n").join(""),
    );
    await Deno.writeTextFile(
      join(dir, "steps.jsonl"),
      run.steps.map((e) => JSON.stringify(e) + "\n").join(""),
    );
    await Deno.writeTextFile(join(dir, "validation.json"), JSON.stringify(run.validation));
    const ran = await runCli(["report", dir]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /wrote .*report\.html \(3 epochs, 60 steps\)/);
    const html = await Deno.readTextFile(join(dir, "report.html"));
    for (const [chart, n] of Object.entries(EXPECTED_SERIES)) {
      assert.ok(html.includes(`data-chart="${chart}" data-series="${n}"`), `chart ${chart}`);
    }
    const missing = await runCli(["report", join(dir, "nope")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
    assert.equal((await runCli(["report"])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --out writes every step and the last validation, and report draws them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const trained = await runCli([
      "train",
      "--preset",
      "tiny",
      "--backend",
      "pure",
      "--quiet",
      "--epoch-size",
      "3",
      "--max-nrof-epochs",
      "2",
      "--out",
      dir,
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    const run = await readRunLog(dir);
    assert.equal(run.epochs.length, 2);
    // Every global step once, in order (a round may run past --epoch-size, as in the reference implementation),
    // each epoch's last step being the step metrics.jsonl records for it.
    assert.deepEqual(run.steps.map((s) => s.step), run.steps.map((_, i) => i + 1));
    for (const e of run.epochs) {
      assert.equal(run.steps.filter((s) => s.epoch === e.epoch).at(-1)?.step, e.step);
    }
    assert.ok(run.steps.length >= 6);
    assert.ok(run.steps.every((s) => Number.isFinite(s.loss) && (s.triplets ?? -1) >= 0));
    // The last validation is the last epoch's: same step, same accuracy and AUC.
    const last = run.epochs[1]!;
    const v = run.validation!;
    assert.equal(v.epoch, 2);
    assert.equal(v.step, last.step);
    assert.equal(v.accuracy, last.accuracy);
    assert.equal(v.auc, last.auc);
    assert.equal(v.thresholdsChosen.length, 10);
    assert.equal(v.tpr.length, v.thresholds.length);
    assert.equal(v.pairs.distance.length, v.pairs.same.length);
    assert.ok(v.pairs.same.includes(true) && v.pairs.same.includes(false));
    assert.equal(v.map.x.length, v.map.labels.length);
    assert.equal(v.map.y.length, v.map.labels.length);
    assert.ok(v.map.explainedVariance[0]! >= v.map.explainedVariance[1]!);
    assert.ok(v.map.explainedVariance[0]! + v.map.explainedVariance[1]! <= v.map.totalVariance);
    assert.equal(run.checkpoint?.meta["step"], last.step);

    const reported = await runCli(["report", dir, "--out", join(dir, "r.html")]);
    assert.equal(reported.code, 0, reported.stderr);
    const html = await Deno.readTextFile(join(dir, "r.html"));
    const identities = new Set(v.map.labels).size;
    const expected = {
      ...EXPECTED_SERIES,
      map: Math.min(identities, MAP_IDENTITIES) + (identities > MAP_IDENTITIES ? 1 : 0),
    };
    for (const [chart, n] of Object.entries(expected)) {
      assert.ok(html.includes(`data-chart="${chart}" data-series="${n}"`), `chart ${chart}`);
    }
    // Each setting once (the checkpoint's fields and its config both name model and size).
    const settings = [...html.matchAll(/<tr><th>([^<]+)<\/th>/g)].map((m) => m[1]);
    assert.ok(settings.includes("model") && settings.includes("embeddingSize"));
    assert.equal(new Set(settings).size, settings.length, settings.join(" "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

interface ChartInfo {
  name: string;
  declared: number;
  rect: { x: number; y: number; width: number; height: number };
  series: { name: string; color: string; elements: number }[];
}

Deno.test({
  name:
    "report page renders in headless Chromium with no console error or request, and every series is drawn",
  ignore: IGNORE_CHROMIUM,
  async fn() {
    const dir = await Deno.makeTempDir();
    const file = join(dir, "report.html");
    await Deno.writeTextFile(file, renderReport(fixtureRun()));
    const browser = await Browser.launch({ width: 1300, height: 900 });
    try {
      const url = new URL(`file://${file}`).href;
      await browser.goto(url);
      const charts = await browser.evaluate<ChartInfo[]>(`
        [...document.querySelectorAll("figure.chart")].map((f) => {
          const r = f.querySelector("rect.plot-area").getBoundingClientRect();
          const names = [...new Set([...f.querySelectorAll(".series")].map((e) => e.dataset.series))];
          return {
            name: f.dataset.chart,
            declared: Number(f.dataset.series),
            rect: { x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height },
            series: names.map((name) => {
              const els = [...f.querySelectorAll(".series")].filter((e) => e.dataset.series === name);
              return { name, color: els[0].dataset.color, elements: els.length };
            }),
          };
        })`);
      assert.deepEqual(
        Object.fromEntries(charts.map((c) => [c.name, c.series.length])),
        EXPECTED_SERIES,
      );
      for (const chart of charts) assert.equal(chart.declared, chart.series.length, chart.name);

      const png = decodePng(await browser.screenshot());
      const channels = png.channels ?? 4;
      const pixels = png.data as Uint8Array;
      for (const chart of charts) {
        const { x, y, width, height } = chart.rect;
        assert.ok(width > 300 && height > 150, `${chart.name} plot area ${width}x${height}`);
        const counts = chart.series.map(() => 0);
        const rgb = chart.series.map((s) =>
          [1, 3, 5].map((i) => parseInt(s.color.slice(i, i + 2), 16))
        );
        for (let py = Math.ceil(y) + 1; py < Math.floor(y + height) - 1; py++) {
          for (let px = Math.ceil(x) + 1; px < Math.floor(x + width) - 1; px++) {
            const o = (py * png.width + px) * channels;
            rgb.forEach((c, k) => {
              if (
                Math.abs(pixels[o]! - c[0]!) <= 4 && Math.abs(pixels[o + 1]! - c[1]!) <= 4 &&
                Math.abs(pixels[o + 2]! - c[2]!) <= 4
              ) counts[k]!++;
            });
          }
        }
        chart.series.forEach((s, k) => {
          assert.ok(
            counts[k]! >= 5,
            `${chart.name}: series "${s.name}" (${s.color}) has ${counts[k]} pixels in the plot`,
          );
        });
      }
      assert.deepEqual(browser.problems, []);
      assert.deepEqual(browser.requests, [url]);
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
