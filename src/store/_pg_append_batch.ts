import { type PgQueryable, prepared } from "./_pg_driver.ts";
import { appendRecords, COMMIT_MODE, refusal } from "./_pg_appends.ts";
import type { PgDurability } from "./_pg_durability.ts";
import { type Pending, PgBatcher, sendTogether } from "./_pg_batcher.ts";
import { type LogRecord, recordToLine } from "./record.ts";
import { type AppendOptions, isTerminal } from "./store.ts";

interface AppendWrite {
  records: readonly LogRecord[];
  options: AppendOptions;
}

// Many runs' appends in one statement, so one transaction: each run's
// index row is updated only when its own checks hold (expected sequence,
// previous hash, fencing epoch), and its records are inserted only for the
// rows that were updated. Rows are locked in run id order first, so two
// statements locking several runs (a batch, a lease renewal) cannot
// deadlock.
const APPEND_MANY = prepared(
  "aos_append_many",
  `WITH ${COMMIT_MODE("$14")}, input AS (
     SELECT i.* FROM commit_mode, unnest($1::text[], $2::bigint[], $3::text[],
       $4::bigint[], $5::bigint[], $6::text[], $7::bigint[], $8::text[],
       $9::boolean[])
       AS i (run_id, after_seq, after_digest, epoch, last_seq, digest, at,
         status, ends)
   ), locked AS MATERIALIZED (
     SELECT runs.run_id FROM runs JOIN input ON input.run_id = runs.run_id
     ORDER BY runs.run_id FOR UPDATE OF runs
   ), head AS (
     UPDATE runs SET last_seq = input.last_seq, digest = input.digest,
       updated_at = input.at, status = COALESCE(input.status, runs.status),
       lease_owner = CASE WHEN input.ends THEN '' ELSE runs.lease_owner END,
       lease_expires_at = CASE WHEN input.ends THEN 0
         ELSE runs.lease_expires_at END
     FROM input JOIN locked ON locked.run_id = input.run_id
     WHERE runs.run_id = input.run_id AND runs.last_seq = input.after_seq
       AND runs.digest = input.after_digest
       AND (input.epoch IS NULL OR runs.lease_epoch = input.epoch)
     RETURNING runs.run_id
   ), written AS (
     INSERT INTO records (run_id, seq, type, line)
     SELECT r.run_id, r.seq, r.type, r.line
     FROM unnest($10::text[], $11::bigint[], $12::text[], $13::text[])
       AS r (run_id, seq, type, line)
     JOIN head ON head.run_id = r.run_id
   )
   SELECT run_id FROM head`,
);

/**
 * Group commit of the PostgreSQL store's appends (see `PgBatcher`): the
 * appends of many run actors in one statement and one commit, one append
 * per run at a time, so a run's appends land in the order they were made.
 *
 * Durability is the database's: an append resolves when its batch's
 * statement has committed (with `synchronous_commit` on, when it is on
 * disk). A batch of appends that all asked not to wait for the disk
 * (`durable: false`) commits with `synchronous_commit = off`; a batch
 * holding any other waits for its flush, which covers the whole batch. Fencing is the statement's: an append whose epoch is stale or
 * whose sequence is taken is refused with its own error while the others
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

  /** Appends `records` (checked consecutive) with the next batch. */
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
    const alone = (pending: Pending<AppendWrite>) =>
      appendRecords(this.#db, pending.write.records, {
        ...pending.write.options,
        durable,
      }).then(() => settled(pending), pending.reject);
    const sent = await sendTogether(
      batch,
      () => this.#db.query(APPEND_MANY([...valuesOf(batch), durable])),
      alone,
    );
    if (sent === undefined) return;
    const appended = new Set(sent.rows.map((row) => String(row.run_id)));
    await Promise.all(batch.map(async (pending) => {
      const { write, reject } = pending;
      const first = write.records[0]!;
      if (appended.has(first.run_id)) return settled(pending);
      try {
        reject(await refusal(this.#db, first, write.options.epoch));
      } catch (error) {
        reject(error);
      }
    }));
  }
}

function valuesOf(batch: readonly Pending<AppendWrite>[]): unknown[] {
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
  ];
}
