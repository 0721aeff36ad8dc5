import type { StatementSync } from "node:sqlite";
import type { Lease, LeaseTiming } from "./store.ts";

type Row = Record<string, unknown>;

/**
 * The lease statements of the SQLite store, on its cached statements. Every
 * caller runs them inside `BEGIN IMMEDIATE`, which makes each claim and
 * renewal serializable: SQLite has one writer at a time, so the row checks
 * and updates below cannot interleave with another process's.
 */
export class SqliteLeases {
  readonly #statement: (sql: string) => StatementSync;

  constructor(statement: (sql: string) => StatementSync) {
    this.#statement = statement;
  }

  claim(
    owner: string,
    options: LeaseTiming & { limit: number; wakeNowMs?: number },
  ): Lease[] {
    const expiresAt = options.nowMs + options.leaseMs;
    return this.claimable(owner, options).map((runId) =>
      this.#take(owner, runId, expiresAt)
    );
  }

  /**
   * The runs `claim` would take now, oldest first; a read alone, so a pass
   * that finds none needs no write transaction.
   */
  claimable(
    owner: string,
    options: LeaseTiming & { limit: number; wakeNowMs?: number },
  ): string[] {
    // Two index walks: runs not parked (runs_claimable) and parked runs
    // that are due (runs_by_wake); parked runs not due are never read.
    const rows = this.#statement(
      `SELECT run_id FROM (
         SELECT run_id, created_at FROM runs
         WHERE status IN ('running', 'paused') AND parked = 0
           AND lease_owner <> ? AND (lease_owner = '' OR lease_expires_at <= ?)
         UNION ALL
         SELECT run_id, created_at FROM runs
         WHERE parked = 1 AND wake_at <= ? AND status IN ('running', 'paused')
       ) ORDER BY created_at, run_id LIMIT ?`,
    ).all(
      owner,
      options.nowMs,
      options.wakeNowMs ?? options.nowMs,
      options.limit,
    ) as Row[];
    return rows.map((row) => String(row.run_id));
  }

  #take(owner: string, runId: string, expiresAt: number): Lease {
    const claimed = this.#statement(
      `UPDATE runs SET lease_owner = ?, lease_epoch = lease_epoch + 1, lease_expires_at = ?,
         parked = 0, wake_at = NULL
       WHERE run_id = ? RETURNING lease_epoch`,
    ).get(owner, expiresAt, runId) as Row;
    return {
      run_id: runId,
      owner,
      epoch: Number(claimed.lease_epoch),
      expires_at: expiresAt,
    };
  }

  claimOne(
    owner: string,
    runId: string,
    timing: LeaseTiming,
  ): Lease | undefined {
    const row = this.#statement(
      `SELECT run_id FROM runs WHERE run_id = ? AND status IN ('running', 'paused')
         AND lease_owner <> ? AND (lease_owner = '' OR lease_expires_at <= ?)`,
    ).get(runId, owner, timing.nowMs);
    if (row === undefined) return undefined;
    return this.#take(owner, runId, timing.nowMs + timing.leaseMs);
  }

  park(
    lease: { run_id: string; epoch: number },
    wakeAt: number | null,
  ): boolean {
    return this.#statement(
      `UPDATE runs SET lease_owner = '', lease_expires_at = 0,
         lease_epoch = lease_epoch + 1, parked = 1, wake_at = ?
       WHERE run_id = ? AND lease_epoch = ? AND cancel_reason IS NULL
         AND signals_waiting = 0 AND resume_id IS NULL
         AND status IN ('running', 'paused')
       RETURNING run_id`,
    ).get(wakeAt, lease.run_id, lease.epoch) !== undefined;
  }

  nextWakeAt(): number | undefined {
    const row = this.#statement(
      "SELECT MIN(wake_at) AS wake_at FROM runs WHERE parked = 1",
    ).get() as Row;
    return row.wake_at === null ? undefined : Number(row.wake_at);
  }

  renew(
    owner: string,
    leases: readonly { run_id: string; epoch: number }[],
    timing: LeaseTiming,
  ): Lease[] {
    const expiresAt = timing.nowMs + timing.leaseMs;
    const renewed: Lease[] = [];
    for (const lease of leases) {
      const row = this.#statement(
        `UPDATE runs SET lease_expires_at = ?
         WHERE run_id = ? AND lease_owner = ? AND lease_epoch = ? RETURNING run_id`,
      ).get(expiresAt, lease.run_id, owner, lease.epoch);
      if (row !== undefined) {
        renewed.push({ ...lease, owner, expires_at: expiresAt });
      }
    }
    return renewed;
  }

  release(lease: { run_id: string; epoch: number }): void {
    this.#statement(
      `UPDATE runs SET lease_owner = '', lease_expires_at = 0
       WHERE run_id = ? AND lease_epoch = ?`,
    ).run(lease.run_id, lease.epoch);
  }

  releaseAll(owner: string): number {
    // Only unfinished runs can be held (an append that finishes a run drops
    // its lease), and naming them lets the partial index of live runs answer
    // instead of a pass over every run ever stored.
    return Number(
      this.#statement(
        "UPDATE runs SET lease_owner = '', lease_expires_at = 0 WHERE lease_owner = ? AND status IN ('running', 'paused')",
      ).run(owner).changes,
    );
  }

  get(runId: string): Lease | undefined {
    const row = this.#statement(
      "SELECT lease_owner, lease_epoch, lease_expires_at FROM runs WHERE run_id = ?",
    ).get(runId) as Row | undefined;
    if (row === undefined) return undefined;
    return {
      run_id: runId,
      owner: String(row.lease_owner),
      epoch: Number(row.lease_epoch),
      expires_at: Number(row.lease_expires_at),
    };
  }

  requestCancel(runId: string, reason: string): boolean {
    return Number(
      this.#statement(
        "UPDATE runs SET cancel_reason = ?, parked = 0 WHERE run_id = ? AND status IN ('running', 'paused')",
      ).run(reason, runId).changes,
    ) > 0;
  }

  pendingCancels(owner: string): { run_id: string; reason: string }[] {
    const rows = this.#statement(
      `SELECT run_id, cancel_reason FROM runs
       WHERE lease_owner = ? AND status IN ('running', 'paused') AND cancel_reason IS NOT NULL
       ORDER BY created_at, run_id`,
    ).all(owner) as Row[];
    return rows.map((row) => ({
      run_id: String(row.run_id),
      reason: String(row.cancel_reason),
    }));
  }
}
