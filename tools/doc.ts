/**
 * `deno task doc [OUT]`: the HTML API documentation of every public entry point
 * (deno.json `exports`), plus `categories.html`, an index that groups the symbols by
 * their `@category` tag.
 *
 * Deno 2.9's `deno doc --html` draws its category panel only for a single `.d.ts`
 * file; for `.ts` entry points it groups by entry point. This script reads the same
 * tags from `deno doc --json` and writes the grouping itself, linking each symbol
 * to the page `deno doc --html` made for it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** One exported symbol of an entry point, as the category index lists it. */
export interface DocEntrySymbol {
  /** The entry point's export path in deno.json (".", "./pure", ...). */
  readonly entry: string;
  /** The symbol's name. */
  readonly name: string;
  /** Its `@category` tag; null when it has none. */
  readonly category: string | null;
  /** The first sentence of its documentation. */
  readonly summary: string;
}

interface JsonTag {
  readonly kind: string;
  readonly doc?: string;
}
interface JsonLocation {
  readonly filename: string;
  readonly line: number;
}
interface JsonDeclaration {
  readonly location?: JsonLocation;
  readonly jsDoc?: { doc?: string; tags?: JsonTag[] };
  /** A re-export of a symbol documented elsewhere in the output. */
  readonly kind?: string;
  readonly def?: { readonly target?: JsonLocation };
}
interface JsonSymbol {
  readonly name: string;
  readonly declarations: readonly JsonDeclaration[];
}

/**
 * The symbols of `deno doc --json` output, each with its entry point and category.
 *
 * @param json The parsed output of `deno doc --json FILE...`.
 * @param entries Map from a file URL to its export path.
 * @returns The symbols of the files named in `entries`, in the output's order.
 */
export function docSymbols(
  json: { readonly nodes: Record<string, { readonly symbols: readonly JsonSymbol[] }> },
  entries: ReadonlyMap<string, string>,
): DocEntrySymbol[] {
  // `deno doc --json` documents a symbol once; other entry points that export it
  // hold a reference to that declaration's location.
  const key = (l: JsonLocation) => `${l.filename}:${l.line}`;
  const documented = new Map<string, JsonDeclaration>();
  for (const node of Object.values(json.nodes)) {
    for (const symbol of node.symbols) {
      for (const d of symbol.declarations) {
        if (d.jsDoc !== undefined && d.location !== undefined) documented.set(key(d.location), d);
      }
    }
  }
  const out: DocEntrySymbol[] = [];
  for (const [url, node] of Object.entries(json.nodes)) {
    const entry = entries.get(url);
    if (entry === undefined) continue;
    for (const symbol of node.symbols) {
      let category: string | null = null;
      let doc = "";
      for (const declaration of symbol.declarations) {
        const target = declaration.def?.target;
        const d = declaration.kind === "reference" && target !== undefined
          ? documented.get(key(target)) ?? declaration
          : declaration;
        doc ||= d.jsDoc?.doc ?? "";
        const tag = d.jsDoc?.tags?.find((t) => t.kind === "category");
        category ??= tag?.doc?.trim() || null;
      }
      const summary = doc.replace(/\s+/g, " ").trim().split(/(?<=\.)\s/)[0] ?? "";
      out.push({ entry, name: symbol.name, category, summary });
    }
  }
  return out;
}

/** The page `deno doc --html` writes for a symbol of an entry point. */
export function symbolPage(entry: string, name: string): string {
  const folder = entry === "." ? "" : `${entry.replace(/^\.\//, "")}/`;
  return `${folder}~/${name}.html`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/**
 * The category index page: one section per category (sorted), each listing its
 * symbols with their entry point and summary; symbols without a tag come last under
 * "Uncategorized".
 *
 * @param title The package name for the heading.
 * @param symbols The symbols, from {@link docSymbols}.
 * @returns A complete HTML document.
 */
export function categoriesPage(title: string, symbols: readonly DocEntrySymbol[]): string {
  const groups = new Map<string, DocEntrySymbol[]>();
  for (const s of symbols) {
    const key = s.category ?? "Uncategorized";
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const names = [...groups.keys()].sort((a, b) =>
    a === "Uncategorized" ? 1 : b === "Uncategorized" ? -1 : a.localeCompare(b)
  );
  const sections = names.map((category) => {
    const rows = groups.get(category)!.slice().sort((a, b) =>
      a.name.localeCompare(b.name) || a.entry.localeCompare(b.entry)
    ).map((s) =>
      `<li><a href="${escapeHtml(symbolPage(s.entry, s.name))}"><code>${
        escapeHtml(s.name)
      }</code></a> <small>${escapeHtml(s.entry)}</small> ${escapeHtml(s.summary)}</li>`
    );
    return `<section><h2 id="${escapeHtml(category)}">${escapeHtml(category)}</h2>\n<ul>\n${
      rows.join("\n")
    }\n</ul></section>`;
  });
  const toc = names.map((c) =>
    `<a href="#${escapeHtml(c)}">${escapeHtml(c)}</a> (${groups.get(c)!.length})`
  ).join(" · ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}: API by category</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
li{margin:.2rem 0}small{color:#666}</style></head>
<body><h1>${escapeHtml(title)}: API by category</h1>
<p><a href="index.html">By entry point</a> · ${toc}</p>
${sections.join("\n")}
</body></html>
`;
}

async function denoDoc(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["doc", ...args], stderr: "inherit" })
    .output();
  if (!out.success) throw new Error(`deno doc ${args.join(" ")} failed`);
  return new TextDecoder().decode(out.stdout);
}

async function main(): Promise<void> {
  const { positionals } = parseArgs({ args: Deno.args, allowPositionals: true });
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))) as {
    name: string;
    exports: Record<string, string>;
  };
  const out = resolve(positionals[0] ?? join(root, "docs"));
  const files = Object.values(config.exports).map((f) => join(root, f));
  const entries = new Map(
    Object.entries(config.exports).map(([entry, f]) => [
      pathToFileURL(join(root, f)).href,
      entry,
    ]),
  );
  const symbols = docSymbols(JSON.parse(await denoDoc(["--json", ...files])), entries);
  await denoDoc(["--html", `--name=${config.name}`, `--output=${out}`, ...files]);
  await Deno.writeTextFile(join(out, "categories.html"), categoriesPage(config.name, symbols));
  const untagged = symbols.filter((s) => s.category === null).length;
  console.log(
    `${symbols.length} symbols in ${
      new Set(symbols.map((s) => s.category)).size
    } categories (${untagged} untagged): ${join(out, "categories.html")}`,
  );
}

if (import.meta.main) await main();
