// Test helper: a small reference interpreter of a TFLite graph (io/tflite.ts), written
// independently of the model specs, for the operators MTCNN's and MobileFaceNet's files use. Shapes are
// recomputed from the actual input (the files freeze batch 1 and P-Net's input size),
// sums are accumulated in float64.
import type { TfliteModel, TfliteOperator } from "../io/tflite.ts";
import type { Tensor } from "../core/types.ts";

interface Value {
  shape: number[];
  data: Float64Array | Float32Array | Int32Array;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** TF "SAME"/"VALID" output size and leading pad. */
function window(input: number, k: number, stride: number, same: boolean): [number, number] {
  if (same) {
    const out = Math.ceil(input / stride);
    const pad = Math.max((out - 1) * stride + k - input, 0);
    return [out, Math.floor(pad / 2)];
  }
  return [Math.floor((input - k) / stride) + 1, 0];
}

/** Output size, leading pad and stride per axis of the window op `op` over `h x wd`. */
function geometry(h: number, wd: number, kh: number, kw: number, op: TfliteOperator) {
  const same = op.options.padding === 0;
  const sh = op.options.strideH as number, sw = op.options.strideW as number;
  const [oh, ph] = window(h, kh, sh, same);
  const [ow, pw] = window(wd, kw, sw, same);
  return { sh, sw, oh, ph, ow, pw };
}

function conv2d(x: Value, w: Value, b: Value, op: TfliteOperator): Value {
  const [n, h, wd, cin] = x.shape as [number, number, number, number];
  const [cout, kh, kw, cin2] = w.shape as [number, number, number, number];
  if (cin !== cin2) throw new Error(`conv channels ${cin} vs ${cin2}`);
  const { sh, sw, oh, ph, ow, pw } = geometry(h, wd, kh, kw, op);
  const out = new Float64Array(n * oh * ow * cout);
  for (let i = 0; i < n; i++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let co = 0; co < cout; co++) {
          let s = b.data[co]!;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh + ky - ph;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw + kx - pw;
              if (ix < 0 || ix >= wd) continue;
              const xo = ((i * h + iy) * wd + ix) * cin;
              const wo = ((co * kh + ky) * kw + kx) * cin;
              for (let c = 0; c < cin; c++) s += x.data[xo + c]! * w.data[wo + c]!;
            }
          }
          out[((i * oh + oy) * ow + ox) * cout + co] = s;
        }
      }
    }
  }
  return { shape: [n, oh, ow, cout], data: out };
}

function depthwiseConv2d(x: Value, w: Value, b: Value, op: TfliteOperator): Value {
  const [n, h, wd, c] = x.shape as [number, number, number, number];
  const [one, kh, kw, c2] = w.shape as [number, number, number, number];
  if (one !== 1 || c !== c2 || (op.options.depthMultiplier ?? 1) !== 1) {
    throw new Error(`depthwise weights ${w.shape} on ${c} channels`);
  }
  const { sh, sw, oh, ph, ow, pw } = geometry(h, wd, kh, kw, op);
  const out = new Float64Array(n * oh * ow * c);
  for (let i = 0; i < n; i++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let s = b.data[ch]!;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh + ky - ph;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw + kx - pw;
              if (ix < 0 || ix >= wd) continue;
              s += x.data[((i * h + iy) * wd + ix) * c + ch]! * w.data[(ky * kw + kx) * c + ch]!;
            }
          }
          out[((i * oh + oy) * ow + ox) * c + ch] = s;
        }
      }
    }
  }
  return { shape: [n, oh, ow, c], data: out };
}

function maxPool(x: Value, op: TfliteOperator): Value {
  const [n, h, wd, c] = x.shape as [number, number, number, number];
  const kh = op.options.filterH as number, kw = op.options.filterW as number;
  const { sh, sw, oh, ph, ow, pw } = geometry(h, wd, kh, kw, op);
  const out = new Float64Array(n * oh * ow * c);
  for (let i = 0; i < n; i++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let m = -Infinity;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh + ky - ph;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw + kx - pw;
              if (ix < 0 || ix >= wd) continue;
              m = Math.max(m, x.data[((i * h + iy) * wd + ix) * c + ch]!);
            }
          }
          out[((i * oh + oy) * ow + ox) * c + ch] = m;
        }
      }
    }
  }
  return { shape: [n, oh, ow, c], data: out };
}

function fullyConnected(x: Value, w: Value, b: Value): Value {
  const [units, din] = w.shape as [number, number];
  const n = x.shape[0]!;
  if (size(x.shape) !== n * din) throw new Error(`dense input ${x.shape} vs ${din}`);
  const out = new Float64Array(n * units);
  for (let i = 0; i < n; i++) {
    for (let u = 0; u < units; u++) {
      let s = b.data[u]!;
      for (let k = 0; k < din; k++) s += x.data[i * din + k]! * w.data[u * din + k]!;
      out[i * units + u] = s;
    }
  }
  return { shape: [n, units], data: out };
}

/** Numpy-style broadcasting of two operands (trailing alignment). */
function binary(a: Value, b: Value, f: (x: number, y: number) => number): Value {
  // Fast paths: equal shapes, or one operand a vector along the other's last axis.
  const same = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
  const lastOf = (v: Value, w: Value) =>
    v.shape.length === 1 && w.shape.length > 1 && v.shape[0] === w.shape[w.shape.length - 1];
  if (same || lastOf(b, a) || lastOf(a, b)) {
    const big = lastOf(a, b) ? b : a;
    const out = new Float64Array(big.data.length);
    const na = a.data.length, nb = b.data.length;
    for (let i = 0; i < out.length; i++) out[i] = f(a.data[i % na]!, b.data[i % nb]!);
    return { shape: [...big.shape], data: out };
  }
  const rank = Math.max(a.shape.length, b.shape.length);
  const pa = [...Array(rank - a.shape.length).fill(1), ...a.shape];
  const pb = [...Array(rank - b.shape.length).fill(1), ...b.shape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]!));
  const out = new Float64Array(size(shape));
  const idx = new Array(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let r = o;
    for (let k = rank - 1; k >= 0; k--) {
      idx[k] = r % shape[k]!;
      r = Math.floor(r / shape[k]!);
    }
    let ia = 0, ib = 0;
    for (let k = 0; k < rank; k++) {
      ia = ia * pa[k]! + (pa[k] === 1 ? 0 : idx[k]);
      ib = ib * pb[k]! + (pb[k] === 1 ? 0 : idx[k]);
    }
    out[o] = f(a.data[ia]!, b.data[ib]!);
  }
  return { shape, data: out };
}

function reduceLast(x: Value, axis: number, f: "max" | "sum"): Value {
  const rank = x.shape.length;
  const ax = axis < 0 ? axis + rank : axis;
  if (ax !== rank - 1) throw new Error(`reduction over axis ${axis} of rank ${rank}`);
  const c = x.shape[ax]!;
  const rows = size(x.shape) / c;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = f === "max" ? -Infinity : 0;
    for (let k = 0; k < c; k++) {
      const v = x.data[i * c + k]!;
      s = f === "max" ? Math.max(s, v) : s + v;
    }
    out[i] = s;
  }
  return { shape: [...x.shape.slice(0, -1), 1], data: out };
}

/**
 * Runs a parsed TFLite graph on one input.
 *
 * @param model The parsed file.
 * @param input The graph input (any batch; any spatial size for a fully convolutional graph).
 * @returns Every graph output, by tensor name, as float32.
 */
export function runTflite(model: TfliteModel, input: Tensor): Record<string, Tensor> {
  const values = new Map<number, Value>();
  model.tensors.forEach((t, i) => {
    // Float constants in float64 like the activations: the kernels' loops then see one array type.
    const data = t.data instanceof Float32Array ? Float64Array.from(t.data) : t.data;
    if (data !== null) values.set(i, { shape: [...t.shape], data });
  });
  values.set(model.inputs[0]!, { shape: [...input.shape], data: Float64Array.from(input.data) });
  const get = (i: number) => {
    const v = values.get(i);
    if (v === undefined) throw new Error(`tensor ${model.tensors[i]?.name} has no value yet`);
    return v;
  };
  for (const op of model.operators) {
    const [a, b, c] = op.inputs.map((i) => (i < 0 ? undefined : get(i)));
    let out: Value;
    switch (op.op) {
      case "CONV_2D":
        out = conv2d(a!, b!, c!, op);
        break;
      case "MAX_POOL_2D":
        out = maxPool(a!, op);
        break;
      case "FULLY_CONNECTED":
        out = fullyConnected(a!, b!, c!);
        break;
      case "RELU":
        out = { shape: a!.shape, data: Float64Array.from(a!.data, (v) => Math.max(v, 0)) };
        break;
      case "ABS":
        out = { shape: a!.shape, data: Float64Array.from(a!.data, (v) => Math.abs(v)) };
        break;
      case "DEPTHWISE_CONV_2D":
        out = depthwiseConv2d(a!, b!, c!, op);
        break;
      case "RESHAPE": {
        // The file freezes its batch in the new shape; the batch of the actual input is kept.
        const shape = [a!.shape[0]!, ...(op.options.newShape as readonly number[]).slice(1)];
        if (size(shape) !== size(a!.shape)) throw new Error(`reshape ${a!.shape} to ${shape}`);
        out = { shape, data: a!.data };
        break;
      }
      case "NEG":
        out = { shape: a!.shape, data: Float64Array.from(a!.data, (v) => -v) };
        break;
      case "EXP":
        out = { shape: a!.shape, data: Float64Array.from(a!.data, (v) => Math.exp(v)) };
        break;
      case "ADD":
        out = binary(a!, b!, (x, y) => x + y);
        break;
      case "SUB":
        out = binary(a!, b!, (x, y) => x - y);
        break;
      case "MUL":
        out = binary(a!, b!, (x, y) => x * y);
        break;
      case "DIV":
        out = binary(a!, b!, (x, y) => x / y);
        break;
      case "REDUCE_MAX":
      case "SUM":
        if (!op.options.keepDims) throw new Error(`${op.op} without keepDims`);
        out = reduceLast(a!, b!.data[0]!, op.op === "SUM" ? "sum" : "max");
        break;
      default:
        throw new Error(`the reference interpreter has no ${op.op}`);
    }
    if ((op.options.activation ?? 0) !== 0) throw new Error(`${op.op} with a fused activation`);
    values.set(op.outputs[0]!, out);
  }
  const result: Record<string, Tensor> = {};
  for (const i of model.outputs) {
    const v = get(i);
    result[model.tensors[i]!.name] = { shape: v.shape, data: Float32Array.from(v.data) };
  }
  return result;
}
