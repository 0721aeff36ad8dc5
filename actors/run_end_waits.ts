import type { Clock } from "../src/deps/mod.ts";
import { isTerminal, type RunStatus, type Store } from "../src/store/mod.ts";

/** How often a wait on a run held by another node looks at the store. */
export const ELSEWHERE_POLL_MS = 200;

/** What `RunEndWaits` needs from the runtime around it. */
export interface RunEndWaitsDeps {
  store: Pick<Store, "getRun">;
  /** Times each wait's limit. */
  clock: Clock;
  /** Paces the look at runs held elsewhere (the lease clock). */
  pollClock: Clock;
  /** The run's tenant and status when this node holds it or just ended it. */
  known(runId: string): { tenant: string; status: RunStatus } | undefined;
  /** True while this node runs the run's actor (it then tells of its end). */
  holds(runId: string): boolean;
}

/**
 * Clients waiting for runs to end or pause (long polls, a submission with
 * `wait_ms`, a cancel's answer). The runtime wakes a run's waiters when the
 * run's actor records its end or its pause; a run another node holds is
 * looked up in the store every ELSEWHERE_POLL_MS by one poll that serves
 * every wait and runs only while someone waits.
 */
export class RunEndWaits {
  readonly #deps: RunEndWaitsDeps;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** The next look at runs held elsewhere, if armed. */
  #poll: { cancel: () => void } | undefined;
  #closed = false;

  constructor(deps: RunEndWaitsDeps) {
    this.#deps = deps;
  }

  /** Resolves when the run is final or paused, or `timeoutMs` passed, whichever is first. */
  async wait(runId: string, timeoutMs: number): Promise<void> {
    let wake!: () => void;
    const done = new Promise<void>((resolve) => wake = resolve);
    const waiters = this.#waiters.get(runId) ?? new Set();
    waiters.add(wake);
    this.#waiters.set(runId, waiters);
    try {
      // A run held or ended here needs no read: the waiter is registered
      // already, so its end cannot slip between this look and the wait.
      const summary = this.#deps.known(runId) ??
        await this.#deps.store.getRun(runId);
      if (
        summary === undefined || isTerminal(summary.status) ||
        summary.status === "paused"
      ) return;
      const timer = this.#deps.clock.delay(timeoutMs);
      this.#pollElsewhere();
      await Promise.race([done, timer.done]);
      timer.cancel();
    } finally {
      waiters.delete(wake);
      if (waiters.size === 0 && this.#waiters.get(runId) === waiters) {
        this.#waiters.delete(runId);
      }
    }
  }

  /** Wakes the run's waiters (it ended or paused). */
  wake(runId: string): void {
    for (const wake of this.#waiters.get(runId) ?? []) wake();
  }

  /** Stops the poll; waits still under way end by their limits. */
  close(): void {
    this.#closed = true;
    const poll = this.#poll;
    this.#poll = undefined;
    poll?.cancel();
  }

  #pollElsewhere(): void {
    if (this.#poll !== undefined || this.#closed) return;
    const poll = this.#deps.pollClock.delay(ELSEWHERE_POLL_MS);
    this.#poll = poll;
    poll.done.then(async () => {
      if (this.#poll !== poll) return; // cancelled by close
      const elsewhere = [...this.#waiters.keys()].filter((runId) =>
        !this.#deps.holds(runId)
      );
      // A store that fails a read leaves that run's waiters to their
      // limits or to the next look.
      await Promise.allSettled(elsewhere.map(async (runId) => {
        const summary = await this.#deps.store.getRun(runId);
        if (summary !== undefined && isTerminal(summary.status)) {
          this.wake(runId);
        }
      }));
      this.#poll = undefined;
      if (this.#waiters.size > 0) this.#pollElsewhere();
    });
  }
}
