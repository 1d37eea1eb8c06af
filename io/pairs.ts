/**
 * LFW `pairs.txt` files: parsing, resolving to image paths, and writing.
 *
 * The format (SEED_NOTES "Data layout"): a header line with the number of
 * folds and the number of pairs of each kind per fold (`10\t300` in the real
 * file, 6000 pairs), then one line per pair, whitespace-separated:
 * same-person lines `Name i j` and different-person lines `Name1 i Name2 j`.
 * Image `i` of `Name` is `lfw_dir/Name/Name_%04d.jpg` (or `.png`).
 *
 * @module
 */

import { isAbsolute, join, relative, resolve as resolvePath } from "node:path";

/**
 * One line of a pairs file: two image references and whether they show the same person.
 *
 * @category Data
 */
export interface PairEntry {
  /** Identity of the first image. */
  readonly name1: string;
  /** 1-based image number of the first image. */
  readonly index1: number;
  /** Identity of the second image (equal to `name1` for same-person pairs). */
  readonly name2: string;
  /** 1-based image number of the second image. */
  readonly index2: number;
  /** Whether the line is a same-person line (`Name i j`). */
  readonly same: boolean;
}

/**
 * A parsed pairs file.
 *
 * @category Data
 */
export interface Pairs {
  /** Number of folds (the header's first number). */
  readonly folds: number;
  /** Pairs of each kind (same, different) per fold (the header's second number). */
  readonly pairsPerFold: number;
  /** The pairs in file order; `folds * pairsPerFold * 2` of them. */
  readonly pairs: readonly PairEntry[];
}

/**
 * Options of {@linkcode resolvePairs}.
 *
 * @category Data
 */
export interface ResolvePairsOptions {
  /**
   * When true, pairs with a missing image are dropped and the rest are
   * returned; when false (the default) any missing image is an error.
   */
  readonly allowMissing?: boolean;
}

/**
 * Pairs resolved to image files.
 *
 * @category Data
 */
export interface ResolvedPairs {
  /** Image paths of the kept pairs, in file order. */
  readonly paths: readonly (readonly [string, string])[];
  /** Whether each kept pair is a same-person pair. */
  readonly same: readonly boolean[];
  /** Indices (into `pairs.pairs`) of the kept pairs. */
  readonly kept: readonly number[];
  /** Every missing image, as `Name/Name_0001.{jpg,png}` relative to the LFW folder, in first-use order. */
  readonly missing: readonly string[];
  /** Number of pairs dropped because an image was missing. */
  readonly skippedPairs: number;
}

const HOW_MANY_MISSING_TO_NAME = 5;

function parseCount(token: string): number | undefined {
  if (!/^[0-9]+$/.test(token)) return undefined;
  const value = Number(token);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/**
 * Parses the text of an LFW pairs file.
 *
 * The header is `folds pairsPerFold`; a header with a single number `n` (as in
 * LFW's `pairsDevTrain.txt` / `pairsDevTest.txt`) is read as one fold of `n`
 * pairs of each kind. Blank lines are ignored. The number of pair lines must
 * equal `folds * pairsPerFold * 2`. Image numbers are positive integers.
 *
 * @param text The file's content.
 * @param fileName The file's name, used in error messages.
 * @returns The folds, the pairs per fold, and the pairs in file order.
 * @throws {SyntaxError} When the header or a line is malformed, or the number
 *   of lines does not match the header; the message names the file and the
 *   1-based line number.
 * @example Parse a one-fold file
 * ```ts
 * import { parsePairs } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const pairs = parsePairs("1\t1\nAnn 1 2\nAnn 1 Bob 3\n", "pairs.txt");
 * assert.equal(pairs.folds, 1);
 * assert.deepEqual(pairs.pairs[1], { name1: "Ann", index1: 1, name2: "Bob", index2: 3, same: false });
 * ```
 *
 * @category Data
 */
export function parsePairs(text: string, fileName: string): Pairs {
  if (typeof text !== "string") {
    throw new TypeError(`Pairs text must be a string, got ${typeof text}`);
  }
  const lines = text.split(/\r?\n/);
  let headerLine = -1;
  for (let i = 0; i < lines.length; i++) {
    if ((lines[i] ?? "").trim() !== "") {
      headerLine = i;
      break;
    }
  }
  if (headerLine < 0) {
    throw new SyntaxError(`${fileName}: the file is empty; expected a header "folds pairsPerFold"`);
  }
  const headerTokens = (lines[headerLine] ?? "").trim().split(/\s+/);
  const folds = headerTokens.length === 2 ? parseCount(headerTokens[0] ?? "") : 1;
  const pairsPerFold = parseCount(headerTokens[headerTokens.length - 1] ?? "");
  if (
    headerTokens.length < 1 || headerTokens.length > 2 || folds === undefined ||
    pairsPerFold === undefined
  ) {
    throw new SyntaxError(
      `${fileName}:${headerLine + 1}: malformed header "${
        (lines[headerLine] ?? "").trim()
      }"; expected two positive integers "folds pairsPerFold"`,
    );
  }
  const pairs: PairEntry[] = [];
  let lastLine = headerLine;
  for (let i = headerLine + 1; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "") continue;
    lastLine = i;
    const fields = line.split(/\s+/);
    const where = `${fileName}:${i + 1}`;
    const index = (token: string, what: string): number => {
      const value = parseCount(token);
      if (value === undefined) {
        throw new SyntaxError(
          `${where}: ${what} "${token}" is not a positive integer in "${line}"`,
        );
      }
      return value;
    };
    if (fields.length === 3) {
      const [name, i1, i2] = fields as [string, string, string];
      pairs.push({
        name1: name,
        index1: index(i1, "image number"),
        name2: name,
        index2: index(i2, "image number"),
        same: true,
      });
    } else if (fields.length === 4) {
      const [n1, i1, n2, i2] = fields as [string, string, string, string];
      pairs.push({
        name1: n1,
        index1: index(i1, "image number"),
        name2: n2,
        index2: index(i2, "image number"),
        same: false,
      });
    } else {
      throw new SyntaxError(
        `${where}: expected 3 fields "Name i j" or 4 fields "Name1 i Name2 j", got ${fields.length} in "${line}"`,
      );
    }
  }
  const expected = folds * pairsPerFold * 2;
  if (pairs.length !== expected) {
    throw new SyntaxError(
      `${fileName}:${
        lastLine + 1
      }: the header ${folds} ${pairsPerFold} announces ${expected} pairs ` +
        `(${folds} folds x ${pairsPerFold} x 2), but the file has ${pairs.length}`,
    );
  }
  return { folds, pairsPerFold, pairs };
}

/**
 * Formats pairs as the text of an LFW pairs file (tab-separated, like the
 * real file, with a trailing newline). `parsePairs(formatPairs(p))` equals `p`.
 *
 * @param pairs The folds, pairs per fold and pairs to write.
 * @returns The file's text.
 * @throws {RangeError} When the number of pairs is not `folds * pairsPerFold * 2`,
 *   an image number is not a positive integer, or a name is empty or contains whitespace.
 * @example Round trip
 * ```ts
 * import { formatPairs, parsePairs } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const pairs = parsePairs("1 1\nAnn 1 2\nAnn 1 Bob 3\n", "p.txt");
 * assert.equal(formatPairs(pairs), "1\t1\nAnn\t1\t2\nAnn\t1\tBob\t3\n");
 * assert.deepEqual(parsePairs(formatPairs(pairs), "p.txt"), pairs);
 * ```
 *
 * @category Data
 */
export function formatPairs(pairs: Pairs): string {
  const { folds, pairsPerFold } = pairs;
  if (!Number.isSafeInteger(folds) || folds < 1) {
    throw new RangeError(`Folds must be a positive integer, got ${folds}`);
  }
  if (!Number.isSafeInteger(pairsPerFold) || pairsPerFold < 1) {
    throw new RangeError(`Pairs per fold must be a positive integer, got ${pairsPerFold}`);
  }
  if (pairs.pairs.length !== folds * pairsPerFold * 2) {
    throw new RangeError(
      `Expected ${
        folds * pairsPerFold * 2
      } pairs (${folds} folds x ${pairsPerFold} x 2), got ${pairs.pairs.length}`,
    );
  }
  const out = [`${folds}\t${pairsPerFold}`];
  for (const p of pairs.pairs) {
    for (const name of [p.name1, p.name2]) {
      if (name === "" || /\s/.test(name)) {
        throw new RangeError(
          `Identity name ${JSON.stringify(name)} is empty or contains whitespace`,
        );
      }
    }
    for (const index of [p.index1, p.index2]) {
      if (!Number.isSafeInteger(index) || index < 1) {
        throw new RangeError(`Image number must be a positive integer, got ${index}`);
      }
    }
    if (p.same && p.name1 !== p.name2) {
      throw new RangeError(`A same-person pair names two identities: ${p.name1} and ${p.name2}`);
    }
    out.push(
      p.same
        ? `${p.name1}\t${p.index1}\t${p.index2}`
        : `${p.name1}\t${p.index1}\t${p.name2}\t${p.index2}`,
    );
  }
  return out.join("\n") + "\n";
}

/**
 * The file name of image `index` of `name` without extension: `Name_%04d`.
 *
 * @param name The identity.
 * @param index The 1-based image number.
 * @returns For example `Ann_0003`.
 * @throws {RangeError} When the index is not a positive integer.
 * @example
 * ```ts
 * import { pairImageStem } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(pairImageStem("Ann", 3), "Ann_0003");
 * assert.equal(pairImageStem("Ann", 12345), "Ann_12345");
 * ```
 *
 * @category Data
 */
export function pairImageStem(name: string, index: number): string {
  if (!Number.isSafeInteger(index) || index < 1) {
    throw new RangeError(`Image number must be a positive integer, got ${index}`);
  }
  return `${name}_${String(index).padStart(4, "0")}`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

/**
 * Resolves pairs to image paths under an LFW-style folder: image `i` of `Name`
 * is `lfwDir/Name/Name_%04d.jpg`, or `.png` when no `.jpg` exists (the reference implementation's
 * rule). Unlike the reference implementation, which stops at the first missing image, every
 * missing image is listed.
 *
 * @param pairs Parsed pairs.
 * @param lfwDir The folder holding one sub-folder per identity.
 * @param options `allowMissing`: drop pairs with a missing image instead of throwing.
 * @returns The kept pairs' paths and labels, their indices, the missing images and how many pairs were dropped.
 * @throws {Error} When an image is missing and `allowMissing` is not set, or
 *   when no pair is left; the message gives the number of missing images, the
 *   first few, and the number of affected pairs; when a name is not a plain
 *   folder name (it holds `/` or `\\`, or is `.` or `..`), so that it could
 *   point outside `lfwDir`.
 * @example Missing images are listed
 * ```ts
 * import { parsePairs, resolvePairs } from "@facenet-deno/facenet/io";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/Ann`);
 * await Deno.writeFile(`${dir}/Ann/Ann_0001.png`, new Uint8Array(1));
 * await Deno.writeFile(`${dir}/Ann/Ann_0002.jpg`, new Uint8Array(1));
 * const pairs = parsePairs("1 1\nAnn 1 2\nAnn 1 Bob 1\n", "pairs.txt");
 * const resolved = await resolvePairs(pairs, dir, { allowMissing: true });
 * assert.deepEqual(resolved.missing, ["Bob/Bob_0001.{jpg,png}"]);
 * assert.equal(resolved.skippedPairs, 1);
 * assert.deepEqual(resolved.paths, [[`${dir}/Ann/Ann_0001.png`, `${dir}/Ann/Ann_0002.jpg`]]);
 * await assert.rejects(resolvePairs(pairs, dir), /1 image of 1 pair is missing/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @category Data
 */
export async function resolvePairs(
  pairs: Pairs,
  lfwDir: string,
  options: ResolvePairsOptions = {},
): Promise<ResolvedPairs> {
  if (typeof lfwDir !== "string" || lfwDir === "") {
    throw new TypeError(`The LFW folder must be a non-empty string, got ${JSON.stringify(lfwDir)}`);
  }
  const found = new Map<string, string | null>();
  const missing: string[] = [];
  const root = resolvePath(lfwDir);
  const resolve = async (name: string, index: number): Promise<string | null> => {
    const stem = join(name, pairImageStem(name, index));
    const cached = found.get(stem);
    if (cached !== undefined) return cached;
    if (/[\\/]/.test(name) || name === "." || name === "..") {
      const inside = relative(root, resolvePath(root, stem));
      throw new Error(
        `Pair name ${JSON.stringify(name)} is not a plain folder name` +
          (inside.startsWith("..") || isAbsolute(inside)
            ? ` and resolves outside ${lfwDir}`
            : ` (it contains a path separator)`),
      );
    }
    let path: string | null = null;
    for (const ext of [".jpg", ".png"]) {
      const candidate = join(lfwDir, stem + ext);
      if (await isFile(candidate)) {
        path = candidate;
        break;
      }
    }
    found.set(stem, path);
    if (path === null) missing.push(`${stem}.{jpg,png}`);
    return path;
  };
  const paths: [string, string][] = [];
  const same: boolean[] = [];
  const kept: number[] = [];
  let skippedPairs = 0;
  for (let i = 0; i < pairs.pairs.length; i++) {
    const p = pairs.pairs[i] as PairEntry;
    const a = await resolve(p.name1, p.index1);
    const b = await resolve(p.name2, p.index2);
    if (a === null || b === null) {
      skippedPairs++;
      continue;
    }
    paths.push([a, b]);
    same.push(p.same);
    kept.push(i);
  }
  if (missing.length > 0 && (options.allowMissing !== true || paths.length === 0)) {
    const first = missing.slice(0, HOW_MANY_MISSING_TO_NAME).join(", ");
    const more = missing.length > HOW_MANY_MISSING_TO_NAME
      ? `, and ${missing.length - HOW_MANY_MISSING_TO_NAME} more`
      : "";
    throw new Error(
      `${missing.length} image${missing.length === 1 ? "" : "s"} of ${skippedPairs} pair${
        skippedPairs === 1 ? "" : "s"
      } ${missing.length === 1 ? "is" : "are"} missing under ${lfwDir}: ${first}${more}${
        paths.length === 0 ? "; no pair is left to evaluate" : ""
      }`,
    );
  }
  return { paths, same, kept, missing, skippedPairs };
}
