/**
 * Triplet selection at the reference implementation's default batch (45 people x 40 images,
 * 128-d, VGG-Face rule, alpha 0.2) and the triplet loss with its gradient
 * (the reference implementation's batch of 90 rows = 30 triplets, and 1800 rows = 600 triplets),
 * every backend side by side with the pure backend as the baseline.
 *
 * The embeddings lie on a 1/16 grid (rounded from unit rows), so squared
 * distances are exact in float32 and no margin comparison can tip between
 * backends: the selections must be equal, triplet for triplet.
 *
 * Run: deno bench -A bench/triplet_bench.ts
 *
 * @module
 */

import type { TripletSelection } from "../core/types.ts";
import type { LossWithGradient } from "../core/backend.ts";
import { createRng } from "../core/pure/rng.ts";
import {
  assertClose,
  benchGroup,
  clusteredEmbeddings,
  createBackends,
  quantized,
} from "./_fixtures.ts";

const PEOPLE = 45;
const PER_PERSON = 40;
const DIM = 128;
const ALPHA = 0.2;

const embeddings = quantized(clusteredEmbeddings(PEOPLE, PER_PERSON, DIM, 21), 1 / 16);
const numPerClass = new Array<number>(PEOPLE).fill(PER_PERSON);
const backends = await createBackends();

function checkSelection(name: string, actual: TripletSelection, expected: TripletSelection): void {
  if (actual.pairs !== expected.pairs) {
    throw new Error(`${name}: ${actual.pairs} pairs, the pure backend has ${expected.pairs}`);
  }
  if (actual.triplets.length !== expected.triplets.length) {
    throw new Error(
      `${name}: ${actual.triplets.length} triplets, the pure backend has ${expected.triplets.length}`,
    );
  }
  actual.triplets.forEach((t, i) => {
    const e = expected.triplets[i]!;
    if (t[0] !== e[0] || t[1] !== e[1] || t[2] !== e[2]) {
      throw new Error(`${name}: triplet ${i} is [${t}], the pure backend's is [${e}]`);
    }
  });
  // The triplets must be equal; the logged statistics are means over 3.2M
  // distances, which tfjs's wasm device sums in float32 (measured drift
  // 1.1e-3 relative in meanNegDist), so they get a statistics tolerance.
  assertClose(
    `${name} (mean distances)`,
    [actual.meanPosDist, actual.meanNegDist, actual.noCandidateFraction],
    [expected.meanPosDist, expected.meanNegDist, expected.noCandidateFraction],
    { atol: 1e-5, rtol: 5e-3 },
  );
}

await benchGroup<TripletSelection>(
  `triplet selection ${PEOPLE} people x ${PER_PERSON} images, ${DIM}-d (vggface)`,
  backends.map((b) => ({
    name: b.label,
    // tfjs on a software WebGPU adapter selects on the device in ~20 s here: report-only.
    // (tfjs cpu and wasm run the core's fast selection, selectTripletsFast.)
    slow: b.software,
    n: 2,
    warmup: 0,
    run: () =>
      b.backend.selectTriplets(embeddings, numPerClass, { alpha: ALPHA, rng: createRng(5) }),
  })),
  { check: checkSelection },
);

function checkLoss(name: string, actual: LossWithGradient, expected: LossWithGradient): void {
  assertClose(`${name} (loss)`, [actual.loss], [expected.loss], { atol: 1e-6, rtol: 1e-5 });
  assertClose(`${name} (gradient)`, actual.gradient.data, expected.gradient.data, {
    atol: 1e-6,
    rtol: 1e-4,
  });
}

for (const rows of [90, 1800]) {
  const batch = { rows, cols: DIM, data: embeddings.data.slice(0, rows * DIM) };
  await benchGroup<LossWithGradient>(
    `triplet loss + gradient ${rows}x${DIM} (${rows / 3} triplets)`,
    backends.map((b) => ({
      name: b.label,
      run: () => b.backend.tripletLoss(batch, { alpha: ALPHA }),
    })),
    { check: checkLoss },
  );
}
