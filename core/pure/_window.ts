/**
 * Window geometry of convolutions and pools, as TensorFlow defines "same" and
 * "valid" padding. Private helper shared by shape inference and the kernels.
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
    return { out: Math.ceil((size - window + 1) / stride), padBefore: 0 };
  }
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + window - size, 0);
  return { out, padBefore: Math.floor(total / 2) };
}
