/**
 * Private helper of core/synthetic/: anti-aliased painter's-algorithm
 * rasterization of simple shapes (ellipses, rounded boxes, rings, convex
 * polygons, optionally bent and clipped) into a float32 HWC RGB buffer.
 *
 * Coverage of a pixel is `clamp(0.5 - d / pixel, 0, 1)` where `d` is the
 * (approximate) signed distance of the pixel centre to the shape and `pixel`
 * the pixel size, both in the shape's local units; a shape is composited as
 * `c = c * (1 - a) + colour * a` with `a = coverage * alpha`.
 *
 * @module
 */

/** A 2-D affine map `(x, y) -> (a x + b y + c, d x + e y + f)`. */
export type Affine = readonly [number, number, number, number, number, number];

/** Composition `outer ∘ inner`. */
export function compose(outer: Affine, inner: Affine): Affine {
  const [a, b, c, d, e, f] = outer;
  const [g, h, i, j, k, l] = inner;
  return [
    a * g + b * j,
    a * h + b * k,
    a * i + b * l + c,
    d * g + e * j,
    d * h + e * k,
    d * i + e * l + f,
  ];
}

/** The inverse map (the maps used here are similarities, never singular). */
export function invert(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/** Rotation by `angle` (radians), uniform scale `s`, then translation `(tx, ty)`. */
export function similarity(angle: number, s: number, tx: number, ty: number): Affine {
  const co = Math.cos(angle) * s;
  const si = Math.sin(angle) * s;
  return [co, -si, tx, si, co, ty];
}

/** Geometry of a shape in its local frame. */
export type Geometry =
  | { readonly kind: "ellipse"; readonly rx: number; readonly ry: number }
  | {
    /** An elliptic ring: `|d_ellipse| - halfWidth`. */
    readonly kind: "ring";
    readonly rx: number;
    readonly ry: number;
    readonly halfWidth: number;
  }
  | {
    /** A box with half sizes `hx, hy` and corner radius `r`. */
    readonly kind: "box";
    readonly hx: number;
    readonly hy: number;
    readonly r: number;
  }
  | {
    /** A convex polygon, counter-clockwise or clockwise, as flat `[x0, y0, x1, y1, ...]`. */
    readonly kind: "polygon";
    readonly points: readonly number[];
  };

/** A clip region in the shape's local frame (after bending); the shape is kept inside it. */
export type Clip =
  | {
    /** Keep `sign * (y - (y0 + bend * x^2)) >= 0`. */
    readonly kind: "curve";
    readonly y0: number;
    readonly bend: number;
    readonly sign: 1 | -1;
  }
  | {
    /** Keep the inside of an ellipse centred at `(cx, cy)`. */
    readonly kind: "ellipse";
    readonly cx: number;
    readonly cy: number;
    readonly rx: number;
    readonly ry: number;
  };

/** A shape to paint. */
export interface Shape {
  readonly geometry: Geometry;
  /** Local frame to face frame. */
  readonly frame: Affine;
  /** Bend: the local `y` is replaced by `y - bend * x^2` (a smile, an arched brow). */
  readonly bend: number;
  readonly clip: Clip | null;
  /** RGB, 0..255. */
  readonly color: readonly [number, number, number];
  /** Opacity 0..1. */
  readonly alpha: number;
}

/** Signed distance of an ellipse (approximation exact on the boundary and at the centre). */
function ellipseDistance(x: number, y: number, rx: number, ry: number): number {
  const ux = x / rx;
  const uy = y / ry;
  const k0 = Math.sqrt(ux * ux + uy * uy);
  const vx = ux / rx;
  const vy = uy / ry;
  const k1 = Math.sqrt(vx * vx + vy * vy);
  if (k1 < 1e-12) return -Math.min(rx, ry);
  return (k0 * (k0 - 1)) / k1;
}

function boxDistance(x: number, y: number, hx: number, hy: number, r: number): number {
  const qx = Math.abs(x) - hx + r;
  const qy = Math.abs(y) - hy + r;
  const ox = Math.max(qx, 0);
  const oy = Math.max(qy, 0);
  return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0) - r;
}

/** Max of the edge half-plane distances: exact inside and near edges, a lower bound near corners. */
function polygonDistance(x: number, y: number, p: readonly number[], orientation: number): number {
  let d = -Infinity;
  const n = p.length / 2;
  for (let i = 0; i < n; i++) {
    const x0 = p[2 * i] as number;
    const y0 = p[2 * i + 1] as number;
    const j = (i + 1) % n;
    const ex = (p[2 * j] as number) - x0;
    const ey = (p[2 * j + 1] as number) - y0;
    const len = Math.sqrt(ex * ex + ey * ey);
    if (len === 0) continue;
    // Outward normal for the given orientation.
    const dist = (orientation * (ex * (y - y0) - ey * (x - x0))) / len;
    if (dist > d) d = dist;
  }
  return d;
}

function signedArea(p: readonly number[]): number {
  let s = 0;
  const n = p.length / 2;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    s += (p[2 * i] as number) * (p[2 * j + 1] as number) -
      (p[2 * j] as number) * (p[2 * i + 1] as number);
  }
  return s / 2;
}

/** Half extents of the geometry's local bounding box (before bending). */
function extent(g: Geometry): [number, number] {
  switch (g.kind) {
    case "ellipse":
      return [g.rx, g.ry];
    case "ring":
      return [g.rx + g.halfWidth, g.ry + g.halfWidth];
    case "box":
      return [g.hx, g.hy];
    case "polygon": {
      let mx = 0;
      let my = 0;
      for (let i = 0; i < g.points.length; i += 2) {
        mx = Math.max(mx, Math.abs(g.points[i] as number));
        my = Math.max(my, Math.abs(g.points[i + 1] as number));
      }
      return [mx, my];
    }
  }
}

/**
 * Paints the shapes, in order, into `image` (HWC RGB, `size x size`).
 * `faceToPixel` maps face coordinates to pixel coordinates (pixel centres
 * at integer + 0.5).
 */
export function paint(
  image: Float32Array,
  size: number,
  shapes: readonly Shape[],
  faceToPixel: Affine,
): void {
  for (const shape of shapes) {
    if (shape.alpha <= 0) continue;
    const toPixel = compose(faceToPixel, shape.frame);
    const toLocal = invert(toPixel);
    // Pixel size in local units (similarity maps: one scale factor).
    const pixel = Math.sqrt(Math.abs(toLocal[0] * toLocal[4] - toLocal[1] * toLocal[3]));
    const [ex0, ey0] = extent(shape.geometry);
    const ex = ex0 + pixel;
    const ey = ey0 + Math.abs(shape.bend) * ex0 * ex0 + pixel;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const [cx, cy] of [[-ex, -ey], [ex, -ey], [-ex, ey], [ex, ey]] as const) {
      const px = toPixel[0] * cx + toPixel[1] * cy + toPixel[2];
      const py = toPixel[3] * cx + toPixel[4] * cy + toPixel[5];
      minX = Math.min(minX, px);
      maxX = Math.max(maxX, px);
      minY = Math.min(minY, py);
      maxY = Math.max(maxY, py);
    }
    const x0 = Math.max(0, Math.floor(minX));
    const x1 = Math.min(size - 1, Math.ceil(maxX));
    const y0 = Math.max(0, Math.floor(minY));
    const y1 = Math.min(size - 1, Math.ceil(maxY));
    if (x0 > x1 || y0 > y1) continue;
    const g = shape.geometry;
    const orientation = g.kind === "polygon" ? (signedArea(g.points) >= 0 ? -1 : 1) : 1;
    const [r, gr, b] = shape.color;
    const bend = shape.bend;
    const clip = shape.clip;
    const invPixel = 1 / pixel;
    for (let py = y0; py <= y1; py++) {
      const cy = py + 0.5;
      for (let px = x0; px <= x1; px++) {
        const cx = px + 0.5;
        const lx = toLocal[0] * cx + toLocal[1] * cy + toLocal[2];
        let ly = toLocal[3] * cx + toLocal[4] * cy + toLocal[5];
        if (bend !== 0) ly -= bend * lx * lx;
        let d: number;
        switch (g.kind) {
          case "ellipse":
            d = ellipseDistance(lx, ly, g.rx, g.ry);
            break;
          case "ring":
            d = Math.abs(ellipseDistance(lx, ly, g.rx, g.ry)) - g.halfWidth;
            break;
          case "box":
            d = boxDistance(lx, ly, g.hx, g.hy, g.r);
            break;
          case "polygon":
            d = polygonDistance(lx, ly, g.points, orientation);
            break;
        }
        if (clip !== null) {
          const dc = clip.kind === "curve"
            ? clip.sign * (clip.y0 + clip.bend * lx * lx - ly)
            : ellipseDistance(lx - clip.cx, ly - clip.cy, clip.rx, clip.ry);
          if (dc > d) d = dc;
        }
        let a = 0.5 - d * invPixel;
        if (a <= 0) continue;
        if (a > 1) a = 1;
        a *= shape.alpha;
        const o = (py * size + px) * 3;
        image[o] = (image[o] as number) + ((r - (image[o] as number)) * a);
        image[o + 1] = (image[o + 1] as number) + ((gr - (image[o + 1] as number)) * a);
        image[o + 2] = (image[o + 2] as number) + ((b - (image[o + 2] as number)) * a);
      }
    }
  }
}
