import { mustBeGranted } from "./_budget_append.ts";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { AosError } from "../errors/mod.ts";
import { decodeCursor, encodeCursor } from "./_cursor.ts";
import { skillFromRow, snapshotFromRow, summaryFromRow } from "./_rows.ts";
import type { LogRecord } from "./record.ts";
import { recordFromLine } from "./record.ts";
import { SQLITE_MIGRATIONS } from "./_sqlite_schema.ts";
import { SqliteLeases } from "./_sqlite_leases.ts";
import { SqliteRunKeys } from "./_sqlite_run_keys.ts";
import { SqliteSignalRequests } from "./_sqlite_signal_requests.ts";
import { SqliteResumeRequests } from "./_sqlite_resume_requests.ts";
import { GroupCommit } from "./_group_commit.ts";
import { WalCheckpointer } from "./_wal_checkpointer.ts";
import type {
  AppendOptions,
  DurabilityWatermark,
  IdempotencyClaim,
  IdempotencyEntry,
  Lease,
  LeaseTiming,
  LogMark,
  ResumeRequest,
  RunListQuery,
  RunMeta,
  RunPage,
  RunSnapshot,
  RunSummary,
  SignalRequest,
  SkillRecord,
  Store,
} from "./store.ts";
import { queueFull } from "./_append_checks.ts";
import { SqliteAppends } from "./_sqlite_appends.ts";
import { SqliteTenants } from "./_sqlite_tenants.ts";
import type {
  BudgetAnswer,
  BudgetDay,
  BudgetEntry,
  BudgetReservationRequest,
} from "./budget_records.ts";
import type { ApiKeyRecord, TenantRecord } from "./tenant_records.ts";

/** Options of `SqliteStore.open`. */
export interface SqliteStoreOptions {
  /**
   * `FULL` (default): a write resolves only once the WAL holding it is
   * synced (the group commit's `fdatasync`), so an acknowledged write
   * survives power loss; `NORMAL` may lose the last commits on power loss
   * (never on a process crash) and is meant for throwaway test stores.
   */
  synchronous?: "FULL" | "NORMAL";
  /**
   * How long a write waits for another connection's write lock before it
   * fails with STORE_UNAVAILABLE (default 5000 ms).
   */
  busyTimeoutMs?: number;
  /**
   * Runs each sync of the WAL (`sync`, an `fdatasync` off the JavaScript
   * thread) with `synchronous: "FULL"`: tests watch or hold the disk with
   * it. Default: `sync()`.
   */
  syncWal?: (sync: () => Promise<void>) => Promise<void>;
}

type Row = Record<string, unknown>;

/**
 * The embedded store: one SQLite file in WAL mode through Deno's built-in
 * `node:sqlite`. Every call is synchronous inside SQLite, and writes take the
 * write lock up front (`BEGIN IMMEDIATE`) so a read-then-write transaction
 * never fails half-way with `SQLITE_BUSY` when several processes share a file.
 * Writes are group-committed (`_group_commit.ts`): those of one
 * event-loop turn share a transaction and one `fsync`, and each resolves
 * only once it is on disk. With `synchronous: "FULL"` the connection itself
 * runs with `synchronous=NORMAL` once migrated (its commits do not sync):
 * the group's WAL sync is what makes a write durable, so no write bypasses
 * the group but a snapshot's (see `putSnapshot`).
 */
export class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #tenants: SqliteTenants;
  readonly #path: string;
  readonly #file: FileIdentity | undefined;
  readonly #leases = new SqliteLeases((sql) => this.#statement(sql));
  readonly #keys = new SqliteRunKeys((sql) => this.#statement(sql));
  readonly #signals = new SqliteSignalRequests((sql) => this.#statement(sql));
  readonly #resumes = new SqliteResumeRequests((sql) => this.#statement(sql));
  readonly #appends = new SqliteAppends((sql) => this.#statement(sql));
  readonly #runnableListeners = new Set<() => void>();
  /**
   * Told at once of the key revocations this store makes. Another process
   * on the same file is not heard: caches fall back on their maximum age.
   */
  readonly #keysRevokedListeners = new Set<() => void>();
  readonly #group: GroupCommit;
  readonly #wal: WalSync | undefined;
  #checkpointer: WalCheckpointer | undefined;

  private constructor(
    db: DatabaseSync,
    path: string,
    wal: WalSync | undefined,
    checkpointer: WalCheckpointer | undefined,
  ) {
    this.#db = db;
    this.#path = path;
    this.#file = fileIdentity(path);
    this.#wal = wal;
    this.#checkpointer = checkpointer;
    this.#group = new GroupCommit(db, {
      deferred: this.#appends,
      ...(wal === undefined ? {} : { sync: wal.sync }),
      ...(checkpointer === undefined ? {} : {
        checkpoint: () => this.#checkpointWal(),
        prepareCheckpoint: () => this.#checkpointer?.prepare(),
      }),
    });
    this.#tenants = new SqliteTenants({
      statement: (sql) => this.#statement(sql),
      group: (work, options) => this.#group.submit(work, options),
    });
  }

  /** Opens (creating when needed) the database at `path` and migrates it. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`);
    const busyTimeoutMs = Math.trunc(options.busyTimeoutMs ?? 5000);
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    db.exec("PRAGMA foreign_keys = ON");
    const durable = (options.synchronous ?? "FULL") === "FULL" &&
      path !== ":memory:";
    const store = new SqliteStore(
      db,
      path,
      durable ? new WalSync(path, options.syncWal) : undefined,
      durable ? new WalCheckpointer(path, { busyTimeoutMs }) : undefined,
    );
    store.#migrate();
    if (durable) {
      // From here every write goes through the group commit, whose WAL sync
      // makes it durable: a commit that synced itself would only sync twice.
      db.exec("PRAGMA synchronous = NORMAL");
      // The group commit has the WAL checkpointed on another thread.
      db.exec("PRAGMA wal_autocheckpoint = 0");
    }
    return store;
  }

  #migrate(): void {
    this.#db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    );
    this.#transaction(() => {
      const row = this.#db.prepare(
        "SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations",
      ).get() as Row;
      const current = Number(row.version);
      for (const migration of SQLITE_MIGRATIONS) {
        if (migration.version <= current) continue;
        this.#db.exec(migration.sql);
        this.#db.prepare(
          "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
        ).run(migration.version, Date.now());
      }
    });
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #transaction<T>(work: () => T): T {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      throw new AosError("STORE_UNAVAILABLE", "the store is busy", {
        cause: error,
      });
    }
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  createRun(first: LogRecord, meta: RunMeta): Promise<void> {
    // With an idempotency key, completing it may refuse after the run is
    // written: then the write needs its savepoint.
    return this.#group.submit(() => {
      if (meta.unfinishedMax !== undefined) {
        // Under the group's write lock, before anything is written: exact,
        // whoever else writes the file, and a refusal needs no savepoint.
        const unfinished = this.#countUnfinished();
        if (unfinished >= meta.unfinishedMax) {
          throw queueFull(unfinished, meta.unfinishedMax);
        }
      }
      this.#appends.create(
        meta.decided === undefined ? [first] : [first, ...meta.decided],
        meta.lease,
        meta.tenant,
      );
      this.#keys.recordRunMeta(first.run_id, meta);
    }, { savepoint: meta.idempotency !== undefined }).then(() => {
      if (meta.lease === undefined) this.#runnable();
    });
  }

  // A checkpointer that failed hands checkpoints back to SQLite, which runs
  // them inside a COMMIT once the WAL holds 1,000 pages (its default).
  #checkpointWal(): Promise<void> {
    const checkpointer = this.#checkpointer;
    if (checkpointer === undefined) return Promise.resolve();
    return checkpointer.checkpoint().then(() => {}, () => {
      this.#checkpointer = undefined;
      if (this.#db.isOpen) this.#db.exec("PRAGMA wal_autocheckpoint = 1000");
    });
  }

  /** `requested`, having woken the listeners when it is true. */
  async #wakingIf(requested: Promise<boolean>): Promise<boolean> {
    if (await requested) {
      this.#runnable();
      return true;
    }
    return false;
  }

  /** Wakes this process's listeners; other processes on the file poll. */
  #runnable(): void {
    for (const listener of this.#runnableListeners) queueMicrotask(listener);
  }

  claimIdempotencyKey(
    claim: IdempotencyClaim,
  ): Promise<{ claimed: true } | { claimed: false; entry: IdempotencyEntry }> {
    return this.#group.submit(() => this.#keys.claim(claim));
  }

  completeIdempotencyKey(
    completion: Parameters<Store["completeIdempotencyKey"]>[0],
  ): Promise<void> {
    return this.#group.submit(() => this.#keys.complete(completion));
  }

  releaseIdempotencyKey(
    tenant: string,
    key: string,
    fingerprint: string,
  ): Promise<void> {
    return this.#group.submit(() =>
      this.#keys.release(tenant, key, fingerprint)
    );
  }

  async append(
    records: readonly LogRecord[],
    options: AppendOptions = {},
  ): Promise<void> {
    const { reservation, settlements, charges, ...plain } = options;
    // The reservation, the settlements and the charges in the append's own
    // write: one group commit, and its commit (and sync) is theirs. A
    // reservation not granted throws before anything is written;
    // settlements and charges take a savepoint, so a failure rolls back
    // the append too.
    await this.#group.submit(() => {
      if (reservation !== undefined) {
        mustBeGranted(reservation, this.#tenants.reserveInGroup(reservation));
      }
      const runId = records[0]?.run_id ?? "";
      // The requests the records deliver stop waiting with them.
      const ids = plain.delivers?.length ? JSON.stringify(plain.delivers) : "";
      const delivered = ids === "" ? 0 : this.#signals.waitingAmong(runId, ids);
      this.#appends.append(records, plain, delivered);
      if (ids !== "") {
        this.#signals.deliver(runId, ids, delivered);
        this.#resumes.drop(runId, ids);
      }
      for (const { key, charged_cents } of settlements ?? []) {
        this.#tenants.settleInGroup(key, charged_cents);
      }
      for (const charge of charges ?? []) this.#tenants.bookInGroup(charge);
    }, {
      savepoint: (settlements?.length ?? 0) + (charges?.length ?? 0) > 0,
      durable: plain.durable ?? true,
    });
  }

  // One process writes through this connection, and a commit it made is
  // lost only if the process dies with it, so a mark needs no check.
  syncBarrier(_mark?: LogMark): Promise<void> {
    return this.#group.drain();
  }

  whenDurable(committed: number): Promise<void> {
    return this.#group.whenDurable(committed);
  }

  durability(): DurabilityWatermark {
    return this.#group.watermark();
  }

  claimRuns(
    owner: string,
    options: LeaseTiming & { limit: number; wakeNowMs?: number },
  ): Promise<Lease[]> {
    // Most claim passes (the fallback poll of an idle node, above all) find
    // nothing: they then read one index and take no write lock, commit
    // nothing and sync nothing. When there are runs to take, the group's
    // transaction reads them again under its lock.
    return settle(() => this.#leases.claimable(owner, options).length > 0)
      .then((any) =>
        any ? this.#group.submit(() => this.#leases.claim(owner, options)) : []
      );
  }

  claimRun(
    owner: string,
    runId: string,
    timing: LeaseTiming,
  ): Promise<Lease | undefined> {
    return this.#group.submit(() =>
      this.#leases.claimOne(owner, runId, timing)
    );
  }

  parkRun(
    lease: { run_id: string; epoch: number },
    options: { wakeAt: number | null },
  ): Promise<boolean> {
    return this.#group.submit(() => this.#leases.park(lease, options.wakeAt))
      .then((parked) => {
        if (parked && options.wakeAt !== null) this.#runnable();
        return parked;
      });
  }

  nextWakeAt(): Promise<number | undefined> {
    return settle(() => this.#leases.nextWakeAt());
  }

  renewLeases(
    owner: string,
    leases: readonly { run_id: string; epoch: number }[],
    timing: LeaseTiming,
  ): Promise<Lease[]> {
    return this.#group.submit(() => this.#leases.renew(owner, leases, timing));
  }

  releaseLease(lease: { run_id: string; epoch: number }): Promise<void> {
    return this.#group.submit(() => this.#leases.release(lease))
      .then(() => this.#runnable());
  }

  releaseLeases(owner: string): Promise<void> {
    return this.#group.submit(() => this.#leases.releaseAll(owner))
      .then((released) => {
        if (released > 0) this.#runnable();
      });
  }

  getLease(runId: string): Promise<Lease | undefined> {
    return settle(() => this.#leases.get(runId));
  }

  requestCancel(runId: string, reason: string): Promise<boolean> {
    return this.#wakingIf(
      this.#group.submit(() => this.#leases.requestCancel(runId, reason)),
    );
  }

  pendingCancels(owner: string): Promise<{ run_id: string; reason: string }[]> {
    return settle(() => this.#leases.pendingCancels(owner));
  }

  requestSignal(request: SignalRequest): Promise<boolean> {
    return this.#wakingIf(
      this.#group.submit(() => this.#signals.request(request)),
    );
  }

  pendingSignals(owner: string): Promise<SignalRequest[]> {
    return settle(() => this.#signals.pending(owner));
  }

  waitingSignals(runId: string): Promise<SignalRequest[]> {
    return settle(() => this.#signals.of(runId));
  }

  signalRequestWaiting(id: string): Promise<boolean> {
    return settle(() => this.#signals.waiting(id));
  }

  requestResume(request: ResumeRequest): Promise<boolean> {
    return this.#wakingIf(
      this.#group.submit(() => this.#resumes.request(request)),
    );
  }

  pendingResumes(owner: string): Promise<ResumeRequest[]> {
    return settle(() => this.#resumes.pending(owner));
  }

  resumeRequestWaiting(runId: string, id: string): Promise<boolean> {
    return settle(() => this.#resumes.waiting(runId, id));
  }

  dropResumeRequest(runId: string, id: string): Promise<boolean> {
    return this.#group.submit(() =>
      this.#resumes.drop(runId, JSON.stringify([id]))
    );
  }

  dropSignalRequest(id: string): Promise<boolean> {
    return this.#group.submit(() => this.#signals.drop(id));
  }

  onApiKeysRevoked(listener: () => void): () => void {
    const once = () => listener();
    this.#keysRevokedListeners.add(once);
    return () => this.#keysRevokedListeners.delete(once);
  }

  onRunnable(listener: () => void): () => void {
    const once = () => listener();
    this.#runnableListeners.add(once);
    return () => this.#runnableListeners.delete(once);
  }

  readLog(
    runId: string,
    options: { fromSeq?: number } = {},
  ): Promise<LogRecord[]> {
    const rows = this.#statement(
      "SELECT line FROM records WHERE run_id = ? AND seq >= ? ORDER BY seq",
    ).all(runId, options.fromSeq ?? 0) as Row[];
    return Promise.resolve(
      rows.map((row) => recordFromLine(String(row.line), `run ${runId}`)),
    );
  }

  getRun(runId: string): Promise<RunSummary | undefined> {
    const row = this.#statement("SELECT * FROM runs WHERE run_id = ?")
      .get(runId) as Row | undefined;
    return Promise.resolve(row === undefined ? undefined : summaryFromRow(row));
  }

  listRuns(query: RunListQuery): Promise<RunPage> {
    return settle(() => this.#listRuns(query));
  }

  #listRuns(query: RunListQuery): RunPage {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.tenant !== undefined) {
      where.push("tenant = ?");
      params.push(query.tenant);
    }
    if (query.status !== undefined) {
      where.push("status = ?");
      params.push(query.status);
    }
    if (query.skill !== undefined) {
      where.push(
        "run_id IN (SELECT run_id FROM run_skills WHERE skill = ?)",
      );
      params.push(query.skill);
    }
    if (query.createdFromMs !== undefined) {
      where.push("created_at >= ?");
      params.push(query.createdFromMs);
    }
    if (query.createdBeforeMs !== undefined) {
      where.push("created_at < ?");
      params.push(query.createdBeforeMs);
    }
    if (query.cursor !== undefined) {
      const cursor = decodeCursor(query.cursor);
      // A row value, so that the index seeks to the cursor instead of
      // scanning every newer run.
      where.push("(created_at, run_id) < (?, ?)");
      params.push(cursor.createdAt, cursor.runId);
    }
    const sql = `SELECT * FROM runs ${
      where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""
    } ORDER BY created_at DESC, run_id DESC LIMIT ?`;
    const rows = this.#statement(sql).all(...params, query.limit + 1) as Row[];
    const runs = rows.slice(0, query.limit).map(summaryFromRow);
    const last = runs[runs.length - 1];
    const more = rows.length > query.limit && last !== undefined;
    return {
      runs,
      next_cursor: more ? encodeCursor(last.created_at, last.run_id) : null,
    };
  }

  countUnfinishedRuns(): Promise<number> {
    return Promise.resolve(this.#countUnfinished());
  }

  #countUnfinished(): number {
    // Left to itself the planner counts through runs_by_tenant_status, every
    // run ever stored; the partial index holds only the unfinished ones.
    const row = this.#statement(
      "SELECT COUNT(*) AS count FROM runs INDEXED BY runs_live WHERE status IN ('running', 'paused')",
    ).get() as Row;
    return Number(row.count);
  }

  listUnfinishedRuns(): Promise<string[]> {
    const rows = this.#statement(
      "SELECT run_id FROM runs WHERE status IN ('running', 'paused') ORDER BY created_at, run_id",
    ).all() as Row[];
    return Promise.resolve(rows.map((row) => String(row.run_id)));
  }

  putModule(sha256: string, bytes: Uint8Array): Promise<void> {
    return this.#group.submit(() => {
      this.#statement(
        "INSERT INTO skill_modules (sha256, bytes) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING",
      ).run(sha256, bytes);
    }, { savepoint: false });
  }

  getModule(sha256: string): Promise<Uint8Array | undefined> {
    const row = this.#statement(
      "SELECT bytes FROM skill_modules WHERE sha256 = ?",
    ).get(sha256) as Row | undefined;
    return Promise.resolve(
      row === undefined ? undefined : new Uint8Array(row.bytes as Uint8Array),
    );
  }

  putSkill(skill: SkillRecord): Promise<SkillRecord> {
    return this.#group.submit(() => {
      this.#statement(
        "INSERT INTO skills (name, version, sha256, manifest, installed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, version) DO NOTHING",
      ).run(
        skill.name,
        skill.version,
        skill.sha256,
        JSON.stringify(skill.manifest),
        skill.installed_at,
      );
      const row = this.#statement(
        "SELECT * FROM skills WHERE name = ? AND version = ?",
      ).get(skill.name, skill.version) as Row;
      return skillFromRow(row);
    }, { savepoint: false });
  }

  listSkills(): Promise<SkillRecord[]> {
    const rows = this.#statement(
      "SELECT * FROM skills ORDER BY name, version",
    ).all() as Row[];
    return Promise.resolve(rows.map(skillFromRow));
  }

  createTenant(tenant: TenantRecord): Promise<void> {
    return this.#tenants.createTenant(tenant);
  }

  getTenant(id: string): Promise<TenantRecord | undefined> {
    return settle(() => this.#tenants.getTenant(id));
  }

  listTenants(): Promise<TenantRecord[]> {
    return settle(() => this.#tenants.listTenants());
  }

  putApiKey(
    key: ApiKeyRecord,
    options: { revokeOthers?: boolean } = {},
  ): Promise<void> {
    return this.#tenants.putApiKey(key, options.revokeOthers ?? false).then(
      () => {
        if (options.revokeOthers) this.#keysRevoked();
      },
    );
  }

  #keysRevoked(): void {
    for (const listener of this.#keysRevokedListeners) listener();
  }

  findApiKey(sha256: string): Promise<ApiKeyRecord | undefined> {
    return settle(() => this.#tenants.findApiKey(sha256));
  }

  listApiKeys(tenant: string): Promise<ApiKeyRecord[]> {
    return settle(() => this.#tenants.listApiKeys(tenant));
  }

  revokeApiKey(keyId: string, at: number): Promise<ApiKeyRecord | undefined> {
    return this.#tenants.revokeApiKey(keyId, at).then((revoked) => {
      this.#keysRevoked();
      return revoked;
    });
  }

  seedApiKeys(
    tenants: readonly TenantRecord[],
    keys: readonly ApiKeyRecord[],
  ): Promise<boolean> {
    return this.#tenants.seedApiKeys(tenants, keys);
  }

  reserveBudget(request: BudgetReservationRequest): Promise<BudgetAnswer> {
    return this.#tenants.reserveBudget(request);
  }

  settleBudget(key: string, chargedCents: number): Promise<void> {
    return this.#tenants.settleBudget(key, chargedCents);
  }

  budgetDay(tenant: string, day: string): Promise<BudgetDay> {
    return settle(() => this.#tenants.budgetDay(tenant, day));
  }

  budgetEntries(tenant: string, day: string): Promise<BudgetEntry[]> {
    return settle(() => this.#tenants.budgetEntries(tenant, day));
  }

  openBudgetEntries(): Promise<BudgetEntry[]> {
    return settle(() => this.#tenants.openBudgetEntries());
  }

  // The one write outside the group commit: a snapshot only saves work on
  // recovery (one a crash loses is folded again from the log it summarises),
  // so it commits at once, visible before the call returns, and is made
  // durable by the group's next sync of the WAL.
  putSnapshot(snapshot: RunSnapshot): Promise<void> {
    return settle(() => {
      this.#statement(
        "INSERT INTO run_snapshots (run_id, seq, hash, log_bytes, version, state) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, log_bytes = excluded.log_bytes, version = excluded.version, state = excluded.state WHERE excluded.seq > run_snapshots.seq",
      ).run(
        snapshot.run_id,
        snapshot.seq,
        snapshot.hash,
        snapshot.log_bytes,
        snapshot.version,
        JSON.stringify(snapshot.state),
      );
    });
  }

  getSnapshot(runId: string): Promise<RunSnapshot | undefined> {
    const row = this.#statement(
      "SELECT * FROM run_snapshots WHERE run_id = ?",
    ).get(runId) as Row | undefined;
    return Promise.resolve(
      row === undefined ? undefined : snapshotFromRow(row),
    );
  }

  /** The journal mode SQLite reports (`wal` once opened by this class). */
  journalMode(): string {
    const row = this.#db.prepare("PRAGMA journal_mode").get() as Row;
    return String(row.journal_mode);
  }

  /**
   * True when the database answers and its file is still the one opened: an
   * open connection keeps working on a file that was deleted, replaced or
   * whose volume went away, but what it writes then is lost to everyone else.
   */
  ping(): Promise<boolean> {
    return settle(() => {
      if (!this.#db.isOpen) return false;
      const now = fileIdentity(this.#path);
      if (
        this.#file !== undefined &&
        (now?.dev !== this.#file.dev || now?.ino !== this.#file.ino)
      ) return false;
      return this.#statement("SELECT 1 AS ok").get() !== undefined;
    });
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) await this.#group.drain();
    // Its connection closes first: the last one to close checkpoints the
    // WAL and removes it.
    await this.#checkpointer?.close();
    this.#runnableListeners.clear();
    this.#keysRevokedListeners.clear();
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
    this.#wal?.close();
  }
}

interface FileIdentity {
  dev: number;
  ino: number | null;
}

// Device and inode of the database file; undefined for an in-memory database
// or a file that cannot be seen.
function fileIdentity(path: string): FileIdentity | undefined {
  if (path === ":memory:" || path === "") return undefined;
  try {
    const info = Deno.statSync(path);
    return { dev: info.dev, ino: info.ino };
  } catch {
    return undefined;
  }
}

/**
 * `fdatasync` of the database's WAL file, on Deno's blocking-I/O threads so
 * the JavaScript thread goes on serving while the disk works. The file is
 * opened at the first sync (SQLite creates it at the first write); it stays
 * the same file while a connection is open.
 */
class WalSync {
  readonly #path: string;
  readonly #around: (sync: () => Promise<void>) => Promise<void>;
  #file: Deno.FsFile | undefined;

  constructor(
    databasePath: string,
    around: (sync: () => Promise<void>) => Promise<void> = (sync) => sync(),
  ) {
    this.#path = `${databasePath}-wal`;
    this.#around = around;
  }

  readonly sync = (): Promise<void> => this.#around(this.#syncData);

  readonly #syncData = async (): Promise<void> => {
    this.#file ??= await Deno.open(this.#path, { read: true });
    await this.#file.syncData();
  };

  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}

/** Runs synchronous SQLite work so that its errors reject instead of throwing. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}
