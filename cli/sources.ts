/**
 * Image sources for the training loop: the built-in synthetic identities,
 * rendered on demand (and cached), standardized as the seed does.
 *
 * @module
 */

import type { ImageSource } from "../core/train.ts";
import { renderSyntheticRef } from "../core/synthetic.ts";
import { fixedImageStandardization } from "../core/pure/preprocess.ts";

/**
 * A source that renders synthetic references at `size` pixels with fixed
 * image standardization `(x - 127.5) / 128`, caching rendered images.
 *
 * @param seed The synthetic dataset seed.
 * @param size Image height and width.
 * @returns The source.
 */
export function syntheticSource(seed: number, size: number): ImageSource {
  const cache = new Map<string, Float32Array>();
  const pixels = size * size * 3;
  return (refs) => {
    const data = new Float32Array(refs.length * pixels);
    refs.forEach((ref, i) => {
      let image = cache.get(ref);
      if (image === undefined) {
        image = fixedImageStandardization(renderSyntheticRef(ref, size, seed));
        cache.set(ref, image);
      }
      data.set(image, i * pixels);
    });
    return Promise.resolve({ n: refs.length, height: size, width: size, channels: 3, data });
  };
}
