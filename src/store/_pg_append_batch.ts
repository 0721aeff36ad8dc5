import { type PgQueryable, type PgRow, prepared } from "./_pg_driver.ts";
import { appendRecords, COMMIT_MODE, refusal } from "./_pg_appends.ts";
import type { PgDurability } from "./_pg_durability.ts";
import { type Pending, PgBatcher, sendTogether } from "./_pg_batcher.ts";
import { settledIntoDays } from "./_pg_settle_batch.ts";
import { type LogRecord, recordToLine } from "./record.ts";
import type { BudgetReservationRequest } from "./budget_records.ts";
import {
  type AppendOptions,
  isTerminal,
  ReservationNotGranted,
} from "./store.ts";

interface AppendWrite {
  records: readonly LogRecord[];
  options: AppendOptions;
}

// Many runs' appends in one statement, so one transaction: each run's
// index row is updated only when its own checks hold (expected sequence,
// previous hash, fencing epoch), and its records are inserted only for the
// rows that were updated. Rows are locked in run id order first, so two
// statements locking several runs (a batch, a lease renewal) cannot
// deadlock. The runs are named by an array (= ANY) rather than only joined
// with the input, so that the plan looks them up in the primary key (see
// `GrowthStatistics` for why a plan made on a small table may not).
//
// The budget writes the appends carry go in the same statement. A
// zero-cent reservation ($15-$19) changes no total: like one asked alone
// (`_pg_reserve_batch.ts`) it locks no day row and is granted on the day
// as the statement sees it, and its append is written only when it is
// granted on the day asked (or its key is held on that day already); its
// entry is inserted only with the append. A refused one answers with the
// day it was held on or asked for and that day's totals. Settlements
// ($20-$22) are made only for the appends written, summed per day row by
// `settledIntoDays` (`_pg_settle_batch.ts`), day rows changed in (tenant,
// day) order. The signal requests an append delivers ($23-$24, run and id
// per request) are dropped with it, and an append that ends its run is
// written only when no other request waits for the run.
const SETTLED_DAYS = settledIntoDays("settled");
const APPEND_MANY = prepared(
  "aos_append_many",
  `WITH ${COMMIT_MODE("$14")}, input AS (
     SELECT i.* FROM commit_mode, unnest($1::text[], $2::bigint[], $3::text[],
       $4::bigint[], $5::bigint[], $6::text[], $7::bigint[], $8::text[],
       $9::boolean[])
       AS i (run_id, after_seq, after_digest, epoch, last_seq, digest, at,
         status, ends)
   ), asked AS MATERIALIZED (
     SELECT a.run_id, a.key, a.tenant, a.day, h.day AS held_day,
       COALESCE(t.daily_budget_cents, a.default_limit) AS limit_cents,
       COALESCE(d.spent_cents, 0) AS spent_cents,
       COALESCE(d.reserved_cents, 0) AS reserved_cents
     FROM unnest($15::text[], $16::text[], $17::text[], $18::text[],
       $19::bigint[]) AS a (run_id, key, tenant, day, default_limit)
     LEFT JOIN budget_entries h ON h.key = a.key
     LEFT JOIN tenants t ON t.id = a.tenant
     LEFT JOIN budget_days d ON d.tenant = a.tenant
       AND d.day = COALESCE(h.day, a.day)
   ), refused AS (
     SELECT * FROM asked
     WHERE held_day IS DISTINCT FROM day AND (held_day IS NOT NULL
       OR spent_cents + reserved_cents > limit_cents)
   ), locked AS MATERIALIZED (
     SELECT runs.run_id FROM runs WHERE runs.run_id = ANY ($1::text[])
     ORDER BY runs.run_id FOR UPDATE OF runs
   ), delivers AS (
     SELECT * FROM unnest($23::text[], $24::text[]) AS d (run_id, id)
   ), delivered AS MATERIALIZED (
     SELECT d.run_id, count(DISTINCT s.id)::int AS n
     FROM delivers d JOIN signal_requests s ON s.id = d.id AND s.run_id = d.run_id
     GROUP BY d.run_id
   ), resumed AS MATERIALIZED (
     SELECT DISTINCT r.run_id FROM runs r JOIN delivers d
       ON d.run_id = r.run_id AND d.id = r.resume_id
   ), head AS (
     UPDATE runs SET last_seq = input.last_seq, digest = input.digest,
       updated_at = input.at, status = COALESCE(input.status, runs.status),
       lease_owner = CASE WHEN input.ends THEN '' ELSE runs.lease_owner END,
       lease_expires_at = CASE WHEN input.ends THEN 0
         ELSE runs.lease_expires_at END,
       signals_waiting = runs.signals_waiting - COALESCE(delivered.n, 0),
       resume_id = CASE WHEN resumed.run_id IS NULL THEN runs.resume_id END,
       resume_body = CASE WHEN resumed.run_id IS NULL THEN runs.resume_body END
     FROM input JOIN locked ON locked.run_id = input.run_id
       LEFT JOIN delivered ON delivered.run_id = input.run_id
       LEFT JOIN resumed ON resumed.run_id = input.run_id
     WHERE runs.run_id = input.run_id AND runs.run_id = ANY ($1::text[])
       AND runs.last_seq = input.after_seq
       AND runs.digest = input.after_digest
       AND (input.epoch IS NULL OR runs.lease_epoch = input.epoch)
       AND (NOT input.ends
         OR runs.signals_waiting <= COALESCE(delivered.n, 0))
       AND NOT EXISTS (SELECT 1 FROM refused WHERE refused.run_id = input.run_id)
     RETURNING runs.run_id
   ), dropped AS (
     DELETE FROM signal_requests s USING delivers d, head
     WHERE head.run_id = d.run_id AND s.id = d.id AND s.run_id = d.run_id
   ), written AS (
     INSERT INTO records (run_id, seq, type, line)
     SELECT r.run_id, r.seq, r.type, r.line
     FROM unnest($10::text[], $11::bigint[], $12::text[], $13::text[])
       AS r (run_id, seq, type, line)
     JOIN head ON head.run_id = r.run_id
   ), entry AS (
     INSERT INTO budget_entries (key, run_id, tenant, day, reserved_cents)
     SELECT a.key, a.run_id, a.tenant, a.day, 0
     FROM asked a JOIN head ON head.run_id = a.run_id
     WHERE a.held_day IS NULL
     ORDER BY a.key
     ON CONFLICT (key) DO NOTHING
   ), settled AS (
     UPDATE budget_entries e SET charged_cents = s.charged
     FROM unnest($20::text[], $21::text[], $22::bigint[])
       AS s (run_id, key, charged)
     JOIN head ON head.run_id = s.run_id
     WHERE e.key = s.key AND e.charged_cents IS NULL
     RETURNING e.tenant, e.day, e.reserved_cents, s.charged
   ), ${SETTLED_DAYS.perDay}, days AS (${SETTLED_DAYS.addToDays})
   SELECT run_id, NULL AS refused_key, NULL AS held_day, NULL AS day,
     NULL::bigint AS limit_cents, NULL::bigint AS spent_cents,
     NULL::bigint AS reserved_cents
   FROM head
   UNION ALL
   SELECT run_id, key, held_day, day, limit_cents, spent_cents, reserved_cents
   FROM refused`,
);

/**
 * Group commit of the PostgreSQL store's appends (see `PgBatcher`): the
 * appends of many run actors in one statement and one commit, one append
 * per run at a time, so a run's appends land in the order they were made.
 * The zero-cent reservations and the settlements the appends carry
 * (`AppendOptions`) are made by the same statement.
 *
 * Durability is the database's: an append resolves when its batch's
 * statement has committed (with `synchronous_commit` on, when it is on
 * disk). A batch of appends that all asked not to wait for the disk
 * (`durable: false`) commits with `synchronous_commit = off`; a batch
 * holding any other waits for its flush, which covers the whole batch.
 * Fencing is the statement's: an append whose epoch is stale or whose
 * sequence is taken is refused with its own error while the others
 * commit, and writes nothing.
 */
export class PgAppendBatch {
  readonly #db: PgQueryable;
  readonly #batcher: PgBatcher<AppendWrite>;
  readonly #durability: PgDurability;

  constructor(db: PgQueryable, durability: PgDurability) {
    this.#db = db;
    this.#durability = durability;
    this.#batcher = new PgBatcher((batch) => this.#commit(batch));
  }

  /**
   * Appends `records` (checked consecutive) with the next batch; a
   * reservation it carries must be of zero cents (the store makes others
   * before).
   */
  append(
    records: readonly LogRecord[],
    options: AppendOptions,
  ): Promise<void> {
    return this.#batcher.submit(records[0]!.run_id, { records, options });
  }

  async #commit(batch: Pending<AppendWrite>[]): Promise<void> {
    const durable = batch.some(({ write }) => write.options.durable !== false);
    const covering = this.#durability.covering();
    let counted = false;
    // Counted once the first write of the batch is known committed, before
    // any is resolved, so a writer reads a watermark that includes it.
    const settled = (pending: Pending<AppendWrite>) => {
      if (!counted) {
        counted = true;
        if (durable) this.#durability.flushed(covering);
        else this.#durability.committed();
      }
      pending.resolve();
    };
    const many = (writes: Pending<AppendWrite>[]) =>
      this.#db.query(APPEND_MANY(valuesOf(writes, durable)));
    const answer = (writes: Pending<AppendWrite>[], rows: PgRow[]) =>
      Promise.all(writes.map(async (pending) => {
        const { write, reject } = pending;
        const first = write.records[0]!;
        const row = rows.find((row) => String(row.run_id) === first.run_id);
        if (row !== undefined && row.refused_key === null) {
          return settled(pending);
        }
        try {
          reject(
            row === undefined
              ? await refusal(
                this.#db,
                first,
                write.options.epoch,
                write.options.delivers,
              )
              : notGranted(write.options.reservation!, row),
          );
        } catch (error) {
          reject(error);
        }
      }));
    const alone = (pending: Pending<AppendWrite>) =>
      plain(pending.write.options)
        ? appendRecords(this.#db, pending.write.records, {
          ...pending.write.options,
          durable,
        }).then(() => settled(pending), pending.reject)
        : many([pending]).then(
          async ({ rows }) => void await answer([pending], rows),
          pending.reject,
        );
    const sent = await sendTogether(batch, () => many(batch), alone);
    if (sent !== undefined) await answer(batch, sent.rows);
  }
}

function plain(options: AppendOptions): boolean {
  return options.reservation === undefined &&
    (options.settlements === undefined || options.settlements.length === 0);
}

function notGranted(
  reservation: BudgetReservationRequest,
  row: PgRow,
): ReservationNotGranted {
  const held = row.held_day === null ? undefined : String(row.held_day);
  return new ReservationNotGranted(reservation.key, {
    granted: held !== undefined,
    tenant: reservation.tenant,
    day: held ?? reservation.day,
    limit_cents: Number(row.limit_cents),
    spent_cents: Number(row.spent_cents),
    reserved_cents: Number(row.reserved_cents),
  });
}

function valuesOf(
  batch: readonly Pending<AppendWrite>[],
  durable: boolean,
): unknown[] {
  const heads = batch.map(({ write: { records, options } }) => {
    const first = records[0]!;
    const last = records[records.length - 1]!;
    return {
      first,
      last,
      status: options.status ?? null,
      epoch: options.epoch ?? null,
      ends: options.status !== undefined && isTerminal(options.status),
    };
  });
  const records = batch.flatMap((pending) => pending.write.records);
  const asks = batch.flatMap(({ write: { options } }) =>
    options.reservation === undefined ? [] : [options.reservation]
  );
  const settlements = batch.flatMap(({ write: { records, options } }) =>
    (options.settlements ?? []).map((settlement) => ({
      run_id: records[0]!.run_id,
      ...settlement,
    }))
  );
  return [
    heads.map((head) => head.first.run_id),
    heads.map((head) => head.first.seq - 1),
    heads.map((head) => head.first.prev),
    heads.map((head) => head.epoch),
    heads.map((head) => head.last.seq),
    heads.map((head) => head.last.hash),
    heads.map((head) => head.last.at),
    heads.map((head) => head.status),
    heads.map((head) => head.ends),
    records.map((record) => record.run_id),
    records.map((record) => record.seq),
    records.map((record) => record.type),
    records.map(recordToLine),
    durable,
    asks.map((ask) => ask.run_id),
    asks.map((ask) => ask.key),
    asks.map((ask) => ask.tenant),
    asks.map((ask) => ask.day),
    asks.map((ask) => ask.default_limit_cents),
    settlements.map((settlement) => settlement.run_id),
    settlements.map((settlement) => settlement.key),
    settlements.map((settlement) => settlement.charged_cents),
    batch.flatMap(({ write: { records, options } }) =>
      (options.delivers ?? []).map(() => records[0]!.run_id)
    ),
    batch.flatMap(({ write: { options } }) => options.delivers ?? []),
  ];
}
