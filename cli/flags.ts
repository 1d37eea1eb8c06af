/**
 * A small, table-driven flag parser on top of `node:util` `parseArgs`: typed
 * values, choices, defaults, generated `--help`, and one-line errors.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** The description of one flag. */
export type FlagSpec =
  | {
    readonly kind: "number";
    readonly help: string;
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
    readonly default?: string;
    readonly choices?: readonly string[];
  }
  | { readonly kind: "boolean"; readonly help: string };

/** A table of flags by kebab-case name. */
export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** Parsed flag values by kebab-case name, plus positionals. */
export interface ParsedFlags {
  readonly values: Record<string, number | string | boolean | undefined>;
  /** Names of the flags the user set explicitly. */
  readonly explicit: ReadonlySet<string>;
  readonly positionals: string[];
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
 *
 * @param args The command-line arguments after the subcommand.
 * @param table The flags.
 * @returns Typed values (defaults filled in), the explicitly set names and positionals.
 * @throws {UsageError} For an unknown flag, a missing value or a bad value.
 */
export function parseFlags(args: readonly string[], table: FlagTable): ParsedFlags {
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
  return { values, explicit, positionals: parsed.positionals };
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
