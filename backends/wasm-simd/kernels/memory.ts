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
      const dst = view(out);
      let offset = 0;
      xs.forEach((x, i) => {
        const w = widths[i]!;
        const src = view(x);
        for (let r = 0; r < rows; r++) {
          dst.set(src.subarray(r * w, r * w + w), r * total + offset);
        }
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
      const src = view(x);
      let offset = 0;
      return sizes.map((w) => {
        const out = make([...lead, w]);
        const dst = view(out);
        for (let r = 0; r < rows; r++) {
          dst.set(src.subarray(r * total + offset, r * total + offset + w), r * w);
        }
        offset += w;
        return out;
      });
    },
  };
}
