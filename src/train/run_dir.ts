/**
 * A run's directory, `<logs>/<name>/`, as open_clip lays it out: `params.json` (the run's
 * configuration), `out.log` (every line the run prints), `results.jsonl` (one line per
 * evaluation) and `checkpoints/<name>.safetensors`.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";

/**
 * The directory of one run.
 * @example
 * ```ts
 * const logs = await Deno.makeTempDir();
 * const run = await RunDir.create(logs, "demo", true); // quiet: write out.log, print nothing
 * await run.writeParams({ lr: 1e-3 });
 * await run.log("Train Epoch: 0 …");
 * run.checkpoint("epoch_latest"); // `${logs}/demo/checkpoints/epoch_latest.safetensors`
 * await Deno.remove(logs, { recursive: true });
 * ```
 */
export class RunDir {
  /** `<logs>/<name>`. */
  readonly path: string;
  /** `results.jsonl`. */
  readonly results: string;
  /** Print nothing (`out.log` is written all the same). */
  readonly quiet: boolean;
  readonly #out: string;
  readonly #tty = Deno.stderr.isTerminal();

  private constructor(path: string, quiet: boolean) {
    this.path = path;
    this.results = join(path, "results.jsonl");
    this.#out = join(path, "out.log");
    this.quiet = quiet;
  }

  /**
   * Creates `<logs>/<name>/checkpoints/` (keeping what is there: a resumed run continues in it).
   * @param quiet write `out.log` but print nothing
   */
  static async create(logs: string, name: string, quiet: boolean): Promise<RunDir> {
    const run = new RunDir(join(logs, name), quiet);
    await Deno.mkdir(join(run.path, "checkpoints"), { recursive: true });
    return run;
  }

  /** Path of checkpoint `name` (`epoch_latest`, `best`, `epoch_3`, …). */
  checkpoint(name: string): string {
    return join(this.path, "checkpoints", `${name}.safetensors`);
  }

  /**
   * Appends a line to `out.log` and prints it, unless quiet. Lines marked `frequent` print only
   * when stderr is not a terminal (on a terminal the progress bar stands for them).
   */
  async log(line: string, frequent = false): Promise<void> {
    await Deno.writeFile(this.#out, new TextEncoder().encode(line + "\n"), {
      append: true,
      create: true,
    });
    if (!this.quiet && (!frequent || !this.#tty)) console.log(line);
  }

  /** Writes `params.json`, atomically. */
  async writeParams(config: Record<string, unknown>): Promise<void> {
    const text = JSON.stringify(config, null, 2);
    await writeFileAtomic(join(this.path, "params.json"), new TextEncoder().encode(text));
  }
}
