import assert from "node:assert/strict";
import { join } from "node:path";
import { npmPackageFile, untarGzip } from "../io/npm_assets.ts";

/** A ustar archive of the given files, gzipped. */
async function tarGzip(files: Record<string, string>): Promise<Uint8Array> {
  const blocks: Uint8Array[] = [];
  for (const [name, text] of Object.entries(files)) {
    const body = new TextEncoder().encode(text);
    const header = new Uint8Array(512);
    header.set(new TextEncoder().encode(name), 0);
    header.set(new TextEncoder().encode("0000644\0"), 100);
    header.set(new TextEncoder().encode(body.length.toString(8).padStart(11, "0") + "\0"), 124);
    header.set(new TextEncoder().encode("        "), 148); // checksum (not verified by the reader)
    header[156] = "0".charCodeAt(0);
    header.set(new TextEncoder().encode("ustar\0"), 257);
    blocks.push(header, body, new Uint8Array((512 - (body.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  const tar = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    tar.set(b, at);
    at += b.length;
  }
  const stream = new Blob([tar]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("untarGzip() unpacks the regular files of an npm-style tarball", async () => {
  const tgz = await tarGzip({
    "package/package.json": '{"name":"x"}',
    "package/assets/a.bin": "x".repeat(700),
  });
  const files = await untarGzip(tgz);
  assert.deepEqual([...files.keys()], ["package/package.json", "package/assets/a.bin"]);
  assert.equal(new TextDecoder().decode(files.get("package/assets/a.bin")!), "x".repeat(700));
  await assert.rejects(untarGzip(new Uint8Array([1, 2, 3])), /not valid gzip/);
  await assert.rejects(untarGzip(tgz.subarray(0, tgz.length - 30)), RangeError);
});

Deno.test("npmPackageFile() finds a file in Deno's npm cache without fetching, and refuses bad requests", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "facenet_deno_dir_" });
  const previous = Deno.env.get("DENO_DIR");
  try {
    const pkg = { name: "@scope/some-pkg", version: "1.2.3", integrity: "sha512-AAAA" };
    const folder = join(
      denoDir,
      "npm",
      "registry.npmjs.org",
      "@scope",
      "some-pkg",
      "1.2.3",
      "data",
    );
    await Deno.mkdir(folder, { recursive: true });
    await Deno.writeTextFile(join(folder, "file.txt"), "hello");
    Deno.env.set("DENO_DIR", denoDir);
    assert.equal(await npmPackageFile(pkg, "data/file.txt"), join(folder, "file.txt"));
    await assert.rejects(
      npmPackageFile(pkg, "/etc/passwd"),
      /must be relative to the package root/,
    );
    await assert.rejects(npmPackageFile(pkg, "../x"), /must be relative/);
    await assert.rejects(npmPackageFile({ ...pkg, version: "^1.2.3" }, "a"), /must be exact/);
    await assert.rejects(npmPackageFile({ ...pkg, name: "Bad Name" }, "a"), /not a valid npm name/);
    await assert.rejects(npmPackageFile({ ...pkg, integrity: "sha1-x" }, "a"), /sha512/);
  } finally {
    if (previous === undefined) Deno.env.delete("DENO_DIR");
    else Deno.env.set("DENO_DIR", previous);
    await Deno.remove(denoDir, { recursive: true });
  }
});
