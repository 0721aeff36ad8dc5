import { AosError } from "../errors/mod.ts";
import type { PgQueryable, PgRow } from "./_pg_driver.ts";
import type {
  BudgetAnswer,
  BudgetDay,
  BudgetEntry,
  BudgetReservationRequest,
} from "./budget_records.ts";
import type { ApiKeyRecord, TenantRecord } from "./tenant_records.ts";

/** What the tenant and budget tables need from the PostgreSQL store. */
export interface PgAccess {
  query(text: string, values?: unknown[]): Promise<PgRow[]>;
  transaction<T>(work: (client: PgQueryable) => Promise<T>): Promise<T>;
}

// Serializes first starts that seed keys; any constant shared by AOS works.
const SEED_LOCK_KEY = 0x414f534b; // "AOSK"

/**
 * Tenants, API keys and the budget ledger on PostgreSQL. A reservation is
 * one conditional update of the tenant's day row (`… WHERE spent + reserved
 * + x <= limit`); concurrent reservations queue on that row's lock and each
 * re-checks the condition on the row as the one before left it, so together
 * they never pass the limit.
 */
export class PgTenants {
  readonly #db: PgAccess;

  constructor(db: PgAccess) {
    this.#db = db;
  }

  async createTenant(tenant: TenantRecord): Promise<void> {
    const rows = await this.#db.query(
      `INSERT INTO tenants (id, created_at, daily_budget_cents) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [tenant.id, tenant.created_at, tenant.daily_budget_cents],
    );
    if (rows.length === 0) {
      throw new AosError("TENANT_EXISTS", `tenant ${tenant.id} exists`, {
        details: { tenant: tenant.id },
      });
    }
  }

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    const [row] = await this.#db.query("SELECT * FROM tenants WHERE id = $1", [
      id,
    ]);
    return row === undefined ? undefined : toTenant(row);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (await this.#db.query("SELECT * FROM tenants ORDER BY id")).map(
      toTenant,
    );
  }

  async putApiKey(key: ApiKeyRecord, revokeOthers: boolean): Promise<void> {
    await this.#db.transaction(async (client) => {
      if (revokeOthers) {
        await client.query(
          `UPDATE api_keys SET revoked_at = $1
           WHERE tenant IS NOT DISTINCT FROM $2 AND role = $3 AND revoked_at IS NULL`,
          [key.created_at, key.tenant, key.role],
        );
      }
      await insertKey(client, key);
    });
  }

  async findApiKey(sha256: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await this.#db.query(
      "SELECT * FROM api_keys WHERE sha256 = $1 AND revoked_at IS NULL",
      [sha256],
    );
    return row === undefined ? undefined : toKey(row);
  }

  async listApiKeys(tenant: string): Promise<ApiKeyRecord[]> {
    return (await this.#db.query(
      "SELECT * FROM api_keys WHERE tenant = $1 ORDER BY created_at, key_id",
      [tenant],
    )).map(toKey);
  }

  async revokeApiKey(
    keyId: string,
    at: number,
  ): Promise<ApiKeyRecord | undefined> {
    await this.#db.query(
      "UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL",
      [keyId, at],
    );
    const [row] = await this.#db.query(
      "SELECT * FROM api_keys WHERE key_id = $1",
      [keyId],
    );
    return row === undefined ? undefined : toKey(row);
  }

  seedApiKeys(
    tenants: readonly TenantRecord[],
    keys: readonly ApiKeyRecord[],
  ): Promise<boolean> {
    return this.#db.transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock($1)", [SEED_LOCK_KEY]);
      const { rows } = await client.query("SELECT 1 FROM api_keys LIMIT 1");
      if (rows.length > 0) return false;
      for (const tenant of tenants) {
        await client.query(
          `INSERT INTO tenants (id, created_at, daily_budget_cents) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO NOTHING`,
          [tenant.id, tenant.created_at, tenant.daily_budget_cents],
        );
      }
      for (const key of keys) await insertKey(client, key);
      return true;
    });
  }

  reserveBudget(request: BudgetReservationRequest): Promise<BudgetAnswer> {
    const { key, run_id, tenant, day, cents, limit_cents } = request;
    return this.#db.transaction(async (client) => {
      // The entry first: a concurrent ask with the same key waits here and
      // then finds it, so one key never reserves twice.
      const entry = await client.query(
        `INSERT INTO budget_entries (key, run_id, tenant, day, reserved_cents)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING RETURNING key`,
        [key, run_id, tenant, day, cents],
      );
      if (entry.rows.length === 0) {
        const { rows } = await client.query(
          "SELECT day FROM budget_entries WHERE key = $1",
          [key],
        );
        const heldDay = String(rows[0]?.day ?? day);
        return { granted: true, ...await dayOf(client, tenant, heldDay) };
      }
      await client.query(
        `INSERT INTO budget_days (tenant, day) VALUES ($1, $2)
         ON CONFLICT (tenant, day) DO NOTHING`,
        [tenant, day],
      );
      const updated = await client.query(
        `UPDATE budget_days SET reserved_cents = reserved_cents + $3
         WHERE tenant = $1 AND day = $2 AND spent_cents + reserved_cents + $3 <= $4
         RETURNING spent_cents, reserved_cents`,
        [tenant, day, cents, limit_cents],
      );
      const granted = updated.rows.length === 1;
      if (!granted) {
        await client.query("DELETE FROM budget_entries WHERE key = $1", [key]);
      }
      return { granted, ...await dayOf(client, tenant, day) };
    });
  }

  async settleBudget(key: string, chargedCents: number): Promise<void> {
    await this.#db.transaction(async (client) => {
      const { rows } = await client.query(
        `UPDATE budget_entries SET charged_cents = $2
         WHERE key = $1 AND charged_cents IS NULL
         RETURNING tenant, day, reserved_cents`,
        [key, chargedCents],
      );
      const entry = rows[0];
      if (entry === undefined) return;
      await client.query(
        `UPDATE budget_days SET reserved_cents = reserved_cents - $3,
           spent_cents = spent_cents + $4
         WHERE tenant = $1 AND day = $2`,
        [entry.tenant, entry.day, Number(entry.reserved_cents), chargedCents],
      );
    });
  }

  async budgetDay(tenant: string, day: string): Promise<BudgetDay> {
    const rows = await this.#db.query(DAY_SQL, [tenant, day]);
    return toDay(tenant, day, rows[0]);
  }

  async budgetEntries(tenant: string, day: string): Promise<BudgetEntry[]> {
    return (await this.#db.query(
      "SELECT * FROM budget_entries WHERE tenant = $1 AND day = $2 ORDER BY key",
      [tenant, day],
    )).map(toEntry);
  }

  async openBudgetEntries(): Promise<BudgetEntry[]> {
    return (await this.#db.query(
      "SELECT * FROM budget_entries WHERE charged_cents IS NULL ORDER BY key",
    )).map(toEntry);
  }
}

async function insertKey(client: PgQueryable, key: ApiKeyRecord) {
  await client.query(
    `INSERT INTO api_keys (key_id, role, tenant, sha256, created_at, revoked_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      key.key_id,
      key.role,
      key.tenant,
      key.sha256,
      key.created_at,
      key.revoked_at,
    ],
  );
}

const DAY_SQL =
  "SELECT spent_cents, reserved_cents FROM budget_days WHERE tenant = $1 AND day = $2";

async function dayOf(
  client: PgQueryable,
  tenant: string,
  day: string,
): Promise<BudgetDay> {
  const { rows } = await client.query(DAY_SQL, [tenant, day]);
  return toDay(tenant, day, rows[0]);
}

function toDay(tenant: string, day: string, row: PgRow | undefined): BudgetDay {
  return {
    tenant,
    day,
    spent_cents: Number(row?.spent_cents ?? 0),
    reserved_cents: Number(row?.reserved_cents ?? 0),
  };
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function toTenant(row: PgRow): TenantRecord {
  return {
    id: String(row.id),
    created_at: Number(row.created_at),
    daily_budget_cents: nullableNumber(row.daily_budget_cents),
  };
}

function toKey(row: PgRow): ApiKeyRecord {
  return {
    key_id: String(row.key_id),
    role: String(row.role) as ApiKeyRecord["role"],
    tenant: row.tenant === null ? null : String(row.tenant),
    sha256: String(row.sha256),
    created_at: Number(row.created_at),
    revoked_at: nullableNumber(row.revoked_at),
  };
}

function toEntry(row: PgRow): BudgetEntry {
  return {
    key: String(row.key),
    run_id: String(row.run_id),
    tenant: String(row.tenant),
    day: String(row.day),
    reserved_cents: Number(row.reserved_cents),
    charged_cents: nullableNumber(row.charged_cents),
  };
}
