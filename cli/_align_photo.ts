/**
 * One photo of `align`: read (EXIF upright), detect, choose the face(s),
 * crop and encode the PNG(s). Shared by the in-process loop and the
 * `--jobs` workers (cli/_align_worker.ts). Private to the CLI.
 *
 * @module
 */

import type { Detector } from "./_mtcnn.ts";
import { encodePng, readImage } from "../io/images.ts";
import { alignSimilarity, chooseCentralFace, marginBox, marginCrop } from "../core/detect/align.ts";

/** How crops are made. */
export interface AlignSettings {
  /** Output side in pixels. */
  readonly imageSize: number;
  /** Margin in pixels of the photo (margin crop). */
  readonly margin: number;
  /** 5-point similarity alignment instead of the margin crop. */
  readonly similarity: boolean;
  /** Every face instead of the largest and most central one. */
  readonly multiple: boolean;
}

/** The outcome of one photo: an unreadable file, or its crops (none: no face). */
export type PhotoResult =
  | { readonly error: string }
  | {
    readonly crops: readonly {
      readonly png: Uint8Array;
      readonly box: readonly [number, number, number, number];
    }[];
  };

/**
 * Aligns one photo.
 *
 * @param detector The detector.
 * @param path The photo.
 * @param s The crop settings.
 * @returns Its crops (PNG bytes and the margin box of each), or the read error.
 */
export async function alignPhoto(
  detector: Detector,
  path: string,
  s: AlignSettings,
): Promise<PhotoResult> {
  let image;
  try {
    image = await readImage(path, { orientation: "exif" });
  } catch (error) {
    return { error: `${path}: ${(error as Error).message}` };
  }
  const faces = await detector.detect(image);
  if (faces.length === 0) return { crops: [] };
  const chosen = s.multiple ? faces : [faces[chooseCentralFace(faces, image)]!];
  const crops = [];
  for (const face of chosen) {
    const box = marginBox(face.box, image, s.margin);
    if (!s.similarity && (box[2] <= box[0] || box[3] <= box[1])) continue; // a box off the photo
    const crop = s.similarity
      ? alignSimilarity(image, face, s.imageSize)
      : marginCrop(image, face.box, { size: s.imageSize, margin: s.margin });
    crops.push({ png: encodePng(crop), box });
  }
  return { crops };
}
