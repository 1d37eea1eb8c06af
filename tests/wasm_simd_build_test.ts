import assert from "node:assert/strict";
import { buildWasm, generatedModuleText, OUTPUTS } from "../backends/wasm-simd/build_wasm.ts";

const dir = new URL("../backends/wasm-simd/", import.meta.url);

Deno.test("the committed wasm-simd binaries and their base64 module are up to date with the source", async () => {
  const builds = await buildWasm();
  const simd = await Deno.readFile(new URL(OUTPUTS.simd, dir));
  const relaxed = await Deno.readFile(new URL(OUTPUTS.relaxed, dir));
  const generated = await Deno.readTextFile(new URL(OUTPUTS.generated, dir));
  const stale = "is stale: run `deno task build:wasm` and commit the outputs";
  assert.ok(
    simd.length > 0 && simd.every((v, i) => v === builds.simd[i]) &&
      simd.length === builds.simd.length,
    `${OUTPUTS.simd} ${stale}`,
  );
  assert.ok(
    relaxed.length === builds.relaxed.length && relaxed.every((v, i) => v === builds.relaxed[i]),
    `${OUTPUTS.relaxed} ${stale}`,
  );
  assert.equal(generated, generatedModuleText(builds), `${OUTPUTS.generated} ${stale}`);
});

Deno.test("the relaxed-SIMD build differs from the plain build and both validate here", async () => {
  const simd = await Deno.readFile(new URL(OUTPUTS.simd, dir));
  const relaxed = await Deno.readFile(new URL(OUTPUTS.relaxed, dir));
  assert.ok(WebAssembly.validate(simd));
  assert.notDeepEqual(simd, relaxed);
});
