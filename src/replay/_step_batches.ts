// Replay re-executes many short steps, and most of what one costs the
// JavaScript thread is the hand-off to a worker and back. The executions
// asked for within one turn of this thread (a run's steps as its fold meets
// them, and those of other runs being folded meanwhile) go to the sandbox
// together, which runs those of one module in one hand-off.
import type {
  StepExecution,
  StepExecutor,
  StepOutcome,
} from "../../actors/run_actor.ts";

/** An executor that can also run several executions at once. */
export interface BatchExecutor extends StepExecutor {
  /** The outcomes `execute` would give, in order. */
  executeBatch(executions: readonly StepExecution[]): Promise<StepOutcome[]>;
}

interface Pending {
  execution: StepExecution;
  resolve: (outcome: StepOutcome) => void;
  reject: (error: unknown) => void;
}

/** Collects executions until the current turn's microtasks are done. */
class StepBatches implements StepExecutor {
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

  #flush(): void {
    const batch = this.#pending;
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
export function batching(executor: StepExecutor): StepExecutor {
  if (!("executeBatch" in executor)) return executor;
  const batchExecutor = executor as BatchExecutor;
  let batches = shared.get(batchExecutor);
  if (batches === undefined) {
    batches = new StepBatches(batchExecutor);
    shared.set(batchExecutor, batches);
  }
  return batches;
}
