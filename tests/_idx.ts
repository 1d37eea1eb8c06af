// Test helper: IDX files (the MNIST format io/idx.ts reads) written in memory.

/** An IDX file of unsigned bytes: magic `0 0 8 <rank>`, big-endian dimensions, then the data. */
export function idx(shape: readonly number[], data: ArrayLike<number>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out.set([0, 0, 8, shape.length]);
  const view = new DataView(out.buffer);
  shape.forEach((n, d) => view.setUint32(4 + 4 * d, n, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

/** `bytes` gzip-compressed (as Debian's dataset-fashion-mnist installs its files). */
export async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
