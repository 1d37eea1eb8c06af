/**
 * The features of a synthetic face, back to front: eyes and brows, nose,
 * moustache, mouth, mole, glasses.
 *
 * @module
 */

import { scale } from "./_color.ts";
import { ellipse, type FaceContext, shape } from "./_shape.ts";
import type { Shape } from "./_raster.ts";

/** The facial features' shapes, back to front. */
export function featureShapes(c: FaceContext): Shape[] {
  const { id, n, fw, skin, yaw, turn, eyeY, mouthX, mouthY } = c;
  const out: Shape[] = [];
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
  return out;
}
