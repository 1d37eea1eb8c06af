/**
 * The decoding worker of io/pipeline.ts: reads, decodes and prepares one image
 * per message and sends its pixels back as a transferred buffer. Private.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { prepareImage, type PrepareOptions } from "./pipeline.ts";
import { ImageDecodeError, readImage } from "./images.ts";

interface Request {
  readonly id: number;
  readonly ref: string;
  readonly prepare: PrepareOptions;
  readonly index: number;
}

self.onmessage = async (event: MessageEvent<Request>) => {
  const { id, ref, prepare, index } = event.data;
  try {
    const image = prepareImage(await readImage(ref), prepare, index);
    self.postMessage(
      { id, width: image.width, height: image.height, data: image.data },
      [image.data.buffer as ArrayBuffer],
    );
  } catch (error) {
    if (error instanceof ImageDecodeError) {
      self.postMessage({
        id,
        error: error.message.replace(`Cannot read image ${ref}: `, ""),
        file: ref,
      });
    } else if (error instanceof RangeError) {
      self.postMessage({ id, error: `${ref}: ${error.message}` });
    } else {
      self.postMessage({ id, error: (error as Error)?.message ?? String(error) });
    }
  }
};
