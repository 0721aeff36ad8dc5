import type { RunState } from "./run_reducer.ts";

/** A run's final state with the hash of its last record. */
export interface EndedRun {
  state: RunState;
  digest: string;
}

/**
 * The final states of the runs that ended most recently on this node, so
 * that the client waiting on a run's end is answered from the state its
 * actor already holds instead of re-reading and re-folding the whole log.
 * An ended run's log never grows again, so an entry cannot go stale; at
 * most `sizeMax` are kept (oldest dropped first), and a run not kept is
 * folded from the store as before.
 */
export class EndedRuns {
  readonly #sizeMax: number;
  readonly #runs = new Map<string, EndedRun>();

  constructor(sizeMax: number) {
    this.#sizeMax = sizeMax;
  }

  /** Keeps `run` as the final state of its run. */
  add(run: EndedRun): void {
    this.#runs.delete(run.state.run_id);
    this.#runs.set(run.state.run_id, run);
    if (this.#runs.size <= this.#sizeMax) return;
    const oldest = this.#runs.keys().next().value;
    if (oldest !== undefined) this.#runs.delete(oldest);
  }

  get(runId: string): EndedRun | undefined {
    return this.#runs.get(runId);
  }

  get size(): number {
    return this.#runs.size;
  }
}
