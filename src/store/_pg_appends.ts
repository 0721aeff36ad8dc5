import { AosError } from "../errors/mod.ts";
import {
  assertConsecutive,
  leaseLost,
  queueFull,
  sequenceConflict,
  signalsWaiting,
} from "./_append_checks.ts";
import { type PgQueryable, prepared } from "./_pg_driver.ts";
import { RUNNABLE_CHANNEL } from "./_pg_listener.ts";
import { type LogRecord, recordToLine } from "./record.ts";
import { type AppendOptions, isTerminal, type RunMeta } from "./store.ts";

// The writes of a run's log on PostgreSQL, each one statement (one round
// trip, its own transaction). The checks an append needs (the expected
// sequence, the previous hash, the fencing epoch) are conditions of the
// UPDATE of the run's index row: in READ COMMITTED an UPDATE that meets a
// row another transaction is changing waits for it and re-checks its
// conditions on the row as that transaction left it, so check and write
// are one atomic step, as under the FOR UPDATE lock they replace. The
// records are inserted by the same statement, from the rows the UPDATE
// returned: an append that fails a check writes nothing at all.

/**
 * A CTE named `commit_mode` that sets `synchronous_commit` for the
 * statement's own transaction: unchanged when the boolean parameter is true,
 * off when it is false (the commit is acknowledged before its WAL flush).
 * A statement reads from it so that it runs, once, before the commit.
 */
export function COMMIT_MODE(durableParameter: string): string {
  return `commit_mode AS MATERIALIZED (
     SELECT set_config('synchronous_commit',
       CASE WHEN ${durableParameter}::boolean
         THEN current_setting('synchronous_commit') ELSE 'off' END, true)
   )`;
}

const APPEND = prepared(
  "aos_append",
  `WITH ${COMMIT_MODE("$13")}, delivered AS MATERIALIZED (
     SELECT count(*)::int AS n FROM signal_requests
     WHERE run_id = $1 AND id = ANY ($14::text[])
   ), head AS (
     UPDATE runs SET last_seq = $2, digest = $3, updated_at = $4,
       status = COALESCE($5, status),
       lease_owner = CASE WHEN $6 THEN '' ELSE lease_owner END,
       lease_expires_at = CASE WHEN $6 THEN 0 ELSE lease_expires_at END,
       signals_waiting = signals_waiting - delivered.n,
       resume_id = CASE WHEN resume_id = ANY ($14::text[]) THEN NULL
         ELSE resume_id END,
       resume_body = CASE WHEN resume_id = ANY ($14::text[]) THEN NULL
         ELSE resume_body END
     FROM commit_mode, delivered
     WHERE run_id = $1 AND last_seq = $7 AND digest = $8
       AND ($9::bigint IS NULL OR lease_epoch = $9::bigint)
       AND (NOT $6 OR signals_waiting <= delivered.n)
     RETURNING run_id
   ), dropped AS (
     DELETE FROM signal_requests
     WHERE run_id IN (SELECT run_id FROM head) AND id = ANY ($14::text[])
   ), written AS (
     INSERT INTO records (run_id, seq, type, line)
     SELECT head.run_id, r.seq, r.type, r.line
     FROM head, unnest($10::bigint[], $11::text[], $12::text[]) AS r (seq, type, line)
   )
   SELECT count(*)::int AS appended FROM head`,
);

const HEAD = prepared(
  "aos_run_head",
  "SELECT last_seq, digest, lease_epoch, signals_waiting FROM runs WHERE run_id = $1",
);

const OTHERS_WAITING = prepared(
  "aos_others_waiting",
  `SELECT count(*)::int AS n FROM signal_requests
   WHERE run_id = $1 AND NOT (id = ANY ($2::text[]))`,
);

/**
 * Appends `records` (consecutive, of one run, starting at `first`) in one
 * statement; throws the store's error when a check fails.
 */
export async function appendRecords(
  db: PgQueryable,
  records: readonly LogRecord[],
  options: AppendOptions,
): Promise<void> {
  const first = records[0]!;
  const last = records[records.length - 1]!;
  const ends = options.status !== undefined && isTerminal(options.status);
  const { rows } = await db.query(APPEND([
    first.run_id,
    last.seq,
    last.hash,
    last.at,
    options.status ?? null,
    ends,
    first.seq - 1,
    first.prev,
    options.epoch ?? null,
    records.map((record) => record.seq),
    records.map((record) => record.type),
    records.map(recordToLine),
    options.durable ?? true,
    options.delivers ?? [],
  ]));
  if (Number(rows[0]?.appended) === 1) return;
  throw await refusal(db, first, options.epoch, options.delivers);
}

/**
 * Why an append was refused, read after the fact. A refusal for the
 * sequence or the lease stays true once made: epochs and sequences only
 * grow, so what failed the check then still fails it now (a run that
 * vanished was never there). A head that still matches means the append
 * would have ended the run while signal requests waited.
 */
export async function refusal(
  db: PgQueryable,
  first: LogRecord,
  epoch: number | undefined,
  delivers: readonly string[] = [],
): Promise<AosError> {
  const head = (await db.query(HEAD([first.run_id]))).rows[0];
  if (head === undefined) {
    return new AosError("RUN_NOT_FOUND", `run ${first.run_id} not found`, {
      details: { run_id: first.run_id },
    });
  }
  const current = Number(head.lease_epoch);
  if (epoch !== undefined && epoch !== current) {
    return leaseLost(first.run_id, epoch, current);
  }
  // The head matches, yet nothing was written: an end held back by waiting
  // signal requests (they may have been recorded and dropped since).
  if (
    Number(head.last_seq) === first.seq - 1 && head.digest === first.prev
  ) {
    const others = (await db.query(OTHERS_WAITING([first.run_id, delivers])))
      .rows[0];
    return signalsWaiting(first.run_id, Number(others?.n ?? 0));
  }
  return sequenceConflict(first.run_id, Number(head.last_seq) + 1, first.seq);
}

// A run created held (`RunMeta.lease`) is nobody else's to claim: only a
// run created unheld wakes the nodes. With a bound on unfinished runs
// (`RunMeta.unfinishedMax`, $11), the statement reads their count (kept
// by triggers in run_counts, migration 9: a few rows, however many runs
// ended since the last vacuum) and inserts only below the bound: the
// back-pressure check costs no round trip of its own. Without one the
// count is never evaluated.
const createRunText = (notify: boolean) =>
  `WITH live AS (
     SELECT COALESCE(sum(unfinished), 0) AS unfinished FROM run_counts
   ), run AS (
     INSERT INTO runs (run_id, tenant, status, created_at, updated_at,
       last_seq, digest, lease_owner, lease_epoch, lease_expires_at)
     SELECT $1::text, $2::text, 'running', $3::bigint, $12::bigint,
       cardinality($5::text[]) - 1, $4::text, $8::text, $9::bigint, $10::bigint
     WHERE $11::bigint IS NULL OR (SELECT unfinished FROM live) < $11::bigint
     ON CONFLICT (run_id) DO NOTHING RETURNING run_id
   ), first AS (
     INSERT INTO records (run_id, seq, type, line)
     SELECT run.run_id, r.seq - 1, r.type, r.line
     FROM run, unnest($5::text[], $6::text[]) WITH ORDINALITY
       AS r (type, line, seq)
   ), skills AS (
     INSERT INTO run_skills (skill, run_id)
     SELECT DISTINCT skill, run.run_id FROM run, unnest($7::text[]) AS skill
   )
   SELECT (SELECT count(*) FROM run)::int AS created,
     CASE WHEN $11::bigint IS NOT NULL THEN (SELECT unfinished FROM live)
     END AS unfinished${
    notify
      ? `, (SELECT pg_notify('${RUNNABLE_CHANNEL}', '') FROM run) AS notified`
      : ""
  }`;
const CREATE = prepared("aos_create_run", createRunText(true));
const CREATE_HELD = prepared("aos_create_run_held", createRunText(false));

/**
 * Writes a run's first record (and those decided with it, `meta.decided`),
 * its index row (held by `meta.lease`'s owner at epoch 1, when given) and
 * its skills in one statement, and wakes the
 * nodes (NOTIFY at commit) when the run is up for claiming. Writes nothing
 * and throws RUN_QUEUE_FULL when `meta.unfinishedMax` runs or more are
 * unfinished, STORE_RUN_EXISTS when the run id is taken.
 */
export async function insertRun(
  db: PgQueryable,
  first: LogRecord,
  meta: RunMeta,
  skills: readonly string[],
): Promise<void> {
  const lease = meta.lease;
  const records = meta.decided === undefined
    ? [first]
    : [first, ...meta.decided];
  assertConsecutive(records);
  const last = records[records.length - 1]!;
  const { rows } = await db.query((lease === undefined ? CREATE : CREATE_HELD)([
    first.run_id,
    meta.tenant,
    first.at,
    last.hash,
    records.map((record) => record.type),
    records.map(recordToLine),
    [...skills],
    lease?.owner ?? "",
    lease === undefined ? 0 : 1,
    lease?.expires_at ?? 0,
    meta.unfinishedMax ?? null,
    last.at,
  ]));
  const row = rows[0];
  if (Number(row?.created) === 1) return;
  const unfinished = Number(row?.unfinished ?? 0);
  if (
    meta.unfinishedMax !== undefined && unfinished >= meta.unfinishedMax
  ) {
    throw queueFull(unfinished, meta.unfinishedMax);
  }
  throw new AosError("STORE_RUN_EXISTS", `run ${first.run_id} exists`, {
    details: { run_id: first.run_id },
  });
}
