/**
 * The command-line shell: `deno run -A cli.ts <command> [flags]`.
 *
 * @module
 */

function main(args: string[]): number {
  const [command] = args;
  if (command === "train") {
    console.error("train: not built yet (see the open issues); nothing was trained.");
    return 1;
  }
  console.error(`usage: deno run -A cli.ts train [flags]`);
  return 2;
}

if (import.meta.main) {
  Deno.exit(main(Deno.args));
}
