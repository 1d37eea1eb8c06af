/**
 * The training report as one self-contained HTML page: hand-drawn SVG charts
 * (no script, no external resource; a Content-Security-Policy forbids any
 * fetch), built from a run directory's {@link RunLog}.
 *
 * Every chart is a `<figure class="chart" data-chart="NAME" data-series="N">`
 * holding an SVG whose plot area is `<rect class="plot-area">`; each data
 * series is drawn by elements of class `series` with `data-series="NAME"`
 * and `data-color="#rrggbb"` in that series' own colour, so a test can find
 * every series in a screenshot.
 *
 * @module
 */

import type { JsonValue } from "./checkpoint.ts";
import type { EpochRecord, RunLog, StepRecord } from "./run_log.ts";

/**
 * The series colours (Tableau 10, with a teal in place of its grey).
 *
 * @category Reports
 */
export const SERIES_COLORS: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#17becf",
];
const OTHER_COLOR = "#c7c7c7";
/**
 * Identities coloured in the embedding map; the rest share one grey series.
 *
 * @category Reports
 */
export const MAP_IDENTITIES = 10;
/** Line series longer than this are drawn as bucket means. */
const MAX_LINE_POINTS = 1500;

const WIDTH = 600;
const HEIGHT = 340;
const MARGIN = { left: 64, right: 16, top: 44, bottom: 48 };

interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

interface Axes {
  readonly x: readonly [number, number];
  readonly y: readonly [number, number];
  readonly xLabel: string;
  readonly yLabel: string;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** About `count` round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  }
  return out;
}

function extent(values: Iterable<number>, pad = 0): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

/** Bucket means, so that a long series draws as at most `max` points. */
function thin(points: ReadonlyArray<readonly [number, number]>, max: number) {
  if (points.length <= max) return points;
  const out: [number, number][] = [];
  const per = points.length / max;
  for (let b = 0; b < max; b++) {
    const from = Math.floor(b * per);
    const to = Math.floor((b + 1) * per);
    let sx = 0;
    let sy = 0;
    for (let i = from; i < to; i++) {
      sx += points[i]![0];
      sy += points[i]![1];
    }
    out.push([sx / (to - from), sy / (to - from)]);
  }
  return out;
}

function frame(axes: Axes, legend: readonly Series[], body: string, title: string): string {
  const pw = WIDTH - MARGIN.left - MARGIN.right;
  const ph = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (v: number) => MARGIN.left + ((v - axes.x[0]) / (axes.x[1] - axes.x[0])) * pw;
  const sy = (v: number) => MARGIN.top + ph - ((v - axes.y[0]) / (axes.y[1] - axes.y[0])) * ph;
  // The legend wraps onto more rows above the plot; the chart moves down by the extra rows.
  const entries: { s: Series; x: number; row: number }[] = [];
  let lx = MARGIN.left;
  let row = 0;
  for (const s of legend) {
    const w = 28 + 7 * s.name.length;
    if (lx + w > WIDTH - MARGIN.right && lx > MARGIN.left) [lx, row] = [MARGIN.left, row + 1];
    entries.push({ s, x: lx, row });
    lx += w;
  }
  const extra = 18 * row;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${
      HEIGHT + extra
    }" width="${WIDTH}" height="${HEIGHT + extra}" role="img" aria-label="${escapeHtml(title)}">`,
  );
  for (const { s, x, row } of entries) {
    parts.push(
      `<rect x="${x}" y="${
        MARGIN.top - 26 + 18 * row
      }" width="12" height="12" fill="${s.color}"/>` +
        `<text x="${x + 16}" y="${MARGIN.top - 16 + 18 * row}">${escapeHtml(s.name)}</text>`,
    );
  }
  parts.push(`<g transform="translate(0 ${extra})">`);
  parts.push(
    `<rect class="plot-area" x="${MARGIN.left}" y="${MARGIN.top}" width="${pw}" height="${ph}" fill="#ffffff" stroke="#999999"/>`,
  );
  for (const t of ticks(axes.x[0], axes.x[1])) {
    const x = sx(t).toFixed(1);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${
        MARGIN.top + ph
      }" stroke="#ececec"/><text x="${x}" y="${MARGIN.top + ph + 16}" text-anchor="middle">${
        fmt(t)
      }</text>`,
    );
  }
  for (const t of ticks(axes.y[0], axes.y[1])) {
    const y = sy(t).toFixed(1);
    parts.push(
      `<line x1="${MARGIN.left}" x2="${
        MARGIN.left + pw
      }" y1="${y}" y2="${y}" stroke="#ececec"/><text x="${MARGIN.left - 6}" y="${
        (Number(y) + 4).toFixed(1)
      }" text-anchor="end">${fmt(t)}</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + pw / 2}" y="${HEIGHT - 10}" text-anchor="middle">${
      escapeHtml(axes.xLabel)
    }</text>`,
    `<text transform="translate(14 ${MARGIN.top + ph / 2}) rotate(-90)" text-anchor="middle">${
      escapeHtml(axes.yLabel)
    }</text>`,
  );
  parts.push(
    `<svg x="${MARGIN.left}" y="${MARGIN.top}" width="${pw}" height="${ph}" viewBox="${MARGIN.left} ${MARGIN.top} ${pw} ${ph}" overflow="hidden">`,
    body,
    "</svg>",
  );
  parts.push("</g></svg>");
  return parts.join("");
}

function projector(axes: Axes) {
  const pw = WIDTH - MARGIN.left - MARGIN.right;
  const ph = HEIGHT - MARGIN.top - MARGIN.bottom;
  return (p: readonly [number, number]) =>
    `${(MARGIN.left + ((p[0] - axes.x[0]) / (axes.x[1] - axes.x[0])) * pw).toFixed(1)},${
      (MARGIN.top + ph - ((p[1] - axes.y[0]) / (axes.y[1] - axes.y[0])) * ph).toFixed(1)
    }`;
}

function figure(name: string, title: string, series: readonly Series[], svg: string, note = "") {
  return `<figure class="chart" data-chart="${name}" data-series="${series.length}">` +
    `<figcaption>${escapeHtml(title)}</figcaption>${svg}` +
    (note === "" ? "" : `<p class="note">${escapeHtml(note)}</p>`) + `</figure>`;
}

function seriesAttrs(s: Series): string {
  return `class="series" data-series="${escapeHtml(s.name)}" data-color="${s.color}"`;
}

/** Line chart; segments break at non-finite values. */
function lineChart(
  name: string,
  title: string,
  series: readonly Series[],
  axes: Omit<Axes, "x" | "y"> & { x?: [number, number]; y?: [number, number] },
  note = "",
): string {
  const all = series.flatMap((s) => s.points);
  const full: Axes = {
    ...axes,
    x: axes.x ?? extent(all.map((p) => p[0])),
    y: axes.y ?? extent(all.map((p) => p[1]), 0.05),
  };
  const to = projector(full);
  const body = series.map((s) => {
    const runs: string[][] = [[]];
    for (const p of thin(s.points, MAX_LINE_POINTS)) {
      if (Number.isFinite(p[0]) && Number.isFinite(p[1])) runs[runs.length - 1]!.push(to(p));
      else if (runs[runs.length - 1]!.length > 0) runs.push([]);
    }
    return runs.filter((r) => r.length > 0).map((r) =>
      r.length === 1
        ? `<circle ${seriesAttrs(s)} cx="${r[0]!.split(",")[0]}" cy="${
          r[0]!.split(",")[1]
        }" r="3" fill="${s.color}"/>`
        : `<polyline ${seriesAttrs(s)} points="${
          r.join(" ")
        }" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"/>`
    ).join("");
  }).join("");
  return figure(name, title, series, frame(full, series, body, title), note);
}

function finite(v: number | null | undefined): number {
  return typeof v === "number" && Number.isFinite(v) ? v : NaN;
}

function stepCharts(steps: readonly StepRecord[], epochs: readonly EpochRecord[]): string[] {
  const out: string[] = [];
  if (steps.length > 0) {
    out.push(lineChart("loss", "Training loss per step", [{
      name: "loss",
      color: SERIES_COLORS[0]!,
      points: steps.map((s) => [s.step, finite(s.loss)]),
    }], { xLabel: "step", yLabel: "loss" }));
    if (steps.some((s) => s.triplets !== null)) {
      out.push(lineChart("triplets", "Triplets selected per step", [{
        name: "triplets",
        color: SERIES_COLORS[1]!,
        points: steps.map((s) => [s.step, finite(s.triplets)]),
      }], { xLabel: "step", yLabel: "triplets in the round" }));
    }
  } else if (epochs.length > 0) {
    out.push(lineChart("loss", "Training loss (epoch means; this run has no steps.jsonl)", [{
      name: "loss",
      color: SERIES_COLORS[0]!,
      points: epochs.map((e) => [e.step, finite(e.loss)]),
    }], { xLabel: "step", yLabel: "loss" }));
  }
  return out;
}

function epochChart(epochs: readonly EpochRecord[]): string[] {
  const validated = epochs.filter((e) => Number.isFinite(finite(e.accuracy)));
  if (validated.length === 0) return [];
  const pick = (key: "accuracy" | "auc" | "val") =>
    validated.map((e) => [e.epoch, finite(e[key])] as [number, number]);
  const series: Series[] = [
    { name: "accuracy", color: SERIES_COLORS[0]!, points: pick("accuracy") },
    { name: "AUC", color: SERIES_COLORS[2]!, points: pick("auc") },
    { name: "VAL", color: SERIES_COLORS[4]!, points: pick("val") },
  ];
  const epochsRange = extent(validated.map((e) => e.epoch));
  return [
    lineChart("epochs", "Validation per epoch", series, {
      xLabel: "epoch",
      yLabel: "rate",
      y: [0, 1],
      x: epochsRange,
    }),
  ];
}

function rocChart(run: RunLog): string[] {
  const v = run.validation;
  if (v === null) return [];
  const points = v.fpr.map((f, i) => [f, v.tpr[i]!] as [number, number])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const series: Series[] = [{
    name: `ROC (AUC ${v.auc.toFixed(4)})`,
    color: SERIES_COLORS[0]!,
    points,
  }];
  // A little room beyond [0, 1], so that a perfect ROC along the borders stays visible.
  const axes: Axes = {
    x: [-0.02, 1.02],
    y: [-0.02, 1.02],
    xLabel: "false positive rate",
    yLabel: "true positive rate",
  };
  const to = projector(axes);
  const body =
    `<polyline points="${to([0, 0])} ${
      to([1, 1])
    }" fill="none" stroke="#bbbbbb" stroke-dasharray="4 4"/>` +
    `<polyline ${seriesAttrs(series[0]!)} points="${
      points.map(to).join(" ")
    }" fill="none" stroke="${series[0]!.color}" stroke-width="2"/>`;
  return [
    figure(
      "roc",
      `ROC of the last validation (epoch ${v.epoch}, step ${v.step})`,
      series,
      frame(axes, series, body, "ROC"),
      `accuracy ${v.accuracy.toFixed(4)}, VAL ${v.val.toFixed(4)} @ FAR ${v.farTarget}, EER ${
        v.eer.toFixed(4)
      }; thresholds chosen per fold: ${v.thresholdsChosen.map(fmt).join(", ")}`,
    ),
  ];
}

function histogramChart(run: RunLog): string[] {
  const v = run.validation;
  if (v === null || v.pairs.distance.length === 0) return [];
  const [lo, hi] = extent(v.pairs.distance);
  const bins = 40;
  const width = (hi - lo) / bins;
  const count = (same: boolean) => {
    const c = new Array<number>(bins).fill(0);
    let total = 0;
    v.pairs.distance.forEach((d, i) => {
      if (v.pairs.same[i] !== same || !Number.isFinite(d)) return;
      c[Math.min(bins - 1, Math.floor((d - lo) / width))]! += 1;
      total++;
    });
    return c.map((n) => (total === 0 ? 0 : n / total));
  };
  const series: Series[] = [
    { name: "same identity", color: SERIES_COLORS[0]!, points: [] },
    { name: "different identities", color: SERIES_COLORS[2]!, points: [] },
  ];
  const fractions = [count(true), count(false)];
  const axes: Axes = {
    x: [lo, hi],
    y: [0, Math.max(1e-9, ...fractions.flat()) * 1.08],
    xLabel: "pair distance",
    yLabel: "fraction of pairs",
  };
  const to = projector(axes);
  const outline = (f: number[]) => {
    const pts: [number, number][] = [[lo, 0]];
    f.forEach((y, b) => pts.push([lo + b * width, y], [lo + (b + 1) * width, y]));
    pts.push([hi, 0]);
    return pts.map(to).join(" ");
  };
  const fills = series.map((s, i) =>
    `<polygon points="${
      outline(fractions[i]!)
    }" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`
  ).join("");
  const strokes = series.map((s, i) =>
    `<polyline ${seriesAttrs(s)} points="${
      outline(fractions[i]!)
    }" fill="none" stroke="${s.color}" stroke-width="2"/>`
  ).join("");
  const thresholds = v.thresholdsChosen.length === 0 ? "" : (() => {
    const mean = v.thresholdsChosen.reduce((a, b) => a + b, 0) / v.thresholdsChosen.length;
    const [x] = to([mean, 0]).split(",");
    return `<line x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${
      HEIGHT - MARGIN.bottom
    }" stroke="#555555" stroke-dasharray="3 3"/>`;
  })();
  return [
    figure(
      "distances",
      "Distances of the last validation's pairs",
      series,
      frame(axes, series, fills + strokes + thresholds, "pair distances"),
      "dashed: the mean of the per-fold accuracy thresholds",
    ),
  ];
}

function mapChart(run: RunLog): string[] {
  const v = run.validation;
  if (v === null || v.map.x.length === 0) return [];
  const counts = new Map<string, number>();
  for (const label of v.map.labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  const top = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, MAP_IDENTITIES)
    .map(([label]) => label);
  const series: Series[] = top.map((label, i) => ({
    name: label,
    color: SERIES_COLORS[i % SERIES_COLORS.length]!,
    points: [],
  }));
  if (counts.size > top.length) {
    series.push({
      name: `${counts.size - top.length} other identities`,
      color: OTHER_COLOR,
      points: [],
    });
  }
  const axes: Axes = {
    x: extent(v.map.x, 0.05),
    y: extent(v.map.y, 0.05),
    xLabel: "principal axis 1",
    yLabel: "principal axis 2",
  };
  const to = projector(axes);
  const index = new Map(top.map((label, i) => [label, i]));
  const groups: string[][] = series.map(() => []);
  v.map.labels.forEach((label, i) => {
    const [cx, cy] = to([v.map.x[i]!, v.map.y[i]!]).split(",");
    groups[index.get(label) ?? top.length]!.push(`<circle cx="${cx}" cy="${cy}" r="3"/>`);
  });
  // The grey "other" points first, so the coloured identities stay visible on top.
  const order = series.map((_, i) => i);
  if (series.length > top.length) order.unshift(order.pop() as number);
  const body = order.map((i) =>
    `<g ${seriesAttrs(series[i]!)} fill="${series[i]!.color}">${groups[i]!.join("")}</g>`
  ).join("");
  const explained = v.map.totalVariance > 0
    ? v.map.explainedVariance.map((e) => (100 * e / v.map.totalVariance).toFixed(1) + "%").join(
      " and ",
    )
    : "n/a";
  return [
    figure(
      "map",
      `Validation embeddings on their first two principal axes (${v.map.x.length} images)`,
      series,
      frame(axes, series, body, "embedding map"),
      `the axes hold ${explained} of the variance; coloured: the ${top.length} identities with the most images`,
    ),
  ];
}

function flatten(value: JsonValue, prefix: string, out: [string, string][]): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) {
      flatten(v, prefix === "" ? k : `${prefix}.${k}`, out);
    }
  } else {
    out.push([prefix, typeof value === "string" ? value : JSON.stringify(value)]);
  }
}

function settingsTable(run: RunLog): string {
  const rows: [string, string][] = [["run directory", run.dir]];
  const meta = run.checkpoint?.meta;
  if (meta !== undefined) {
    for (const key of ["model", "embeddingSize", "epoch", "step", "created"]) {
      if (meta[key] !== undefined) rows.push([key, String(meta[key])]);
    }
    if (meta["config"] !== undefined) flatten(meta["config"], "", rows);
  }
  const last = run.epochs[run.epochs.length - 1];
  if (last !== undefined) {
    for (const key of ["backend", "device", "lossKind"]) {
      if (last[key] !== undefined) rows.push([key, String(last[key])]);
    }
  }
  // The checkpoint's own fields and its training config name some settings twice.
  const seen = new Set<string>();
  const unique = rows.filter(([k]) => !seen.has(k) && seen.add(k) !== undefined);
  return `<table class="settings"><tbody>${
    unique.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("")
  }</tbody></table>`;
}

function summary(run: RunLog): string {
  const last = run.epochs[run.epochs.length - 1];
  if (last === undefined) return `<p>${run.steps.length} steps logged; no epoch completed.</p>`;
  const parts = [`epoch ${last.epoch}`, `step ${last.step}`, `loss ${fmt(last.loss)}`];
  const acc = finite(last.accuracy);
  if (Number.isFinite(acc)) {
    parts.push(
      `accuracy ${acc.toFixed(4)}`,
      `VAL ${finite(last.val).toFixed(4)}`,
      `AUC ${finite(last.auc).toFixed(4)}`,
      `EER ${finite(last.eer).toFixed(4)}`,
    );
  }
  return `<p class="summary">Last epoch: ${escapeHtml(parts.join(" · "))}</p>`;
}

/**
 * Options of {@link renderReport}.
 *
 * @category Reports
 */
export interface ReportOptions {
  /** The page title (default: "Training report: " and the run directory). */
  readonly title?: string;
}

/**
 * Renders a run's report as one self-contained HTML page.
 *
 * @param run What the run directory holds ({@link readRunLog}).
 * @param options The page title.
 * @returns The HTML text.
 * @example
 * ```ts
 * import { renderReport } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const html = renderReport({
 *   dir: "runs/a",
 *   epochs: [{ epoch: 1, step: 2, loss: 0.4, triplets: 10, accuracy: 0.7, val: 0.1, auc: 0.8, eer: 0.3 }],
 *   steps: [
 *     { epoch: 1, step: 1, loss: 0.5, triplets: 12, learningRate: 0.1 },
 *     { epoch: 1, step: 2, loss: 0.3, triplets: 8, learningRate: 0.1 },
 *   ],
 *   validation: null,
 *   checkpoint: null,
 * });
 * assert.ok(html.includes('data-chart="loss" data-series="1"'));
 * assert.ok(html.includes('data-chart="epochs" data-series="3"'));
 * assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/.test(html));
 * ```
 *
 * @category Reports
 */
export function renderReport(run: RunLog, options: ReportOptions = {}): string {
  const title = options.title ?? `Training report: ${run.dir}`;
  const charts = [
    ...stepCharts(run.steps, run.epochs),
    ...epochChart(run.epochs),
    ...rocChart(run),
    ...histogramChart(run),
    ...mapChart(run),
  ];
  const missing = run.validation === null
    ? `<p class="note">No validation.json in the run directory: the ROC, distance and embedding charts need a run validated on pairs by this version of train.</p>`
    : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 8px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure.chart { margin: 0; padding: 8px; background: #fff; border: 1px solid #ddd; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
.note { color: #555; font-size: 12px; max-width: 600px; margin: 4px 0 0; }
table.settings { border-collapse: collapse; margin-top: 8px; font-size: 12px; }
table.settings th { text-align: left; padding: 2px 12px 2px 0; font-weight: 500; color: #555; }
table.settings td { font-family: ui-monospace, monospace; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${summary(run)}
${missing}
<div class="charts">
${charts.join("\n")}
</div>
<h2>Settings</h2>
${settingsTable(run)}
</body>
</html>
`;
}
