/** What a finished subprocess left. */
export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** Runs `deno <args>` as a subprocess with colours off and captures its output. */
export async function runDeno(args: readonly string[]): Promise<Ran> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** Runs `deno run -A cli.ts <args>` (the project's CLI) as a subprocess. */
export function runCli(args: readonly string[]): Promise<Ran> {
  return runDeno(["run", "-A", CLI, ...args]);
}

/** Runs the CLI as {@link runCli} and fails with its stderr unless it exits with 0. */
export async function runCliOk(args: readonly string[]): Promise<Ran> {
  const r = await runCli(args);
  if (r.code !== 0) throw new Error(`${args[0]} exited with ${r.code}:\n${r.stderr}`);
  return r;
}
