import assert from "node:assert/strict";
import { join } from "node:path";
import { categoriesPage, docSymbols, symbolPage } from "../tools/doc.ts";

Deno.test("categoriesPage() groups symbols by category, sorted, untagged ones last", () => {
  const html = categoriesPage("pkg", [
    { entry: ".", name: "b", category: "Zeta", summary: "B." },
    { entry: "./pure", name: "a", category: null, summary: "A." },
    { entry: ".", name: "c", category: "Alpha", summary: "C <x>." },
  ]);
  const order = [...html.matchAll(/<h2 id="([^"]+)">/g)].map((m) => m[1]);
  assert.deepEqual(order, ["Alpha", "Zeta", "Uncategorized"]);
  assert.match(html, /href="pure\/~\/a.html"/);
  assert.match(html, /C &lt;x&gt;\./);
  assert.equal(symbolPage(".", "evaluate"), "~/evaluate.html");
});

Deno.test("docSymbols() reads the category tag and the first sentence of each symbol", () => {
  const json = {
    nodes: {
      "file:///p/mod.ts": {
        symbols: [{
          name: "f",
          declarations: [{
            location: { filename: "file:///p/f.ts", line: 3 },
            jsDoc: { doc: "Does f. More text.", tags: [{ kind: "category", doc: "Things" }] },
          }],
        }],
      },
      "file:///p/other.ts": { symbols: [{ name: "g", declarations: [{}] }] },
      // f is documented once, at its declaration; pure.ts re-exports it by reference.
      "file:///p/pure.ts": {
        symbols: [{
          name: "f",
          declarations: [{
            kind: "reference",
            def: { target: { filename: "file:///p/f.ts", line: 3 } },
          }],
        }],
      },
    },
  };
  const out = docSymbols(
    json,
    new Map([["file:///p/mod.ts", "."], ["file:///p/pure.ts", "./pure"]]),
  );
  assert.deepEqual(out, [
    { entry: ".", name: "f", category: "Things", summary: "Does f." },
    { entry: "./pure", name: "f", category: "Things", summary: "Does f." },
  ]);
});

Deno.test("deno task doc groups every public symbol by category and links each to its page", async () => {
  const out = await Deno.makeTempDir({ prefix: "facenet_doc_" });
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../tools/doc.ts", import.meta.url).pathname, out],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const html = await Deno.readTextFile(join(out, "categories.html"));
    const categories = [...html.matchAll(/<h2 id="([^"]+)">/g)].map((m) => m[1]);
    // Every public symbol carries an @category tag.
    assert.ok(!categories.includes("Uncategorized"), "symbols without @category");
    for (const c of ["Evaluation", "Triplet loss", "Face detection", "Backends"]) {
      assert.ok(categories.includes(c), `category ${c} missing: ${categories}`);
    }
    const evaluation = html.split('<h2 id="Evaluation">')[1]!.split("</section>")[0]!;
    assert.match(evaluation, /href="~\/evaluate.html"/);
    const links = [...html.matchAll(/<li><a href="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(links.length > 300, `only ${links.length} symbols`);
    for (const link of links) {
      const stat = await Deno.stat(join(out, link)).catch(() => null);
      assert.ok(stat?.isFile, `${link} has no page`);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
