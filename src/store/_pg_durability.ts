import { AosError } from "../errors/mod.ts";
import type { DurabilityWatermark } from "./store.ts";

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The PostgreSQL store's durability watermark, kept by the node. A write
 * committed with `synchronous_commit = off` counts as committed; a commit
 * that waited for its WAL flush makes durable every commit acknowledged
 * before it was sent (the WAL is flushed in order, and an acknowledged
 * commit's record precedes that of any transaction started after it).
 *
 * A database that restarts loses the commits not yet flushed, while the
 * node goes on: when a connection is lost, the commits not known durable
 * are taken as lost, and every wait on them fails, so the run actors that
 * made them restart from what the log holds.
 */
export class PgDurability {
  #committed = 0;
  #durable = 0;
  #syncs = 0;
  /** Commits in (lostFrom, lostThrough] may be gone. */
  #lostFrom = 0;
  #lostThrough = 0;
  #waiters: Waiter[] = [];

  /** The commits a write sent now covers once it is durable. */
  covering(): number {
    return this.#committed;
  }

  /** A commit that did not wait for its flush was acknowledged. */
  committed(): void {
    this.#committed++;
  }

  /**
   * A commit that waited for its WAL flush was acknowledged; it had been
   * sent when `covered` commits were acknowledged.
   */
  flushed(covered: number): void {
    this.#syncs++;
    if (covered <= this.#durable) return;
    this.#durable = covered;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (waiter.target <= this.#durable) waiter.resolve();
      else this.#waiters.push(waiter);
    }
  }

  /** True when some commit is not known durable. */
  pending(): boolean {
    return this.#durable < this.#committed;
  }

  /** A connection to the database was lost: unflushed commits may be gone. */
  lost(): void {
    if (!this.pending()) return;
    this.#lostFrom = this.#durable;
    this.#lostThrough = this.#committed;
    this.#durable = this.#committed;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) waiter.reject(this.lostError());
  }

  /** Resolves once the first `target` commits are durable, without a flush of its own. */
  whenDurable(target: number): Promise<void> {
    if (this.isLost(target)) return Promise.reject(this.lostError());
    if (target <= this.#durable) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ target, resolve, reject });
    });
  }

  watermark(): DurabilityWatermark {
    return {
      committed: this.#committed,
      durable: this.#durable,
      syncs: this.#syncs,
    };
  }

  /** True when the first `target` commits include some that may be lost. */
  isLost(target: number): boolean {
    return target > this.#lostFrom && target <= this.#lostThrough;
  }

  // A conflict, not unavailability: the writer must reload its log, since
  // retrying would not bring the lost records back.
  lostError(): AosError {
    return new AosError(
      "STORE_SEQUENCE_CONFLICT",
      "the connection to PostgreSQL was lost before commits made without waiting for their flush were flushed; they may be lost, reload the log",
    );
  }
}
