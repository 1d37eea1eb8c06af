/**
 * `report RUN_DIR [--out FILE]`: draws a training run as one self-contained
 * HTML page (loss and triplets per step, accuracy/AUC/VAL per epoch, the last
 * validation's ROC, pair-distance histograms and PCA map of the embeddings,
 * the run's settings) from what `train --out` wrote into the directory.
 *
 * @module
 */

import { writeFileAtomic } from "../io/atomic.ts";
import { checkOutputPath } from "./_output.ts";
import { join } from "node:path";
import { type FlagTable, formatHelp, parseFlags, UsageError } from "./flags.ts";
import { readRunLog } from "../io/run_log.ts";
import { renderReport } from "../io/report_html.ts";

/** The flags of `report`. */
export const REPORT_FLAGS: FlagTable = {
  "out": { kind: "string", help: "HTML file to write (default: RUN_DIR/report.html)" },
  "title": { kind: "string", help: "page title (default: the run directory)" },
};

/**
 * Runs `report` with the given arguments.
 *
 * @param args Arguments after `report`.
 * @returns The process exit code.
 */
export async function reportCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, REPORT_FLAGS);
  if (flags.values["help"]) {
    console.log(formatHelp("deno run -A cli.ts report RUN_DIR [--out report.html]", REPORT_FLAGS, [
      "RUN_DIR is a train --out folder: metrics.jsonl, steps.jsonl, validation.json, checkpoints.",
      "The page needs no network: open it in any browser.",
    ]));
    return 0;
  }
  if (flags.positionals.length !== 1) {
    throw new UsageError(
      `report takes one run directory, got ${flags.positionals.length} positional arguments`,
    );
  }
  const dir = flags.positionals[0] as string;
  const out = checkOutputPath(
    (flags.values["out"] as string | undefined) ?? join(dir, "report.html"),
    "--out",
  );
  const run = await readRunLog(dir);
  const title = flags.values["title"] as string | undefined;
  await writeFileAtomic(out, renderReport(run, title === undefined ? {} : { title }));
  console.log(
    `wrote ${out} (${run.epochs.length} epochs, ${run.steps.length} steps` +
      (run.validation === null ? ", no validation.json" : "") + ")",
  );
  return 0;
}
