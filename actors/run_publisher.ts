import type { LogMark, LogRecord } from "../src/store/mod.ts";
import type { RunState } from "./run_state.ts";
import type { RunLogStore } from "./run_store.ts";

/** An appended batch waiting to be told to observers. */
interface Publication {
  records: readonly LogRecord[];
  state: RunState;
}

/** What a `RunPublisher` needs. */
export interface RunPublisherOptions {
  store: Pick<RunLogStore, "syncBarrier" | "whenDurable" | "durability">;
  /** Told about every batch once it is durable, in log order. */
  onRecords: (records: readonly LogRecord[], state: RunState) => void;
  /** True while someone follows the run's records now: a barrier then makes them durable at once. */
  observed: () => boolean;
  /** The run's last appended record, for the barrier to check. */
  mark: () => LogMark;
  /** Told when a batch may have been lost (the run must restart from its log). */
  onLost: (error: unknown) => void;
}

/**
 * Tells a run's observers of its records once they are durable, in log
 * order. A batch appended without waiting for the disk waits for the store's
 * durable watermark: without causing a sync (the run's next durable append,
 * its end at the latest, makes it durable), or with a barrier when someone
 * follows the run now. A durable append makes every earlier append of the
 * run durable too (the store's log is synced as a whole), so it publishes
 * them all at once, before itself.
 */
export class RunPublisher {
  readonly #options: RunPublisherOptions;
  readonly #unpublished: Publication[] = [];

  constructor(options: RunPublisherOptions) {
    this.#options = options;
  }

  /** `records` were appended (and are durable when `durable`). */
  appended(
    records: readonly LogRecord[],
    state: RunState,
    durable: boolean,
  ): void {
    if (durable) {
      this.#publishUpTo(undefined);
      this.#options.onRecords(records, state);
      return;
    }
    const entry: Publication = { records, state };
    this.#unpublished.push(entry);
    const { store, observed, mark } = this.#options;
    const durableSoon = observed()
      ? store.syncBarrier(mark())
      : store.whenDurable(store.durability().committed);
    durableSoon.then(
      () => this.#publishUpTo(entry),
      (error) => {
        // The records may be lost: nobody hears of them, and the run
        // restarts from what its log holds.
        this.#unpublished.length = 0;
        this.#options.onLost(error);
      },
    );
  }

  /** Publishes the unpublished batches up to `last` (all when undefined). */
  #publishUpTo(last: Publication | undefined): void {
    if (last !== undefined && !this.#unpublished.includes(last)) return;
    while (this.#unpublished.length > 0) {
      const entry = this.#unpublished.shift()!;
      this.#options.onRecords(entry.records, entry.state);
      if (entry === last) return;
    }
  }
}
