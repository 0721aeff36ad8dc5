import type { DatabaseSync, StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import { AosError } from "../errors/mod.ts";

interface PendingWrite {
  work: () => unknown;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
  /** False: resolves at commit, without waiting for the sync. */
  durable: boolean;
  /** False: runs without a savepoint of its own (see `GroupWriteOptions`). */
  savepoint: boolean;
  result?: unknown;
}

/** Options of one `GroupCommit.submit`. */
export interface GroupWriteOptions {
  /**
   * False: resolve once the group's transaction committed (visible to every
   * reader), without waiting for the sync. Only for a write that nothing
   * acts on outside the process before a later durable write of the same
   * connection resolves (that write's sync covers this one: the WAL is
   * synced as a whole), or whose loss in a crash is repaired from what is
   * durable. Default true.
   */
  durable?: boolean;
  /**
   * False: the work runs without a savepoint of its own, which saves two
   * statements. Only for work that, when it refuses, throws before its
   * first write: a single statement, or a conditional write first whose
   * refusal changes nothing, after which nothing is expected to fail.
   * Should such work throw anyway (an I/O error half-way, say), the group
   * cannot undo it alone: it rolls back whole and runs again with every
   * write in a savepoint. Default true.
   */
  savepoint?: boolean;
}

/**
 * Rows the writes of a group leave to be inserted together, in a few
 * multi-row statements, just before the group commits (instead of a
 * statement or more per write).
 */
export interface DeferredRows {
  /**
   * A transaction starts; forgets rows left by one that failed. With
   * `deferring` false (the run again with savepoints) writes insert their
   * rows at once, so a row that fails fails its own write.
   */
  begin(deferring: boolean): void;
  /** Rows waiting: a write rolled back to its savepoint drops those it added. */
  mark(): number;
  truncate(mark: number): void;
  /** Inserts the rows waiting, inside the transaction. */
  flush(): void;
}

/** Options of `GroupCommit`. */
export interface GroupCommitOptions {
  /** Rows the writes defer to the end of their group. */
  deferred?: DeferredRows;
  /**
   * Makes every commit so far durable (an `fdatasync` of the WAL file, run
   * off the JavaScript thread). The connection then runs with
   * `synchronous=NORMAL` (its commits do not sync), so every write of it
   * must go through the group, or be followed by `drain()`, to be durable
   * when it resolves. Undefined: writes resolve at commit, durable only as
   * far as the connection's `synchronous` setting makes them.
   */
  sync?: () => Promise<void>;
  /**
   * Checkpoints the WAL (copies its pages into the database file) off the
   * JavaScript thread. The group asks for one after every
   * `checkpointEveryCommits` commits and commits nothing while it runs (its
   * writes wait, the thread does not), so it ends with every frame copied
   * and the next commit starts the WAL over instead of growing it.
   * Undefined: SQLite checkpoints inside a COMMIT, as the connection says.
   */
  checkpoint?: () => Promise<void>;
  /**
   * Called after each commit of the second half of the way to a checkpoint
   * (and the checkpoint's own), so that a checkpointer can have its thread
   * ready by then.
   */
  prepareCheckpoint?: () => void;
  /** Default 64 (about 1,000 WAL pages under load). */
  checkpointEveryCommits?: number;
}

/**
 * Group commit for one SQLite connection in WAL mode. Writes submitted
 * during one turn of the event loop (from any number of run actors and
 * requests) go into a single transaction. With `sync`, that transaction
 * commits without waiting for the disk and its writes wait for the next
 * `sync` instead: one `fdatasync` of the WAL at a time, shared by every
 * transaction committed before it started. This is what `synchronous=FULL`
 * does at each commit, only off the JavaScript thread and once per group,
 * so a write's promise still resolves only when it is on disk.
 *
 * Each write runs inside a savepoint: one that throws (a sequence conflict,
 * say) is rolled back alone and rejected with its error, and the others
 * commit. A write that needs none says so (`savepoint: false`). A failed
 * commit or sync rejects every write it carried. The work of a write is
 * statements of this connection only: a group may run it twice.
 */
export class GroupCommit {
  readonly #db: DatabaseSync;
  readonly #sync: (() => Promise<void>) | undefined;
  readonly #begin: StatementSync;
  readonly #commitStatement: StatementSync;
  readonly #savepoint: StatementSync;
  readonly #release: StatementSync;
  readonly #rollbackTo: StatementSync;
  #queue: PendingWrite[] = [];
  #scheduled = false;
  /** Committed writes (and barriers) waiting for the next sync. */
  #committed: PendingWrite[] = [];
  #syncing = false;
  /** Transactions committed so far, and how many of them are known durable. */
  #committedCount = 0;
  #durableCount = 0;
  #syncCount = 0;
  /**
   * Set when a sync failed: the kernel may have dropped the pages it could
   * not write, so a later sync that succeeds proves nothing about them. The
   * store is broken from then on (as PostgreSQL panics on a failed fsync).
   */
  #syncFailure: AosError | undefined;
  /** Barriers waiting until `target` transactions are durable. */
  #barriers: {
    target: number;
    resolve: () => void;
    reject: (e: unknown) => void;
    /** Waits for a sync without asking for one. */
    passive?: boolean;
  }[] = [];
  readonly #checkpoint: (() => Promise<void>) | undefined;
  readonly #prepareCheckpoint: (() => void) | undefined;
  readonly #deferred: DeferredRows | undefined;
  readonly #checkpointEveryCommits: number;
  #commitsSinceCheckpoint = 0;
  /** The checkpoint under way; nothing commits until it ends. */
  #checkpointing: Promise<void> | undefined;

  constructor(db: DatabaseSync, options: GroupCommitOptions = {}) {
    this.#db = db;
    this.#sync = options.sync;
    this.#checkpoint = options.checkpoint;
    this.#prepareCheckpoint = options.prepareCheckpoint;
    this.#deferred = options.deferred;
    this.#checkpointEveryCommits = options.checkpointEveryCommits ?? 64;
    this.#begin = db.prepare("BEGIN IMMEDIATE");
    this.#commitStatement = db.prepare("COMMIT");
    this.#savepoint = db.prepare("SAVEPOINT group_write");
    this.#release = db.prepare("RELEASE group_write");
    this.#rollbackTo = db.prepare("ROLLBACK TO group_write");
  }

  /**
   * Runs `work` in the next group; resolves with its result once committed
   * (and synced, with `sync`).
   */
  submit<T>(work: () => T, options: GroupWriteOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({
        work,
        resolve: resolve as (result: unknown) => void,
        reject,
        durable: options.durable ?? true,
        savepoint: options.savepoint ?? true,
      });
      if (this.#scheduled) return;
      this.#scheduled = true;
      // After the I/O callbacks of this turn, so that every write they
      // caused joins the group; a lone write waits only microseconds.
      setImmediate(() => this.flush());
    });
  }

  /** Commits whatever is queued now (also called before the database closes). */
  flush(): void {
    this.#scheduled = false;
    // Flushed when the checkpoint ends.
    if (this.#checkpointing !== undefined) return;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    let failures: Map<PendingWrite, unknown> | undefined;
    try {
      failures = this.#commit(batch);
    } catch (error) {
      // The connection itself failed (closed, say): nothing was committed,
      // and the writers hear it instead of the process.
      for (const write of batch) write.reject(error);
      return;
    }
    if (failures === undefined) return;
    this.#committedCount++;
    if (this.#sync === undefined) this.#durableCount = this.#committedCount;
    this.#checkpointAfterCommit();
    for (const write of batch) {
      if (failures.has(write)) write.reject(failures.get(write));
      else if (this.#sync === undefined || !write.durable) {
        write.resolve(write.result);
      } else this.#committed.push(write);
    }
    this.#startSync();
  }

  /**
   * The barrier: resolves once every write committed so far (those answered
   * at commit included) is durable. Costs nothing when they already are;
   * otherwise it waits for the first sync that starts after this call.
   */
  async drain(): Promise<void> {
    await this.#checkpointing;
    this.flush();
    if (this.#syncFailure !== undefined) throw this.#syncFailure;
    if (this.#durableCount >= this.#committedCount) return;
    const target = this.#committedCount;
    await new Promise<void>((resolve, reject) => {
      this.#barriers.push({ target, resolve, reject });
      this.#startSync();
    });
  }

  /**
   * Resolves once the first `committed` transactions are durable, without
   * starting a sync: the next durable write's or barrier's sync does.
   */
  whenDurable(committed: number): Promise<void> {
    if (this.#syncFailure !== undefined) {
      return Promise.reject(this.#syncFailure);
    }
    if (this.#durableCount >= committed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#barriers.push({
        target: committed,
        resolve,
        reject,
        passive: true,
      });
    });
  }

  /**
   * Transactions committed, and how many of them are known to be on disk
   * (`durable`; equal to `committed` when nothing waits for a sync), and
   * how many syncs ran.
   */
  watermark(): { committed: number; durable: number; syncs: number } {
    return {
      committed: this.#committedCount,
      durable: this.#durableCount,
      syncs: this.#syncCount,
    };
  }

  /** One transaction over `batch`; the writes that failed alone, or undefined when all failed. */
  #commit(batch: PendingWrite[]): Map<PendingWrite, unknown> | undefined {
    let failures = this.#transaction(batch, false);
    // A write without a savepoint threw: what it wrote before throwing
    // cannot be undone alone, so the whole group runs again, each write in
    // a savepoint this time.
    if (failures === "retry") failures = this.#transaction(batch, true);
    return failures === "retry" ? undefined : failures;
  }

  #transaction(
    batch: PendingWrite[],
    savepoints: boolean,
  ): Map<PendingWrite, unknown> | undefined | "retry" {
    try {
      this.#begin.run();
    } catch (error) {
      const busy = new AosError("STORE_UNAVAILABLE", "the store is busy", {
        cause: error,
      });
      for (const write of batch) write.reject(busy);
      return undefined;
    }
    const failures = new Map<PendingWrite, unknown>();
    this.#deferred?.begin(!savepoints);
    for (const write of batch) {
      if (!savepoints && !write.savepoint) {
        try {
          write.result = write.work();
        } catch {
          if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
          return "retry";
        }
        continue;
      }
      const mark = this.#deferred?.mark() ?? 0;
      this.#savepoint.run();
      try {
        write.result = write.work();
        this.#release.run();
      } catch (error) {
        this.#rollbackTo.run();
        this.#release.run();
        this.#deferred?.truncate(mark);
        failures.set(write, error);
      }
    }
    if (!savepoints && this.#deferred !== undefined) {
      // Rows refused here cannot be told apart: the group runs again, each
      // write in a savepoint inserting its own rows.
      try {
        this.#deferred.flush();
      } catch {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        return "retry";
      }
    }
    try {
      this.#commitStatement.run();
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      const failed = new AosError(
        "STORE_UNAVAILABLE",
        "the store could not commit",
        { cause: error },
      );
      for (const write of batch) write.reject(failed);
      return undefined;
    }
    return failures;
  }

  #checkpointAfterCommit(): void {
    if (this.#checkpoint === undefined) return;
    this.#commitsSinceCheckpoint++;
    if (this.#commitsSinceCheckpoint * 2 >= this.#checkpointEveryCommits) {
      this.#prepareCheckpoint?.();
    }
    if (this.#commitsSinceCheckpoint < this.#checkpointEveryCommits) return;
    this.#commitsSinceCheckpoint = 0;
    this.#checkpointing = this.#checkpoint().catch(() => {}).finally(() => {
      this.#checkpointing = undefined;
      this.flush();
    });
  }

  #startSync(): void {
    if (this.#syncing) return;
    if (
      this.#committed.length === 0 &&
      !this.#barriers.some((barrier) =>
        !barrier.passive && barrier.target > this.#durableCount
      )
    ) return;
    const batch = this.#committed;
    this.#committed = [];
    if (this.#syncFailure !== undefined) {
      for (const write of batch) write.reject(this.#syncFailure);
      for (const barrier of this.#barriers.splice(0)) {
        barrier.reject(this.#syncFailure);
      }
      return;
    }
    // Everything committed before the sync starts is covered by it.
    const covered = this.#committedCount;
    this.#syncing = true;
    this.#syncCount++;
    this.#sync!().then(
      () => {
        this.#durableCount = Math.max(this.#durableCount, covered);
        for (const write of batch) write.resolve(write.result);
        const waiting = this.#barriers;
        this.#barriers = [];
        for (const barrier of waiting) {
          if (barrier.target <= this.#durableCount) barrier.resolve();
          else this.#barriers.push(barrier);
        }
      },
      (error) => {
        this.#syncFailure = new AosError(
          "STORE_UNAVAILABLE",
          "the store could not sync its log to disk",
          { cause: error },
        );
        for (const write of batch) write.reject(this.#syncFailure);
        for (const barrier of this.#barriers.splice(0)) {
          barrier.reject(this.#syncFailure);
        }
      },
    ).finally(() => {
      this.#syncing = false;
      this.#startSync();
    });
  }
}
