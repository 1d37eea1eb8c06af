/**
 * A worker of `align --jobs N`: opens its own detector on the first message
 * and aligns one photo per message (cli/_align_photo.ts), sending the PNG
 * bytes back as transferred buffers. Private to the CLI.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { type Detector, openDetector } from "./_mtcnn.ts";
import { alignPhoto, type AlignSettings } from "./_align_photo.ts";

interface Request {
  readonly id: number;
  readonly path: string;
  readonly settings: AlignSettings;
  readonly values: Record<string, number | string | boolean | undefined>;
}

let detector: Promise<Detector> | null = null;

self.onmessage = async (event: MessageEvent<Request>) => {
  const { id, path, settings, values } = event.data;
  try {
    detector ??= openDetector(values);
    const result = await alignPhoto(await detector, path, settings);
    const transfer = "crops" in result ? result.crops.map((c) => c.png.buffer as ArrayBuffer) : [];
    self.postMessage({ id, result }, transfer);
  } catch (error) {
    self.postMessage({ id, failure: (error as Error)?.message ?? String(error) });
  }
};
