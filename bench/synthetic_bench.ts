/**
 * Render speed of the built-in synthetic faces (`deno bench -A bench/synthetic_bench.ts`).
 *
 * @module
 */

import { renderFace, renderSyntheticRef, syntheticIdentity } from "../core/synthetic/mod.ts";
import { createRng } from "../core/pure/rng.ts";

const identity = syntheticIdentity(666, 3);
for (const size of [48, 64, 160]) {
  let rng = createRng(1);
  Deno.bench({
    name: `renderFace ${size}x${size}`,
    group: `synthetic ${size}`,
    baseline: true,
    fn() {
      rng = renderFace(identity, size, rng).rng;
    },
  });
  let i = 0;
  Deno.bench({
    name: `renderSyntheticRef ${size}x${size} (identity + image streams + render)`,
    group: `synthetic ${size}`,
    fn() {
      i++;
      renderSyntheticRef(`syn:train:${i % 1000}:${i % 7}`, size, 666);
    },
  });
}
Deno.bench({
  name: "syntheticIdentity",
  fn() {
    syntheticIdentity(666, 12345);
  },
});
