/**
 * When a run writes which checkpoint, as open_clip does: at the end of each epoch `best` (when the
 * validation metric improved), `epoch_N` (every `saveFrequency` epochs) and `epoch_latest` (the
 * point `--resume latest` continues from); inside an epoch `epoch_latest` every
 * `saveEveryNSteps` steps. It also keeps the best metric and stops early.
 *
 * @module
 */

import type { Metrics } from "../metrics/retrieval_metrics.ts";
import { type Checkpoint, saveCheckpoint, type TrainPosition } from "../model/checkpoint.ts";
import type { RunDir } from "./run_dir.ts";

/** The options that decide checkpoints, best epoch and early stopping. */
export interface CheckpointOptions {
  /** Write `epoch_N` every this many epochs (0: only latest and best). */
  saveFrequency: number;
  /** Also write `epoch_latest` every this many steps inside an epoch (0: off). */
  saveEveryNSteps: number;
  /** Validation metric that selects the best checkpoint. */
  valMetric: string;
  /** Stop after this many epochs without improvement (0: never). */
  earlyStopping: number;
}

/**
 * The checkpoint policy of one run.
 * @example
 * ```ts
 * import { RunDir } from "./run_dir.ts";
 * const logs = await Deno.makeTempDir();
 * const run = await RunDir.create(logs, "demo", true);
 * const options = { saveFrequency: 2, saveEveryNSteps: 4, valMetric: "mean_recall", earlyStopping: 0 };
 * const policy = new CheckpointPolicy(run, options, 10);
 * const best = { metric: "mean_recall", value: -Infinity, epoch: -1 };
 * const position = { epoch: 0, stepInEpoch: 0, optimizerStep: 0, best, epochsWithoutImprovement: 0 };
 * policy.chunkLength(position, 8); // 4: a chunk ends where epoch_latest is written
 * position.epoch = 2; // two epochs done
 * const improved = policy.judge(position, { mean_recall: 0.3 }); // true
 * policy.epochEnd(position, improved); // ["best", "epoch_2", "epoch_latest"]
 * await Deno.remove(logs, { recursive: true });
 * ```
 */
export class CheckpointPolicy {
  readonly #run: RunDir;
  readonly #o: CheckpointOptions;
  readonly #stepsPerEpoch: number;

  /** @param stepsPerEpoch optimizer steps in an epoch */
  constructor(run: RunDir, options: CheckpointOptions, stepsPerEpoch: number) {
    this.#run = run;
    this.#o = options;
    this.#stepsPerEpoch = stepsPerEpoch;
  }

  /** The checkpoint `--resume` names: `latest` is this run's `epoch_latest`; null: none. */
  resumePath(resume: string | null): string | null {
    return resume === "latest" ? this.#run.checkpoint("epoch_latest") : resume;
  }

  /**
   * Steps in the next chunk from `position`: at most `chunk`, not past the epoch's end, and
   * ending where a mid-epoch `epoch_latest` is due.
   */
  chunkLength(position: TrainPosition, chunk: number): number {
    const every = this.#o.saveEveryNSteps;
    const n = Math.min(chunk, this.#stepsPerEpoch - position.stepInEpoch);
    return every > 0 ? Math.min(n, every - (position.optimizerStep % every)) : n;
  }

  /** Whether `epoch_latest` is due at `position` inside an epoch. */
  savesMidEpoch(position: TrainPosition): boolean {
    const every = this.#o.saveEveryNSteps;
    return every > 0 && position.optimizerStep % every === 0 &&
      position.stepInEpoch < this.#stepsPerEpoch;
  }

  /**
   * Judges the epoch that `position` has just finished by its validation metrics: updates the
   * best metric and the epochs without improvement, and tells whether it improved.
   */
  judge(position: TrainPosition, val: Metrics): boolean {
    const metric = this.#o.valMetric, value = val[metric];
    if (value === undefined) {
      throw new Error(`--val-metric ${metric} is not one of ${Object.keys(val).join(", ")}`);
    }
    const improved = value > position.best.value;
    if (improved) position.best = { metric, value, epoch: position.epoch };
    position.epochsWithoutImprovement = improved ? 0 : position.epochsWithoutImprovement + 1;
    return improved;
  }

  /** Checkpoints due at the end of epoch `position.epoch`, in the order to write them. */
  epochEnd(position: TrainPosition, improved: boolean): string[] {
    const every = this.#o.saveFrequency;
    return [
      ...(improved ? ["best"] : []),
      ...(every > 0 && position.epoch % every === 0 ? [`epoch_${position.epoch}`] : []),
      "epoch_latest", // last: a run killed while saving resumes from the previous one
    ];
  }

  /** Writes checkpoint `c` under each of `names`. */
  async save(names: readonly string[], c: Checkpoint): Promise<void> {
    for (const name of names) await saveCheckpoint(this.#run.checkpoint(name), c);
  }

  /** Whether early stopping ends the run at `position`. */
  stopsEarly(position: TrainPosition): boolean {
    return this.#o.earlyStopping > 0 &&
      position.epochsWithoutImprovement >= this.#o.earlyStopping;
  }
}
