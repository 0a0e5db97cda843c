/**
 * A progress line for long work: count, percentage, items/s and ETA. On a terminal it redraws
 * one line; otherwise it prints a line at most every few seconds.
 *
 * @module
 */

/**
 * Formats seconds as `h:mm:ss` or `m:ss`.
 * @example
 * ```ts
 * formatDuration(75); // "1:15"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/**
 * Progress of `total` items of some `unit`.
 * @example
 * ```ts
 * const p = new Progress("embed", 100, "images");
 * p.update(50);
 * p.done();
 * ```
 */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #unit: string;
  readonly #start = performance.now();
  readonly #tty = Deno.stderr.isTerminal();
  #lastPrint = 0;
  #last = 0;

  /**
   * @param label what is being done
   * @param total number of items
   * @param unit item name, e.g. `samples`
   */
  constructor(label: string, total: number, unit: string) {
    this.#label = label;
    this.#total = total;
    this.#unit = unit;
  }

  /** The progress line for `done` items. */
  line(done: number): string {
    const elapsed = (performance.now() - this.#start) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const pct = this.#total > 0 ? (100 * done) / this.#total : 100;
    const width = 24, filled = Math.round((width * pct) / 100);
    const bar = "=".repeat(filled) + " ".repeat(width - filled);
    return `${this.#label} [${bar}] ${done}/${this.#total} ${pct.toFixed(0)}% ` +
      `${rate.toFixed(1)} ${this.#unit}/s ETA ${formatDuration((this.#total - done) / rate)}`;
  }

  /** Reports `done` items. */
  update(done: number): void {
    this.#last = done;
    const now = performance.now();
    if (this.#tty) {
      if (now - this.#lastPrint < 100 && done < this.#total) return;
      Deno.stderr.writeSync(new TextEncoder().encode(`\r${this.line(done)}\x1b[K`));
    } else {
      if (now - this.#lastPrint < 5000 && done < this.#total) return;
      console.error(this.line(done));
    }
    this.#lastPrint = now;
  }

  /** Ends the line. */
  done(): void {
    if (this.#tty) Deno.stderr.writeSync(new TextEncoder().encode(`\r${this.line(this.#last)}\n`));
  }
}
