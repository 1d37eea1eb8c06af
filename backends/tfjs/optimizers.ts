/**
 * The optimizers' update rules written with tf ops, equal to the core's
 * specifications (core/pure/optimizers.ts; TensorFlow 1.x semantics, the
 * reference implementation's defaults, resolved by the core). tf.train optimizers are not used:
 * their defaults and details differ (e.g. Adagrad's epsilon, RMSProp's
 * mean-square start of 1).
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import type { OptimizerName } from "../../core/types.ts";
import type { ResolvedOptimizerConfig } from "../../core/pure/optimizers.ts";

/** Slot names of each optimizer, as the core's OptimizerState names them. */
export const OPTIMIZER_SLOTS: Readonly<Record<OptimizerName, readonly string[]>> = {
  SGD: [],
  ADAGRAD: ["accumulator"],
  ADADELTA: ["accum", "accum_update"],
  ADAM: ["m", "v"],
  RMSPROP: ["rms", "momentum"],
  MOM: ["momentum"],
};

/**
 * One update of one parameter: assigns the new parameter and slot values to
 * the variables. Call inside `tf.tidy`.
 *
 * @param opt The resolved optimizer (core/pure/optimizers.ts `resolveOptimizerConfig`).
 * @param step The 1-based update count `t` (Adam's bias correction).
 * @param learningRate The learning rate of this step.
 * @param param The parameter variable.
 * @param grad Its gradient (weight decay already included).
 * @param slots The parameter's slot variables by slot name.
 * @returns Nothing; the variables are updated in place.
 * @throws {RangeError} When a slot is missing.
 * @example Plain SGD
 * ```ts
 * import { applyOptimizerUpdate } from "./optimizers.ts";
 * import { resolveOptimizerConfig } from "@facenet-deno/facenet/pure";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * await tf.setBackend("cpu");
 * const p = tf.variable(tf.tensor1d([1, 2]));
 * tf.tidy(() => applyOptimizerUpdate(resolveOptimizerConfig({ name: "SGD" }), 1, 0.5, p, tf.tensor1d([2, 2]), {}));
 * assert.deepEqual(Array.from(p.dataSync()), [0, 1]);
 * p.dispose();
 * ```
 */
export function applyOptimizerUpdate(
  opt: ResolvedOptimizerConfig,
  step: number,
  learningRate: number,
  param: tf.Variable,
  grad: tf.Tensor,
  slots: Readonly<Record<string, tf.Variable>>,
): void {
  const slot = (name: string): tf.Variable => {
    const v = slots[name];
    if (v === undefined) throw new RangeError(`Optimizer ${opt.name} is missing slot "${name}"`);
    return v;
  };
  const s = (v: number) => tf.scalar(v);
  const lr = s(learningRate);
  switch (opt.name) {
    case "SGD":
      param.assign(tf.sub(param, tf.mul(lr, grad)));
      return;
    case "ADAGRAD": {
      const acc = slot("accumulator");
      const a = tf.add(acc, tf.square(grad));
      acc.assign(a);
      param.assign(tf.sub(param, tf.div(tf.mul(lr, grad), tf.sqrt(a))));
      return;
    }
    case "ADADELTA": {
      const accum = slot("accum");
      const accumUpdate = slot("accum_update");
      const eps = s(opt.epsilon);
      const rho = s(opt.rho);
      const oneMinusRho = s(1 - opt.rho);
      const a = tf.add(tf.mul(rho, accum), tf.mul(oneMinusRho, tf.square(grad)));
      const update = tf.mul(
        tf.div(tf.sqrt(tf.add(accumUpdate, eps)), tf.sqrt(tf.add(a, eps))),
        grad,
      );
      const u = tf.add(tf.mul(rho, accumUpdate), tf.mul(oneMinusRho, tf.square(update)));
      accum.assign(a);
      accumUpdate.assign(u);
      param.assign(tf.sub(param, tf.mul(lr, update)));
      return;
    }
    case "ADAM": {
      const m = slot("m");
      const v = slot("v");
      const m1 = tf.add(tf.mul(s(opt.beta1), m), tf.mul(s(1 - opt.beta1), grad));
      const v1 = tf.add(tf.mul(s(opt.beta2), v), tf.mul(s(1 - opt.beta2), tf.square(grad)));
      const lrT = learningRate * Math.sqrt(1 - opt.beta2 ** step) / (1 - opt.beta1 ** step);
      m.assign(m1);
      v.assign(v1);
      param.assign(
        tf.sub(param, tf.div(tf.mul(s(lrT), m1), tf.add(tf.sqrt(v1), s(opt.epsilon)))),
      );
      return;
    }
    case "RMSPROP": {
      const ms = slot("rms");
      const mom = slot("momentum");
      const ms1 = tf.add(tf.mul(s(opt.decay), ms), tf.mul(s(1 - opt.decay), tf.square(grad)));
      const mom1 = tf.add(
        tf.mul(s(opt.momentum), mom),
        tf.div(tf.mul(lr, grad), tf.sqrt(tf.add(ms1, s(opt.epsilon)))),
      );
      ms.assign(ms1);
      mom.assign(mom1);
      param.assign(tf.sub(param, mom1));
      return;
    }
    case "MOM": {
      const acc = slot("momentum");
      const a = tf.add(tf.mul(s(opt.momentum), acc), grad);
      acc.assign(a);
      const step = opt.nesterov ? tf.add(grad, tf.mul(s(opt.momentum), a)) : a;
      param.assign(tf.sub(param, tf.mul(lr, step)));
      return;
    }
  }
}
