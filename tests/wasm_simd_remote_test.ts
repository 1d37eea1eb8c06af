import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

// The backend must load from a remote URL with no local checkout: its kernels
// come from the base64 module and its worker from `new URL(..., import.meta.url)`.
Deno.test({
  name: "createWasmSimdBackend() works when imported over HTTP with only --allow-import",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const path = new URL(req.url).pathname;
      if (path.includes("..")) return new Response("bad path", { status: 400 });
      try {
        const body = await Deno.readFile(new URL(`.${path}`, ROOT));
        const type = path.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    });
    const host = `127.0.0.1:${server.addr.port}`;
    const dir = await Deno.makeTempDir();
    try {
      const client = `${dir}/client.ts`;
      await Deno.writeTextFile(
        client,
        [
          `const { createWasmSimdBackend } = await import("http://${host}/backends/wasm-simd/mod.ts");`,
          "const backend = await createWasmSimdBackend({ threads: 2 });",
          "const x = { rows: 3, cols: 2, data: new Float32Array([0, 0, 3, 4, 1, 1]) };",
          "const d = await backend.pairwiseSquaredDistances(x);",
          "console.log(JSON.stringify(Array.from(d.data)));",
          "backend.dispose();",
        ].join("\n"),
      );
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-config", `--allow-import=${host}`, `--allow-read=${client}`, client],
        env: { DENO_DIR: `${dir}/deno_dir`, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(output.stdout).trim();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      assert.deepEqual(JSON.parse(stdout.split("\n").pop()!), [0, 25, 2, 25, 0, 13, 2, 13, 0]);
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
