import { AosError } from "../errors/mod.ts";
import { assertConsecutive, sequenceConflict } from "./_append_checks.ts";
import { skillFromRow, snapshotFromRow, summaryFromRow } from "./_rows.ts";
import { decodeCursor, encodeCursor } from "./_cursor.ts";
import {
  pg,
  type PgNamedQuery,
  type PgPool,
  type PgQueryable,
  type PgRow,
  prepared,
  storeError,
} from "./_pg_driver.ts";
import {
  claimKey,
  completeClaim,
  completeKey,
  releaseKey,
} from "./_pg_idempotency.ts";
import { insertRun } from "./_pg_appends.ts";
import { GrowthStatistics } from "./_pg_statistics.ts";
import { reserveBeforeAppend } from "./_budget_append.ts";
import { PgAppendBatch } from "./_pg_append_batch.ts";
import {
  API_KEYS_CHANNEL,
  RUNNABLE_CHANNEL,
  StoreListener,
} from "./_pg_listener.ts";
import { PgTenants } from "./_pg_tenants.ts";
import type {
  BudgetAnswer,
  BudgetDay,
  BudgetEntry,
  BudgetReservationRequest,
} from "./budget_records.ts";
import type { ApiKeyRecord, TenantRecord } from "./tenant_records.ts";
import { PgLeases } from "./_pg_leases.ts";
import { PgSignalRequests } from "./_pg_signal_requests.ts";
import { PgResumeRequests } from "./_pg_resume_requests.ts";
import { migratePostgres } from "./postgres_migrate.ts";
import { type LogRecord, recordFromLine } from "./record.ts";
import { PgDurability } from "./_pg_durability.ts";
import {
  type AppendOptions,
  type DurabilityWatermark,
  type IdempotencyClaim,
  type IdempotencyEntry,
  isTerminal,
  type Lease,
  type LeaseTiming,
  type LogMark,
  type ResumeRequest,
  type RunListQuery,
  type RunMeta,
  type RunPage,
  type RunSnapshot,
  type RunSummary,
  type SignalRequest,
  type SkillRecord,
  type Store,
} from "./store.ts";

// The store's frequent reads, prepared once per connection.
const READ_LOG = prepared(
  "aos_read_log",
  "SELECT line FROM records WHERE run_id = $1 AND seq >= $2 ORDER BY seq",
);
const GET_RUN = prepared("aos_get_run", "SELECT * FROM runs WHERE run_id = $1");
const COUNT_UNFINISHED = prepared(
  "aos_count_unfinished",
  // Kept by triggers (migration 9): no walk over ended runs' index entries.
  "SELECT COALESCE(SUM(unfinished), 0) AS count FROM run_counts",
);
const GET_SNAPSHOT = prepared(
  "aos_get_snapshot",
  "SELECT * FROM run_snapshots WHERE run_id = $1",
);

// The durability barrier: a transactional WAL message (no table written)
// makes the statement's transaction commit with a flush of the WAL up to
// its commit record (the server's synchronous_commit, on unless an operator
// chose otherwise). Taking an xid alone is not enough: a transaction that
// wrote no WAL commits without waiting for the flush, whatever
// synchronous_commit says. The run's head comes along for a mark to be
// checked against.
const BARRIER = prepared(
  "aos_barrier",
  `SELECT pg_logical_emit_message(true, 'aos_barrier', '') AS xid,
     runs.last_seq, runs.digest,
     runs.lease_epoch
   FROM (SELECT 1) AS one LEFT JOIN runs ON runs.run_id = $1`,
);

function isUnavailableError(error: unknown): boolean {
  return error instanceof AosError && error.code === "STORE_UNAVAILABLE";
}

// A reader's barrier: a flush only when the WAL is written past its flushed
// end (commits made without waiting for their flush, by any node).
const READ_BARRIER = prepared(
  "aos_read_barrier",
  `SELECT CASE WHEN pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn()
     THEN NULL ELSE pg_logical_emit_message(true, 'aos_barrier', '') END
     AS xid`,
);

/** Runs remembered as ended here, awaiting their (no-op) lease release. */
const ENDED_RUNS_MAX = 10_000;

/** Options of `PostgresStore.open`. */
export interface PostgresStoreOptions {
  /** Connections in the pool (default 10). */
  connectionsMax?: number;
  /** Giving up on connecting, or on a free connection (default 5 s). */
  connectTimeoutMs?: number;
  /** Apply pending migrations at open (default true). */
  migrate?: boolean;
}

/**
 * The shared store: PostgreSQL through a pool of node-postgres connections,
 * so several `aos serve` processes can share runs. An append updates the
 * run's index row only when the expected sequence, the previous hash and
 * the fencing epoch all still hold, and inserts its records in the same
 * statement; appends (and budget settlements) of many run actors are
 * committed together (`PgAppendBatch`). Claims take runnable rows with
 * `FOR UPDATE SKIP LOCKED`, so concurrent claimers never wait for nor get
 * the same run; new unheld runs and released leases of runs still going are
 * announced with NOTIFY. A lost connection becomes
 * STORE_UNAVAILABLE and the pool reconnects on the next call.
 */
export class PostgresStore implements Store {
  readonly #pool: PgPool;
  readonly #listener: StoreListener;
  readonly #tenants: PgTenants;
  readonly #leases = new PgLeases((text, values) => this.#query(text, values));
  readonly #signals = new PgSignalRequests((text, values) =>
    this.#query(text, values)
  );
  readonly #resumes = new PgResumeRequests((text, values) =>
    this.#query(text, values)
  );
  readonly #connectionsMax: number;
  readonly #appends: PgAppendBatch;
  readonly #durability = new PgDurability();
  readonly #statistics: GrowthStatistics;
  /** Runs a final append of this store ended, until their lease release. */
  readonly #ended = new Set<string>();
  /** Told at once of the key revocations this store makes. */
  readonly #keysRevoked = new Set<() => void>();

  private constructor(
    pool: PgPool,
    listener: StoreListener,
    connectionsMax: number,
  ) {
    this.#pool = pool;
    this.#listener = listener;
    this.#tenants = new PgTenants({
      query: (text, values) => this.#query(text, values),
      transaction: (work) => this.#transaction(work),
      keysRevoked: () => {
        for (const listener of this.#keysRevoked) listener();
      },
    });
    this.#connectionsMax = connectionsMax;
    this.#appends = new PgAppendBatch(pool, this.#durability);
    this.#statistics = new GrowthStatistics(pool);
    // A connection lost (the server restarted, say) may have taken the
    // commits not flushed yet with it.
    pool.on("error", () => this.#durability.lost());
  }

  /** Connections free to take a query: idle ones plus those not yet opened. */
  poolAvailable(): number {
    return this.#connectionsMax - this.#pool.totalCount + this.#pool.idleCount;
  }

  /** Connects to `url`, migrates (unless told not to) and starts listening. */
  static async open(
    url: string,
    options: PostgresStoreOptions = {},
  ): Promise<PostgresStore> {
    if (options.migrate ?? true) await migratePostgres(url);
    const connectionsMax = options.connectionsMax ?? 10;
    const pool = new pg.Pool({
      connectionString: url,
      max: connectionsMax,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: "aos",
    });
    // An idle connection the server dropped reports here; the pool discards
    // it. Unheard, the error would end the process.
    pool.on("error", () => {});
    const listener = new StoreListener(url);
    try {
      await listener.start();
    } catch (error) {
      await pool.end().catch(() => {});
      throw storeError(error);
    }
    return new PostgresStore(pool, listener, connectionsMax);
  }

  async #query(
    text: string | PgNamedQuery,
    values: unknown[] = [],
  ): Promise<PgRow[]> {
    try {
      // pg lets a values argument replace a named query's own values.
      return (await (typeof text === "string"
        ? this.#pool.query(text, values)
        : this.#pool.query(text))).rows;
    } catch (error) {
      const failure = storeError(error);
      if (isUnavailableError(failure)) this.#durability.lost();
      throw failure;
    }
  }

  async #transaction<T>(work: (client: PgQueryable) => Promise<T>): Promise<T> {
    let client;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw storeError(error);
    }
    // A connection lost between two statements of the transaction reports
    // as an error event on the checked-out client (the pool listens only to
    // idle ones); unheard, it would end the process. The next statement
    // fails with it, which is how the loss reaches the caller.
    let lost: Error | undefined;
    const onError = (error: Error) => lost = error;
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      client.off("error", onError);
      client.release();
      return result;
    } catch (error) {
      const failure = storeError(error);
      const broken = lost !== undefined ||
        (failure instanceof AosError && failure.code === "STORE_UNAVAILABLE");
      if (broken) this.#durability.lost();
      else await client.query("ROLLBACK").catch(() => {});
      client.off("error", onError);
      client.release(broken ? (lost ?? error as Error) : undefined);
      throw failure;
    }
  }

  async createRun(first: LogRecord, meta: RunMeta): Promise<void> {
    if (first.seq !== 0) throw sequenceConflict(first.run_id, 0, first.seq);
    const skills = [...new Set(meta.skills ?? [])];
    // A creation commits with its flush: it covers what was acknowledged before.
    const covering = this.#durability.covering();
    if (meta.idempotency === undefined) {
      try {
        await insertRun(this.#pool, first, meta, skills);
      } catch (error) {
        throw storeError(error);
      }
    } else {
      await this.#transaction(async (client) => {
        await insertRun(client, first, meta, skills);
        await completeKey(client, first.run_id, meta);
      });
    }
    this.#durability.flushed(covering);
    this.#statistics.created();
  }

  claimIdempotencyKey(
    claim: IdempotencyClaim,
  ): Promise<{ claimed: true } | { claimed: false; entry: IdempotencyEntry }> {
    return this.#transaction((client) => claimKey(client, claim));
  }

  async completeIdempotencyKey(
    completion: Parameters<Store["completeIdempotencyKey"]>[0],
  ): Promise<void> {
    try {
      await completeClaim(this.#pool, completion);
    } catch (error) {
      throw storeError(error);
    }
  }

  async releaseIdempotencyKey(
    tenant: string,
    key: string,
    fingerprint: string,
  ): Promise<void> {
    try {
      await releaseKey(this.#pool, tenant, key, fingerprint);
    } catch (error) {
      throw storeError(error);
    }
  }

  async append(
    records: readonly LogRecord[],
    options: AppendOptions = {},
  ): Promise<void> {
    const first = assertConsecutive(records);
    // A reservation of cents queues on its tenant's day row: it is made
    // first, by the reservation's own statement. One of zero cents (a step
    // without a cost) goes in the append's statement.
    const reservation = options.reservation;
    if (reservation !== undefined && reservation.cents !== 0) {
      await reserveBeforeAppend(this, reservation);
      const { reservation: _made, ...rest } = options;
      options = rest;
    }
    // Charges without a reservation are rare (a step without an estimate
    // that reports a cost): each is booked before the append, on its own.
    if (options.charges !== undefined) {
      for (const charge of options.charges) {
        await this.#tenants.bookCharge(charge);
      }
      const { charges: _booked, ...rest } = options;
      options = rest;
    }
    try {
      await this.#appends.append(records, options);
    } catch (error) {
      const failure = storeError(error);
      if (isUnavailableError(failure)) this.#durability.lost();
      throw failure;
    }
    if (options.status !== undefined && isTerminal(options.status)) {
      this.#ended.add(first.run_id);
      // Bounded: a run's release normally follows its end at once.
      if (this.#ended.size > ENDED_RUNS_MAX) {
        this.#ended.delete(this.#ended.values().next().value!);
      }
    }
  }
  /**
   * With a mark (a run actor's barrier): flushes when this node has commits
   * not known durable, and checks the mark. Without one (a reader about to
   * show what it read): flushes when the database's WAL is not flushed as
   * far as it is written, which covers commits other nodes made too.
   */
  async syncBarrier(mark?: LogMark): Promise<void> {
    const durability = this.#durability;
    const target = durability.covering();
    // After a lost connection the mark decides (what a reader reads is in
    // the database as it is now, and its barrier covers it all).
    if (
      mark !== undefined && !durability.pending() && !durability.isLost(target)
    ) return;
    let row: PgRow | undefined;
    try {
      row = (await this.#pool.query(
        mark === undefined ? READ_BARRIER([]) : BARRIER([mark.run_id]),
      )).rows[0];
    } catch (error) {
      const failure = storeError(error);
      if (isUnavailableError(failure)) durability.lost();
      throw failure;
    }
    if (row?.xid !== null && row?.xid !== undefined) durability.flushed(target);
    if (mark === undefined) return;
    const lastSeq = Number(row?.last_seq ?? -1);
    const holds = row !== undefined &&
      (lastSeq > mark.seq
        ? mark.epoch === undefined || Number(row.lease_epoch) === mark.epoch
        : lastSeq === mark.seq && row.digest === mark.hash);
    if (!holds) throw sequenceConflict(mark.run_id, lastSeq + 1, mark.seq);
  }

  whenDurable(committed: number): Promise<void> {
    return this.#durability.whenDurable(committed);
  }

  durability(): DurabilityWatermark {
    return this.#durability.watermark();
  }

  async readLog(
    runId: string,
    options: { fromSeq?: number } = {},
  ): Promise<LogRecord[]> {
    const rows = await this.#query(READ_LOG([runId, options.fromSeq ?? 0]));
    return rows.map((row) => recordFromLine(String(row.line), `run ${runId}`));
  }

  async getRun(runId: string): Promise<RunSummary | undefined> {
    const [row] = await this.#query(GET_RUN([runId]));
    return row === undefined ? undefined : summaryFromRow(row);
  }

  async listRuns(query: RunListQuery): Promise<RunPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (query.tenant !== undefined) {
      where.push(`tenant = ${param(query.tenant)}`);
    }
    if (query.status !== undefined) {
      where.push(`status = ${param(query.status)}`);
    }
    if (query.skill !== undefined) {
      where.push(
        `run_id IN (SELECT run_id FROM run_skills WHERE skill = ${
          param(query.skill)
        })`,
      );
    }
    if (query.createdFromMs !== undefined) {
      where.push(`created_at >= ${param(query.createdFromMs)}`);
    }
    if (query.createdBeforeMs !== undefined) {
      where.push(`created_at < ${param(query.createdBeforeMs)}`);
    }
    if (query.cursor !== undefined) {
      const cursor = decodeCursor(query.cursor);
      where.push(
        `(created_at, run_id) < (${param(cursor.createdAt)}, ${
          param(cursor.runId)
        })`,
      );
    }
    const rows = await this.#query(
      `SELECT * FROM runs ${
        where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""
      } ORDER BY created_at DESC, run_id DESC LIMIT ${param(query.limit + 1)}`,
      params,
    );
    const runs = rows.slice(0, query.limit).map(summaryFromRow);
    const lastRun = runs[runs.length - 1];
    const more = rows.length > query.limit && lastRun !== undefined;
    return {
      runs,
      next_cursor: more
        ? encodeCursor(lastRun.created_at, lastRun.run_id)
        : null,
    };
  }

  async countUnfinishedRuns(): Promise<number> {
    const [row] = await this.#query(COUNT_UNFINISHED([]));
    return Number(row?.count ?? 0);
  }

  async listUnfinishedRuns(): Promise<string[]> {
    const rows = await this.#query(
      "SELECT run_id FROM runs WHERE status IN ('running', 'paused') ORDER BY created_at, run_id",
    );
    return rows.map((row) => String(row.run_id));
  }

  claimRuns(
    owner: string,
    options: LeaseTiming & { limit: number; wakeNowMs?: number },
  ): Promise<Lease[]> {
    return this.#leases.claim(owner, options);
  }

  claimRun(
    owner: string,
    runId: string,
    timing: LeaseTiming,
  ): Promise<Lease | undefined> {
    return this.#leases.claimOne(owner, runId, timing);
  }

  async parkRun(
    lease: { run_id: string; epoch: number },
    options: { wakeAt: number | null },
  ): Promise<boolean> {
    // A park that changed the row committed with its flush, which covers
    // the parked run's continuations acknowledged before it.
    const covering = this.#durability.covering();
    const parked = await this.#leases.park(lease, options.wakeAt);
    if (parked) this.#durability.flushed(covering);
    return parked;
  }

  nextWakeAt(): Promise<number | undefined> {
    return this.#leases.nextWakeAt();
  }

  renewLeases(
    owner: string,
    leases: readonly { run_id: string; epoch: number }[],
    timing: LeaseTiming,
  ): Promise<Lease[]> {
    return this.#leases.renew(owner, leases, timing);
  }

  releaseLease(lease: { run_id: string; epoch: number }): Promise<void> {
    // The append that ended the run here cleared its lease, and a finished
    // run is never claimed again: there is nothing left to release.
    if (this.#ended.delete(lease.run_id)) return Promise.resolve();
    return this.#leases.release(lease);
  }

  releaseLeases(owner: string): Promise<void> {
    return this.#leases.releaseAll(owner);
  }

  getLease(runId: string): Promise<Lease | undefined> {
    return this.#leases.get(runId);
  }

  requestCancel(runId: string, reason: string): Promise<boolean> {
    return this.#leases.requestCancel(runId, reason);
  }

  pendingCancels(owner: string): Promise<{ run_id: string; reason: string }[]> {
    return this.#leases.pendingCancels(owner);
  }

  requestSignal(request: SignalRequest): Promise<boolean> {
    return this.#signals.request(request);
  }

  pendingSignals(owner: string): Promise<SignalRequest[]> {
    return this.#signals.pending(owner);
  }

  waitingSignals(runId: string): Promise<SignalRequest[]> {
    return this.#signals.of(runId);
  }

  signalRequestWaiting(id: string): Promise<boolean> {
    return this.#signals.waiting(id);
  }

  requestResume(request: ResumeRequest): Promise<boolean> {
    return this.#resumes.request(request);
  }

  pendingResumes(owner: string): Promise<ResumeRequest[]> {
    return this.#resumes.pending(owner);
  }

  resumeRequestWaiting(runId: string, id: string): Promise<boolean> {
    return this.#resumes.waiting(runId, id);
  }

  dropResumeRequest(runId: string, id: string): Promise<boolean> {
    return this.#resumes.drop(runId, id);
  }

  dropSignalRequest(id: string): Promise<boolean> {
    return this.#signals.drop(id);
  }

  onRunnable(listener: () => void): () => void {
    return this.#listener.add(RUNNABLE_CHANNEL, listener);
  }

  onApiKeysRevoked(listener: () => void): () => void {
    const once = () => listener();
    this.#keysRevoked.add(once);
    const stop = this.#listener.add(API_KEYS_CHANNEL, once);
    return () => {
      this.#keysRevoked.delete(once);
      stop();
    };
  }

  async putModule(sha256: string, bytes: Uint8Array): Promise<void> {
    await this.#query(
      "INSERT INTO skill_modules (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING",
      [sha256, bytes],
    );
  }

  async getModule(sha256: string): Promise<Uint8Array | undefined> {
    const [row] = await this.#query(
      "SELECT bytes FROM skill_modules WHERE sha256 = $1",
      [sha256],
    );
    return row === undefined
      ? undefined
      : new Uint8Array(row.bytes as Uint8Array);
  }

  async putSkill(skill: SkillRecord): Promise<SkillRecord> {
    await this.#query(
      `INSERT INTO skills (name, version, sha256, manifest, installed_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name, version) DO NOTHING`,
      [
        skill.name,
        skill.version,
        skill.sha256,
        JSON.stringify(skill.manifest),
        skill.installed_at,
      ],
    );
    const [row] = await this.#query(
      "SELECT * FROM skills WHERE name = $1 AND version = $2",
      [skill.name, skill.version],
    );
    return skillFromRow(row!);
  }

  async putSnapshot(snapshot: RunSnapshot): Promise<void> {
    await this.#query(
      `INSERT INTO run_snapshots (run_id, seq, hash, log_bytes, version, state)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (run_id) DO UPDATE SET seq = excluded.seq,
         hash = excluded.hash, log_bytes = excluded.log_bytes,
         version = excluded.version, state = excluded.state
       WHERE excluded.seq > run_snapshots.seq`,
      [
        snapshot.run_id,
        snapshot.seq,
        snapshot.hash,
        snapshot.log_bytes,
        snapshot.version,
        JSON.stringify(snapshot.state),
      ],
    );
  }

  async getSnapshot(runId: string): Promise<RunSnapshot | undefined> {
    const [row] = await this.#query(GET_SNAPSHOT([runId]));
    return row === undefined ? undefined : snapshotFromRow(row);
  }

  async listSkills(): Promise<SkillRecord[]> {
    return (await this.#query("SELECT * FROM skills ORDER BY name, version"))
      .map(skillFromRow);
  }

  createTenant(tenant: TenantRecord): Promise<void> {
    return this.#tenants.createTenant(tenant);
  }

  getTenant(id: string): Promise<TenantRecord | undefined> {
    return this.#tenants.getTenant(id);
  }

  listTenants(): Promise<TenantRecord[]> {
    return this.#tenants.listTenants();
  }

  putApiKey(
    key: ApiKeyRecord,
    options: { revokeOthers?: boolean } = {},
  ): Promise<void> {
    return this.#tenants.putApiKey(key, options.revokeOthers ?? false);
  }

  findApiKey(sha256: string): Promise<ApiKeyRecord | undefined> {
    return this.#tenants.findApiKey(sha256);
  }

  listApiKeys(tenant: string): Promise<ApiKeyRecord[]> {
    return this.#tenants.listApiKeys(tenant);
  }

  revokeApiKey(keyId: string, at: number): Promise<ApiKeyRecord | undefined> {
    return this.#tenants.revokeApiKey(keyId, at);
  }

  seedApiKeys(
    tenants: readonly TenantRecord[],
    keys: readonly ApiKeyRecord[],
  ): Promise<boolean> {
    return this.#tenants.seedApiKeys(tenants, keys);
  }

  // Reservations and settlements commit without waiting for their flush
  // (see `Store.reserveBudget`), like a run's continuations.
  async reserveBudget(
    request: BudgetReservationRequest,
  ): Promise<BudgetAnswer> {
    const answer = await this.#tenants.reserveBudget(request);
    this.#durability.committed();
    return answer;
  }

  async settleBudget(key: string, chargedCents: number): Promise<void> {
    await this.#tenants.settleBudget(key, chargedCents);
    this.#durability.committed();
  }

  budgetDay(tenant: string, day: string): Promise<BudgetDay> {
    return this.#tenants.budgetDay(tenant, day);
  }

  budgetEntries(tenant: string, day: string): Promise<BudgetEntry[]> {
    return this.#tenants.budgetEntries(tenant, day);
  }

  openBudgetEntries(): Promise<BudgetEntry[]> {
    return this.#tenants.openBudgetEntries();
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.#query("SELECT 1 AS ok")).length === 1;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.#listener.close();
    await this.#statistics.settled();
    await this.#pool.end().catch(() => {});
  }
}
