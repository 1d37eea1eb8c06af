/**
 * Progress reporting on stderr: a redrawn bar on a terminal, plain lines
 * (at most every few seconds) otherwise.
 *
 * @module
 */

/** What the bar shows. */
export interface ProgressState {
  readonly epoch: number;
  readonly step: number;
  readonly total: number;
  readonly loss: number;
  /** Triplets of the current sampling round; null for losses without triplets. */
  readonly triplets: number | null;
  readonly imagesPerSec: number;
  /** Seconds the whole run still needs (all epochs), when known. */
  readonly runEta?: number;
}

/** A progress reporter for one epoch at a time. */
export class Progress {
  #tty: boolean;
  #start = 0;
  #lastLine = 0;
  #encoder = new TextEncoder();
  #quiet: boolean;

  /** @param options `quiet` prints nothing; `tty` overrides terminal detection. */
  constructor(options: { quiet?: boolean; tty?: boolean } = {}) {
    this.#quiet = options.quiet ?? false;
    this.#tty = options.tty ?? Deno.stderr.isTerminal();
  }

  /** Starts timing an epoch. */
  begin(): void {
    this.#start = performance.now();
    this.#lastLine = this.#start;
  }

  /** Updates the bar (or prints a plain line every 10 seconds when not a terminal). */
  update(state: ProgressState): void {
    if (this.#quiet) return;
    const now = performance.now();
    const elapsed = (now - this.#start) / 1000;
    const fraction = Math.min(1, state.step / Math.max(1, state.total));
    const eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : NaN;
    const triplets = state.triplets === null ? "" : ` triplets ${state.triplets}`;
    const text = `epoch ${state.epoch} ${state.step}/${state.total} loss ${
      state.loss.toFixed(4)
    }${triplets} ${state.imagesPerSec.toFixed(1)} img/s ETA ${formatSeconds(eta)}${
      state.runEta === undefined ? "" : ` run ETA ${formatSeconds(state.runEta)}`
    }`;
    if (this.#tty) {
      const width = 20;
      const filled = Math.round(fraction * width);
      const bar = "[" + "#".repeat(filled) + "-".repeat(width - filled) + "] ";
      this.#write(`\r\x1b[2K${bar}${text}`);
    } else if (now - this.#lastLine >= 10_000 || state.step === state.total) {
      this.#lastLine = now;
      this.#write(text + "\n");
    }
  }

  /** Ends the bar line; prints `line` (a summary) on its own line. */
  end(line?: string): void {
    if (this.#quiet) return;
    if (this.#tty) this.#write("\r\x1b[2K");
    if (line !== undefined) this.#write(line + "\n");
  }

  /** Prints a message line without breaking the bar. */
  log(line: string): void {
    if (this.#quiet) return;
    if (this.#tty) this.#write("\r\x1b[2K");
    this.#write(line + "\n");
  }

  #write(text: string): void {
    Deno.stderr.writeSync(this.#encoder.encode(text));
  }
}

/**
 * Formats seconds as `1h02m`, `3m05s` or `12s`; `--` when unknown.
 *
 * @param seconds A duration.
 * @returns The short text.
 */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}
