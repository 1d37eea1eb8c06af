/**
 * A small, table-driven flag parser on top of `node:util` `parseArgs`: typed
 * values, choices, bounds, defaults, generated `--help`, and one-line errors.
 *
 * One rule for every command: a flag given explicitly that the chosen
 * configuration does not use is an error (a warning where the reference
 * implementation silently accepted it), declared per flag with
 * {@link FlagUse} and checked by {@link parseFlags}.
 *
 * @module
 */

import { parseArgs } from "node:util";

/**
 * Upper bounds of the flags that size memory or threads, so that a typo is a
 * usage error naming the flag instead of an out-of-memory kill.
 */
export const FLAG_LIMITS = {
  /** wasm-simd worker threads. */
  threads: 64,
  /** Image decoding workers. */
  workers: 64,
  /** Model input side in pixels (the reference implementation uses 160). */
  imageSize: 1024,
  /** Embedding dimension (the reference implementation uses 128 or 512). */
  embeddingSize: 4096,
} as const;

/** Parsed flag values by kebab-case name. */
export type FlagValues = Readonly<Record<string, number | string | boolean | undefined>>;

/** When a flag has an effect. */
export interface FlagUse {
  /** Whether the flag has an effect, given every parsed value and the positionals. */
  readonly when: (values: FlagValues, positionals: readonly string[]) => boolean;
  /** Ends the message "--flag has no effect ...", e.g. "without --backend tfjs". */
  readonly noEffect: string;
  /** Only warn instead of refusing: the reference implementation silently accepted the flag. */
  readonly warnOnly?: boolean;
}

/** The description of one flag. */
export type FlagSpec =
  | {
    readonly kind: "number";
    readonly help: string;
    readonly usedWhen?: FlagUse;
    readonly default?: number;
    readonly integer?: boolean;
    readonly min?: number;
    readonly max?: number;
    /** Whether `min` itself is excluded. */
    readonly exclusiveMin?: boolean;
  }
  | {
    readonly kind: "string";
    readonly help: string;
    readonly usedWhen?: FlagUse;
    readonly default?: string;
    readonly choices?: readonly string[];
  }
  | { readonly kind: "boolean"; readonly help: string; readonly usedWhen?: FlagUse };

/** A table of flags by kebab-case name. */
export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** Parsed flag values by kebab-case name, plus positionals. */
export interface ParsedFlags {
  readonly values: Record<string, number | string | boolean | undefined>;
  /** Names of the flags the user set explicitly. */
  readonly explicit: ReadonlySet<string>;
  readonly positionals: string[];
  /** Warnings about flags given without effect (already passed to `onWarning`). */
  readonly warnings: readonly string[];
}

/** Options of {@link parseFlags}. */
export interface ParseFlagsOptions {
  /** Receives each warning; default: printed on stderr as `warning: ...`. */
  readonly onWarning?: (message: string) => void;
}

/** A usage error: the CLI prints its message on one line and exits with code 2. */
export class UsageError extends Error {
  /** @param message What is wrong, naming the flag and value. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses `args` against a flag table; `--help`/`-h` is always accepted.
 * Unless help is asked for, every explicit flag whose {@link FlagUse} says
 * it has no effect is refused (or, with `warnOnly`, reported to `onWarning`).
 *
 * @param args The command-line arguments after the subcommand.
 * @param table The flags.
 * @param options Where warnings go.
 * @returns Typed values (defaults filled in), the explicitly set names, positionals and warnings.
 * @throws {UsageError} For an unknown flag, a missing or bad value, or a flag without effect.
 * @example
 * ```ts
 * import { type FlagTable, parseFlags } from "./flags.ts";
 * import assert from "node:assert/strict";
 *
 * const table: FlagTable = {
 *   "backend": { kind: "string", help: "backend", default: "pure", choices: ["pure", "tfjs"] },
 *   "device": {
 *     kind: "string",
 *     help: "tfjs device",
 *     usedWhen: { when: (v) => v["backend"] === "tfjs", noEffect: "without --backend tfjs" },
 *   },
 * };
 * assert.equal(parseFlags(["--backend=tfjs", "--device=cpu"], table).values["device"], "cpu");
 * assert.throws(() => parseFlags(["--device=cpu"], table), /--device has no effect without --backend tfjs/);
 * ```
 */
export function parseFlags(
  args: readonly string[],
  table: FlagTable,
  parseOptions: ParseFlagsOptions = {},
): ParsedFlags {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, spec] of Object.entries(table)) {
    options[name] = { type: spec.kind === "boolean" ? "boolean" : "string" };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // `--alpha -1`: parseArgs reads -1 as a flag; its hint to write `--alpha=-1` is on a later line.
    const dash = /^Option '--([\w-]+)[^']*' argument is ambiguous/.exec(message);
    if (dash !== null) {
      const name = dash[1];
      throw new UsageError(
        `--${name} is missing its value (a value that starts with a dash, such as a negative ` +
          `number, is written --${name}=-1)`,
      );
    }
    throw new UsageError(message.split("\n")[0] ?? message);
  }
  const values: Record<string, number | string | boolean | undefined> = {};
  const explicit = new Set<string>();
  for (const [name, spec] of Object.entries(table)) {
    const raw = (parsed.values as Record<string, string | boolean | undefined>)[name];
    if (raw !== undefined) explicit.add(name);
    if (spec.kind === "boolean") {
      values[name] = raw === true;
    } else if (spec.kind === "string") {
      const value = raw === undefined ? spec.default : String(raw);
      if (value !== undefined && spec.choices && !spec.choices.includes(value)) {
        throw new UsageError(
          `--${name} must be one of ${spec.choices.join("|")}, got "${value}"`,
        );
      }
      values[name] = value;
    } else {
      values[name] = raw === undefined ? spec.default : parseNumberFlag(name, String(raw), spec);
    }
  }
  values["help"] = parsed.values.help === true;
  const warnings: string[] = [];
  if (!values["help"]) {
    const onWarning = parseOptions.onWarning ?? ((m: string) => console.error(`warning: ${m}`));
    for (const [name, spec] of Object.entries(table)) {
      const use = spec.usedWhen;
      if (use === undefined || !explicit.has(name) || use.when(values, parsed.positionals)) {
        continue;
      }
      if (use.warnOnly) {
        const message = `--${name} has no effect ${use.noEffect}; ignored`;
        warnings.push(message);
        onWarning(message);
      } else {
        throw new UsageError(`--${name} has no effect ${use.noEffect}`);
      }
    }
  }
  return { values, explicit, positionals: parsed.positionals, warnings };
}

function parseNumberFlag(
  name: string,
  raw: string,
  spec: Extract<FlagSpec, { kind: "number" }>,
): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value)) {
    throw new UsageError(`--${name} must be a number, got "${raw}"`);
  }
  if (spec.integer && !Number.isInteger(value)) {
    throw new UsageError(`--${name} must be an integer, got "${raw}"`);
  }
  if (spec.min !== undefined && (value < spec.min || (spec.exclusiveMin && value === spec.min))) {
    throw new UsageError(
      `--${name} must be ${spec.exclusiveMin ? ">" : ">="} ${spec.min}, got ${raw}`,
    );
  }
  if (spec.max !== undefined && value > spec.max) {
    throw new UsageError(`--${name} must be <= ${spec.max}, got ${raw}`);
  }
  return value;
}

/**
 * Renders the help text of a flag table.
 *
 * @param usage The usage line.
 * @param table The flags.
 * @param notes Extra lines after the flag list.
 * @returns The help text.
 */
export function formatHelp(usage: string, table: FlagTable, notes: readonly string[] = []): string {
  const lines = [`usage: ${usage}`, "", "flags:"];
  for (const [name, spec] of Object.entries(table)) {
    let left = `  --${name}`;
    if (spec.kind === "number") left += " N";
    if (spec.kind === "string") left += spec.choices ? ` ${spec.choices.join("|")}` : " VALUE";
    let right = spec.help;
    if (spec.kind !== "boolean" && spec.default !== undefined) {
      right += ` (default ${spec.default})`;
    }
    lines.push(left.length < 38 ? left.padEnd(38) + right : `${left}\n${" ".repeat(38)}${right}`);
  }
  lines.push("  --help, -h".padEnd(38) + "show this help");
  if (notes.length) lines.push("", ...notes);
  return lines.join("\n");
}
