import { AosError } from "../errors/mod.ts";
import {
  type PgNamedQuery,
  type PgQueryable,
  type PgRow,
  prepared,
} from "./_pg_driver.ts";
import type {
  BudgetAnswer,
  BudgetCharge,
  BudgetDay,
  BudgetEntry,
  BudgetReservationRequest,
} from "./budget_records.ts";
import type { ApiKeyRecord, TenantRecord } from "./tenant_records.ts";
import { PgSettleBatch } from "./_pg_settle_batch.ts";
import { PgReserveBatch } from "./_pg_reserve_batch.ts";
import { API_KEYS_CHANNEL } from "./_pg_listener.ts";
import { COMMIT_MODE } from "./_pg_appends.ts";

/** What the tenant and budget tables need from the PostgreSQL store. */
export interface PgAccess {
  query(text: string | PgNamedQuery, values?: unknown[]): Promise<PgRow[]>;
  transaction<T>(work: (client: PgQueryable) => Promise<T>): Promise<T>;
  /** Tells this process's listeners that keys were revoked (`onApiKeysRevoked`). */
  keysRevoked(): void;
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
  readonly #settlements: PgSettleBatch;
  readonly #zeroReservations: PgReserveBatch;

  constructor(db: PgAccess) {
    this.#db = db;
    this.#settlements = new PgSettleBatch((query) => db.query(query));
    this.#zeroReservations = new PgReserveBatch({
      query: (query) => db.query(query),
      alone: (request) => this.#reserveAlone(request),
      budgetDay: (tenant, day) => this.budgetDay(tenant, day),
    });
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
    const [row] = await this.#db.query(GET_TENANT([id]));
    return row === undefined ? undefined : toTenant(row);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (await this.#db.query("SELECT * FROM tenants ORDER BY id")).map(
      toTenant,
    );
  }

  // Revocations NOTIFY the other processes (at commit) and tell this one's
  // listeners before they resolve, so a cached key stops working at once
  // here and as soon as the news arrives elsewhere.
  async putApiKey(key: ApiKeyRecord, revokeOthers: boolean): Promise<void> {
    await this.#db.transaction(async (client) => {
      if (revokeOthers) {
        await client.query(
          `WITH revoked AS (
             UPDATE api_keys SET revoked_at = $1
             WHERE tenant IS NOT DISTINCT FROM $2 AND role = $3 AND revoked_at IS NULL
             RETURNING key_id
           )
           SELECT pg_notify('${API_KEYS_CHANNEL}', '') FROM revoked LIMIT 1`,
          [key.created_at, key.tenant, key.role],
        );
      }
      await insertKey(client, key);
    });
    if (revokeOthers) this.#db.keysRevoked();
  }

  async findApiKey(sha256: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await this.#db.query(FIND_API_KEY([sha256]));
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
      `WITH revoked AS (
         UPDATE api_keys SET revoked_at = $2
         WHERE key_id = $1 AND revoked_at IS NULL RETURNING key_id
       )
       SELECT pg_notify('${API_KEYS_CHANNEL}', '') FROM revoked`,
      [keyId, at],
    );
    this.#db.keysRevoked();
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

  /**
   * Reserves budget: zero-cent asks (steps without a cost estimate) in
   * batches, others one statement each (they queue on the day row).
   */
  reserveBudget(request: BudgetReservationRequest): Promise<BudgetAnswer> {
    return request.cents === 0
      ? this.#zeroReservations.reserve(request)
      : this.#reserveAlone(request);
  }

  async #reserveAlone(
    request: BudgetReservationRequest,
  ): Promise<BudgetAnswer> {
    const { key, run_id, tenant, day, cents, default_limit_cents } = request;
    const values = [key, run_id, tenant, day, cents, default_limit_cents];
    let row: PgRow | undefined;
    try {
      row = (await this.#db.query(RESERVE(values)))[0];
    } catch (error) {
      // 23505: a concurrent ask with the same key won; this statement
      // rolled back whole, and asked again it finds the key held.
      if ((error as { code?: unknown }).code !== "23505") throw error;
      row = (await this.#db.query(RESERVE(values)))[0];
    }
    const limit_cents = Number(row?.limit_cents ?? default_limit_cents);
    if (row?.held_day !== null && row?.held_day !== undefined) {
      return {
        granted: true,
        limit_cents,
        ...await this.budgetDay(tenant, String(row.held_day)),
      };
    }
    if (row?.granted !== true) {
      return {
        granted: false,
        limit_cents,
        ...await this.budgetDay(tenant, day),
      };
    }
    return { granted: true, limit_cents, ...toDay(tenant, day, row) };
  }

  settleBudget(key: string, chargedCents: number): Promise<void> {
    return this.#settlements.settle(key, chargedCents);
  }

  /** Books a charge without a reservation (`AppendOptions.charges`). */
  async bookCharge(charge: BudgetCharge): Promise<void> {
    const { key, run_id, tenant, day, cents } = charge;
    await this.#db.query(BOOK_CHARGE([key, run_id, tenant, day, cents]));
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

const GET_TENANT = prepared(
  "aos_get_tenant",
  "SELECT * FROM tenants WHERE id = $1",
);
const FIND_API_KEY = prepared(
  "aos_find_api_key",
  "SELECT * FROM api_keys WHERE sha256 = $1 AND revoked_at IS NULL",
);

// A reservation in one statement. The entry is inserted only when the
// reservation holds, so a refusal leaves nothing behind; a key already held
// answers as granted (`held_day`). The day row is locked only by asks of
// more than zero cents: a zero-cent ask changes no total, so it is granted
// on the day as the statement sees it, and asks of steps without a cost
// never queue on the tenant's one row. Concurrent asks with one key: the
// second's entry INSERT fails on the key and takes its reservation with it.
// The limit is the tenant's own when its record sets one, read by the
// statement itself: no read of the tenant before each ask.
const RESERVE = prepared(
  "aos_budget_reserve",
  `WITH held AS (
     SELECT day FROM budget_entries WHERE key = $1
   ), day_limit AS (
     SELECT COALESCE(
       (SELECT daily_budget_cents FROM tenants WHERE id = $3), $6::bigint
     ) AS cents
   ), reserved AS (
     INSERT INTO budget_days AS d (tenant, day, reserved_cents)
     SELECT $3, $4, $5::bigint FROM day_limit
     WHERE $5::bigint > 0 AND $5::bigint <= day_limit.cents
       AND NOT EXISTS (SELECT 1 FROM held)
     ON CONFLICT (tenant, day) DO UPDATE
       SET reserved_cents = d.reserved_cents + excluded.reserved_cents
       WHERE d.spent_cents + d.reserved_cents + excluded.reserved_cents <=
         (SELECT cents FROM day_limit)
     RETURNING d.spent_cents, d.reserved_cents
   ), seen AS (
     SELECT spent_cents, reserved_cents FROM budget_days
     WHERE tenant = $3 AND day = $4
   ), entry AS (
     INSERT INTO budget_entries (key, run_id, tenant, day, reserved_cents)
     SELECT $1, $2, $3, $4, $5::bigint
     WHERE NOT EXISTS (SELECT 1 FROM held) AND (
       EXISTS (SELECT 1 FROM reserved) OR ($5::bigint = 0 AND
         COALESCE((SELECT spent_cents + reserved_cents FROM seen), 0) <=
           (SELECT cents FROM day_limit)))
     RETURNING key
   )
   SELECT (SELECT day FROM held) AS held_day,
     (SELECT cents FROM day_limit) AS limit_cents,
     EXISTS (SELECT 1 FROM entry) AS granted,
     COALESCE((SELECT spent_cents FROM reserved), (SELECT spent_cents FROM seen), 0) AS spent_cents,
     COALESCE((SELECT reserved_cents FROM reserved), (SELECT reserved_cents FROM seen), 0) AS reserved_cents,
     -- Commits without waiting for its flush (Store.reserveBudget says why).
     set_config('synchronous_commit', 'off', true) AS commit_mode`,
);

// A charge without a reservation: its entry inserted settled, its cents
// added to its day only when the entry is new (booking a key held already
// changes nothing). Committed without waiting for its flush: the append
// that records it comes after it in the WAL, so whatever flush makes that
// record durable makes this too, and a crash that loses both has the run
// book it again.
const BOOK_CHARGE = prepared(
  "aos_budget_book_charge",
  `WITH ${COMMIT_MODE("false")}, entry AS (
     INSERT INTO budget_entries (key, run_id, tenant, day, reserved_cents,
       charged_cents)
     SELECT $1, $2, $3, $4, 0, $5::bigint FROM commit_mode
     ON CONFLICT (key) DO NOTHING
     RETURNING tenant, day
   )
   INSERT INTO budget_days AS d (tenant, day, spent_cents)
   SELECT tenant, day, $5::bigint FROM entry WHERE $5::bigint <> 0
   ON CONFLICT (tenant, day) DO UPDATE
     SET spent_cents = d.spent_cents + excluded.spent_cents`,
);

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
