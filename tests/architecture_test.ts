import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* tsFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** Import statements of a file (code only: JSDoc examples are skipped), with their targets resolved. */
function imports(path: string, text: string): { target: string; typeOnly: boolean }[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "");
  const found = [];
  for (const m of code.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gms)) {
    const spec = m[3]!;
    const target = spec.startsWith(".") ? relative(ROOT, resolve(dirname(path), spec)) : spec;
    found.push({ target, typeOnly: m[2] !== undefined });
  }
  for (const m of code.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) {
    const spec = m[1]!;
    const target = spec.startsWith(".") ? relative(ROOT, resolve(dirname(path), spec)) : spec;
    found.push({ target, typeOnly: false });
  }
  return found;
}

Deno.test("core/ never imports a backend, io/ or the CLI, and never touches clocks, files or Math.random", async () => {
  let files = 0;
  for await (const path of tsFiles(join(ROOT, "core"))) {
    files++;
    const text = await Deno.readTextFile(path);
    const name = relative(ROOT, path);
    for (const { target } of imports(path, text)) {
      assert.ok(
        !/^(backends|io|cli)(\/|\.ts)|^cli\.ts$|^mod\.ts$/.test(target),
        `${name} imports ${target}`,
      );
    }
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    for (const banned of ["Math.random", "Date.now", "new Date", "performance.now", "Deno."]) {
      assert.ok(!code.includes(banned), `${name} uses ${banned}`);
    }
  }
  assert.ok(files > 20, `only ${files} core files found`);
});

Deno.test("core/pure/ imports only other pure files and type-only modules of core", async () => {
  for await (const path of tsFiles(join(ROOT, "core", "pure"))) {
    const name = relative(ROOT, path);
    for (const { target, typeOnly } of imports(path, await Deno.readTextFile(path))) {
      const ok = target.startsWith("core/pure/") || (typeOnly && target.startsWith("core/"));
      assert.ok(ok, `${name} imports ${target}${typeOnly ? " (types)" : ""}`);
    }
  }
});

Deno.test("backends/ write no files: every file the framework writes goes through io/atomic.ts", async () => {
  // A backend writing files itself bypasses the atomic writes (a kill mid-write would leave a
  // model.json without its shards); the wasm build script is a developer tool, not the library.
  const writes =
    /\bDeno\.(writeFile|writeTextFile|mkdir|open|create|rename|remove|truncate|copyFile)(Sync)?\(/;
  for await (const path of tsFiles(join(ROOT, "backends"))) {
    if (path.includes("/assembly/") || path.endsWith("/build_wasm.ts")) continue;
    const code = (await Deno.readTextFile(path)).split("\n")
      .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line)).join("\n");
    const m = code.match(writes);
    assert.equal(m, null, `${relative(ROOT, path)} writes a file itself: ${m?.[0]}`);
  }
});

Deno.test("backends/ and io/ do not import the CLI", async () => {
  for (const folder of ["backends", "io"]) {
    for await (const path of tsFiles(join(ROOT, folder))) {
      if (path.includes("/assembly/")) continue;
      for (const { target } of imports(path, await Deno.readTextFile(path))) {
        assert.ok(!/^cli(\/|\.ts$)/.test(target), `${relative(ROOT, path)} imports ${target}`);
      }
    }
  }
});
