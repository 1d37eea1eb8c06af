/**
 * The command-line shell: `deno run -A cli.ts <command> [flags]`.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error (unknown flag, bad value),
 * 130 interrupted.
 *
 * @module
 */

import { UsageError } from "./cli/flags.ts";

const COMMANDS: Record<string, { help: string; run: (args: string[]) => Promise<number> }> = {
  train: {
    help:
      "train an embedding network with triplet loss (the reference implementation's train_tripletloss)",
    run: async (args) => (await import("./cli/train.ts")).trainCommand(args),
  },
  "make-dataset": {
    help:
      "write synthetic identities (or Fashion-MNIST with --from) as PNG folders with an LFW pairs.txt",
    run: async (args) => (await import("./cli/make_dataset.ts")).makeDatasetCommand(args),
  },
  validate: {
    help:
      "LFW pairs accuracy/VAL/AUC/EER, retrieval metrics on a labelled folder (validate_on_lfw)",
    run: async (args) => (await import("./cli/validate.ts")).validateCommand(args),
  },
  embed: {
    help: "embed images or a folder to .npy + labels + JSONL (export_embeddings)",
    run: async (args) => (await import("./cli/embed.ts")).embedCommand(args),
  },
  compare: {
    help: "the distance matrix between images (compare)",
    run: async (args) => (await import("./cli/compare.ts")).compareCommand(args),
  },
  classify: {
    help: "TRAIN or CLASSIFY a classifier on embeddings of a folder (classifier)",
    run: async (args) => (await import("./cli/classify.ts")).classifyCommand(args),
  },
  export: {
    help:
      "write a checkpoint as a TensorFlow.js graph model for the browser, or ONNX (freeze/export)",
    run: async (args) => (await import("./cli/export.ts")).exportCommand(args),
  },
  report: {
    help: "draw a training run (train --out folder) as one self-contained HTML page",
    run: async (args) => (await import("./cli/report.ts")).reportCommand(args),
  },
  detect: {
    help: "find faces in photos with MTCNN: boxes, scores, landmarks as JSON (detect_face)",
    run: async (args) => (await import("./cli/detect.ts")).detectCommand(args),
  },
  align: {
    help:
      "detect, crop and resize the faces of a folder-per-identity dataset (align_dataset_mtcnn)",
    run: async (args) => (await import("./cli/align.ts")).alignCommand(args),
  },
  cluster: {
    help: "group the faces of a folder by identity, one folder per cluster (cluster)",
    run: async (args) => (await import("./cli/cluster.ts")).clusterCommand(args),
  },
};

function usage(): string {
  const lines = [
    "usage: deno run -A cli.ts <command> [flags]   (--help after a command for its flags)",
    "",
    "commands:",
  ];
  for (const [name, command] of Object.entries(COMMANDS)) {
    lines.push(`  ${name.padEnd(14)}${command.help}`);
  }
  return lines.join("\n");
}

/**
 * Runs the CLI.
 *
 * @param args The arguments (command first).
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  // Mesa's Vulkan loader complains on stderr when probing a WebGPU adapter
  // without a runtime directory (root shells, containers); give it one.
  if (Deno.env.get("XDG_RUNTIME_DIR") === undefined) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    console.error(
      `error: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(", ")})`,
    );
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message} (see: ${name} --help)`);
      return 2;
    }
    if (error instanceof RangeError && /Array buffer allocation failed/.test(error.message)) {
      // A size flag too large for this machine's memory: name the flags that size tensors.
      console.error(
        "error: out of memory allocating a tensor (Array buffer allocation failed); lower " +
          "--batch-size, --image-size or --embedding-size",
      );
      return 1;
    }
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    if (Deno.env.get("FACENET_DEBUG")) console.error(error);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
