/**
 * The head of a synthetic face, back to front: shirt and neck, hair behind
 * the head, ears, face and jaw, hair on top, beard.
 *
 * @module
 */

import { scale } from "./_color.ts";
import { ellipse, type FaceContext, shape } from "./_shape.ts";
import type { Shape } from "./_raster.ts";

/** The head's shapes, back to front. */
export function headShapes(c: FaceContext): Shape[] {
  const { id, n, fw, fh, skin, hair, yaw, turn, eyeY, crownY, mouthY } = c;
  const out: Shape[] = [];
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
  // Beard (the moustache is drawn with the features, over the nose).
  if (id.beard !== null && id.beard.top < 0.5) {
    out.push(
      shape(ellipse(fw * id.jaw + 0.005, fh + 0.01), turn(0, 0.02), 0, 0, id.beard.color, {
        clip: { kind: "curve", y0: mouthY - id.beard.top - 0.04, bend: 0.9, sign: 1 },
        alpha: id.beard.density,
      }),
    );
  }
  return out;
}
