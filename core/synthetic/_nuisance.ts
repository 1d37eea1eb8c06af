/**
 * The per-image nuisances of the synthetic faces: pose, expression, lighting,
 * colour, background, noise and occlusion.
 *
 * @module
 */

import { mix, type Rgb } from "./_color.ts";
import type { Draws } from "./_streams.ts";

/** The per-image nuisances, drawn from the image's stream. */
export interface Nuisance {
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
export function drawNuisance(d: Draws, strength: number): Nuisance {
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
