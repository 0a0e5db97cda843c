/**
 * What a run tells as it trains, in open_clip's words: a `Train Epoch` line and a progress
 * report per loss read-back, an `Eval Epoch` line and a `results.jsonl` line per evaluation.
 *
 * @module
 */

import type { ChunkLosses, LossTerms } from "../model/loss_readback.ts";
import { Progress } from "../util/progress.ts";
import { appendResult, type EpochResult, readResults, writeResults } from "./results_log.ts";
import type { RunDir } from "./run_dir.ts";

/** A progress report, sent after each read-back. */
export interface TrainProgress {
  /** Current epoch (0-based). */
  epoch: number;
  /** Optimizer steps done. */
  step: number;
  /** Steps of the whole run. */
  totalSteps: number;
  /** Mean weighted total loss of the steps since the last report. */
  loss: number;
  /** Mean loss terms since the last report. */
  terms: LossTerms;
  /** Training throughput. */
  samplesPerSecond: number;
  /** Seconds left, estimated. */
  etaSeconds: number;
}

/** The shape of a run, as its log lines count it. */
export interface LogPlan {
  /** Pairs per step. */
  batchSize: number;
  /** Optimizer steps in an epoch. */
  stepsPerEpoch: number;
  /** Optimizer steps of the whole run. */
  totalSteps: number;
  /** Learning rate of 0-based step `step`. */
  lr: (step: number) => number;
}

/**
 * The log of one run.
 * @example
 * ```ts
 * import { RunDir } from "./run_dir.ts";
 * const logs = await Deno.makeTempDir();
 * const run = await RunDir.create(logs, "demo", true);
 * const plan = { batchSize: 16, stepsPerEpoch: 4, totalSteps: 8, lr: () => 1e-3 };
 * const losses: number[] = [];
 * const log = await TrainLog.open(run, null, plan, (p) => losses.push(p.loss));
 * await log.result({ epoch: 0, step: 0, val: { mean_recall: 0.1 } }); // before training
 * log.begin(0);
 * const terms = { clip: 2, supcon: 4, bce: 0.7 };
 * await log.steps(0, { last: 4, steps: 4, loss: 4.35, terms }); // the epoch's one read-back
 * await log.result({ epoch: 1, step: 4, trainLoss: log.epochLoss(), val: { mean_recall: 0.2 } });
 * log.done();
 * log.history.length; // 2, as results.jsonl holds them; losses: [4.35]
 * await Deno.remove(logs, { recursive: true });
 * ```
 */
export class TrainLog {
  /** Every evaluation of the run, resumed ones included. */
  readonly history: EpochResult[];
  readonly #run: RunDir;
  readonly #plan: LogPlan;
  readonly #onProgress?: (p: TrainProgress) => void;
  #t0 = 0;
  #step0 = 0;
  #progress: Progress | null = null;
  #epochLoss = 0;
  #epochSteps = 0;

  private constructor(
    run: RunDir,
    history: EpochResult[],
    plan: LogPlan,
    onProgress?: (p: TrainProgress) => void,
  ) {
    this.#run = run;
    this.history = history;
    this.#plan = plan;
    this.#onProgress = onProgress;
  }

  /**
   * Opens the log of `run`. A run resumed after `resumedAt` epochs keeps the results up to that
   * epoch (later ones are trained again); a new run starts `results.jsonl` afresh.
   */
  static async open(
    run: RunDir,
    resumedAt: number | null,
    plan: LogPlan,
    onProgress?: (p: TrainProgress) => void,
  ): Promise<TrainLog> {
    const kept = resumedAt === null
      ? []
      : (await readResults(run.results)).filter((h) => h.epoch <= resumedAt);
    await writeResults(run.results, kept);
    return new TrainLog(run, kept, plan, onProgress);
  }

  /** Starts the clock (and the progress bar on a terminal) at `step` optimizer steps done. */
  begin(step: number): void {
    const { totalSteps, batchSize } = this.#plan;
    this.#progress = this.#run.quiet || !Deno.stderr.isTerminal()
      ? null
      : new Progress("train", totalSteps * batchSize, "samples");
    this.#t0 = performance.now();
    this.#step0 = step;
  }

  /** Reports a chunk of steps of `epoch` (0-based); null: nothing was read back. */
  async steps(epoch: number, chunk: ChunkLosses | null): Promise<void> {
    if (!chunk) return;
    const { batchSize: B, stepsPerEpoch, totalSteps } = this.#plan;
    const { last: done, loss, terms } = chunk;
    this.#epochLoss += loss * chunk.steps;
    this.#epochSteps += chunk.steps;
    const elapsed = (performance.now() - this.#t0) / 1000;
    const rate = ((done - this.#step0) * B) / elapsed;
    this.#onProgress?.({
      epoch,
      step: done,
      totalSteps,
      loss,
      terms,
      samplesPerSecond: rate,
      etaSeconds: ((totalSteps - done) * B) / rate,
    });
    this.#progress?.update(done * B);
    const inEpoch = done - epoch * stepsPerEpoch;
    await this.#run.log(
      `Train Epoch: ${epoch} [${String(inEpoch * B).padStart(7)}/${stepsPerEpoch * B} ` +
        `(${((100 * inEpoch) / stepsPerEpoch).toFixed(0)}%)] ${rate.toFixed(1)}/s ` +
        `LR: ${this.#plan.lr(done - 1).toExponential(3)} ` +
        `Clip_loss: ${terms.clip.toFixed(4)} Supcon_loss: ${terms.supcon.toFixed(4)} ` +
        `Bce_loss: ${terms.bce.toFixed(4)} Loss: ${loss.toFixed(4)}`,
      true,
    );
  }

  /** Mean loss of the steps reported since the last call: the epoch's training loss. */
  epochLoss(): number {
    const mean = this.#epochLoss / this.#epochSteps;
    this.#epochLoss = this.#epochSteps = 0;
    return mean;
  }

  /** Records an evaluation: in the history, in `results.jsonl` and as an `Eval Epoch` line. */
  async result(r: EpochResult): Promise<void> {
    this.history.push(r);
    await appendResult(this.#run.results, r);
    await this.#run.log(
      `Eval Epoch: ${r.epoch} ` +
        Object.entries(r.val).map(([k, x]) => `${k}: ${x.toFixed(4)}`).join("\t"),
    );
  }

  /** Ends the progress bar. */
  done(): void {
    this.#progress?.done();
  }
}
