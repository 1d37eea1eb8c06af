/**
 * The wasm-simd kernels of one family. Memory and structure: upload, download,
 * reshape (copies), concat and split (memory copies along the channel axis).
 *
 * @module
 */

import type { Kernels } from "../../../core/kernels.ts";
import type { Tensor } from "../../../core/types.ts";
import { type KernelContext, product, sameShape, type WasmTensor } from "./context.ts";

/**
 * The memory kernels on a kernel context.
 *
 * @param ctx The shared context (runtime, allocation, thread policy).
 * @returns The kernels of this family.
 */
export function memoryKernels(
  ctx: KernelContext,
): Pick<
  Kernels<WasmTensor>,
  "upload" | "download" | "shape" | "dispose" | "reshape" | "concat" | "split"
> {
  const { rt, make, release, view } = ctx;
  return {
    upload(tensor: Tensor): WasmTensor {
      if (product(tensor.shape) !== tensor.data.length) {
        throw new RangeError(
          `Tensor shape [${tensor.shape.join(", ")}] does not match ${tensor.data.length} values`,
        );
      }
      const t = make(tensor.shape);
      view(t).set(tensor.data);
      return t;
    },
    download(x) {
      return { shape: [...x.shape], data: rt.read(x.ptr, x.size) };
    },
    shape(x) {
      return x.shape;
    },
    dispose(x) {
      release(x);
    },
    reshape(x, shape) {
      if (product(shape) !== x.size) {
        throw new RangeError(
          `Cannot reshape [${x.shape.join(", ")}] to [${shape.join(", ")}]: sizes differ`,
        );
      }
      const out = make(shape);
      view(out).set(view(x));
      return out;
    },
    concat(xs) {
      const first = xs[0];
      if (first === undefined) throw new RangeError("concat needs at least one input");
      const lead = first.shape.slice(0, -1);
      const widths = xs.map((x) => {
        if (!sameShape(x.shape.slice(0, -1), lead)) {
          throw new RangeError(
            `concat inputs disagree: [${x.shape.join(", ")}] vs [${first.shape.join(", ")}]`,
          );
        }
        return x.shape[x.shape.length - 1]!;
      });
      const total = widths.reduce((s, w) => s + w, 0);
      const rows = product(lead);
      const out = make([...lead, total]);
      // Row by row within the one memory (a subarray per row cost ~7 ms for
      // nano's block at batch 90).
      const mem = new Float32Array(rt.memory.buffer);
      const dst = out.ptr >> 2;
      let offset = 0;
      xs.forEach((x, i) => {
        const w = widths[i]!;
        const src = x.ptr >> 2;
        copyRows(mem, src, w, dst + offset, total, rows, w);
        offset += w;
      });
      return out;
    },
    split(x, sizes) {
      const total = x.shape[x.shape.length - 1]!;
      if (sizes.reduce((s, w) => s + w, 0) !== total) {
        throw new RangeError(`Split sizes [${sizes.join(", ")}] do not sum to ${total}`);
      }
      const lead = x.shape.slice(0, -1);
      const rows = product(lead);
      let offset = 0;
      return sizes.map((w) => {
        const out = make([...lead, w]);
        // After make(): the memory may have grown, so the view is taken here.
        const mem = new Float32Array(rt.memory.buffer);
        const src = (x.ptr >> 2) + offset;
        const dst = out.ptr >> 2;
        copyRows(mem, src, total, dst, w, rows, w);
        offset += w;
        return out;
      });
    },
  };
}

/**
 * Copies `rows` runs of `width` floats within `mem` from `src` (rows `srcStride`
 * apart) to `dst` (rows `dstStride` apart): element by element for short runs,
 * `copyWithin` for long ones (either allocates nothing).
 */
function copyRows(
  mem: Float32Array,
  src: number,
  srcStride: number,
  dst: number,
  dstStride: number,
  rows: number,
  width: number,
): void {
  if (width >= 64) {
    for (let r = 0; r < rows; r++) {
      mem.copyWithin(dst + r * dstStride, src + r * srcStride, src + r * srcStride + width);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const s = src + r * srcStride;
    const d = dst + r * dstStride;
    for (let i = 0; i < width; i++) mem[d + i] = mem[s + i]!;
  }
}
