import type { LogRecord } from "../src/store/mod.ts";

/**
 * Who listens to a run's records as this node appends them (event streams
 * that follow a run, waits for a record), by run: telling a record costs a
 * look-up, however many other runs are followed, and a run with a listener
 * is known at once (its records are then made durable without waiting for
 * its next durable write).
 */
export class RecordWatchers {
  readonly #byRun = new Map<string, Set<(record: LogRecord) => void>>();

  /**
   * Calls `listener` with every record of `runId` told from now on; returns
   * the function that stops it (a second call does nothing).
   */
  watch(runId: string, listener: (record: LogRecord) => void): () => void {
    let listeners = this.#byRun.get(runId);
    if (listeners === undefined) {
      listeners = new Set();
      this.#byRun.set(runId, listeners);
    }
    // Its own entry, so that one function can watch twice.
    const entry = (record: LogRecord) => listener(record);
    listeners.add(entry);
    return () => {
      const current = this.#byRun.get(runId);
      if (current === undefined || !current.delete(entry)) return;
      if (current.size === 0) this.#byRun.delete(runId);
    };
  }

  /** True while someone listens to `runId`'s records. */
  watched(runId: string): boolean {
    return this.#byRun.has(runId);
  }

  /** Tells `record` to the listeners of its run. */
  tell(record: LogRecord): void {
    const listeners = this.#byRun.get(record.run_id);
    if (listeners === undefined) return;
    for (const listener of listeners) listener(record);
  }
}
