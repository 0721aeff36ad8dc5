import type { StatementSync } from "node:sqlite";
import { AosError } from "../errors/mod.ts";
import type {
  BudgetAnswer,
  BudgetCharge,
  BudgetDay,
  BudgetEntry,
  BudgetReservationRequest,
} from "./budget_records.ts";
import type { GroupWriteOptions } from "./_group_commit.ts";
import type { ApiKeyRecord, TenantRecord } from "./tenant_records.ts";

type Row = Record<string, unknown>;

/** An answer to a reservation before the limit it was held to joins it. */
type DayAnswer = Omit<BudgetAnswer, "limit_cents">;

/** What the tenant and budget tables need from the SQLite store. */
export interface SqliteAccess {
  statement(sql: string): StatementSync;
  /**
   * Runs `work` in the store's group commit (a savepoint of a shared
   * `BEGIN IMMEDIATE` transaction); resolves once it is on disk, or with
   * `durable: false` once it is committed.
   */
  group<T>(work: () => T, options?: GroupWriteOptions): Promise<T>;
}

/**
 * Tenants, API keys and the budget ledger on SQLite. Every write runs in the
 * store's group commit, under its `BEGIN IMMEDIATE`, so it holds the write
 * lock from its first read and cannot fail half-way with `SQLITE_BUSY`, and
 * resolves once on disk (budget writes: once committed, see below).
 */
export class SqliteTenants {
  readonly #db: SqliteAccess;

  constructor(db: SqliteAccess) {
    this.#db = db;
  }

  createTenant(tenant: TenantRecord): Promise<void> {
    return this.#db.group(() => {
      if (this.getTenant(tenant.id) !== undefined) {
        throw new AosError(
          "TENANT_EXISTS",
          `tenant ${tenant.id} exists`,
          { details: { tenant: tenant.id } },
        );
      }
      this.#insertTenant(tenant);
    });
  }

  #insertTenant(tenant: TenantRecord): void {
    this.#db.statement(
      "INSERT INTO tenants (id, created_at, daily_budget_cents) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
    ).run(tenant.id, tenant.created_at, tenant.daily_budget_cents);
  }

  getTenant(id: string): TenantRecord | undefined {
    const row = this.#db.statement("SELECT * FROM tenants WHERE id = ?")
      .get(id) as Row | undefined;
    return row === undefined ? undefined : toTenant(row);
  }

  listTenants(): TenantRecord[] {
    const rows = this.#db.statement("SELECT * FROM tenants ORDER BY id")
      .all() as Row[];
    return rows.map(toTenant);
  }

  putApiKey(key: ApiKeyRecord, revokeOthers: boolean): Promise<void> {
    return this.#db.group(() => {
      if (revokeOthers) {
        this.#db.statement(
          "UPDATE api_keys SET revoked_at = ? WHERE tenant IS ? AND role = ? AND revoked_at IS NULL",
        ).run(key.created_at, key.tenant, key.role);
      }
      this.#insertKey(key);
    });
  }

  #insertKey(key: ApiKeyRecord): void {
    this.#db.statement(
      "INSERT INTO api_keys (key_id, role, tenant, sha256, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(
      key.key_id,
      key.role,
      key.tenant,
      key.sha256,
      key.created_at,
      key.revoked_at,
    );
  }

  findApiKey(sha256: string): ApiKeyRecord | undefined {
    const row = this.#db.statement(
      "SELECT * FROM api_keys WHERE sha256 = ? AND revoked_at IS NULL",
    ).get(sha256) as Row | undefined;
    return row === undefined ? undefined : toKey(row);
  }

  listApiKeys(tenant: string): ApiKeyRecord[] {
    const rows = this.#db.statement(
      "SELECT * FROM api_keys WHERE tenant = ? ORDER BY created_at, key_id",
    ).all(tenant) as Row[];
    return rows.map(toKey);
  }

  revokeApiKey(
    keyId: string,
    at: number,
  ): Promise<ApiKeyRecord | undefined> {
    return this.#db.group(() => {
      this.#db.statement(
        "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
      ).run(at, keyId);
      const row = this.#db.statement("SELECT * FROM api_keys WHERE key_id = ?")
        .get(keyId) as Row | undefined;
      return row === undefined ? undefined : toKey(row);
    });
  }

  seedApiKeys(
    tenants: readonly TenantRecord[],
    keys: readonly ApiKeyRecord[],
  ): Promise<boolean> {
    return this.#db.group(() => {
      const any = this.#db.statement("SELECT 1 FROM api_keys LIMIT 1").get();
      if (any !== undefined) return false;
      for (const tenant of tenants) this.#insertTenant(tenant);
      for (const key of keys) this.#insertKey(key);
      return true;
    });
  }

  // Budget writes ride the group commit with the runs' appends: one
  // transaction off the JavaScript thread's critical path for all of them,
  // instead of a synchronous commit (and fsync) each. The group's
  // transaction holds the write lock from before their first read. Each
  // writes only after its checks, with a conditional write first, so a
  // refusal writes nothing and they need no savepoint. They answer at
  // commit, without waiting for the sync: a reservation is acted on only
  // through the run's BudgetReserved append, whose sync also makes the
  // reservation durable (a crash before it loses both, and the run asks
  // again); a settlement follows a BudgetReleased already on disk, from
  // which the next start settles it again if a crash lost it
  // (`BudgetLedger.reconcile`).
  reserveBudget(request: BudgetReservationRequest): Promise<BudgetAnswer> {
    return this.#db.group(() => this.reserveInGroup(request), {
      durable: false,
      savepoint: false,
    });
  }

  /** A reservation made inside a group write (an append's, say). */
  reserveInGroup(request: BudgetReservationRequest): BudgetAnswer {
    return request.cents === 0
      ? this.#reserveNothing(request)
      : this.#reserve(request);
  }

  /** The tenant's own limit, read in the same transaction as the ask. */
  #limitCents(request: BudgetReservationRequest): number {
    return this.getTenant(request.tenant)?.daily_budget_cents ??
      request.default_limit_cents;
  }

  #reserve(request: BudgetReservationRequest): BudgetAnswer {
    const { key, tenant, day, cents } = request;
    const limit_cents = this.#limitCents(request);
    const held = this.#heldAnswer(key, tenant);
    if (held !== undefined) return { ...held, limit_cents };
    const reserved = this.#db.statement(
      `INSERT INTO budget_days AS d (tenant, day, reserved_cents)
         SELECT ?, ?, ? WHERE ? <= ?
       ON CONFLICT (tenant, day) DO UPDATE
         SET reserved_cents = d.reserved_cents + excluded.reserved_cents
         WHERE d.spent_cents + d.reserved_cents + excluded.reserved_cents <= ?
       RETURNING spent_cents, reserved_cents`,
    ).get(tenant, day, cents, cents, limit_cents, limit_cents) as
      | Row
      | undefined;
    if (reserved === undefined) {
      return { granted: false, limit_cents, ...this.budgetDay(tenant, day) };
    }
    this.#insertEntry(request);
    return { granted: true, limit_cents, ...toDay(tenant, day, reserved) };
  }

  // A zero-cent ask changes no total, so the day row is only read (and not
  // created when missing, as on PostgreSQL): steps without a cost leave the
  // tenant's day alone. It is granted when the day is not already past its
  // limit, as the conditional update of any other ask would be. The limit
  // and the day come in one statement: every step without a cost asks.
  #reserveNothing(request: BudgetReservationRequest): BudgetAnswer {
    const { key, tenant, day } = request;
    const row = this.#db.statement(
      `SELECT t.daily_budget_cents AS limit_cents, d.spent_cents, d.reserved_cents
       FROM (SELECT ? AS tenant, ? AS day) AS ask
       LEFT JOIN tenants AS t ON t.id = ask.tenant
       LEFT JOIN budget_days AS d ON d.tenant = ask.tenant AND d.day = ask.day`,
    ).get(tenant, day) as Row;
    const limit_cents = row.limit_cents === null
      ? request.default_limit_cents
      : Number(row.limit_cents);
    const use = toDay(tenant, day, row);
    if (use.spent_cents + use.reserved_cents <= limit_cents) {
      if (this.#insertEntry(request)) {
        return { granted: true, limit_cents, ...use };
      }
    }
    const held = this.#heldAnswer(key, tenant);
    return { limit_cents, ...(held ?? { granted: false, ...use }) };
  }

  /** The answer to a key already held: granted, with its day's totals. */
  #heldAnswer(key: string, tenant: string): DayAnswer | undefined {
    const held = this.#db.statement(
      "SELECT day FROM budget_entries WHERE key = ?",
    ).get(key) as Row | undefined;
    if (held === undefined) return undefined;
    return { granted: true, ...this.budgetDay(tenant, String(held.day)) };
  }

  /** Inserts the entry of a granted ask; false when its key is held already. */
  #insertEntry(request: BudgetReservationRequest): boolean {
    const { key, run_id, tenant, day, cents } = request;
    const inserted = this.#db.statement(
      "INSERT INTO budget_entries (key, run_id, tenant, day, reserved_cents) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
    ).run(key, run_id, tenant, day, cents);
    return Number(inserted.changes) === 1;
  }

  // The entry is marked settled first (a second settlement finds it settled
  // and changes nothing); its day changes only when cents move, and is
  // created when a zero-cent reservation left none. Settling nothing
  // (a step without a cost, charged nothing) is one plain update.
  settleBudget(key: string, chargedCents: number): Promise<void> {
    return this.#db.group(
      () => this.settleInGroup(key, chargedCents),
      { durable: false, savepoint: false },
    );
  }

  /** `settleBudget`'s writes, in the group's transaction under way (an append's). */
  settleInGroup(key: string, chargedCents: number): void {
    if (chargedCents === 0) {
      const settled = this.#db.statement(
        "UPDATE budget_entries SET charged_cents = 0 WHERE key = ? AND charged_cents IS NULL AND reserved_cents = 0",
      ).run(key);
      if (Number(settled.changes) === 1) return;
    }
    const entry = this.#db.statement(
      "UPDATE budget_entries SET charged_cents = ? WHERE key = ? AND charged_cents IS NULL RETURNING tenant, day, reserved_cents",
    ).get(chargedCents, key) as Row | undefined;
    if (entry === undefined) return;
    const reservedCents = Number(entry.reserved_cents);
    if (reservedCents === 0 && chargedCents === 0) return;
    this.#db.statement(
      `INSERT INTO budget_days AS d (tenant, day, spent_cents, reserved_cents)
         VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant, day) DO UPDATE
         SET spent_cents = d.spent_cents + excluded.spent_cents,
           reserved_cents = d.reserved_cents + excluded.reserved_cents`,
    ).run(
      String(entry.tenant),
      String(entry.day),
      chargedCents,
      -reservedCents,
    );
  }

  /**
   * Books a charge without a reservation (`AppendOptions.charges`), in the
   * group's transaction under way: its entry settled, its cents onto its
   * day; nothing when its key is held already.
   */
  bookInGroup(charge: BudgetCharge): void {
    const { key, run_id, tenant, day, cents } = charge;
    const inserted = this.#db.statement(
      "INSERT INTO budget_entries (key, run_id, tenant, day, reserved_cents, charged_cents) VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (key) DO NOTHING",
    ).run(key, run_id, tenant, day, cents);
    if (Number(inserted.changes) !== 1 || cents === 0) return;
    this.#db.statement(
      `INSERT INTO budget_days AS d (tenant, day, spent_cents) VALUES (?, ?, ?)
       ON CONFLICT (tenant, day) DO UPDATE
         SET spent_cents = d.spent_cents + excluded.spent_cents`,
    ).run(tenant, day, cents);
  }

  budgetDay(tenant: string, day: string): BudgetDay {
    const row = this.#db.statement(
      "SELECT spent_cents, reserved_cents FROM budget_days WHERE tenant = ? AND day = ?",
    ).get(tenant, day) as Row | undefined;
    return toDay(tenant, day, row);
  }

  budgetEntries(tenant: string, day: string): BudgetEntry[] {
    const rows = this.#db.statement(
      "SELECT * FROM budget_entries WHERE tenant = ? AND day = ? ORDER BY key",
    ).all(tenant, day) as Row[];
    return rows.map(toEntry);
  }

  openBudgetEntries(): BudgetEntry[] {
    const rows = this.#db.statement(
      "SELECT * FROM budget_entries WHERE charged_cents IS NULL ORDER BY key",
    ).all() as Row[];
    return rows.map(toEntry);
  }
}

function toDay(tenant: string, day: string, row: Row | undefined): BudgetDay {
  return {
    tenant,
    day,
    spent_cents: Number(row?.spent_cents ?? 0),
    reserved_cents: Number(row?.reserved_cents ?? 0),
  };
}

function toTenant(row: Row): TenantRecord {
  return {
    id: String(row.id),
    created_at: Number(row.created_at),
    daily_budget_cents: row.daily_budget_cents === null
      ? null
      : Number(row.daily_budget_cents),
  };
}

function toKey(row: Row): ApiKeyRecord {
  return {
    key_id: String(row.key_id),
    role: String(row.role) as ApiKeyRecord["role"],
    tenant: row.tenant === null ? null : String(row.tenant),
    sha256: String(row.sha256),
    created_at: Number(row.created_at),
    revoked_at: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

function toEntry(row: Row): BudgetEntry {
  return {
    key: String(row.key),
    run_id: String(row.run_id),
    tenant: String(row.tenant),
    day: String(row.day),
    reserved_cents: Number(row.reserved_cents),
    charged_cents: row.charged_cents === null
      ? null
      : Number(row.charged_cents),
  };
}
