import { type PgNamedQuery, prepared } from "./_pg_driver.ts";
import { type Pending, PgBatcher, sendTogether } from "./_pg_batcher.ts";
import { COMMIT_MODE } from "./_pg_appends.ts";
import type { PgRow } from "./_pg_driver.ts";

// Settlements commit without waiting for their flush: the BudgetReleased
// each follows is in the log before it, so a crash that loses one is
// repaired from the log at the next start (Store.settleBudget).
//
// A settlement in one statement: the entry is marked settled and its cents
// move from reserved to spent on its day. A zero-cent reservation charged
// nothing leaves the day row alone (it may not even exist).
const SETTLE = prepared(
  "aos_budget_settle",
  `WITH ${COMMIT_MODE("false")}, entry AS (
     UPDATE budget_entries SET charged_cents = $2
     FROM commit_mode
     WHERE key = $1 AND charged_cents IS NULL
     RETURNING tenant, day, reserved_cents
   )
   INSERT INTO budget_days AS d (tenant, day, spent_cents, reserved_cents)
   SELECT tenant, day, $2::bigint, -reserved_cents FROM entry
   WHERE reserved_cents <> 0 OR $2::bigint <> 0
   ON CONFLICT (tenant, day) DO UPDATE
     SET spent_cents = d.spent_cents + excluded.spent_cents,
       reserved_cents = d.reserved_cents + excluded.reserved_cents`,
);

/**
 * Moves the cents of settled entries onto their days: a `per_day` CTE over
 * `settled` (rows of tenant, day, reserved_cents, charged) summed per day,
 * so each day row changes once, and the INSERT that adds it to the day rows
 * in (tenant, day) order, so concurrent batches cannot deadlock on them.
 * Shared by the settlements made alone and those appends carry.
 */
export function settledIntoDays(settled: string): {
  perDay: string;
  addToDays: string;
} {
  return {
    perDay: `per_day AS (
     SELECT tenant, day, sum(charged)::bigint AS spent,
       sum(reserved_cents)::bigint AS released
     FROM ${settled} GROUP BY tenant, day
   )`,
    addToDays:
      `INSERT INTO budget_days AS d (tenant, day, spent_cents, reserved_cents)
   SELECT tenant, day, spent, -released FROM per_day
   WHERE spent <> 0 OR released <> 0
   ORDER BY tenant, day
   ON CONFLICT (tenant, day) DO UPDATE
     SET spent_cents = d.spent_cents + excluded.spent_cents,
       reserved_cents = d.reserved_cents + excluded.reserved_cents`,
  };
}

// Many settlements in one statement, their cents summed per day.
const SETTLE_MANY_DAYS = settledIntoDays("entry");
const SETTLE_MANY = prepared(
  "aos_budget_settle_many",
  `WITH ${COMMIT_MODE("false")}, input AS (
     SELECT i.* FROM commit_mode, unnest($1::text[], $2::bigint[])
       AS i (key, charged)
   ), entry AS (
     UPDATE budget_entries e SET charged_cents = input.charged
     FROM input WHERE e.key = input.key AND e.charged_cents IS NULL
     RETURNING e.tenant, e.day, e.reserved_cents, input.charged
   ), ${SETTLE_MANY_DAYS.perDay}
   ${SETTLE_MANY_DAYS.addToDays}`,
);

/**
 * Group commit of budget settlements (see `PgBatcher`): the settlements of
 * many run actors in one statement. One settlement per key at a time, so
 * settling a key twice still charges it once, with the first charge.
 */
export class PgSettleBatch {
  readonly #query: (query: PgNamedQuery) => Promise<PgRow[]>;
  readonly #batcher: PgBatcher<number>;

  constructor(query: (query: PgNamedQuery) => Promise<PgRow[]>) {
    this.#query = query;
    this.#batcher = new PgBatcher((batch) => this.#commit(batch));
  }

  /** Settles reservation `key` with `chargedCents` in the next batch. */
  settle(key: string, chargedCents: number): Promise<void> {
    return this.#batcher.submit(key, chargedCents);
  }

  async #commit(batch: Pending<number>[]): Promise<void> {
    const alone = ({ key, write, resolve, reject }: Pending<number>) =>
      this.#query(SETTLE([key, write])).then(() => resolve(), reject);
    const sent = await sendTogether(
      batch,
      () =>
        this.#query(SETTLE_MANY([
          batch.map((pending) => pending.key),
          batch.map((pending) => pending.write),
        ])),
      alone,
    );
    if (sent === undefined) return;
    for (const pending of batch) pending.resolve();
  }
}
