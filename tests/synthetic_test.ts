import assert from "node:assert/strict";
import fc from "fast-check";
import {
  parseSyntheticRef,
  renderFace,
  renderSyntheticRef,
  syntheticDataset,
  syntheticIdentity,
  syntheticPairs,
} from "../core/synthetic/mod.ts";
import { createRng } from "../core/pure/rng.ts";
import { fixedImageStandardization, prewhiten } from "../core/pure/preprocess.ts";
import { evaluate } from "../core/pure/evaluation.ts";
import { SMALL_PRESET } from "../cli/presets.ts";

Deno.test("syntheticIdentity() is a deterministic function of seed and index", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1e9, max: 1e9 }),
      fc.integer({ min: 0, max: 1e6 }),
      (seed, index) => {
        const a = syntheticIdentity(seed, index);
        assert.deepEqual(a, syntheticIdentity(seed, index));
        assert.deepEqual(JSON.parse(JSON.stringify(a)), a); // plain data
        assert.equal(a.index, index);
        assert.notDeepEqual(a, syntheticIdentity(seed, index + 1));
        assert.notDeepEqual(a, syntheticIdentity(seed + 1, index));
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("syntheticIdentity() keeps the geometry inside a plausible face", () => {
  for (let i = 0; i < 300; i++) {
    const id = syntheticIdentity(3, i);
    assert.ok(id.faceWidth > 0.4 && id.faceWidth < 0.6);
    assert.ok(id.faceHeight > id.faceWidth);
    // Eyes inside the face and apart; mouth below the eyes, above the chin.
    assert.ok(id.eyes.spacing + id.eyes.width < id.faceWidth);
    assert.ok(id.eyes.spacing > id.eyes.width);
    assert.ok(id.mouth.y > id.eyes.y + 0.25 && id.mouth.y < id.faceHeight);
    for (const c of [id.skin, id.hair.color, id.eyes.iris, id.mouth.color]) {
      assert.ok(c.every((v) => v >= 0 && v <= 255));
    }
  }
});

Deno.test("syntheticIdentity() draws varied accessories and hair styles", () => {
  const ids = Array.from({ length: 400 }, (_, i) => syntheticIdentity(11, i));
  const frac = (f: (i: (typeof ids)[number]) => boolean) => ids.filter(f).length / ids.length;
  assert.ok(frac((i) => i.glasses !== null) > 0.2 && frac((i) => i.glasses !== null) < 0.4);
  assert.ok(frac((i) => i.beard !== null) > 0.2 && frac((i) => i.beard !== null) < 0.5);
  assert.ok(frac((i) => i.mole !== null) > 0.25 && frac((i) => i.mole !== null) < 0.45);
  assert.deepEqual(
    [...new Set(ids.map((i) => i.hair.style))].sort(),
    ["bald", "curly", "fringe", "long", "short"],
  );
});

Deno.test("renderFace() renders any size deterministically, within 0..255, advancing the RNG", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 0, max: 1e6 }),
      fc.integer({ min: 0, max: 1e6 }),
      (size, identity, seed) => {
        const id = syntheticIdentity(5, identity);
        const rng = createRng(seed);
        const a = renderFace(id, size, rng);
        assert.equal(a.image.length, size * size * 3);
        assert.ok(a.image.every((v) => Number.isFinite(v) && v >= 0 && v <= 255));
        assert.deepEqual(renderFace(id, size, rng), a);
        assert.notDeepEqual(a.rng, rng);
        if (size >= 8) {
          assert.notDeepEqual(renderFace(id, size, a.rng).image, a.image);
        }
      },
    ),
    { numRuns: 30 },
  );
  assert.throws(() => renderFace(syntheticIdentity(1, 0), 0, createRng(1)), RangeError);
  assert.throws(() => renderFace(syntheticIdentity(1, 0), 2.5, createRng(1)), RangeError);
});

Deno.test("renderFace() draws a face-like layout: skin in the centre, eyes darker than the cheeks", () => {
  // Averaged over many images, the face centre has the identity's skin tone
  // and the eye row is darker than the cheek row below it.
  const size = 64;
  const n = 60;
  let eyes = 0;
  let cheeks = 0;
  let centreErr = 0;
  for (let k = 0; k < n; k++) {
    const id = syntheticIdentity(9, k);
    const { image } = renderFace(id, size, createRng(k));
    const lum = (x: number, y: number) => {
      const o = (Math.round(y) * size + Math.round(x)) * 3;
      return ((image[o] as number) + (image[o + 1] as number) + (image[o + 2] as number)) / 3;
    };
    const toPx = (v: number) => (v + 1) * size / 2;
    for (const side of [-1, 1]) {
      eyes += lum(toPx(side * id.eyes.spacing), toPx(id.eyes.y));
      cheeks += lum(toPx(side * id.eyes.spacing), toPx(id.eyes.y + 0.18));
    }
    const skin = (id.skin[0] + id.skin[1] + id.skin[2]) / 3;
    centreErr += Math.abs(lum(toPx(0.25), toPx(0.15)) - skin);
  }
  assert.ok(eyes < cheeks, `eye row ${eyes / n / 2} vs cheek row ${cheeks / n / 2}`);
  assert.ok(centreErr / n < 50, `mean |cheek - skin| ${centreErr / n}`);
});

Deno.test("syntheticDataset() lists sorted identities with syn:<split>:<identity>:<image> references", () => {
  const ds = syntheticDataset({
    seed: 1,
    identities: 120,
    imagesPerIdentity: 3,
    split: "validation",
  });
  assert.equal(ds.length, 120);
  const names = ds.map((c) => c.name);
  assert.deepEqual([...names].sort(), names);
  assert.equal(names[7], "syn-validation-007");
  ds.forEach((c, i) => {
    assert.deepEqual(c.images, [0, 1, 2].map((j) => `syn:validation:${i}:${j}`));
    for (const ref of c.images) assert.deepEqual(parseSyntheticRef(ref).identity, i);
  });
  assert.throws(
    () => syntheticDataset({ seed: 1, identities: 0, imagesPerIdentity: 3, split: "train" }),
    RangeError,
  );
  assert.throws(
    // @ts-expect-error: an unknown split is refused at run time too
    () => syntheticDataset({ seed: 1, identities: 2, imagesPerIdentity: 3, split: "test" }),
    RangeError,
  );
});

Deno.test("training and validation identities are disjoint streams", () => {
  const train = new Set<string>();
  for (let i = 0; i < 200; i++) {
    train.add(JSON.stringify({ ...syntheticIdentity(4, 2 * i), index: 0 }));
  }
  for (let i = 0; i < 200; i++) {
    assert.ok(!train.has(JSON.stringify({ ...syntheticIdentity(4, 2 * i + 1), index: 0 })));
  }
  assert.notDeepEqual(
    renderSyntheticRef("syn:train:3:0", 16, 4),
    renderSyntheticRef("syn:validation:3:0", 16, 4),
  );
});

Deno.test("renderSyntheticRef() renders an image from its reference alone", () => {
  const a = renderSyntheticRef("syn:train:17:4", 24, 99);
  assert.deepEqual(renderSyntheticRef("syn:train:17:4", 24, 99), a);
  assert.notDeepEqual(renderSyntheticRef("syn:train:17:4", 24, 98), a);
  assert.notDeepEqual(renderSyntheticRef("syn:train:17:5", 24, 99), a);
  for (const bad of ["syn:test:1:1", "syn:train:1", "syn:train:-1:0", "faces/a/a_0001.png", ""]) {
    assert.throws(() => renderSyntheticRef(bad, 24, 99), TypeError, bad);
  }
  assert.throws(() => renderSyntheticRef("syn:train:1:1", 24, 0.5), RangeError);
});

Deno.test("syntheticPairs() follows the LFW layout with identity-disjoint folds", () => {
  const options = { seed: 8, identities: 40, imagesPerIdentity: 4, pairsPerFold: 12 };
  const p = syntheticPairs(options);
  assert.deepEqual(syntheticPairs(options), p);
  assert.equal(p.folds, 10);
  assert.equal(p.pairsPerFold, 12);
  assert.equal(p.pairs.length, 10 * 24);
  for (let f = 0; f < 10; f++) {
    const fold = p.pairs.slice(f * 24, (f + 1) * 24);
    const keys = new Set<string>();
    fold.forEach((pair, k) => {
      const a = parseSyntheticRef(pair.a);
      const b = parseSyntheticRef(pair.b);
      assert.equal(a.split, "validation");
      assert.equal(b.split, "validation");
      assert.equal(pair.same, k < 12);
      assert.equal(a.identity === b.identity, pair.same);
      if (pair.same) assert.notEqual(a.image, b.image);
      assert.equal(a.identity % 10, f);
      assert.equal(b.identity % 10, f);
      assert.ok(a.image < 4 && b.image < 4 && a.identity < 40 && b.identity < 40);
      keys.add([pair.a, pair.b].sort().join("|"));
    });
    assert.equal(keys.size, 24, "no pair repeats within a fold");
  }
  assert.throws(() => syntheticPairs({ ...options, identities: 19 }), RangeError);
  assert.throws(() => syntheticPairs({ ...options, imagesPerIdentity: 1 }), RangeError);
  assert.equal(syntheticPairs({ ...options, folds: 2 }).pairs.length, 2 * 24);
});

/** Unit-norm flattening, so squared distances lie in [0, 4] like L2-normalized embeddings (the threshold range of the protocol). */
function unit(x: Float32Array): Float32Array {
  let n = 0;
  for (const v of x) n += v * v;
  n = Math.sqrt(n) || 1;
  return x.map((v) => v / n);
}

/**
 * The reference implementation's 10-fold accuracy (core/pure/evaluation.ts) of precomputed squared
 * distances: each pair becomes the 1-D "embeddings" `sqrt(d)` and `0`, whose
 * squared euclidean distance is `d`.
 */
function tenFoldAccuracy(dist: readonly number[], same: readonly boolean[]): number {
  const n = dist.length;
  const e1 = { rows: n, cols: 1, data: Float32Array.from(dist, (d) => Math.sqrt(d)) };
  const e2 = { rows: n, cols: 1, data: new Float32Array(n) };
  return evaluate(e1, e2, same, { nrofFolds: 10 }).accuracyMean;
}

/** 10-fold raw-pixel verification accuracy on synthetic validation pairs, per standardization. */
function pixelBaseline(
  options: { seed: number; size: number; pairsPerFold: number; nuisance?: number },
): { pairs: number; accuracy: Record<string, number> } {
  const { seed, size } = options;
  const { pairs } = syntheticPairs({
    seed,
    identities: 200,
    imagesPerIdentity: 10,
    pairsPerFold: options.pairsPerFold,
  });
  const same = pairs.map((p) => p.same);
  const cache = new Map<string, Float32Array>();
  const render = { nuisance: options.nuisance ?? 1 };
  const image = (ref: string) => {
    let v = cache.get(ref);
    if (v === undefined) cache.set(ref, v = renderSyntheticRef(ref, size, seed, render));
    return v;
  };
  const accuracy: Record<string, number> = {};
  for (
    const [name, standardize] of [
      ["prewhiten", prewhiten],
      ["fixed standardization", fixedImageStandardization],
    ] as const
  ) {
    const dist = pairs.map((p) => {
      const a = unit(standardize(image(p.a)));
      const b = unit(standardize(image(p.b)));
      let d = 0;
      for (let i = 0; i < a.length; i++) d += ((a[i] as number) - (b[i] as number)) ** 2;
      return d;
    });
    accuracy[name] = tenFoldAccuracy(dist, same);
  }
  return { pairs: pairs.length, accuracy };
}

Deno.test("comparing raw pixels verifies synthetic validation pairs with at most 0.75 accuracy", () => {
  // At the strength and size that `deno task train` trains and validates with.
  const size = SMALL_PRESET.imageSize;
  const nuisance = SMALL_PRESET.syntheticNuisance;
  const { pairs, accuracy } = pixelBaseline({ seed: 666, size, pairsPerFold: 60, nuisance });
  console.log(
    `raw-pixel baseline on ${pairs} synthetic validation pairs (${size}x${size}, nuisance ${nuisance}): ` +
      Object.entries(accuracy).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(", "),
  );
  for (const [name, value] of Object.entries(accuracy)) {
    assert.ok(value <= 0.75, `${name}: raw-pixel accuracy ${value} > 0.75`);
  }
});

Deno.test("without nuisances every identity is told apart by raw pixels (the identity cues are visible)", () => {
  assert.deepEqual(
    renderSyntheticRef("syn:validation:5:0", 32, 1, { nuisance: 0 }),
    renderSyntheticRef("syn:validation:5:9", 32, 1, { nuisance: 0 }),
  );
  const { accuracy } = pixelBaseline({ seed: 1, size: 32, pairsPerFold: 20, nuisance: 0 });
  for (const [name, value] of Object.entries(accuracy)) {
    assert.ok(value >= 0.95, `${name}: raw-pixel accuracy without nuisances ${value} < 0.95`);
  }
  assert.throws(() => renderSyntheticRef("syn:train:1:1", 8, 1, { nuisance: -0.1 }), RangeError);
  assert.throws(() => renderSyntheticRef("syn:train:1:1", 8, 1, { nuisance: NaN }), RangeError);
});

Deno.test("a weaker nuisance makes raw pixels a better verifier (the strength is a real knob)", () => {
  const at = (nuisance: number) =>
    pixelBaseline({ seed: 2, size: 24, pairsPerFold: 20, nuisance })
      .accuracy["prewhiten"] as number;
  const easy = at(0.25);
  const full = at(1);
  assert.ok(easy > full + 0.1, `nuisance 0.25: ${easy}, nuisance 1: ${full}`);
});
