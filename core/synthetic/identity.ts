/**
 * The identities of the synthetic data set: each a fixed random draw of
 * facial geometry and appearance (face outline and jaw, eye / brow / nose /
 * mouth placement and size, skin, eye and hair colour, hair style, glasses,
 * beard, moustache, a mole).
 *
 * @module
 */

import { uniforms } from "../pure/rng.ts";
import { jitter, mix, type Rgb, scale } from "./_color.ts";
import { checkCount, checkSeed, Draws, IDENTITY_DRAWS, roots, streamAt } from "./_streams.ts";

export type { Rgb };

/**
 * Hair styles of the synthetic identities.
 *
 * @category Synthetic faces
 */
export type HairStyle = "bald" | "short" | "fringe" | "long" | "curly";

/**
 * The fixed appearance of one synthetic identity, in face units (the image spans -1..1 at scale 1, y down).
 *
 * @category Synthetic faces
 */
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
 * import { syntheticIdentity } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(syntheticIdentity(1, 5), syntheticIdentity(1, 5));
 * assert.notDeepEqual(syntheticIdentity(1, 5), syntheticIdentity(1, 6));
 * ```
 *
 * @category Synthetic faces
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
