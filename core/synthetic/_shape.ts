/**
 * Building blocks of the synthetic faces' shapes, and the per-image face
 * context every part of the face is drawn from.
 *
 * @module
 */

import type { Rgb } from "./_color.ts";
import type { FaceIdentity } from "./identity.ts";
import type { Nuisance } from "./_nuisance.ts";
import { type Shape, similarity } from "./_raster.ts";

/** A shape in face units placed at `(x, y)`, turned by `angle`. */
export function shape(
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

/** An ellipse geometry with half axes `rx`, `ry`. */
export function ellipse(rx: number, ry: number): Shape["geometry"] {
  return { kind: "ellipse", rx, ry };
}

/** One image's view of an identity: its geometry under the head turn. */
export interface FaceContext {
  readonly id: FaceIdentity;
  readonly n: Nuisance;
  /** Half width and half height of the face. */
  readonly fw: number;
  readonly fh: number;
  readonly skin: Rgb;
  readonly hair: FaceIdentity["hair"];
  readonly yaw: number;
  /** Head turn: features move sideways with their depth. */
  readonly turn: (x: number, depth: number) => number;
  readonly eyeY: number;
  readonly crownY: number;
  /** Mouth centre, shared by the beard, moustache and mouth. */
  readonly mouthX: number;
  readonly mouthY: number;
}

/** The face context of an identity under one image's nuisances. */
export function faceContext(id: FaceIdentity, n: Nuisance): FaceContext {
  const fh = id.faceHeight;
  const yaw = n.yaw;
  // Head turn: features move sideways with their depth; the far side narrows.
  const turn = (x: number, depth: number) => x + yaw * depth;
  return {
    id,
    n,
    fw: id.faceWidth,
    fh,
    skin: id.skin,
    hair: id.hair,
    yaw,
    turn,
    eyeY: id.eyes.y,
    crownY: -fh * 0.95 - id.hair.volume,
    mouthX: turn(0, 0.14),
    mouthY: id.mouth.y,
  };
}
