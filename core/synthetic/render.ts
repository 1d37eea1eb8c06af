/**
 * Rendering the synthetic faces: one image of an identity under random
 * nuisances (shift, rotation, scale, head turn, lighting, brightness,
 * contrast, colour cast, expression, background, clothing, sensor noise and,
 * sometimes, a partial occlusion), or an image from its reference alone.
 *
 * @module
 */

import type { RngState } from "../types.ts";
import { uint32s, uniforms } from "../pure/rng.ts";
import { clamp255, mix } from "./_color.ts";
import {
  checkCount,
  checkSeed,
  Draws,
  identityStream,
  IMAGE_DRAWS,
  roots,
  streamAt,
} from "./_streams.ts";
import { drawNuisance, type Nuisance } from "./_nuisance.ts";
import { faceContext, shape } from "./_shape.ts";
import { headShapes } from "./_head_shapes.ts";
import { featureShapes } from "./_feature_shapes.ts";
import { type Affine, compose, invert, paint, type Shape, similarity } from "./_raster.ts";
import { type FaceIdentity, syntheticIdentity } from "./identity.ts";
import { parseSyntheticRef } from "./dataset.ts";

/**
 * Options of {@link renderFace} and {@link renderSyntheticRef}.
 *
 * @category Synthetic faces
 */
export interface RenderOptions {
  /**
   * Strength of the per-image nuisances, 0..2 (default 1): 0 renders the
   * identity frontal, centred, evenly lit, with a neutral expression, on grey,
   * without noise or occluder (so every image of an identity is the same);
   * values between scale every nuisance toward that neutral image (a
   * curriculum, or an easier task for a tiny model). The random draws are the
   * same at every strength.
   */
  readonly nuisance?: number;
}

/** The identity's shapes under the expression and head turn of one image, back to front. */
function faceShapes(id: FaceIdentity, n: Nuisance): Shape[] {
  const c = faceContext(id, n);
  const out = [...headShapes(c), ...featureShapes(c)];
  // Occluder (a hand, a scarf, a cup...).
  if (n.occluder !== null) {
    const o = n.occluder;
    out.push(
      shape(
        { kind: "box", hx: o.hx, hy: o.hy, r: Math.min(o.hx, o.hy) * 0.6 },
        o.x,
        o.y,
        o.angle,
        o.color,
      ),
    );
  }
  return out;
}

/**
 * Renders one image of an identity under random nuisances drawn from `rng`.
 *
 * @param identity The identity (from {@link syntheticIdentity}).
 * @param size The image side in pixels (a positive integer).
 * @param rng The randomness of this image's nuisances and noise.
 * @param options `nuisance`: the strength of the nuisances, 0..2 (default 1).
 * @returns The image (`size * size * 3` float32 values, HWC RGB, 0..255) and the advanced RNG.
 * @throws {RangeError} When `size` is not a positive integer or the nuisance strength is outside 0..2.
 *
 * @example
 * ```ts
 * import { renderFace, syntheticIdentity } from "@facenet-deno/facenet/pure";
 * import { createRng } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const { image } = renderFace(syntheticIdentity(7, 0), 32, createRng(1));
 * assert.equal(image.length, 32 * 32 * 3);
 * assert.ok(image.every((v) => v >= 0 && v <= 255));
 * ```
 *
 * @category Synthetic faces
 */
export function renderFace(
  identity: FaceIdentity,
  size: number,
  rng: RngState,
  options: RenderOptions = {},
): { image: Float32Array; rng: RngState } {
  checkCount(size, "Image size", 1);
  const strength = options.nuisance ?? 1;
  if (!(strength >= 0 && strength <= 2)) {
    throw new RangeError(`Nuisance strength must be in [0, 2], got ${strength}`);
  }
  const [u, afterDraws] = uniforms(rng, IMAGE_DRAWS);
  const n = drawNuisance(new Draws(u), strength);
  const image = new Float32Array(size * size * 3);

  // Background: a vertical gradient between two colours.
  for (let y = 0; y < size; y++) {
    const t = (y + 0.5) / size;
    const c = mix(n.background, n.background2, t);
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      image[o] = c[0];
      image[o + 1] = c[1];
      image[o + 2] = c[2];
    }
  }
  const half = size / 2;
  const normToPixel: Affine = [half, 0, half, 0, half, half];
  const faceToNorm = similarity(n.angle, n.scale, n.shiftX, n.shiftY);
  const faceToPixel = compose(normToPixel, faceToNorm);
  paint(image, size, faceShapes(identity, n), faceToPixel);

  // Lighting on a head-shaped ellipsoid, then gain, contrast, colour cast and noise.
  const pixelToFace = invert(faceToPixel);
  const hx = identity.faceWidth * 1.15;
  const hy = identity.faceHeight * 1.15;
  const [lx, ly, lz] = n.light;
  const ambient = 1 - n.diffuse * 0.55;
  // Sensor noise: one byte of a random word per value, uniform with std n.noise.
  const [noiseWords, afterNoise] = uint32s(afterDraws, Math.ceil((size * size * 3) / 4));
  const noiseScale = n.noise / 73.9;
  const c0 = n.cast[0] * n.gain;
  const c1 = n.cast[1] * n.gain;
  const c2 = n.cast[2] * n.gain;
  let k = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const fx = pixelToFace[0] * (x + 0.5) + pixelToFace[1] * (y + 0.5) + pixelToFace[2];
      const fy = pixelToFace[3] * (x + 0.5) + pixelToFace[4] * (y + 0.5) + pixelToFace[5];
      let nx = fx / hx;
      let ny = fy / hy;
      const r2 = nx * nx + ny * ny;
      let nz = 0;
      if (r2 < 1) nz = Math.sqrt(1 - r2);
      else {
        const r = Math.sqrt(r2);
        nx /= r;
        ny /= r;
      }
      const lambert = nx * lx + ny * ly + nz * lz;
      const shade = ambient + n.diffuse * (lambert > 0 ? lambert : 0);
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const byte = ((noiseWords[k >> 2] as number) >>> ((k & 3) << 3)) & 0xff;
        k++;
        const noise = (byte - 127.5) * noiseScale;
        const gainC = c === 0 ? c0 : c === 1 ? c1 : c2;
        const v = ((image[o + c] as number) * shade - 128) * n.contrast + 128;
        image[o + c] = clamp255(v * gainC + noise);
      }
    }
  }
  return { image, rng: afterNoise };
}

/**
 * Renders a synthetic image from its reference alone.
 *
 * @param ref `syn:<split>:<identity>:<image>`.
 * @param size The image side in pixels.
 * @param seed The data set seed.
 * @param options `nuisance`: the strength of the nuisances, 0..2 (default 1), as in {@link renderFace}.
 * @returns The image, `size * size * 3` float32 values, HWC RGB, 0..255.
 * @throws {TypeError} When `ref` is not a synthetic reference.
 * @throws {RangeError} When the size, the seed or the nuisance strength is invalid.
 *
 * @example The same reference gives the same pixels
 * ```ts
 * import { renderSyntheticRef } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(renderSyntheticRef("syn:train:0:0", 16, 3), renderSyntheticRef("syn:train:0:0", 16, 3));
 * assert.notDeepEqual(renderSyntheticRef("syn:train:0:0", 16, 3), renderSyntheticRef("syn:train:0:1", 16, 3));
 * ```
 *
 * @category Synthetic faces
 */
export function renderSyntheticRef(
  ref: string,
  size: number,
  seed: number,
  options: RenderOptions = {},
): Float32Array {
  const { split, identity, image } = parseSyntheticRef(ref);
  checkSeed(seed);
  const k = identityStream(split, identity);
  const [, imageRoot] = roots(seed);
  const rng = streamAt(streamAt(imageRoot, k), image);
  return renderFace(syntheticIdentity(seed, k), size, rng, options).image;
}
