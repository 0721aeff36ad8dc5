import { RUNNABLE_CHANNEL } from "./_pg_listener.ts";
import { type PgRowQuery, prepared } from "./_pg_driver.ts";
import type { Lease, LeaseTiming } from "./store.ts";

// Two index walks (runs_claimable, runs_by_wake), each skipping rows
// another claimer locked: parked runs not due are never read.
const CLAIM = prepared(
  "aos_lease_claim",
  `WITH free AS (
     SELECT run_id, created_at FROM runs
     WHERE status IN ('running', 'paused') AND NOT parked
       AND lease_owner <> $1
       AND (lease_owner = '' OR lease_expires_at <= $2)
     ORDER BY created_at, run_id
     LIMIT $3
     FOR UPDATE SKIP LOCKED
   ), due AS (
     SELECT run_id, created_at FROM runs
     WHERE parked AND wake_at <= $5 AND status IN ('running', 'paused')
     ORDER BY wake_at
     LIMIT $3
     FOR UPDATE SKIP LOCKED
   ), picked AS (
     SELECT run_id FROM (SELECT * FROM free UNION ALL SELECT * FROM due) AS candidates
     ORDER BY created_at, run_id
     LIMIT $3
   )
   UPDATE runs SET lease_owner = $1, lease_epoch = runs.lease_epoch + 1,
     lease_expires_at = $4, parked = false, wake_at = NULL
   FROM picked WHERE runs.run_id = picked.run_id
   RETURNING runs.run_id, runs.lease_epoch, runs.created_at`,
);

// Rows are locked in run id order first, as batched appends lock them, so
// a renewal and a batch never deadlock. The runs are named by an array
// (= ANY) rather than only joined, so a plan made while the table was small
// still looks them up in its primary key once it is large.
const RENEW = prepared(
  "aos_lease_renew",
  `WITH held AS (
     SELECT * FROM unnest($2::text[], $3::bigint[]) AS h (run_id, epoch)
   ), locked AS MATERIALIZED (
     SELECT runs.run_id FROM runs WHERE runs.run_id = ANY ($2::text[])
     ORDER BY runs.run_id FOR UPDATE OF runs
   )
   UPDATE runs SET lease_expires_at = $1
   FROM held JOIN locked ON locked.run_id = held.run_id
   WHERE runs.run_id = held.run_id AND runs.run_id = ANY ($2::text[])
     AND runs.lease_epoch = held.epoch
     AND runs.lease_owner = $4
   RETURNING runs.run_id, runs.lease_epoch`,
);

const PENDING_CANCELS = prepared(
  "aos_pending_cancels",
  `SELECT run_id, cancel_reason FROM runs
   WHERE lease_owner = $1 AND status IN ('running', 'paused')
     AND cancel_reason IS NOT NULL
   ORDER BY created_at, run_id`,
);

const RELEASE = prepared(
  "aos_lease_release",
  `WITH released AS (
     UPDATE runs SET lease_owner = '', lease_expires_at = 0
     WHERE run_id = $1 AND lease_epoch = $2 AND lease_owner <> ''
     RETURNING status
   )
   SELECT pg_notify('${RUNNABLE_CHANNEL}', '') FROM released
   WHERE status IN ('running', 'paused')`,
);

/**
 * The lease and cancel-request statements of the PostgreSQL store. Each is
 * one statement, atomic on its own: a claim locks the rows it picks with
 * `FOR UPDATE SKIP LOCKED`, so concurrent claimers skip each other's rows
 * instead of waiting for them, and never get the same run. Statements that
 * make a run claimable (a release of a run still going) or ask its holder
 * to act (a cancel request) NOTIFY the nodes in the same transaction.
 */
export class PgLeases {
  readonly #query: PgRowQuery;

  constructor(query: PgRowQuery) {
    this.#query = query;
  }

  async claim(
    owner: string,
    options: LeaseTiming & { limit: number; wakeNowMs?: number },
  ): Promise<Lease[]> {
    const expiresAt = options.nowMs + options.leaseMs;
    const rows = await this.#query(
      CLAIM([
        owner,
        options.nowMs,
        options.limit,
        expiresAt,
        options.wakeNowMs ?? options.nowMs,
      ]),
    );
    return rows
      .sort((a, b) =>
        Number(a.created_at) - Number(b.created_at) ||
        (String(a.run_id) < String(b.run_id) ? -1 : 1)
      )
      .map((row) => ({
        run_id: String(row.run_id),
        owner,
        epoch: Number(row.lease_epoch),
        expires_at: expiresAt,
      }));
  }

  async claimOne(
    owner: string,
    runId: string,
    timing: LeaseTiming,
  ): Promise<Lease | undefined> {
    const expiresAt = timing.nowMs + timing.leaseMs;
    // One UPDATE: a concurrent claimer's row lock makes this one re-check
    // the lease after it commits, so only one of them gets the run.
    const [row] = await this.#query(
      `UPDATE runs SET lease_owner = $2, lease_epoch = lease_epoch + 1,
         lease_expires_at = $4, parked = false, wake_at = NULL
       WHERE run_id = $1 AND status IN ('running', 'paused')
         AND lease_owner <> $2 AND (lease_owner = '' OR lease_expires_at <= $3)
       RETURNING lease_epoch`,
      [runId, owner, timing.nowMs, expiresAt],
    );
    if (row === undefined) return undefined;
    return {
      run_id: runId,
      owner,
      epoch: Number(row.lease_epoch),
      expires_at: expiresAt,
    };
  }

  async park(
    lease: { run_id: string; epoch: number },
    wakeAt: number | null,
  ): Promise<boolean> {
    const rows = await this.#query(
      `WITH parked AS (
         UPDATE runs SET lease_owner = '', lease_expires_at = 0,
           lease_epoch = lease_epoch + 1, parked = true, wake_at = $3
         WHERE run_id = $1 AND lease_epoch = $2 AND cancel_reason IS NULL
           AND signals_waiting = 0 AND resume_id IS NULL
           AND status IN ('running', 'paused')
         RETURNING run_id, wake_at
       )
       SELECT run_id,
         CASE WHEN wake_at IS NULL THEN NULL
           ELSE pg_notify('${RUNNABLE_CHANNEL}', '') END AS notified
       FROM parked`,
      [lease.run_id, lease.epoch, wakeAt],
    );
    return rows.length > 0;
  }

  async nextWakeAt(): Promise<number | undefined> {
    const [row] = await this.#query(
      "SELECT MIN(wake_at) AS wake_at FROM runs WHERE parked",
    );
    return row === undefined || row.wake_at === null
      ? undefined
      : Number(row.wake_at);
  }

  async renew(
    owner: string,
    leases: readonly { run_id: string; epoch: number }[],
    timing: LeaseTiming,
  ): Promise<Lease[]> {
    if (leases.length === 0) return [];
    const expiresAt = timing.nowMs + timing.leaseMs;
    const rows = await this.#query(RENEW([
      expiresAt,
      leases.map((lease) => lease.run_id),
      leases.map((lease) => lease.epoch),
      owner,
    ]));
    const renewed = new Set(rows.map((row) => String(row.run_id)));
    return leases.filter((lease) => renewed.has(lease.run_id)).map((
      lease,
    ) => ({
      run_id: lease.run_id,
      epoch: lease.epoch,
      owner,
      expires_at: expiresAt,
    }));
  }

  async release(lease: { run_id: string; epoch: number }): Promise<void> {
    // A run that ended had its lease cleared by its last append: nothing to
    // write then, and nothing for other nodes to claim, so no NOTIFY.
    await this.#query(RELEASE([lease.run_id, lease.epoch]));
  }

  async releaseAll(owner: string): Promise<void> {
    await this.#query(
      `WITH released AS (
         UPDATE runs SET lease_owner = '', lease_expires_at = 0
         WHERE lease_owner = $1 RETURNING run_id
       )
       SELECT pg_notify('${RUNNABLE_CHANNEL}', '')
       WHERE EXISTS (SELECT 1 FROM released)`,
      [owner],
    );
  }

  async get(runId: string): Promise<Lease | undefined> {
    const [row] = await this.#query(
      "SELECT lease_owner, lease_epoch, lease_expires_at FROM runs WHERE run_id = $1",
      [runId],
    );
    if (row === undefined) return undefined;
    return {
      run_id: runId,
      owner: String(row.lease_owner),
      epoch: Number(row.lease_epoch),
      expires_at: Number(row.lease_expires_at),
    };
  }

  async requestCancel(runId: string, reason: string): Promise<boolean> {
    const rows = await this.#query(
      `WITH requested AS (
         UPDATE runs SET cancel_reason = $2, parked = false
         WHERE run_id = $1 AND status IN ('running', 'paused') RETURNING run_id
       )
       SELECT run_id, pg_notify('${RUNNABLE_CHANNEL}', '') FROM requested`,
      [runId, reason],
    );
    return rows.length > 0;
  }

  async pendingCancels(
    owner: string,
  ): Promise<{ run_id: string; reason: string }[]> {
    const rows = await this.#query(PENDING_CANCELS([owner]));
    return rows.map((row) => ({
      run_id: String(row.run_id),
      reason: String(row.cancel_reason),
    }));
  }
}
