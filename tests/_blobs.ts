// Test helper (H7): Gaussian blobs drawn from the project's seeded RNG.
import type { Matrix } from "../core/types.ts";
import { createRng, normal } from "../core/pure/rng.ts";

/** Points around `classes` random centres; returns features and labels (class-major order). */
export function gaussianBlobs(options: {
  classes: number;
  perClass: number;
  dims: number;
  spread: number;
  separation: number;
  seed: number;
}): { x: Matrix; labels: Int32Array } {
  let rng = createRng(options.seed);
  const draw = () => {
    const [z, next] = normal(rng);
    rng = next;
    return z;
  };
  const centres: number[][] = [];
  for (let c = 0; c < options.classes; c++) {
    centres.push(Array.from({ length: options.dims }, () => draw() * options.separation));
  }
  const n = options.classes * options.perClass;
  const data = new Float32Array(n * options.dims);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / options.perClass);
    labels[i] = c;
    for (let k = 0; k < options.dims; k++) {
      data[i * options.dims + k] = centres[c]![k]! + draw() * options.spread;
    }
  }
  return { x: { rows: n, cols: options.dims, data }, labels };
}
