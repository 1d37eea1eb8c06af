/**
 * Private helper: the shape check every Matrix-taking function shares.
 *
 * @module
 */

import type { Matrix } from "../types.ts";

/**
 * Checks that `x` is a well-formed Matrix.
 *
 * @param x The value.
 * @param name How error messages name it.
 * @throws {TypeError} When it is not a Matrix with Float32Array data.
 * @throws {RangeError} When rows/cols are not non-negative integers or disagree with the data length.
 */
export function checkMatrix(x: Matrix, name: string): void {
  if (typeof x !== "object" || x === null || !(x.data instanceof Float32Array)) {
    throw new TypeError(`${name} must be a Matrix with Float32Array data`);
  }
  if (!Number.isInteger(x.rows) || x.rows < 0 || !Number.isInteger(x.cols) || x.cols < 0) {
    throw new RangeError(
      `${name} must have non-negative integer rows and cols, got ${x.rows}x${x.cols}`,
    );
  }
  if (x.data.length !== x.rows * x.cols) {
    throw new RangeError(`${name} data length ${x.data.length} does not match ${x.rows}x${x.cols}`);
  }
}
