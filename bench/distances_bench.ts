/**
 * Pairwise squared distances and row-wise L2 normalization of 1800 x 128
 * embeddings (the reference implementation's 45 people x 40 images, 128-d), every backend side by
 * side with the pure backend as the baseline.
 *
 * Run: deno bench -A bench/distances_bench.ts
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { l2NormalizeRows } from "../backends/tfjs/compile.ts";
import {
  benchGroup,
  closeCheck,
  clusteredEmbeddings,
  createBackends,
  createKernelSets,
  kernelRunner,
  type Member,
  onTfjs,
  randomTensor,
  tfjsDevices,
} from "./_fixtures.ts";

const ROWS = 1800;
const DIM = 128;
const EPSILON = 1e-10;

// --- pairwise squared distances, through the Backend contract ---
const embeddings = clusteredEmbeddings(45, 40, DIM, 11);
const backends = await createBackends();
await benchGroup(
  `pairwise squared distances ${ROWS}x${DIM}`,
  backends.map((b) => ({
    name: b.label,
    n: 2,
    warmup: 0,
    run: async () => (await b.backend.pairwiseSquaredDistances(embeddings)).data,
  })),
  // Squared distances of unit rows lie in [0, 4]; float32 Gram-matrix forms lose ~1e-6.
  { check: closeCheck({ atol: 1e-4 }) },
);

// --- L2 normalization, as the kernel each backend's model uses ---
const raw = randomTensor([ROWS, DIM], 12);
const kernelSets = await createKernelSets();
const [pureMember, ...wasmSimdMembers] = kernelSets.map((e): Member<ArrayLike<number>> => ({
  name: e.label,
  run: kernelRunner(e.kernels, [raw], (k, [x]) => [k.l2Normalize(x, EPSILON)]),
}));
const l2Members: Member<ArrayLike<number>>[] = [pureMember!];
for (const d of await tfjsDevices()) {
  const x = await onTfjs(d.device, () => tf.tensor2d(raw.data, [ROWS, DIM]));
  l2Members.push({
    name: d.label,
    run: () =>
      onTfjs(d.device, async () => {
        const y = tf.tidy(() => l2NormalizeRows(x, EPSILON));
        const out = (await y.data()) as Float32Array;
        y.dispose();
        return out;
      }),
  });
}
l2Members.push(...wasmSimdMembers);
await benchGroup(`L2 normalization ${ROWS}x${DIM}`, l2Members, {
  check: closeCheck({ atol: 1e-6, rtol: 1e-4 }),
});
