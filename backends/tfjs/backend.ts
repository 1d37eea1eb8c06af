/**
 * The TensorFlow.js backend: the whole {@link Backend} contract on tfjs's
 * webgpu, wasm or cpu device (`npm:@tensorflow/tfjs@4.22.0` with
 * `-backend-webgpu` and `-backend-wasm`, one tfjs-core instance, PROD mode).
 *
 * - Device (./device.ts): a hardware WebGPU adapter when Deno offers one;
 *   with only a software adapter (llvmpipe) or none, `wasm` (it trains too:
 *   the conv filter gradient is computed with Conv2D, see ./compile.ts);
 *   `device` overrides. `backend.device` describes the device and adapter.
 * - Models (./model.ts, ./compile.ts): the spec compiled to tf ops, gradients
 *   by tfjs autodiff (batch norm and, on cpu, the conv filter gradient as
 *   custom ops), the core's optimizer, moving-statistics and moving-average
 *   rules written with tf ops; state in tf variables; one read per step (the
 *   loss); dropout masks and triplet draws from the core RNG, so results equal
 *   the pure backend's within float32 tolerances (tests/conformance.ts).
 * - Distances, candidate masks and losses run on the device (on tfjs's cpu
 *   and wasm devices the selection runs the core's fast loops instead);
 *   selection equals the core's specification (./select_triplets.ts).
 * - Export (./export.ts): tfjs graph-model files that stock
 *   `tf.loadGraphModel` loads in a browser.
 *
 * tfjs has one global engine per JavaScript realm; every call of this backend
 * first makes its device the active tfjs backend, so two instances on
 * different devices in one realm work (tensors then move between devices).
 *
 * @module
 */

import * as tf from "../../_deps/tfjs.ts";
import { checkMatrix } from "../../core/pure/_matrix.ts";
import { pairwiseSquaredDistances } from "../../core/pure/distances.ts";
import type {
  Backend,
  LossWithGradient,
  Model,
  ModelState,
  TrainingOptions,
} from "../../core/backend.ts";
import type { ModelSpec } from "../../core/model_spec.ts";
import type { Matrix, TripletSelection } from "../../core/types.ts";
import { activateDevice, chooseDevice, type DeviceChoice, type TfjsDevice } from "./device.ts";
import { squaredDistanceMatrix } from "./distances.ts";
import { selectTripletsOnCpuDevice, selectTripletsOnDevice } from "./select_triplets.ts";
import type { SelectTripletsLimitOptions } from "../../core/pure/select_triplets.ts";
import { tripletLossTensor } from "./triplet_loss.ts";
import { createTfjsModel } from "./model.ts";

/**
 * Options of {@linkcode createTfjsBackend}.
 *
 * @category Backends
 */
export interface TfjsBackendOptions {
  /** Forces a device; default: a hardware WebGPU adapter, else cpu (training) or wasm (inference). */
  readonly device?: TfjsDevice;
  /** What the backend is for (see `chooseDevice`); default "training". */
  readonly purpose?: "training" | "inference";
  /** The network to train, for the device choice (see `chooseDevice`). */
  readonly model?: string;
}

/**
 * A tfjs backend, with the device choice it was made with.
 *
 * @category Backends
 */
export interface TfjsBackend extends Backend {
  /** Always "tfjs". */
  readonly name: "tfjs";
  /** The chosen device and adapter. */
  readonly choice: DeviceChoice;
}

/**
 * Creates the tfjs backend on the chosen device.
 *
 * @param options The device override.
 * @returns The backend; its `device` describes the device and adapter.
 * @throws {Error} When the requested device cannot be initialized.
 * @example
 * ```ts
 * import { createTfjsBackend } from "@facenet-deno/facenet/tfjs";
 * import assert from "node:assert/strict";
 * const backend = await createTfjsBackend({ device: "cpu" });
 * const d = await backend.pairwiseSquaredDistances({
 *   rows: 2,
 *   cols: 2,
 *   data: new Float32Array([0, 0, 3, 4]),
 * });
 * assert.deepEqual(Array.from(d.data), [0, 25, 25, 0]);
 * backend.dispose();
 * ```
 *
 * @category Backends
 */
export async function createTfjsBackend(options: TfjsBackendOptions = {}): Promise<TfjsBackend> {
  const choice = await chooseDevice(options);
  await activateDevice(choice.device);
  const models = new Set<Model>();
  const active = () => activateDevice(choice.device);

  return {
    name: "tfjs",
    device: choice.description,
    choice,

    async pairwiseSquaredDistances(x: Matrix): Promise<Matrix> {
      checkMatrix(x, "Embeddings");
      // tfjs's cpu kernels take ~1.9 s for 1800x128 here, the specification's
      // loops 0.2-0.6 s (bench/distances_bench.ts): on that device run those.
      if (choice.device === "cpu") return pairwiseSquaredDistances(x);
      await active();
      if (x.rows === 0) return { rows: 0, cols: 0, data: new Float32Array(0) };
      const d = tf.tidy(() => squaredDistanceMatrix(tf.tensor2d(x.data, [x.rows, x.cols])));
      const data = await d.data();
      d.dispose();
      return { rows: x.rows, cols: x.rows, data: Float32Array.from(data) };
    },

    async selectTriplets(
      embeddings: Matrix,
      numPerClass: readonly number[],
      options: SelectTripletsLimitOptions,
    ): Promise<TripletSelection> {
      // On tfjs's cpu and wasm devices the "device" is this CPU, where tfjs's
      // mask and cumulative-sum kernels are slower than plain loops: the
      // core's fast selection (the Gram matrix by tfjs's wasm matMul there).
      if (choice.device !== "webgpu") {
        await active();
        return await selectTripletsOnCpuDevice(embeddings, numPerClass, options);
      }
      await active();
      return await selectTripletsOnDevice(embeddings, numPerClass, options);
    },

    async tripletLoss(
      embeddings: Matrix,
      options: { readonly alpha: number; readonly softMargin?: boolean },
    ): Promise<LossWithGradient> {
      checkMatrix(embeddings, "Embeddings");
      const soft = options.softMargin === true;
      if (!soft && (!(options.alpha > 0) || !Number.isFinite(options.alpha))) {
        throw new RangeError(`Alpha must be a positive finite number, got ${options.alpha}`);
      }
      if (embeddings.rows === 0 || embeddings.rows % 3 !== 0) {
        throw new RangeError(
          `Triplet loss needs a positive multiple of 3 rows (consecutive a, p, n), got ${embeddings.rows}`,
        );
      }
      await active();
      const [loss, grad] = tf.tidy(() => {
        const x = tf.tensor2d(embeddings.data, [embeddings.rows, embeddings.cols]);
        const { value, grad } = tf.valueAndGrad((e: tf.Tensor) =>
          tripletLossTensor(e as tf.Tensor2D, options.alpha, soft)
        )(x);
        return [value, grad];
      });
      const [lossData, gradData] = await Promise.all([loss.data(), grad.data()]);
      loss.dispose();
      grad.dispose();
      return {
        loss: lossData[0]!,
        gradient: {
          rows: embeddings.rows,
          cols: embeddings.cols,
          data: Float32Array.from(gradData),
        },
      };
    },

    async createModel(
      spec: ModelSpec,
      state: ModelState,
      options: TrainingOptions,
    ): Promise<Model> {
      await active();
      const model = createTfjsModel(spec, state, options);
      models.add(model);
      // Every call re-activates this backend's device before touching tensors.
      const wrapped: Model = {
        spec: model.spec,
        embed: async (images, o) => {
          await active();
          return await model.embed(images, o);
        },
        outputs: async (images, o) => {
          await active();
          return await model.outputs(images, o);
        },
        trainStep: async (images, o) => {
          await active();
          return await model.trainStep(images, o);
        },
        getState: async () => {
          await active();
          return await model.getState();
        },
        dispose: () => {
          models.delete(model);
          model.dispose();
        },
      };
      return wrapped;
    },

    dispose(): void {
      for (const m of models) m.dispose();
      models.clear();
    },
  };
}
