// Replay re-executes many short steps, and most of what one costs the
// JavaScript thread is the hand-off to a worker and back. The executions
// asked for within one turn of this thread (a run's steps as its fold meets
// them, and those of other runs being folded meanwhile) go to the sandbox
// together, which runs those of one module in one hand-off.
//
// When several logs are folded in one turn, the batch is handed over as soon
// as the logs folded so far bring a worker's worth of calls, not only at the
// turn's end: a worker then runs those steps while this thread folds the next
// logs, instead of every worker waiting for the whole turn and this thread
// then waiting for every worker. A batch only ever ends at a log's end, so a
// log waits on one batch, not on two.
import type {
  StepExecution,
  StepExecutor,
  StepOutcome,
} from "../../actors/run_ports.ts";

/** An executor that can also run several executions at once. */
export interface BatchExecutor extends StepExecutor {
  /** The outcomes `execute` would give, in order. */
  executeBatch(executions: readonly StepExecution[]): Promise<StepOutcome[]>;
}

/** What replay runs a log's steps with. */
export interface ReplayStepExecutor extends StepExecutor {
  /** Every step of one log has been asked for. */
  logFolded(): void;
}

/**
 * Calls pending at a log's end that are handed over at once: enough that a
 * hand-off's cost is spread over many calls, few enough that a worker starts
 * while this thread still has logs to fold (with 8 runs of 3 steps replayed
 * at once: two batches of 4 runs, one per worker of a pool of two).
 */
export const HAND_OVER_CALLS = 12;

interface Pending {
  execution: StepExecution;
  resolve: (outcome: StepOutcome) => void;
  reject: (error: unknown) => void;
}

/** Collects executions until a log's end brings enough, or the turn ends. */
class StepBatches implements ReplayStepExecutor {
  readonly #executor: BatchExecutor;
  #pending: Pending[] = [];

  constructor(executor: BatchExecutor) {
    this.#executor = executor;
  }

  execute(execution: StepExecution): Promise<StepOutcome> {
    return new Promise((resolve, reject) => {
      if (this.#pending.push({ execution, resolve, reject }) === 1) {
        queueMicrotask(() => this.#flush());
      }
    });
  }

  logFolded(): void {
    if (this.#pending.length >= HAND_OVER_CALLS) this.#flush();
  }

  #flush(): void {
    const batch = this.#pending;
    // Handed over already, at a log's end.
    if (batch.length === 0) return;
    this.#pending = [];
    this.#executor.executeBatch(batch.map((pending) => pending.execution))
      .then(
        (outcomes) =>
          batch.forEach((pending, index) => pending.resolve(outcomes[index]!)),
        (error) => batch.forEach((pending) => pending.reject(error)),
      );
  }
}

const shared = new WeakMap<BatchExecutor, StepBatches>();

/**
 * The executor replay runs steps with: one that batches when `executor`
 * can, shared by every log replayed with it at once; else `executor`.
 */
export function batching(executor: StepExecutor): ReplayStepExecutor {
  if (!("executeBatch" in executor)) {
    return {
      execute: (execution) => executor.execute(execution),
      logFolded() {},
    };
  }
  const batchExecutor = executor as BatchExecutor;
  let batches = shared.get(batchExecutor);
  if (batches === undefined) {
    batches = new StepBatches(batchExecutor);
    shared.set(batchExecutor, batches);
  }
  return batches;
}
