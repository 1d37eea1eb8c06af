/**
 * Turns `deno bench --json` output into bench/README.md: one markdown table
 * per group with every member's times, its speed relative to the group's
 * baseline (the pure backend in the backend-comparison benches) and to the
 * fastest tfjs member of the group, plus the machine (CPU model and cores
 * from /proc/cpuinfo), the date and the command.
 *
 * Usage:
 *
 *     deno bench -A --json > /tmp/bench.json
 *     deno run -A bench/table.ts --command "deno bench -A --json" /tmp/bench.json > bench/README.md
 *
 * Several JSON files are merged in order (for example the default run and a
 * `FACENET_BENCH_SLOW=1` run of the `[slow]` members); a bench that appears
 * twice keeps its last result. Pass one `--command` per file.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** Timing statistics of one bench, in nanoseconds, as `deno bench --json` writes them. */
export interface BenchStats {
  /** Iterations measured. */
  readonly n: number;
  /** Fastest iteration. */
  readonly min: number;
  /** Slowest iteration. */
  readonly max: number;
  /** Mean iteration. */
  readonly avg: number;
  /** 75th percentile. */
  readonly p75: number;
}

/** One bench of a `deno bench --json` report. */
export interface BenchRecord {
  /** Module URL of the bench file. */
  readonly origin: string;
  /** Group name, or null outside a group. */
  readonly group: string | null;
  /** Bench name. */
  readonly name: string;
  /** Whether it is its group's baseline. */
  readonly baseline: boolean;
  /** The statistics, or null when the bench failed. */
  readonly stats: BenchStats | null;
}

/** The parts of a `deno bench --json` report the table uses. */
export interface BenchReport {
  /** E.g. "Deno/2.9.6 x86_64-unknown-linux-gnu". */
  readonly runtime: string;
  /** CPU model as Deno reports it. */
  readonly cpu: string;
  /** Every bench that ran. */
  readonly benches: readonly BenchRecord[];
}

/**
 * Parses the text `deno bench --json` prints (lines that bench files print
 * before the report are skipped).
 *
 * @param text The JSON text.
 * @returns The report.
 * @throws {TypeError} When the text is not a bench report.
 * @example
 * ```ts
 * import { parseBenchJson } from "./table.ts";
 * import assert from "node:assert/strict";
 * const report = parseBenchJson(JSON.stringify({
 *   version: 1, runtime: "Deno/2", cpu: "x",
 *   benches: [{ origin: "file:///a_bench.ts", group: "g", name: "pure", baseline: true,
 *     results: [{ ok: { n: 3, min: 1, max: 3, avg: 2, p75: 2 } }] }],
 * }));
 * assert.equal(report.benches[0]!.stats!.avg, 2);
 * ```
 */
export function parseBenchJson(text: string): BenchReport {
  // Bench files may print lines of their own before the report: start at the
  // report's opening line.
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trimEnd() === "{");
  const raw = JSON.parse(start > 0 ? lines.slice(start).join("\n") : text) as unknown;
  if (
    typeof raw !== "object" || raw === null ||
    !Array.isArray((raw as { benches?: unknown }).benches)
  ) {
    throw new TypeError("Bench JSON must be an object with a benches array (deno bench --json)");
  }
  const r = raw as { runtime?: unknown; cpu?: unknown; benches: unknown[] };
  const benches = r.benches.map((b, i): BenchRecord => {
    if (typeof b !== "object" || b === null || typeof (b as { name?: unknown }).name !== "string") {
      throw new TypeError(`Bench ${i} of the JSON has no name`);
    }
    const e = b as {
      origin?: unknown;
      group?: unknown;
      name: string;
      baseline?: unknown;
      results?: { ok?: BenchStats }[];
    };
    const ok = e.results?.[0]?.ok;
    return {
      origin: typeof e.origin === "string" ? e.origin : "",
      group: typeof e.group === "string" ? e.group : null,
      name: e.name,
      baseline: e.baseline === true,
      stats: ok !== undefined && typeof ok.avg === "number" ? ok : null,
    };
  });
  return {
    runtime: typeof r.runtime === "string" ? r.runtime : "unknown runtime",
    cpu: typeof r.cpu === "string" ? r.cpu : "unknown cpu",
    benches,
  };
}

/**
 * Formats nanoseconds with three significant digits and a unit.
 *
 * @param ns Nanoseconds.
 * @returns E.g. "812 ns", "1.25 ms", "3.10 s".
 * @example
 * ```ts
 * import { formatTime } from "./table.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatTime(1_250_000), "1.25 ms");
 * assert.equal(formatTime(3.1e9), "3.10 s");
 * ```
 */
export function formatTime(ns: number): string {
  const units: [number, string][] = [[1e9, "s"], [1e6, "ms"], [1e3, "µs"], [1, "ns"]];
  for (const [scale, unit] of units) {
    if (ns >= scale || unit === "ns") {
      const v = ns / scale;
      return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;
    }
  }
  return `${ns} ns`;
}

function ratio(reference: number | undefined, avg: number | undefined): string {
  if (reference === undefined || avg === undefined || !(avg > 0)) return "–";
  const r = reference / avg;
  return `${r >= 10 ? r.toFixed(1) : r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}x`;
}

/** What the report says about the run besides the numbers. */
export interface ReportMeta {
  /** CPU model. */
  readonly cpu: string;
  /** Logical cores. */
  readonly cores: number;
  /** Deno runtime string. */
  readonly runtime: string;
  /** Date of the run (ISO). */
  readonly date: string;
  /** The commands that produced the JSON. */
  readonly commands: readonly string[];
  /** Free text placed before the tables (markdown). */
  readonly preface?: string;
}

/**
 * Renders the benches as markdown: a machine/date/command header, then one
 * table per group (groups in order of first appearance; ungrouped benches
 * under their file name), the backend comparisons (groups whose baseline is
 * the pure backend) before the other benches. Columns: average, min, p75, iterations, speed
 * relative to the group's baseline and to the fastest tfjs member (a ratio
 * above 1 means faster than that reference).
 *
 * @param benches The benches, in run order.
 * @param meta Machine, date and commands.
 * @returns The markdown text.
 * @example
 * ```ts
 * import { renderReport } from "./table.ts";
 * import assert from "node:assert/strict";
 * const stats = (avg: number) => ({ n: 3, min: avg, max: avg, avg, p75: avg });
 * const md = renderReport([
 *   { origin: "file:///x_bench.ts", group: "op", name: "pure", baseline: true, stats: stats(4e6) },
 *   { origin: "file:///x_bench.ts", group: "op", name: "tfjs cpu", baseline: false, stats: stats(2e6) },
 *   { origin: "file:///x_bench.ts", group: "op", name: "wasm-simd 1 thread", baseline: false, stats: stats(1e6) },
 * ], { cpu: "cpu", cores: 2, runtime: "Deno", date: "2026-01-01", commands: ["deno bench"] });
 * assert.match(md, /\| wasm-simd 1 thread \| 1\.00 ms \|.*\| 4\.00x \| 2\.00x \|/);
 * ```
 */
export function renderReport(benches: readonly BenchRecord[], meta: ReportMeta): string {
  const groups = new Map<string, BenchRecord[]>();
  for (const b of benches) {
    const key = b.group ?? `${b.origin.split("/").pop()} (ungrouped)`;
    const list = groups.get(key) ?? [];
    const at = list.findIndex((x) => x.name === b.name);
    if (at >= 0) list[at] = b;
    else list.push(b);
    groups.set(key, list);
  }
  const lines: string[] = [];
  if (meta.preface !== undefined) lines.push(meta.preface.trimEnd(), "");
  lines.push(
    `- Machine: ${meta.cpu}, ${meta.cores} logical cores`,
    `- Runtime: ${meta.runtime}`,
    `- Date: ${meta.date}`,
    `- Command${meta.commands.length === 1 ? "" : "s"}: ${
      meta.commands.map((c) => `\`${c}\``).join("; ")
    }`,
    "",
    "Ratios are reference time / member time: above 1 the member is faster than the",
    'reference. "vs baseline" compares with the group\'s baseline (the pure backend, except',
    'where a group names another); "vs tfjs" with the fastest tfjs member of the group.',
    "",
  );
  const comparisons = [...groups].filter(([, list]) => isComparison(list));
  const others = [...groups].filter(([, list]) => !isComparison(list));
  for (
    const [title, section] of [["Backend comparisons", comparisons], [
      "Other benches",
      others,
    ]] as const
  ) {
    if (section.length === 0) continue;
    lines.push(`## ${title}`, "");
    for (const [group, list] of section) renderGroup(lines, group, list);
  }
  return lines.join("\n");
}

/** A group compares backends when its baseline is the pure backend. */
function isComparison(list: readonly BenchRecord[]): boolean {
  return list.some((b) => b.baseline && b.name.startsWith("pure"));
}

function renderGroup(lines: string[], group: string, list: readonly BenchRecord[]): void {
  const base = list.find((b) => b.baseline) ?? null;
  const tfjs = list
    .filter((b) => b.name.startsWith("tfjs") && b.stats !== null)
    .sort((a, b) => a.stats!.avg - b.stats!.avg)[0];
  const file = list[0]!.origin.split("/").pop() ?? "";
  lines.push(`### ${group}`, "");
  lines.push(
    `${file}; baseline: ${base === null ? "none" : base.name}; tfjs reference: ${
      tfjs === undefined ? "none" : tfjs.name
    }`,
    "",
  );
  lines.push("| member | avg | min | p75 | n | vs baseline | vs tfjs |");
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const b of list) {
    const s = b.stats;
    if (s === null) {
      lines.push(`| ${b.name} | failed | | | | | |`);
      continue;
    }
    lines.push(
      `| ${b.name} | ${formatTime(s.avg)} | ${formatTime(s.min)} | ${
        formatTime(s.p75)
      } | ${s.n} | ${ratio(base?.stats?.avg, s.avg)} | ${ratio(tfjs?.stats?.avg, s.avg)} |`,
    );
  }
  lines.push("");
}

/**
 * The CPU model and logical core count from /proc/cpuinfo.
 *
 * @param fallbackCpu The model to report when /proc/cpuinfo is unreadable.
 * @returns The model and the core count (`navigator.hardwareConcurrency` as fallback).
 * @example
 * ```ts
 * import { machine } from "./table.ts";
 * import assert from "node:assert/strict";
 * const m = machine("unknown");
 * assert.ok(m.cores >= 1);
 * ```
 */
export function machine(fallbackCpu: string): { cpu: string; cores: number } {
  try {
    const text = Deno.readTextFileSync("/proc/cpuinfo");
    const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim();
    const cores = text.split("\n").filter((l) => /^processor\s*:/.test(l)).length;
    return { cpu: model ?? fallbackCpu, cores: cores > 0 ? cores : navigator.hardwareConcurrency };
  } catch {
    return { cpu: fallbackCpu, cores: navigator.hardwareConcurrency };
  }
}

/** The README's opening: what the benches are and how to run them (markdown). */
export const README_PREFACE = `# Benchmarks

Generated by \`bench/table.ts\` from \`deno bench --json\` output; do not edit by hand.

Every backend-comparison bench (\`distances_bench.ts\`, \`triplet_bench.ts\`,
\`matmul_bench.ts\`, \`conv2d_bench.ts\`, \`model_bench.ts\`) has one group per
operation and size, the pure backend (core/pure, the specification) as the
baseline, and as members tfjs on its cpu, wasm and webgpu devices and our
wasm-simd kernels with 1 and all threads. Before timing, each member's result is
compared once with the pure backend's (a mismatch aborts the file), so a fast
wrong kernel cannot win. Every timed function returns host data: tfjs results
are downloaded with \`await tensor.data()\`, so GPU work is complete.

- Run all: \`deno task bench\`. One file: \`deno bench -A bench/conv2d_bench.ts\`.
- \`[slow]\` members (tens of seconds to minutes per iteration here) are
  ignored unless \`FACENET_BENCH_SLOW=1\` (all of them) or
  \`FACENET_BENCH_SLOW=<regex>\` (those whose "group / member" matches), e.g.
  \`FACENET_BENCH_SLOW="inception.*(pure|wasm)" deno bench -A --filter "[slow]" bench/model_bench.ts\`.
- Known gaps: tfjs's raw Conv2DBackpropFilter kernel is missing on wasm,
  takes 10-60 s per call on cpu (\`[slow]\`) and is wrong at batch 90 on
  webgpu (llvmpipe); the tfjs backend computes that gradient with Conv2D on
  every device instead, which the "backend's
  conv2dCpu gradient" members time (forward pass included).
- The timings come from one run on a machine shared with other jobs: expect
  noise of tens of percent, and little gain from a second thread when another
  process holds the other core.
- \`FACENET_BENCH_WEBGPU=0\` drops the tfjs webgpu members. Where the only
  WebGPU adapter is a software one (llvmpipe), its members are labelled
  "software": they measure a CPU rasterizer, not a GPU.
- This table: \`deno bench -A --json > /tmp/bench.json\` and
  \`deno task bench:peers > /tmp/peers.md\`, then
  \`deno run -A bench/table.ts --command "deno bench -A --json" --peers /tmp/peers.md /tmp/bench.json > bench/README.md\`
  and \`deno fmt bench/README.md\`.
`;

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      command: { type: "string", multiple: true },
      date: { type: "string" },
      note: { type: "string", multiple: true },
      peers: { type: "string" },
      "peers-command": { type: "string", default: "deno task bench:peers" },
    },
  });
  if (positionals.length === 0) {
    console.error(
      "usage: deno run -A bench/table.ts [--command CMD]... [--date ISO] [--note TEXT]... " +
        "[--peers PEERS.md [--peers-command CMD]] BENCH.json...",
    );
    Deno.exit(2);
  }
  const reports = positionals.map((p) => parseBenchJson(Deno.readTextFileSync(p)));
  const first = reports[0]!;
  const m = machine(first.cpu);
  const text = renderReport(reports.flatMap((r) => r.benches), {
    cpu: m.cpu,
    cores: m.cores,
    runtime: first.runtime,
    date: values.date ?? new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    commands: values.command ?? ["deno bench -A --json"],
    preface: [README_PREFACE, ...(values.note ?? []).map((n) => `> ${n}\n`)].join("\n"),
  });
  console.log(text);
  if (values.peers !== undefined) {
    // bench/peers.ts prints its own markdown tables, one per comparison.
    console.log(
      `\n## Against what users would run instead\n\nThe output of \`${
        values["peers-command"]
      }\` (bench/peers.ts: interleaved rounds; ratios are medians of per-round ratios), verbatim:\n\n${
        Deno.readTextFileSync(values.peers).trim()
      }`,
    );
  }
}
