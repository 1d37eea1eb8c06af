/**
 * Built-in synthetic identities: procedurally rendered, face-like RGB images,
 * deterministic from a seed, with no files to download.
 *
 * Each identity ({@link FaceIdentity}) is a fixed random draw of facial
 * geometry and appearance: face outline and jaw, eye / brow / nose / mouth
 * placement and size, skin, eye and hair colour, hair style, and accessories
 * (glasses, beard, moustache, a mole). Each image ({@link renderFace}) shows
 * the identity under random nuisances: shift, rotation, scale, a slight head
 * turn, lighting direction and strength, brightness, contrast and colour
 * cast, expression (smile, open mouth, eye openness, gaze, raised brows),
 * background and clothing colour, sensor noise and, sometimes, a partial
 * occlusion. The nuisances are strong enough that comparing raw pixels is a
 * poor face verifier (about 0.6–0.7 pair accuracy on the LFW protocol, see
 * tests/synthetic_test.ts), while the identity cues stay visible to a
 * learned embedding.
 *
 * Images are addressed by references `syn:<split>:<identity>:<image>`, so any
 * image can be rendered from its reference and the dataset seed alone
 * ({@link renderSyntheticRef}). Training and validation identities are
 * disjoint: identity `i` of the training split is identity stream `2 i`,
 * identity `i` of the validation split is stream `2 i + 1`.
 *
 * Randomness comes only from core/pure/rng.ts: the seed's root stream is
 * split into an identity root, an image root and a pairs root; the stream of
 * identity `k` is keyed by words `2k, 2k + 1` of the identity root, the stream
 * of image `j` of identity `k` by words `2j, 2j + 1` of the stream keyed by
 * words `2k, 2k + 1` of the image root.
 *
 * @module
 */

import type { Dataset, ImageClass, RngState } from "./types.ts";
import { createRng, split, uint32s, uniforms } from "./pure/rng.ts";
import {
  type Affine,
  compose,
  invert,
  paint,
  type Shape,
  similarity,
} from "./synthetic/_raster.ts";

/** An RGB colour, 0..255 per channel. */
export type Rgb = readonly [number, number, number];

/** Hair styles of the synthetic identities. */
export type HairStyle = "bald" | "short" | "fringe" | "long" | "curly";

/** The fixed appearance of one synthetic identity, in face units (the image spans -1..1 at scale 1, y down). */
export interface FaceIdentity {
  /** The identity stream index (`2 i` training, `2 i + 1` validation). */
  readonly index: number;
  /** Half width of the face ellipse. */
  readonly faceWidth: number;
  /** Half height of the face ellipse. */
  readonly faceHeight: number;
  /** Width of the jaw relative to the face (narrow chin < 1 < square jaw). */
  readonly jaw: number;
  /** Skin colour. */
  readonly skin: Rgb;
  /** Hair style, colour and shape. */
  readonly hair: {
    readonly style: HairStyle;
    readonly color: Rgb;
    /** Hairline height above the eyes. */
    readonly hairline: number;
    /** How far the hair stands off the head. */
    readonly volume: number;
    /** How much the hairline dips at the temples. */
    readonly bend: number;
  };
  /** Eye placement, size and colour. */
  readonly eyes: {
    /** Vertical position of the eyes. */
    readonly y: number;
    /** Half distance between the eye centres. */
    readonly spacing: number;
    readonly width: number;
    readonly height: number;
    /** Tilt in radians (outer corners up for positive). */
    readonly tilt: number;
    readonly iris: Rgb;
  };
  /** Eyebrow placement and shape. */
  readonly brows: {
    /** Gap between eye centre and brow. */
    readonly gap: number;
    readonly thickness: number;
    readonly length: number;
    readonly angle: number;
    readonly arch: number;
    readonly color: Rgb;
  };
  /** Nose length and half width. */
  readonly nose: { readonly length: number; readonly width: number };
  /** Mouth placement, size, resting curvature and lip colour. */
  readonly mouth: {
    readonly y: number;
    readonly width: number;
    readonly lips: number;
    /** Resting curvature (positive: corners up). */
    readonly bend: number;
    readonly color: Rgb;
  };
  /** Ear size. */
  readonly ears: { readonly size: number };
  /** Glasses, or null. */
  readonly glasses: {
    readonly color: Rgb;
    readonly width: number;
    readonly height: number;
    readonly thickness: number;
    /** Lens darkness 0..1. */
    readonly tint: number;
  } | null;
  /** Beard and moustache, or null. */
  readonly beard: {
    readonly color: Rgb;
    /** How far above the mouth the beard starts. */
    readonly top: number;
    readonly density: number;
    readonly moustache: boolean;
  } | null;
  /** A mole on the face, or null. */
  readonly mole: { readonly x: number; readonly y: number; readonly radius: number } | null;
}

/** Which part of the synthetic data set. */
export type SyntheticSplit = "train" | "validation";

/** Options of {@link syntheticDataset}. */
export interface SyntheticDatasetOptions {
  /** The data set seed (a safe integer). */
  readonly seed: number;
  /** Number of identities (>= 1). */
  readonly identities: number;
  /** Images per identity (>= 1). */
  readonly imagesPerIdentity: number;
  /** Which split's identities. */
  readonly split: SyntheticSplit;
}

/** Options of {@link renderFace} and {@link renderSyntheticRef}. */
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

/** Options of {@link syntheticPairs}. */
export interface SyntheticPairsOptions {
  /** The data set seed. */
  readonly seed: number;
  /** Number of validation identities (>= 2 x folds). */
  readonly identities: number;
  /** Images per validation identity (>= 2). */
  readonly imagesPerIdentity: number;
  /** Number of folds; default 10 (LFW). */
  readonly folds?: number;
  /** Same-identity pairs per fold (and as many different-identity pairs). */
  readonly pairsPerFold: number;
}

/** One verification pair: two image references and whether they show the same identity. */
export interface SyntheticPair {
  /** First image reference. */
  readonly a: string;
  /** Second image reference. */
  readonly b: string;
  /** Whether both images show the same identity. */
  readonly same: boolean;
}

/** Validation pairs in the LFW structure: per fold, `pairsPerFold` same then `pairsPerFold` different pairs. */
export interface SyntheticPairs {
  /** All pairs, fold after fold. */
  readonly pairs: readonly SyntheticPair[];
  /** Number of folds. */
  readonly folds: number;
  /** Same-identity (and different-identity) pairs per fold. */
  readonly pairsPerFold: number;
}

const IDENTITY_DRAWS = 128;
const IMAGE_DRAWS = 64;

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`Seed must be a safe integer, got ${seed}`);
}

function checkCount(value: number, what: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${what} must be an integer >= ${min}, got ${value}`);
  }
}

/** The stream keyed by words `2k, 2k + 1` of `root`. */
function streamAt(root: RngState, k: number): RngState {
  const [w] = uint32s({ key: root.key, counter: root.counter + 2 * k }, 2);
  return { key: [w[0] as number, w[1] as number], counter: 0 };
}

/** Root streams of a seed: identities, images, pairs. */
function roots(seed: number): [RngState, RngState, RngState] {
  const [a, rest] = split(createRng(seed));
  const [b, c] = split(rest);
  return [a, b, c];
}

/** Hands out the uniforms of a pre-drawn block in order. */
class Draws {
  #u: Float64Array;
  #i = 0;
  constructor(u: Float64Array) {
    this.#u = u;
  }
  /** A uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    const u = this.#u[this.#i++];
    if (u === undefined) throw new Error("Internal error: synthetic draw block exhausted");
    return lo + (hi - lo) * u;
  }
  chance(p: number): boolean {
    return this.range(0, 1) < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.min(items.length - 1, Math.floor(this.range(0, items.length)))] as T;
  }
  /** A roughly normal value (sum of three uniforms), mean 0, std `sd`. */
  around(sd: number): number {
    return (this.range(-1, 1) + this.range(-1, 1) + this.range(-1, 1)) * sd;
  }
}

const HAIR_COLORS: readonly Rgb[] = [
  [22, 18, 18],
  [55, 38, 28],
  [100, 68, 42],
  [150, 105, 60],
  [215, 180, 115],
  [160, 70, 35],
  [140, 140, 140],
  [225, 222, 215],
];
const IRIS_COLORS: readonly Rgb[] = [
  [80, 50, 30],
  [50, 35, 25],
  [70, 110, 160],
  [80, 120, 80],
  [110, 110, 120],
];
const HAIR_STYLES: readonly HairStyle[] = [
  "bald",
  "short",
  "short",
  "fringe",
  "long",
  "long",
  "curly",
];

function jitter(c: Rgb, d: Draws, amount: number): Rgb {
  return [
    clamp255(c[0] + d.around(amount)),
    clamp255(c[1] + d.around(amount)),
    clamp255(c[2] + d.around(amount)),
  ];
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

function scale(c: Rgb, f: number): Rgb {
  return [clamp255(c[0] * f), clamp255(c[1] * f), clamp255(c[2] * f)];
}

/**
 * Draws the fixed appearance of one synthetic identity.
 *
 * @param seed The data set seed (a safe integer).
 * @param identityIndex The identity stream index (a non-negative integer);
 *   training identity `i` is `2 i`, validation identity `i` is `2 i + 1`.
 * @returns The identity, as plain data.
 * @throws {RangeError} When the seed or the index is not a valid integer.
 *
 * @example Deterministic and distinct
 * ```ts
 * import { syntheticIdentity } from "./synthetic.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(syntheticIdentity(1, 5), syntheticIdentity(1, 5));
 * assert.notDeepEqual(syntheticIdentity(1, 5), syntheticIdentity(1, 6));
 * ```
 */
export function syntheticIdentity(seed: number, identityIndex: number): FaceIdentity {
  checkSeed(seed);
  checkCount(identityIndex, "Identity index", 0);
  const [identityRoot] = roots(seed);
  const d = new Draws(uniforms(streamAt(identityRoot, identityIndex), IDENTITY_DRAWS)[0]);

  const faceWidth = d.range(0.43, 0.58);
  const faceHeight = d.range(0.6, 0.72);
  const jaw = d.range(0.72, 1.05);
  const skinTone = d.range(0, 1);
  const skin = jitter(mix([242, 205, 180], [92, 58, 38], skinTone), d, 10);
  const style = d.pick(HAIR_STYLES);
  const hairColor = jitter(d.pick(HAIR_COLORS), d, 12);
  const hairline = d.range(0.22, 0.38);
  const volume = d.range(0.02, 0.1);
  const hairBend = d.range(0, 1.2);
  const eyeY = d.range(-0.14, -0.02);
  const spacing = d.range(0.16, 0.24);
  const eyeWidth = d.range(0.065, 0.1);
  const eyeHeight = eyeWidth * d.range(0.38, 0.6);
  const tilt = d.around(0.08);
  const iris = jitter(d.pick(IRIS_COLORS), d, 10);
  const browGap = d.range(0.08, 0.13);
  const browThickness = d.range(0.015, 0.035);
  const browLength = d.range(0.07, 0.11);
  const browAngle = d.around(0.12);
  const browArch = d.range(0, 6);
  const browDark = d.range(0.6, 1.0);
  const noseLength = d.range(0.14, 0.26);
  const noseWidth = d.range(0.04, 0.08);
  const mouthY = d.range(0.28, 0.4);
  const mouthWidth = d.range(0.1, 0.17);
  const lips = d.range(0.015, 0.04);
  const mouthBend = d.around(0.8);
  const lipRed = d.range(0, 1);
  const earSize = d.range(0.09, 0.14);
  const hasGlasses = d.chance(0.3);
  const glassColor = d.pick<Rgb>([[20, 20, 20], [90, 60, 30], [180, 180, 190], [120, 20, 20]]);
  const glassWidth = d.range(1.2, 1.6);
  const glassHeight = d.range(0.9, 1.3);
  const glassThick = d.range(0.008, 0.02);
  const glassTint = d.chance(0.2) ? d.range(0.5, 0.85) : d.range(0, 0.12);
  const hasBeard = d.chance(0.25);
  const beardTop = d.range(-0.06, 0.08);
  const beardDensity = d.range(0.55, 1);
  const moustache = d.chance(0.6);
  const hasMustacheOnly = d.chance(0.12);
  const hasMole = d.chance(0.35);
  const moleX = d.range(-0.3, 0.3);
  const moleY = d.range(-0.1, 0.4);
  const moleR = d.range(0.012, 0.025);
  const browColor = scale(mix(hairColor, [30, 25, 20], browDark * 0.6), 1);
  const beardColor = scale(hairColor, 0.95);
  return {
    index: identityIndex,
    faceWidth,
    faceHeight,
    jaw,
    skin,
    hair: { style, color: hairColor, hairline, volume, bend: hairBend },
    eyes: { y: eyeY, spacing, width: eyeWidth, height: eyeHeight, tilt, iris },
    brows: {
      gap: browGap,
      thickness: browThickness,
      length: browLength,
      angle: browAngle,
      arch: browArch,
      color: browColor,
    },
    nose: { length: noseLength, width: noseWidth },
    mouth: {
      y: mouthY,
      width: mouthWidth,
      lips,
      bend: mouthBend,
      color: mix(scale(skin, 0.8), [170, 50, 60], 0.3 + 0.4 * lipRed),
    },
    ears: { size: earSize },
    glasses: hasGlasses
      ? {
        color: glassColor,
        width: glassWidth,
        height: glassHeight,
        thickness: glassThick,
        tint: glassTint,
      }
      : null,
    beard: hasBeard || hasMustacheOnly
      ? {
        color: beardColor,
        top: hasBeard ? beardTop : 1,
        density: beardDensity,
        moustache: hasMustacheOnly || moustache,
      }
      : null,
    mole: hasMole ? { x: moleX, y: moleY, radius: moleR } : null,
  };
}

/** The per-image nuisances, drawn from the image's stream. */
interface Nuisance {
  readonly angle: number;
  readonly scale: number;
  readonly shiftX: number;
  readonly shiftY: number;
  readonly yaw: number;
  readonly smile: number;
  readonly mouthOpen: number;
  readonly eyeOpen: number;
  readonly gazeX: number;
  readonly gazeY: number;
  readonly browRaise: number;
  readonly background: Rgb;
  readonly background2: Rgb;
  readonly shirt: Rgb;
  readonly light: readonly [number, number, number];
  readonly diffuse: number;
  readonly gain: number;
  readonly contrast: number;
  readonly cast: Rgb;
  readonly noise: number;
  readonly occluder: {
    readonly x: number;
    readonly y: number;
    readonly hx: number;
    readonly hy: number;
    readonly angle: number;
    readonly color: Rgb;
  } | null;
}

/**
 * Draws the nuisances of one image. Every draw is unconditional (a fixed
 * number of uniforms per image); `strength` scales each nuisance between its
 * neutral value (0: a frontal, evenly lit, centred, neutral-expression face on
 * grey, without noise or occluder) and its full range (1, the default).
 */
function drawNuisance(d: Draws, strength: number): Nuisance {
  const s = strength;
  const toward = (neutral: number, drawn: number) => neutral + s * (drawn - neutral);
  const grey = (lo: number, hi: number): Rgb => [
    toward(128, d.range(lo, hi)),
    toward(128, d.range(lo, hi)),
    toward(128, d.range(lo, hi)),
  ];
  const angle = toward(0, Math.max(-0.35, Math.min(0.35, d.around(0.12))));
  const scaleF = toward(1, d.range(0.9, 1.1));
  const shiftX = toward(0, d.range(-0.08, 0.08));
  const shiftY = toward(0, d.range(-0.08, 0.08));
  const yaw = toward(0, d.range(-0.25, 0.25));
  const smile = toward(0.4, d.range(-0.6, 1.4));
  const mouthOpenDraw = d.range(0, 1);
  const mouthOpen = mouthOpenDraw < 0.35 * Math.min(1, s) ? d.range(0.2, 1) : (d.range(0, 1), 0);
  const blinkDraw = d.range(0, 1);
  const blink = d.range(0.1, 0.4);
  const open = toward(0.95, d.range(0.75, 1.15));
  const eyeOpen = blinkDraw < 0.1 * Math.min(1, s) ? blink : open;
  const gazeX = toward(0, d.range(-0.3, 0.3));
  const gazeY = toward(0, d.range(-0.15, 0.15));
  const browRaise = toward(0, d.range(-0.02, 0.035));
  const background = grey(20, 235);
  const background2 = mix(background, grey(20, 235), 0.5);
  const shirt = grey(10, 245);
  const azimuth = d.range(0, 2 * Math.PI);
  const elevation = d.range(0.25, 1.2);
  // Tilt the frontal light (0, 0, 1) toward the drawn direction.
  const lx = Math.cos(azimuth) * s;
  const ly = Math.sin(azimuth) * s;
  const lz = toward(1, elevation);
  const norm = Math.sqrt(lx * lx + ly * ly + lz * lz);
  const diffuse = toward(0.4, d.range(0.15, 0.7));
  const gain = toward(1, d.range(0.7, 1.25));
  const contrast = toward(1, d.range(0.65, 1.25));
  const cast: Rgb = [
    toward(1, d.range(0.88, 1.12)),
    toward(1, d.range(0.92, 1.08)),
    toward(1, d.range(0.88, 1.12)),
  ];
  const noise = s * d.range(2, 12);
  const occluded = d.range(0, 1) < 0.3 * Math.min(1, s);
  const occluder = {
    x: d.range(-0.5, 0.5),
    y: d.range(-0.3, 0.8),
    hx: d.range(0.12, 0.35),
    hy: d.range(0.08, 0.3),
    angle: d.range(-0.8, 0.8),
    color: [d.range(10, 245), d.range(10, 245), d.range(10, 245)] as Rgb,
  };
  return {
    angle,
    scale: scaleF,
    shiftX,
    shiftY,
    yaw,
    smile,
    mouthOpen,
    eyeOpen,
    gazeX,
    gazeY,
    browRaise,
    background,
    background2,
    shirt,
    light: [lx / norm, ly / norm, lz / norm],
    diffuse,
    gain,
    contrast,
    cast,
    noise,
    occluder: occluded ? occluder : null,
  };
}

function shape(
  geometry: Shape["geometry"],
  x: number,
  y: number,
  angle: number,
  color: Rgb,
  extra: { bend?: number; clip?: Shape["clip"]; alpha?: number } = {},
): Shape {
  return {
    geometry,
    frame: similarity(angle, 1, x, y),
    bend: extra.bend ?? 0,
    clip: extra.clip ?? null,
    color,
    alpha: extra.alpha ?? 1,
  };
}

function ellipse(rx: number, ry: number): Shape["geometry"] {
  return { kind: "ellipse", rx, ry };
}

/** The identity's shapes under the expression and head turn of one image, back to front. */
function faceShapes(id: FaceIdentity, n: Nuisance): Shape[] {
  const out: Shape[] = [];
  const fw = id.faceWidth;
  const fh = id.faceHeight;
  const skin = id.skin;
  const hair = id.hair;
  const yaw = n.yaw;
  // Head turn: features move sideways with their depth; the far side narrows.
  const turn = (x: number, depth: number) => x + yaw * depth;
  const eyeY = id.eyes.y;
  const crownY = -fh * 0.95 - hair.volume;

  // Body: shirt and neck.
  out.push(shape(ellipse(0.95, 0.42), 0, 1.22, 0, n.shirt));
  out.push(
    shape(
      { kind: "box", hx: fw * 0.45, hy: 0.35, r: 0.05 },
      turn(0, 0.05),
      fh * 0.75 + 0.2,
      0,
      scale(skin, 0.82),
    ),
  );
  // Hair behind the head.
  if (hair.style === "long") {
    out.push(
      shape(
        { kind: "box", hx: fw + 0.08 + hair.volume, hy: fh * 0.85, r: 0.3 },
        turn(0, -0.05),
        fh * 0.15,
        0,
        hair.color,
      ),
    );
  } else if (hair.style === "curly") {
    out.push(
      shape(
        ellipse(fw * 1.3 + hair.volume, fh * 0.95 + hair.volume),
        turn(0, -0.05),
        -fh * 0.2,
        0,
        hair.color,
      ),
    );
  } else if (hair.style === "bald") {
    // A fringe of hair at the sides and back, showing only around the face.
    out.push(
      shape(
        ellipse(fw * 1.08 + hair.volume * 0.4, 0.24),
        turn(0, -0.05),
        eyeY + 0.04,
        0,
        hair.color,
      ),
    );
  }
  // Ears (the far one shrinks with the turn).
  for (const side of [-1, 1]) {
    const s = id.ears.size * (1 + 0.8 * yaw * side);
    out.push(
      shape(
        ellipse(s * 0.55, s),
        turn(side * fw * 0.98, -0.1),
        eyeY + 0.06,
        side * 0.15,
        scale(skin, 0.93),
      ),
    );
    out.push(
      shape(
        ellipse(s * 0.25, s * 0.6),
        turn(side * fw * 1.0, -0.1),
        eyeY + 0.06,
        side * 0.15,
        scale(skin, 0.75),
        { alpha: 0.6 },
      ),
    );
  }
  // Face: upper ellipse and jaw.
  out.push(
    shape(ellipse(fw, fh), turn(0, 0.02), 0, 0, skin, {
      clip: { kind: "curve", y0: 0.05, bend: 0, sign: -1 },
    }),
  );
  out.push(
    shape(ellipse(fw * id.jaw, fh), turn(0, 0.02), 0, 0, skin, {
      clip: { kind: "curve", y0: 0.0, bend: 0, sign: 1 },
    }),
  );
  out.push(shape(ellipse(fw * (1 + id.jaw) / 2, fh * 0.3), turn(0, 0.02), 0.02, 0, skin));
  // Hair on top.
  if (hair.style !== "bald") {
    const hairlineY = eyeY - hair.hairline + (hair.style === "fringe" ? 0.12 : 0);
    const bendH = hair.style === "fringe" ? 0.3 : hair.bend;
    const capRy = (fh * 0.95 + hair.volume - (-hairlineY)) / 2 + 0.25;
    const capCy = crownY + capRy;
    out.push(
      shape(ellipse(fw + 0.03 + hair.volume, capRy), turn(0, -0.02), capCy, 0, hair.color, {
        clip: { kind: "curve", y0: hairlineY - capCy, bend: bendH, sign: -1 },
      }),
    );
  }
  // Beard and moustache.
  const mouthX = turn(0, 0.14);
  const mouthY = id.mouth.y;
  if (id.beard !== null && id.beard.top < 0.5) {
    out.push(
      shape(ellipse(fw * id.jaw + 0.005, fh + 0.01), turn(0, 0.02), 0, 0, id.beard.color, {
        clip: { kind: "curve", y0: mouthY - id.beard.top - 0.04, bend: 0.9, sign: 1 },
        alpha: id.beard.density,
      }),
    );
  }
  // Eyes, brows.
  for (const side of [-1, 1]) {
    const ex = turn(side * id.eyes.spacing, 0.12) + (yaw * side > 0 ? 0 : 0);
    const w = id.eyes.width * (1 - 0.5 * yaw * side);
    const h = Math.max(0.004, id.eyes.height * n.eyeOpen);
    const tilt = -side * id.eyes.tilt;
    out.push(
      shape(ellipse(w + 0.01, h + 0.008), ex, eyeY, tilt, scale(skin, 0.55), { alpha: 0.8 }),
    );
    out.push(shape(ellipse(w, h), ex, eyeY, tilt, [238, 236, 230]));
    const ir = id.eyes.height * 0.85;
    const gx = n.gazeX * w * 0.6;
    const gy = n.gazeY * h;
    const clip = { kind: "ellipse", cx: -gx, cy: -gy, rx: w, ry: h } as const;
    out.push(shape(ellipse(ir, ir), ex + gx, eyeY + gy, tilt, id.eyes.iris, { clip }));
    out.push(
      shape(ellipse(ir * 0.45, ir * 0.45), ex + gx, eyeY + gy, tilt, [12, 12, 14], { clip }),
    );
    const by = eyeY - id.brows.gap - n.browRaise;
    out.push(
      shape(
        ellipse(id.brows.length, id.brows.thickness),
        turn(side * (id.eyes.spacing + 0.01), 0.12),
        by,
        -side * id.brows.angle,
        id.brows.color,
        {
          bend: id.brows.arch,
        },
      ),
    );
  }
  // Nose.
  const noseTop = eyeY + 0.04;
  const noseBottom = noseTop + id.nose.length;
  const nx = turn(0, 0.22);
  const nw = id.nose.width;
  out.push(
    shape(
      { kind: "polygon", points: [0, noseTop, -nw, noseBottom, nw, noseBottom] },
      nx,
      0,
      0,
      scale(skin, 0.78),
      { alpha: 0.55 },
    ),
  );
  for (const side of [-1, 1]) {
    out.push(
      shape(
        ellipse(nw * 0.35, nw * 0.2),
        nx + side * nw * 0.55,
        noseBottom - 0.005,
        0,
        scale(skin, 0.45),
        { alpha: 0.8 },
      ),
    );
  }
  // Moustache.
  if (id.beard !== null && id.beard.moustache) {
    out.push(
      shape(
        ellipse(id.mouth.width * 1.05, 0.03),
        mouthX,
        mouthY - id.mouth.lips - 0.035,
        0,
        id.beard.color,
        {
          bend: 1.5,
          alpha: Math.max(0.7, id.beard.density),
        },
      ),
    );
  }
  // Mouth.
  const bend = -(id.mouth.bend + n.smile);
  const open = n.mouthOpen * 0.06;
  out.push(
    shape(ellipse(id.mouth.width, id.mouth.lips + open), mouthX, mouthY, 0, id.mouth.color, {
      bend,
    }),
  );
  if (open > 0) {
    out.push(shape(ellipse(id.mouth.width * 0.8, open), mouthX, mouthY, 0, [55, 18, 24], { bend }));
  } else {
    out.push(
      shape(ellipse(id.mouth.width * 0.95, 0.004), mouthX, mouthY, 0, scale(id.mouth.color, 0.55), {
        bend,
      }),
    );
  }
  // Mole.
  if (id.mole !== null) {
    out.push(
      shape(
        ellipse(id.mole.radius, id.mole.radius),
        turn(id.mole.x, 0.1),
        id.mole.y,
        0,
        scale(skin, 0.4),
        { alpha: 0.9 },
      ),
    );
  }
  // Glasses.
  if (id.glasses !== null) {
    const g = id.glasses;
    const gw = id.eyes.width * g.width;
    const gh = Math.max(id.eyes.height * 1.6, id.eyes.width * g.height * 0.8);
    for (const side of [-1, 1]) {
      const ex = turn(side * id.eyes.spacing, 0.16);
      if (g.tint > 0.02) {
        out.push(shape(ellipse(gw, gh), ex, eyeY, 0, [20, 25, 30], { alpha: g.tint }));
      }
      out.push(
        shape({ kind: "ring", rx: gw, ry: gh, halfWidth: g.thickness }, ex, eyeY, 0, g.color),
      );
      out.push(
        shape(
          { kind: "box", hx: (fw - id.eyes.spacing - gw) / 2 + 0.01, hy: g.thickness, r: 0 },
          turn(side * (fw + id.eyes.spacing + gw) / 2, 0.05),
          eyeY - gh * 0.5,
          0,
          g.color,
        ),
      );
    }
    const bridge = id.eyes.spacing - gw;
    if (bridge > 0) {
      out.push(
        shape(
          { kind: "box", hx: bridge + g.thickness, hy: g.thickness, r: 0 },
          turn(0, 0.16),
          eyeY - gh * 0.3,
          0,
          g.color,
          { bend: 2 },
        ),
      );
    }
  }
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
 * import { renderFace, syntheticIdentity } from "./synthetic.ts";
 * import { createRng } from "./pure/rng.ts";
 * import assert from "node:assert/strict";
 *
 * const { image } = renderFace(syntheticIdentity(7, 0), 32, createRng(1));
 * assert.equal(image.length, 32 * 32 * 3);
 * assert.ok(image.every((v) => v >= 0 && v <= 255));
 * ```
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

function pad(i: number, count: number): string {
  return String(i).padStart(String(Math.max(0, count - 1)).length, "0");
}

/**
 * The reference of one synthetic image.
 *
 * @param split The split.
 * @param identity The identity's index within the split.
 * @param image The image's index within the identity.
 * @returns `syn:<split>:<identity>:<image>`.
 *
 * @example
 * ```ts
 * import { syntheticRef } from "./synthetic.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(syntheticRef("validation", 3, 1), "syn:validation:3:1");
 * ```
 */
export function syntheticRef(split: SyntheticSplit, identity: number, image: number): string {
  return `syn:${split}:${identity}:${image}`;
}

/**
 * The synthetic data set of one split, in the reference implementation's layout (classes sorted
 * by name, each with its image references).
 *
 * @param options Seed, number of identities and images per identity, split.
 * @returns The classes `syn-<split>-<identity>` (zero-padded, so that the name order is the index order).
 * @throws {RangeError} When a count or the seed is invalid, or the split is unknown.
 *
 * @example
 * ```ts
 * import { syntheticDataset } from "./synthetic.ts";
 * import assert from "node:assert/strict";
 *
 * const ds = syntheticDataset({ seed: 1, identities: 12, imagesPerIdentity: 2, split: "train" });
 * assert.equal(ds.length, 12);
 * assert.equal(ds[11]?.name, "syn-train-11");
 * assert.deepEqual(ds[0]?.images, ["syn:train:0:0", "syn:train:0:1"]);
 * ```
 */
export function syntheticDataset(options: SyntheticDatasetOptions): Dataset {
  checkSeed(options.seed);
  checkCount(options.identities, "Identity count", 1);
  checkCount(options.imagesPerIdentity, "Images per identity", 1);
  if (options.split !== "train" && options.split !== "validation") {
    throw new RangeError(`Split must be "train" or "validation", got ${options.split}`);
  }
  const classes: ImageClass[] = [];
  for (let i = 0; i < options.identities; i++) {
    const images: string[] = [];
    for (let j = 0; j < options.imagesPerIdentity; j++) {
      images.push(syntheticRef(options.split, i, j));
    }
    classes.push({ name: `syn-${options.split}-${pad(i, options.identities)}`, images });
  }
  return classes;
}

/**
 * Parses a synthetic image reference.
 *
 * @param ref `syn:<split>:<identity>:<image>`.
 * @returns The split and the two indices.
 * @throws {TypeError} When `ref` is not a synthetic reference.
 *
 * @example
 * ```ts
 * import { parseSyntheticRef } from "./synthetic.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseSyntheticRef("syn:train:4:2"), { split: "train", identity: 4, image: 2 });
 * assert.throws(() => parseSyntheticRef("faces/a.png"), TypeError);
 * ```
 */
export function parseSyntheticRef(
  ref: string,
): { split: SyntheticSplit; identity: number; image: number } {
  const m = /^syn:(train|validation):(\d{1,15}):(\d{1,15})$/.exec(ref);
  if (m === null) {
    throw new TypeError(`Not a synthetic image reference (syn:<split>:<identity>:<image>): ${ref}`);
  }
  return { split: m[1] as SyntheticSplit, identity: Number(m[2]), image: Number(m[3]) };
}

/** The identity stream index of identity `i` of a split. */
function identityStream(split: SyntheticSplit, i: number): number {
  return 2 * i + (split === "validation" ? 1 : 0);
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
 * import { renderSyntheticRef } from "./synthetic.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(renderSyntheticRef("syn:train:0:0", 16, 3), renderSyntheticRef("syn:train:0:0", 16, 3));
 * assert.notDeepEqual(renderSyntheticRef("syn:train:0:0", 16, 3), renderSyntheticRef("syn:train:0:1", 16, 3));
 * ```
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

/**
 * Validation pairs over the synthetic validation identities, in the LFW
 * structure: `folds` folds, each `pairsPerFold` same-identity pairs then
 * `pairsPerFold` different-identity pairs. As in LFW, the folds are
 * identity-disjoint: validation identity `i` appears only in fold `i % folds`,
 * so a threshold chosen on nine folds is tested on unseen identities. No pair
 * repeats within a fold while distinct pairs remain.
 *
 * @param options Seed, identities, images per identity, folds (default 10), pairs per fold.
 * @returns The pairs and the fold structure.
 * @throws {RangeError} When there are fewer than `2 x folds` identities, fewer than 2 images per identity, or a count is invalid.
 *
 * @example
 * ```ts
 * import { syntheticPairs } from "./synthetic.ts";
 * import assert from "node:assert/strict";
 *
 * const p = syntheticPairs({ seed: 1, identities: 20, imagesPerIdentity: 3, pairsPerFold: 5 });
 * assert.equal(p.pairs.length, 10 * 2 * 5);
 * assert.ok(p.pairs.slice(0, 5).every((x) => x.same));
 * assert.ok(p.pairs.slice(5, 10).every((x) => !x.same));
 * ```
 */
export function syntheticPairs(options: SyntheticPairsOptions): SyntheticPairs {
  const folds = options.folds ?? 10;
  checkSeed(options.seed);
  checkCount(folds, "Fold count", 1);
  checkCount(options.identities, "Identity count", 2 * folds);
  checkCount(options.imagesPerIdentity, "Images per identity", 2);
  checkCount(options.pairsPerFold, "Pairs per fold", 1);
  const [, , pairsRoot] = roots(options.seed);
  const pairs: SyntheticPair[] = [];
  const ipi = options.imagesPerIdentity;
  for (let f = 0; f < folds; f++) {
    const members: number[] = [];
    for (let i = f; i < options.identities; i += folds) members.push(i);
    const m = members.length;
    const maxSame = m * (ipi * (ipi - 1)) / 2;
    const maxDiff = (m * (m - 1)) / 2 * ipi * ipi;
    let stream = streamAt(pairsRoot, f);
    const draw = (count: number): Float64Array => {
      const [u, next] = uniforms(stream, count);
      stream = next;
      return u;
    };
    const pickInt = (u: number, n: number) => Math.min(n - 1, Math.floor(u * n));
    for (let kind = 0; kind < 2; kind++) {
      const same = kind === 0;
      const limit = same ? maxSame : maxDiff;
      const seen = new Set<string>();
      for (let p = 0; p < options.pairsPerFold; p++) {
        for (;;) {
          const u = draw(4);
          const i1 = members[pickInt(u[0] as number, m)] as number;
          let i2 = i1;
          if (!same) {
            const o = pickInt(u[1] as number, m - 1);
            i2 = members[o >= members.indexOf(i1) ? o + 1 : o] as number;
          }
          const j1 = pickInt(u[2] as number, ipi);
          let j2 = pickInt(u[3] as number, same ? ipi - 1 : ipi);
          if (same && j2 >= j1) j2++;
          const a = syntheticRef("validation", i1, j1);
          const b = syntheticRef("validation", i2, j2);
          const key = a < b ? `${a}|${b}` : `${b}|${a}`;
          if (seen.has(key) && seen.size < limit) continue;
          seen.add(key);
          pairs.push({ a, b, same });
          break;
        }
      }
    }
  }
  return { pairs, folds, pairsPerFold: options.pairsPerFold };
}
