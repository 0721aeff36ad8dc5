import type { StatementSync } from "node:sqlite";
import { AosError } from "../errors/mod.ts";
import type {
  BudgetAnswer,
  BudgetDay,
  BudgetEntry,
  BudgetReservationRequest,
} from "./budget_records.ts";
import type { GroupWriteOptions } from "./_group_commit.ts";
import type { ApiKeyRecord, TenantRecord } from "./tenant_records.ts";

type Row = Record<string, unknown>;

/** What the tenant and budget tables need from the SQLite store. */
export interface SqliteAccess {
  statement(sql: string): StatementSync;
  /** Runs `work` inside `BEGIN IMMEDIATE … COMMIT`. */
  transaction<T>(work: () => T): T;
  /**
   * Runs `work` in the store's group commit (a savepoint of a shared
   * `BEGIN IMMEDIATE` transaction); resolves once it is on disk, or with
   * `durable: false` once it is committed.
   */
  group<T>(work: () => T, options?: GroupWriteOptions): Promise<T>;
}

/**
 * Tenants, API keys and the budget ledger on SQLite. Every write that reads
 * first runs under `BEGIN IMMEDIATE`, so it holds the write lock from its
 * first read and cannot fail half-way with `SQLITE_BUSY`; the budget's
 * conditional update is the same statement PostgreSQL runs.
 */
export class SqliteTenants {
  readonly #db: SqliteAccess;

  constructor(db: SqliteAccess) {
    this.#db = db;
  }

  createTenant(tenant: TenantRecord): void {
    this.#db.transaction(() => {
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

  putApiKey(key: ApiKeyRecord, revokeOthers: boolean): void {
    this.#db.transaction(() => {
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

  revokeApiKey(keyId: string, at: number): ApiKeyRecord | undefined {
    return this.#db.transaction(() => {
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
  ): boolean {
    return this.#db.transaction(() => {
      const any = this.#db.statement("SELECT 1 FROM api_keys LIMIT 1").get();
      if (any !== undefined) return false;
      for (const tenant of tenants) this.#insertTenant(tenant);
      for (const key of keys) this.#insertKey(key);
      return true;
    });
  }

  // Budget writes ride the group commit with the runs' appends: one
  // transaction off the JavaScript thread's critical path for all of them,
  // instead of a synchronous commit (and fsync) each. The savepoint keeps
  // each one atomic, and the group's transaction holds the write lock from
  // before its first read. They answer at commit, without waiting for the
  // sync: a reservation is acted on only through the run's BudgetReserved
  // append, whose sync also makes the reservation durable (a crash before it
  // loses both, and the run asks again); a settlement follows a
  // BudgetReleased already on disk, from which the next start settles it
  // again if a crash lost it (`BudgetLedger.reconcile`).
  reserveBudget(request: BudgetReservationRequest): Promise<BudgetAnswer> {
    return this.#db.group(() => {
      const { key, run_id, tenant, day, cents } = request;
      const limit_cents = this.getTenant(tenant)?.daily_budget_cents ??
        request.default_limit_cents;
      const held = this.#db.statement(
        "SELECT day FROM budget_entries WHERE key = ?",
      ).get(key) as Row | undefined;
      if (held !== undefined) {
        return {
          granted: true,
          limit_cents,
          ...this.budgetDay(tenant, String(held.day)),
        };
      }
      this.#db.statement(
        "INSERT INTO budget_days (tenant, day) VALUES (?, ?) ON CONFLICT (tenant, day) DO NOTHING",
      ).run(tenant, day);
      const changed = this.#db.statement(
        "UPDATE budget_days SET reserved_cents = reserved_cents + ? WHERE tenant = ? AND day = ? AND spent_cents + reserved_cents + ? <= ?",
      ).run(cents, tenant, day, cents, limit_cents);
      const granted = Number(changed.changes) === 1;
      if (granted) {
        this.#db.statement(
          "INSERT INTO budget_entries (key, run_id, tenant, day, reserved_cents) VALUES (?, ?, ?, ?, ?)",
        ).run(key, run_id, tenant, day, cents);
      }
      return { granted, limit_cents, ...this.budgetDay(tenant, day) };
    }, { durable: false });
  }

  settleBudget(key: string, chargedCents: number): Promise<void> {
    return this.#db.group(() => {
      const entry = this.#db.statement(
        "SELECT * FROM budget_entries WHERE key = ? AND charged_cents IS NULL",
      ).get(key) as Row | undefined;
      if (entry === undefined) return;
      this.#db.statement(
        "UPDATE budget_entries SET charged_cents = ? WHERE key = ?",
      ).run(chargedCents, key);
      this.#db.statement(
        "UPDATE budget_days SET reserved_cents = reserved_cents - ?, spent_cents = spent_cents + ? WHERE tenant = ? AND day = ?",
      ).run(
        Number(entry.reserved_cents),
        chargedCents,
        String(entry.tenant),
        String(entry.day),
      );
    }, { durable: false });
  }

  budgetDay(tenant: string, day: string): BudgetDay {
    const row = this.#db.statement(
      "SELECT spent_cents, reserved_cents FROM budget_days WHERE tenant = ? AND day = ?",
    ).get(tenant, day) as Row | undefined;
    return {
      tenant,
      day,
      spent_cents: Number(row?.spent_cents ?? 0),
      reserved_cents: Number(row?.reserved_cents ?? 0),
    };
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
