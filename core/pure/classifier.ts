/**
 * A linear classifier on embeddings: multinomial logistic regression
 * (softmax regression) with L2 regularization, the stand-in for the reference implementation's
 * linear SVM with probabilities (classifier.py).
 *
 * Why not an SVM from npm: the packages that give SVM probabilities (as the
 * reference implementation's `SVC(probability=True)` does, by Platt scaling with an internal
 * random cross-validation) are emscripten builds of the C++ libsvm
 * (`libsvm-js`, a port of libsvm 3.22; `libsvm-wasm`; `@millcrest/libsvmts`),
 * not pure JS, with an asynchronous WASM load and little maintenance.
 * Softmax regression is a linear model on the same features, gives
 * per-class probabilities directly, and its convex objective has one
 * optimum that a deterministic optimizer finds, so a fit is reproducible bit
 * for bit.
 *
 * The model: `p(c | x) = softmax(W x + b)_c` for classes `c = 0..C-1`.
 * The objective, minimized over `W` (C x D) and `b` (C):
 *
 * `f(W, b) = (1/n) sum_i -log p(y_i | x_i) + (l2 / 2) ||W||^2`
 *
 * (biases are not regularized). The default `l2 = 1e-4` suits unit-length
 * embeddings: identities a distance of about 1 apart need weights of norm
 * 10 to 20 for confident probabilities, which this barely penalizes, while
 * `l2 = 1 / n` (scikit-learn's `LogisticRegression(C=1)` divided by `n`)
 * underfits the few images per identity the reference implementation's classifier trains on
 * (measured: 0.77 training accuracy on 3 images x 10 identities). It is
 * minimized by full-batch L-BFGS (memory 10, backtracking Armijo line search,
 * float64 throughout) for at most `maxIterations` iterations, stopping early
 * when the largest gradient entry is below `tolerance`. No randomness is
 * involved: the parameters start at zero.
 *
 * The fitted classifier is plain data (JSON-serializable numbers and the
 * class names), so the shell can save it next to the model it was trained on.
 *
 * @module
 */

import type { Matrix } from "../types.ts";
import { checkMatrix } from "./_matrix.ts";

/**
 * A fitted softmax-regression classifier, as plain data.
 *
 * @category Classifier and clustering
 */
export interface SoftmaxClassifier {
  /** Identifies the format of saved classifiers. */
  readonly kind: "softmax-regression";
  /** Class names; the index is the label. */
  readonly classNames: readonly string[];
  /** Input dimension D. */
  readonly dims: number;
  /** Row-major `C x D` weights. */
  readonly weights: readonly number[];
  /** `C` biases. */
  readonly biases: readonly number[];
  /** The L2 coefficient it was fitted with. */
  readonly l2: number;
  /** The final value of the objective. */
  readonly loss: number;
  /** L-BFGS iterations taken. */
  readonly iterations: number;
  /** Whether the gradient tolerance was reached before `maxIterations`. */
  readonly converged: boolean;
}

/**
 * The default L2 coefficient of {@link fitClassifier}.
 *
 * @example
 * ```ts
 * import { DEFAULT_L2, fitClassifier } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const x = { rows: 4, cols: 1, data: new Float32Array([-2, -1, 1, 2]) };
 * assert.equal(fitClassifier(x, [0, 0, 1, 1], ["left", "right"]).l2, DEFAULT_L2);
 * ```
 *
 * @category Classifier and clustering
 */
export const DEFAULT_L2 = 1e-4;

/**
 * Options of {@link fitClassifier}.
 *
 * @category Classifier and clustering
 */
export interface FitClassifierOptions {
  /** L2 coefficient on the weights (default {@link DEFAULT_L2}). */
  readonly l2?: number;
  /** Maximum L-BFGS iterations (default 500). */
  readonly maxIterations?: number;
  /** Stop when every gradient entry is below this in absolute value (default 1e-6). */
  readonly tolerance?: number;
}

/**
 * The objective and its gradient at `theta = [W (C x D), b (C)]`.
 * Writes the gradient into `grad` and returns the objective.
 */
function objective(
  theta: Float64Array,
  grad: Float64Array,
  x: Matrix,
  labels: Int32Array,
  classes: number,
  l2: number,
): number {
  const n = x.rows;
  const d = x.cols;
  const wEnd = classes * d;
  grad.fill(0);
  const logits = new Float64Array(classes);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const off = i * d;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      let z = theta[wEnd + c] as number;
      const wOff = c * d;
      for (let k = 0; k < d; k++) z += (theta[wOff + k] as number) * (x.data[off + k] as number);
      logits[c] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp((logits[c] as number) - max);
      logits[c] = e;
      sum += e;
    }
    const y = labels[i] as number;
    loss += -(Math.log(logits[y] as number / sum));
    for (let c = 0; c < classes; c++) {
      const r = (logits[c] as number) / sum - (c === y ? 1 : 0);
      if (r === 0) continue;
      const wOff = c * d;
      for (let k = 0; k < d; k++) {
        grad[wOff + k] = (grad[wOff + k] as number) + r * (x.data[off + k] as number);
      }
      grad[wEnd + c] = (grad[wEnd + c] as number) + r;
    }
  }
  const inv = n > 0 ? 1 / n : 0;
  let reg = 0;
  for (let j = 0; j < grad.length; j++) {
    grad[j] = (grad[j] as number) * inv;
    if (j < wEnd) {
      const w = theta[j] as number;
      reg += w * w;
      grad[j] = (grad[j] as number) + l2 * w;
    }
  }
  return loss * inv + 0.5 * l2 * reg;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] as number));
  return m;
}

/**
 * Fits a softmax-regression classifier to labelled rows by full-batch L-BFGS.
 *
 * @param x The `n x D` features (e.g. embeddings), one row per example.
 * @param labels The class of each row, integers in `[0, classNames.length)`.
 * @param classNames The class names (at least two); every class needs at least one row.
 * @param options L2 coefficient, iteration limit and gradient tolerance.
 * @returns The fitted classifier.
 * @throws {TypeError} When `x` is not a Matrix.
 * @throws {RangeError} When labels and rows disagree, a label is out of range,
 *   a class has no rows, fewer than two classes are given, or an option is out of range.
 * @example
 * ```ts
 * import { fitClassifier, predictClasses } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const x = { rows: 4, cols: 1, data: new Float32Array([-2, -1, 1, 2]) };
 * const model = fitClassifier(x, [0, 0, 1, 1], ["left", "right"]);
 * const probe = { rows: 2, cols: 1, data: new Float32Array([-3, 3]) };
 * assert.deepEqual([...predictClasses(model, probe).classes], [0, 1]);
 * ```
 *
 * @category Classifier and clustering
 */
export function fitClassifier(
  x: Matrix,
  labels: ArrayLike<number>,
  classNames: readonly string[],
  options: FitClassifierOptions = {},
): SoftmaxClassifier {
  checkMatrix(x, "Features");
  const classes = classNames.length;
  if (classes < 2) {
    throw new RangeError(`A classifier needs at least two classes, got ${classes}`);
  }
  if (labels.length !== x.rows) {
    throw new RangeError(`Got ${labels.length} labels for ${x.rows} rows`);
  }
  const y = new Int32Array(x.rows);
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < x.rows; i++) {
    const label = labels[i] as number;
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new RangeError(`Label ${label} of row ${i} is not a class index in [0, ${classes})`);
    }
    y[i] = label;
    counts[label] = (counts[label] as number) + 1;
  }
  const empty = counts.findIndex((c) => c === 0);
  if (empty >= 0) {
    throw new RangeError(`Class "${classNames[empty]}" (${empty}) has no training rows`);
  }
  const l2 = options.l2 ?? DEFAULT_L2;
  if (!(l2 >= 0) || !Number.isFinite(l2)) {
    throw new RangeError(`L2 coefficient must be a non-negative number, got ${l2}`);
  }
  const maxIterations = options.maxIterations ?? 500;
  if (!Number.isInteger(maxIterations) || maxIterations < 0) {
    throw new RangeError(`Iteration limit must be a non-negative integer, got ${maxIterations}`);
  }
  const tolerance = options.tolerance ?? 1e-6;
  if (!(tolerance >= 0)) {
    throw new RangeError(`Tolerance must be a non-negative number, got ${tolerance}`);
  }
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i] as number)) {
      throw new RangeError(`Feature ${i % x.cols} of row ${Math.floor(i / x.cols)} is not finite`);
    }
  }

  const size = classes * x.cols + classes;
  const memory = 10;
  let theta = new Float64Array(size);
  let grad = new Float64Array(size);
  let loss = objective(theta, grad, x, y, classes, l2);
  const sHistory: Float64Array[] = [];
  const yHistory: Float64Array[] = [];
  const rhoHistory: number[] = [];
  let iterations = 0;
  let converged = maxAbs(grad) <= tolerance;
  const direction = new Float64Array(size);
  const alphas = new Float64Array(memory);
  while (!converged && iterations < maxIterations) {
    // Two-loop recursion: direction = -H grad.
    direction.set(grad);
    for (let j = sHistory.length - 1; j >= 0; j--) {
      const a = (rhoHistory[j] as number) * dot(sHistory[j] as Float64Array, direction);
      alphas[j] = a;
      const yj = yHistory[j] as Float64Array;
      for (let k = 0; k < size; k++) {
        direction[k] = (direction[k] as number) - a * (yj[k] as number);
      }
    }
    let gamma: number;
    if (sHistory.length > 0) {
      const last = sHistory.length - 1;
      const yl = yHistory[last] as Float64Array;
      gamma = dot(sHistory[last] as Float64Array, yl) / dot(yl, yl);
    } else {
      gamma = 1 / Math.max(Math.sqrt(dot(grad, grad)), 1e-300);
    }
    for (let k = 0; k < size; k++) direction[k] = (direction[k] as number) * gamma;
    for (let j = 0; j < sHistory.length; j++) {
      const b = (rhoHistory[j] as number) * dot(yHistory[j] as Float64Array, direction);
      const sj = sHistory[j] as Float64Array;
      const coef = (alphas[j] as number) - b;
      for (let k = 0; k < size; k++) {
        direction[k] = (direction[k] as number) + coef * (sj[k] as number);
      }
    }
    for (let k = 0; k < size; k++) direction[k] = -(direction[k] as number);
    let slope = dot(grad, direction);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      sHistory.length = 0;
      yHistory.length = 0;
      rhoHistory.length = 0;
      const scale = 1 / Math.max(Math.sqrt(dot(grad, grad)), 1e-300);
      for (let k = 0; k < size; k++) direction[k] = -(grad[k] as number) * scale;
      slope = dot(grad, direction);
    }
    // Backtracking Armijo line search from step 1.
    let step = 1;
    const nextTheta = new Float64Array(size);
    const nextGrad = new Float64Array(size);
    let nextLoss = Infinity;
    let accepted = false;
    for (let tries = 0; tries < 40; tries++) {
      for (let k = 0; k < size; k++) {
        nextTheta[k] = (theta[k] as number) + step * (direction[k] as number);
      }
      nextLoss = objective(nextTheta, nextGrad, x, y, classes, l2);
      if (nextLoss <= loss + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    iterations++;
    if (!accepted) break; // No decrease representable in float64: at the optimum.
    const s = new Float64Array(size);
    const yv = new Float64Array(size);
    for (let k = 0; k < size; k++) {
      s[k] = (nextTheta[k] as number) - (theta[k] as number);
      yv[k] = (nextGrad[k] as number) - (grad[k] as number);
    }
    const sy = dot(s, yv);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(yv, yv))) {
      if (sHistory.length === memory) {
        sHistory.shift();
        yHistory.shift();
        rhoHistory.shift();
      }
      sHistory.push(s);
      yHistory.push(yv);
      rhoHistory.push(1 / sy);
    }
    const decrease = loss - nextLoss;
    theta = nextTheta;
    grad = nextGrad;
    loss = nextLoss;
    converged = maxAbs(grad) <= tolerance;
    if (decrease <= 1e-15 * Math.max(1, Math.abs(loss))) break;
  }
  const wEnd = classes * x.cols;
  return {
    kind: "softmax-regression",
    classNames: [...classNames],
    dims: x.cols,
    weights: Array.from(theta.subarray(0, wEnd)),
    biases: Array.from(theta.subarray(wEnd)),
    l2,
    loss,
    iterations,
    converged,
  };
}

/**
 * Checks that a value (e.g. parsed JSON) is a well-formed
 * {@link SoftmaxClassifier} and returns it typed.
 *
 * @param value The candidate.
 * @param source Named in errors (e.g. the file name).
 * @returns The classifier.
 * @throws {TypeError} When a field is missing or has the wrong type or length.
 * @example
 * ```ts
 * import { checkClassifier } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => checkClassifier({ kind: "svm" }, "c.json"), /c\.json/);
 * ```
 *
 * @category Classifier and clustering
 */
export function checkClassifier(value: unknown, source = "classifier"): SoftmaxClassifier {
  const v = value as Partial<Record<keyof SoftmaxClassifier, unknown>> | null;
  const fail = (what: string): never => {
    throw new TypeError(`${source} is not a softmax-regression classifier: ${what}`);
  };
  if (typeof v !== "object" || v === null) return fail("not an object");
  if (v.kind !== "softmax-regression") return fail(`kind is ${JSON.stringify(v.kind)}`);
  const names = v.classNames;
  if (!Array.isArray(names) || names.some((n) => typeof n !== "string")) {
    return fail("classNames must be an array of strings");
  }
  const dims = v.dims;
  if (typeof dims !== "number" || !Number.isInteger(dims) || dims < 0) {
    return fail("dims must be a non-negative integer");
  }
  const numbers = (x: unknown, length: number, name: string) => {
    if (!Array.isArray(x) || x.length !== length || x.some((e) => !Number.isFinite(e))) {
      fail(`${name} must be ${length} finite numbers`);
    }
  };
  numbers(v.weights, names.length * dims, "weights");
  numbers(v.biases, names.length, "biases");
  return {
    kind: "softmax-regression",
    classNames: names as string[],
    dims,
    weights: v.weights as number[],
    biases: v.biases as number[],
    l2: typeof v.l2 === "number" ? v.l2 : 0,
    loss: typeof v.loss === "number" ? v.loss : NaN,
    iterations: typeof v.iterations === "number" ? v.iterations : 0,
    converged: v.converged === true,
  };
}

/**
 * Per-class probabilities `softmax(W x + b)` for each row.
 *
 * @param classifier A fitted classifier.
 * @param x The `n x D` features.
 * @returns An `n x C` matrix whose rows sum to 1.
 * @throws {RangeError} When `x.cols` differs from the classifier's dimension.
 * @example
 * ```ts
 * import { fitClassifier, predictProbabilities } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const x = { rows: 2, cols: 1, data: new Float32Array([-1, 1]) };
 * const p = predictProbabilities(fitClassifier(x, [0, 1], ["a", "b"]), x);
 * assert.ok(Math.abs(p.data[0]! + p.data[1]! - 1) < 1e-6);
 * assert.ok(p.data[0]! > 0.5);
 * ```
 *
 * @category Classifier and clustering
 */
export function predictProbabilities(classifier: SoftmaxClassifier, x: Matrix): Matrix {
  checkMatrix(x, "Features");
  if (x.cols !== classifier.dims) {
    throw new RangeError(
      `Features have ${x.cols} columns, the classifier expects ${classifier.dims}`,
    );
  }
  const classes = classifier.classNames.length;
  const d = x.cols;
  const out = new Float32Array(x.rows * classes);
  const z = new Float64Array(classes);
  for (let i = 0; i < x.rows; i++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      let s = classifier.biases[c] as number;
      for (let k = 0; k < d; k++) {
        s += (classifier.weights[c * d + k] as number) * (x.data[i * d + k] as number);
      }
      z[c] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      z[c] = Math.exp((z[c] as number) - max);
      sum += z[c] as number;
    }
    for (let c = 0; c < classes; c++) out[i * classes + c] = (z[c] as number) / sum;
  }
  return { rows: x.rows, cols: classes, data: out };
}

/**
 * The predictions of {@link predictClasses}.
 *
 * @category Classifier and clustering
 */
export interface ClassPredictions {
  /** The most probable class of each row (the lowest index on ties). */
  readonly classes: Int32Array;
  /** Its probability. */
  readonly probabilities: Float32Array;
  /** All class probabilities, `n x C`. */
  readonly all: Matrix;
}

/**
 * The most probable class of each row and its probability.
 *
 * @param classifier A fitted classifier.
 * @param x The `n x D` features.
 * @returns Best classes, their probabilities, and all probabilities.
 * @throws {RangeError} When `x.cols` differs from the classifier's dimension.
 * @example
 * ```ts
 * import { fitClassifier, predictClasses } from "@facenet-deno/facenet/pure";
 * import assert from "node:assert/strict";
 *
 * const x = { rows: 2, cols: 2, data: new Float32Array([1, 0, 0, 1]) };
 * const model = fitClassifier(x, [1, 0], ["a", "b"]);
 * assert.deepEqual([...predictClasses(model, x).classes], [1, 0]);
 * ```
 *
 * @category Classifier and clustering
 */
export function predictClasses(classifier: SoftmaxClassifier, x: Matrix): ClassPredictions {
  const all = predictProbabilities(classifier, x);
  const classes = new Int32Array(x.rows);
  const probabilities = new Float32Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let best = 0;
    for (let c = 1; c < all.cols; c++) {
      if ((all.data[i * all.cols + c] as number) > (all.data[i * all.cols + best] as number)) {
        best = c;
      }
    }
    classes[i] = best;
    probabilities[i] = all.data[i * all.cols + best] as number;
  }
  return { classes, probabilities, all };
}
