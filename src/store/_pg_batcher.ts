import { isUnavailable } from "./_pg_driver.ts";

/** One write waiting for its batch; `key` names what it changes. */
export interface Pending<T> {
  key: string;
  write: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Options of `PgBatcher`. */
export interface PgBatcherOptions {
  /** Batches sent at once (default 2): one executes while the next forms. */
  inflightMax?: number;
  /** Writes in one batch at most (default 256). */
  writesMax?: number;
}

/**
 * Group commit for PostgreSQL writes. A write made while fewer than
 * `inflightMax` batches are at the database goes at once, alone (no wait for
 * company); writes made meanwhile form the next batch, which `commit` sends
 * as one statement, so one transaction and one WAL flush for all of them.
 * One write per key is at the database at a time: a second write of a key
 * waits until the first's batch is done, so writes of one key land in the
 * order they were made and each sees the one before.
 *
 * `commit` settles every write of the batch it is given (resolve or reject
 * each); it must not throw.
 */
export class PgBatcher<T> {
  readonly #commit: (batch: Pending<T>[]) => Promise<void>;
  readonly #inflightMax: number;
  readonly #writesMax: number;
  #queue: Pending<T>[] = [];
  #inflight = 0;
  /** Keys with a write at the database. */
  readonly #busy = new Set<string>();

  constructor(
    commit: (batch: Pending<T>[]) => Promise<void>,
    options: PgBatcherOptions = {},
  ) {
    this.#commit = commit;
    this.#inflightMax = options.inflightMax ?? 2;
    this.#writesMax = options.writesMax ?? 256;
  }

  /** Resolves once `write` has committed with its batch. */
  submit(key: string, write: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ key, write, resolve, reject });
      this.#send();
    });
  }

  #send(): void {
    while (this.#inflight < this.#inflightMax && this.#queue.length > 0) {
      const batch = this.#take();
      if (batch.length === 0) return;
      for (const pending of batch) this.#busy.add(pending.key);
      this.#inflight++;
      this.#commit(batch).finally(() => {
        for (const pending of batch) this.#busy.delete(pending.key);
        this.#inflight--;
        this.#send();
      });
    }
  }

  /** Queued writes in order, up to the cap, one per key, none of a busy key. */
  #take(): Pending<T>[] {
    const batch: Pending<T>[] = [];
    const seen = new Set<string>();
    const rest: Pending<T>[] = [];
    for (const pending of this.#queue) {
      const free = !seen.has(pending.key) && !this.#busy.has(pending.key);
      // A key skipped once stays skipped, so its writes keep their order.
      seen.add(pending.key);
      if (batch.length < this.#writesMax && free) batch.push(pending);
      else rest.push(pending);
    }
    this.#queue = rest;
    return batch;
  }
}

/**
 * Sends a batch's writes as one statement (`many`) and gives its result for
 * the caller to settle them by. When the batch is settled here instead, the
 * answer is undefined: a batch of one goes `alone`; a database that cannot
 * be reached fails every write; a statement error wrote nothing, so each
 * write goes `alone` to find out whether the error is its own, and fails no
 * other.
 */
export async function sendTogether<T, R>(
  batch: Pending<T>[],
  many: () => Promise<R>,
  alone: (pending: Pending<T>) => Promise<void>,
): Promise<R | undefined> {
  if (batch.length === 1) {
    await alone(batch[0]!);
    return undefined;
  }
  try {
    return await many();
  } catch (error) {
    if (isUnavailable(error)) {
      for (const pending of batch) pending.reject(error);
    } else {
      await Promise.all(batch.map(alone));
    }
    return undefined;
  }
}
