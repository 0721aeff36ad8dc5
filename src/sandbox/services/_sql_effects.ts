/**
 * The effect ledger: how a write statement is applied once. A step attempt
 * that a node re-executes after a crash asks for the same host calls again,
 * and the journal can only serve the answers it recorded: a statement that
 * committed just before the crash, its answer not yet in the run's log,
 * would run a second time. So a write call with an effect key (the same on
 * every node, `idempotency_key.ts`) records its answer in the datasource
 * itself, in `aos_effects`, in the statement's own transaction: the write
 * and its record commit together or not at all. A call whose key is there
 * already answers what was recorded and runs nothing. Two executions of one
 * key at once (a node that lost its lease still running) both run the
 * statement, but the second's record waits for the first's commit and
 * fails on the key (or its statement fails on what the first wrote), which
 * rolls the second back whole; it then answers the first's answer.
 *
 * The table is created on a datasource's first write (the write role needs
 * CREATE on its schema once, or an operator creates it: docs/operations.md).
 * Entries older than `RETENTION_DAYS` are deleted now and then: a key is
 * asked for again only when an attempt is re-executed, which a cluster that
 * is up does within a lease's expiry.
 *
 * @module
 */
import { AosError } from "../../errors/mod.ts";
import type { Json } from "../../store/mod.ts";
import type { PgClient } from "./_sql_driver.ts";

/** The ledger's table, in the write role's default schema. */
export const EFFECTS_TABLE = "aos_effects";

/** How long an entry is kept. */
export const RETENTION_DAYS = 30;

/** How often a pool deletes old entries (at a write, at most this often). */
const PRUNE_EVERY_MS = 3_600_000;

const CREATE = [
  `create table if not exists ${EFFECTS_TABLE} (
    key text primary key,
    answer text not null,
    recorded_at timestamptz not null default now()
  )`,
  // The hourly prune reads old entries through it, not the whole table.
  `create index if not exists ${EFFECTS_TABLE}_by_time
    on ${EFFECTS_TABLE} (recorded_at)`,
];

/** The ledger's state for one pool. */
export class EffectLedger {
  #ready: Promise<void> | undefined;
  #prunedAtMs = -Infinity;

  /**
   * Creates the table once per pool (a failure is tried again at the next
   * write); deletes old entries at most hourly. Runs outside the call's
   * transaction, on its connection.
   */
  async prepare(client: PgClient, datasource: string): Promise<void> {
    this.#ready ??= create(client, datasource).catch((error) => {
      this.#ready = undefined;
      throw error;
    });
    await this.#ready;
    const nowMs = Date.now();
    if (nowMs - this.#prunedAtMs < PRUNE_EVERY_MS) return;
    this.#prunedAtMs = nowMs;
    await client.query(
      `delete from ${EFFECTS_TABLE}
       where recorded_at < now() - interval '${RETENTION_DAYS} days'`,
    );
  }
}

/** The answer recorded under `key`, if any. */
export async function recordedAnswer(
  client: PgClient,
  key: string,
): Promise<Json | undefined> {
  const result = await client.query<{ answer: string }>(
    `select answer from ${EFFECTS_TABLE} where key = $1`,
    [key],
  );
  const row = result.rows[0];
  return row === undefined ? undefined : JSON.parse(row.answer) as Json;
}

/**
 * Records `answer` under `key` in the call's transaction. Another
 * execution of the key that committed first makes this fail on the key.
 */
export async function recordAnswer(
  client: PgClient,
  key: string,
  answer: Json,
): Promise<void> {
  await client.query(
    `insert into ${EFFECTS_TABLE} (key, answer) values ($1, $2)`,
    [key, JSON.stringify(answer)],
  );
}

async function create(client: PgClient, datasource: string): Promise<void> {
  // Looked for first: CREATE TABLE IF NOT EXISTS needs CREATE on the schema
  // even when the table is there, which a role working in a schema an
  // operator prepared may not have.
  const found = await client.query<{ table: string | null }>(
    `select to_regclass('${EFFECTS_TABLE}')::text as table`,
  );
  const table = found.rows[0]?.table;
  if (table !== undefined && table !== null) return;
  try {
    for (const statement of CREATE) await client.query(statement);
  } catch (error) {
    const code = (error as { code?: unknown })?.code;
    // Created meanwhile by another connection.
    if (code === "23505" || code === "42P07") return;
    if (code === "42501") {
      throw new AosError(
        "ERR_SQL_ERROR",
        `datasource "${datasource}" has no ${EFFECTS_TABLE} table, which records each write so that it is applied once, and its role may not create it; an operator creates it once as docs/operations.md shows ("Writes applied once")`,
        {
          cause: error,
          details: { datasource, sqlstate: "42501", table: EFFECTS_TABLE },
        },
      );
    }
    throw error;
  }
}
