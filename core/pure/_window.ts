/**
 * Window geometry of convolutions and pools, as TensorFlow defines "same" and
 * "valid" padding: the one helper shape inference, the pure kernels, the
 * wasm-simd kernels and the tfjs ops' explicit padding all use.
 *
 * @module
 */

import type { Padding } from "../types.ts";

/** Output size and leading padding of one spatial axis. */
export interface WindowGeometry {
  /** Output size along the axis. */
  readonly out: number;
  /** Cells of padding before the first input cell. */
  readonly padBefore: number;
  /** Cells of padding after the last input cell (TF's asymmetric "same": the larger half). */
  readonly padAfter: number;
}

/**
 * TensorFlow's output size and leading pad: "valid" gives
 * `ceil((size - window + 1) / stride)` with no padding; "same" gives
 * `ceil(size / stride)` with `max((out - 1) * stride + window - size, 0)`
 * padding, the smaller half before.
 *
 * @param size The input size along the axis.
 * @param window The kernel or pool window along the axis.
 * @param stride The stride.
 * @param padding The padding mode.
 * @returns The output size (0 or less when the window does not fit) and the leading pad.
 */
export function windowGeometry(
  size: number,
  window: number,
  stride: number,
  padding: Padding,
): WindowGeometry {
  if (padding === "valid") {
    return { out: Math.ceil((size - window + 1) / stride), padBefore: 0, padAfter: 0 };
  }
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + window - size, 0);
  const padBefore = Math.floor(total / 2);
  return { out, padBefore, padAfter: total - padBefore };
}
