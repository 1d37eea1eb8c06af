/**
 * Colour arithmetic of the synthetic faces (RGB, 0..255 per channel).
 *
 * @module
 */

import type { Draws } from "./_streams.ts";

/**
 * An RGB colour, 0..255 per channel.
 *
 * @category Synthetic faces
 */
export type Rgb = readonly [number, number, number];

/** `c` with every channel moved by a roughly normal amount of std `amount`, clamped. */
export function jitter(c: Rgb, d: Draws, amount: number): Rgb {
  return [
    clamp255(c[0] + d.around(amount)),
    clamp255(c[1] + d.around(amount)),
    clamp255(c[2] + d.around(amount)),
  ];
}

/** `v` clamped to 0..255. */
export function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** The linear mix `a + (b - a) t`. */
export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** `c` times `f`, clamped. */
export function scale(c: Rgb, f: number): Rgb {
  return [clamp255(c[0] * f), clamp255(c[1] * f), clamp255(c[2] * f)];
}
