import { type PgNamedQuery, type PgRow, prepared } from "./_pg_driver.ts";
import { type Pending, PgBatcher, sendTogether } from "./_pg_batcher.ts";
import { COMMIT_MODE } from "./_pg_appends.ts";
import type {
  BudgetAnswer,
  BudgetDay,
  BudgetReservationRequest,
} from "./budget_records.ts";

// Many zero-cent reservations in one statement. A zero-cent ask changes no
// total, so, as alone, it locks no day row and is granted on the day as
// the statement sees it (within the tenant's limit). Its entry is inserted
// unless its key is held already; a concurrent ask with the same key that
// got there first makes the insert do nothing, and that ask is then sent
// again alone, which finds the key held. Like one alone, the batch commits
// without waiting for its flush (Store.reserveBudget says why).
const RESERVE_ZERO_MANY = prepared(
  "aos_budget_reserve_zero_many",
  `WITH ${COMMIT_MODE("false")}, input AS (
     SELECT i.* FROM commit_mode, unnest($1::text[], $2::text[], $3::text[],
       $4::text[], $5::bigint[]) AS i (key, run_id, tenant, day, default_limit)
   ), asked AS (
     SELECT i.key, i.run_id, i.tenant, i.day, h.day AS held_day,
       COALESCE(t.daily_budget_cents, i.default_limit) AS limit_cents,
       COALESCE(d.spent_cents, 0) AS spent_cents,
       COALESCE(d.reserved_cents, 0) AS reserved_cents
     FROM input i
     LEFT JOIN budget_entries h ON h.key = i.key
     LEFT JOIN tenants t ON t.id = i.tenant
     LEFT JOIN budget_days d ON d.tenant = i.tenant AND d.day = i.day
   ), entry AS (
     INSERT INTO budget_entries (key, run_id, tenant, day, reserved_cents)
     SELECT key, run_id, tenant, day, 0 FROM asked
     WHERE held_day IS NULL AND spent_cents + reserved_cents <= limit_cents
     ORDER BY key
     ON CONFLICT (key) DO NOTHING
     RETURNING key
   )
   SELECT a.key, a.held_day, a.limit_cents, a.spent_cents, a.reserved_cents,
     EXISTS (SELECT 1 FROM entry e WHERE e.key = a.key) AS granted
   FROM asked a`,
);

/** What the batch needs of the store. */
export interface PgReserveAccess {
  query(query: PgNamedQuery): Promise<PgRow[]>;
  /** One reservation in a statement of its own. */
  alone(request: BudgetReservationRequest): Promise<BudgetAnswer>;
  budgetDay(tenant: string, day: string): Promise<BudgetDay>;
}

interface Ask {
  request: BudgetReservationRequest;
  answer?: BudgetAnswer;
}

/**
 * Group commit of zero-cent reservations (steps without a cost estimate;
 * see `PgBatcher`): the asks of many run actors in one statement, so one
 * round trip and one commit instead of one each. Answers are the same as
 * a reservation alone would give.
 */
export class PgReserveBatch {
  readonly #db: PgReserveAccess;
  readonly #batcher: PgBatcher<Ask>;

  constructor(db: PgReserveAccess) {
    this.#db = db;
    this.#batcher = new PgBatcher((batch) => this.#commit(batch));
  }

  /** Reserves a zero-cent `request` in the next batch. */
  async reserve(request: BudgetReservationRequest): Promise<BudgetAnswer> {
    const ask: Ask = { request };
    await this.#batcher.submit(request.key, ask);
    return ask.answer!;
  }

  async #commit(batch: Pending<Ask>[]): Promise<void> {
    const settle = async (
      pending: Pending<Ask>,
      answer: () => Promise<BudgetAnswer>,
    ) => {
      try {
        pending.write.answer = await answer();
        pending.resolve();
      } catch (error) {
        pending.reject(error);
      }
    };
    const alone = (pending: Pending<Ask>) =>
      settle(pending, () => this.#db.alone(pending.write.request));
    const asks = batch.map((pending) => pending.write.request);
    const rows = await sendTogether(
      batch,
      () =>
        this.#db.query(RESERVE_ZERO_MANY([
          asks.map((ask) => ask.key),
          asks.map((ask) => ask.run_id),
          asks.map((ask) => ask.tenant),
          asks.map((ask) => ask.day),
          asks.map((ask) => ask.default_limit_cents),
        ])),
      alone,
    );
    if (rows === undefined) return;
    const byKey = new Map(rows.map((row) => [String(row.key), row]));
    await Promise.all(
      batch.map((pending) =>
        settle(
          pending,
          () => this.#answer(pending.write.request, byKey.get(pending.key)),
        )
      ),
    );
  }

  async #answer(
    request: BudgetReservationRequest,
    row: PgRow | undefined,
  ): Promise<BudgetAnswer> {
    if (row === undefined) return await this.#db.alone(request);
    const limit_cents = Number(row.limit_cents);
    const { tenant, day } = request;
    if (row.held_day !== null && row.held_day !== undefined) {
      return {
        granted: true,
        limit_cents,
        ...await this.#db.budgetDay(tenant, String(row.held_day)),
      };
    }
    const spent_cents = Number(row.spent_cents);
    const reserved_cents = Number(row.reserved_cents);
    const answer = { limit_cents, tenant, day, spent_cents, reserved_cents };
    if (row.granted === true) return { granted: true, ...answer };
    if (spent_cents + reserved_cents > limit_cents) {
      return { granted: false, ...answer };
    }
    // Within the limit yet not inserted: a concurrent ask with this key
    // got there first; asked alone, it finds the key held.
    return await this.#db.alone(request);
  }
}
