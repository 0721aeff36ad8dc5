import assert from "node:assert/strict";
import pg from "pg";
import { startTestPostgres } from "../../tests/support/postgres.ts";
import { migratePostgres } from "./postgres_migrate.ts";
import { POSTGRES_MIGRATIONS } from "./_pg_schema.ts";
import { GrowthStatistics } from "./_pg_statistics.ts";

// One database for the file; every test starts from an empty schema.
const database = await startTestPostgres();

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: database.url });
  client.on("error", () => {});
  await client.connect();
  return client;
}

async function freshSchema(): Promise<void> {
  await database.exec(
    "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
  );
}

/** The schema as it was before the counted runs (migration 9). */
async function migrateUpTo(client: pg.Client, version: number): Promise<void> {
  await client.query(
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
  );
  for (const migration of POSTGRES_MIGRATIONS) {
    if (migration.version > version) break;
    await client.query(migration.sql);
    await client.query(
      "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)",
      [migration.version],
    );
  }
}

/** Inserts runs `prefix0..n-1` with `status`, in one statement. */
async function insertRuns(
  client: pg.Client,
  prefix: string,
  count: number,
  status: string,
): Promise<void> {
  await client.query(
    `INSERT INTO runs (run_id, tenant, status, created_at, updated_at, last_seq, digest)
     SELECT $1 || n, 't', $2, n, n, 0, 'd' FROM generate_series(0, $3 - 1) AS n`,
    [prefix, status, count],
  );
}

/** The count the triggers keep, and the count of the rows themselves. */
async function counts(
  client: pg.Client,
): Promise<{ kept: number; actual: number }> {
  const { rows } = await client.query(
    `SELECT (SELECT COALESCE(sum(unfinished), 0) FROM run_counts) AS kept,
       (SELECT count(*) FROM runs WHERE status IN ('running', 'paused')) AS actual`,
  );
  return { kept: Number(rows[0].kept), actual: Number(rows[0].actual) };
}

Deno.test("migration 9 counts the unfinished runs already stored, and triggers keep the count through every kind of write", async () => {
  await freshSchema();
  const client = await connect();
  try {
    await migrateUpTo(client, 8);
    await insertRuns(client, "old_running_", 7, "running");
    await insertRuns(client, "old_paused_", 2, "paused");
    await insertRuns(client, "old_done_", 5, "succeeded");
    // Migration 9, and the ones released after it.
    assert.deepEqual(await migratePostgres(database.url), [9, 10, 11]);
    assert.deepEqual(await counts(client), { kept: 9, actual: 9 });

    // Many rows per statement, in each direction.
    await insertRuns(client, "new_", 40, "running");
    assert.deepEqual(await counts(client), { kept: 49, actual: 49 });
    await client.query(
      "UPDATE runs SET status = 'succeeded' WHERE run_id LIKE 'new_1%'",
    );
    assert.deepEqual(await counts(client), { kept: 38, actual: 38 });
    // Between unfinished statuses, and between finished ones: no change.
    await client.query(
      "UPDATE runs SET status = 'paused' WHERE run_id LIKE 'new_2%'",
    );
    await client.query(
      "UPDATE runs SET status = 'failed' WHERE run_id LIKE 'old_done_%'",
    );
    // A column other than the status, and the status set to itself.
    await client.query("UPDATE runs SET last_seq = last_seq + 1");
    await client.query("UPDATE runs SET status = status");
    assert.deepEqual(await counts(client), { kept: 38, actual: 38 });
    // A finished run made unfinished again, and deletions of both kinds.
    await client.query(
      "UPDATE runs SET status = 'running' WHERE run_id = 'old_done_0'",
    );
    await client.query(
      "DELETE FROM runs WHERE run_id LIKE 'new_3%' OR run_id = 'old_done_1'",
    );
    assert.deepEqual(await counts(client), { kept: 28, actual: 28 });
    // A write rolled back changes no count.
    await client.query("BEGIN");
    await insertRuns(client, "rolled_back_", 5, "running");
    await client.query("ROLLBACK");
    assert.deepEqual(await counts(client), { kept: 28, actual: 28 });
  } finally {
    await client.end();
  }
});

Deno.test("the count docs/operations.md sets right after writes made with triggers off is exact again", async () => {
  await freshSchema();
  await migratePostgres(database.url);
  const client = await connect();
  try {
    await insertRuns(client, "counted_", 3, "running");
    await client.query("ALTER TABLE runs DISABLE TRIGGER USER");
    await insertRuns(client, "uncounted_", 4, "running");
    await client.query("ALTER TABLE runs ENABLE TRIGGER USER");
    assert.deepEqual(await counts(client), { kept: 3, actual: 7 });
    // As docs/operations.md ("PostgreSQL upkeep") says, in one transaction.
    await client.query("BEGIN");
    await client.query("LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE");
    await client.query("UPDATE run_counts SET unfinished = 0");
    await client.query(
      `UPDATE run_counts SET unfinished = (
         SELECT count(*) FROM runs WHERE status IN ('running', 'paused')
       ) WHERE shard = 0`,
    );
    await client.query("COMMIT");
    assert.deepEqual(await counts(client), { kept: 7, actual: 7 });
  } finally {
    await client.end();
  }
});

Deno.test("the unfinished count stays exact with writers racing on many connections", async () => {
  await freshSchema();
  await migratePostgres(database.url);
  const writers: pg.Client[] = await Promise.all(
    Array.from({ length: 6 }, () => connect()),
  );
  try {
    // Each writer creates runs and ends others, in transactions of several
    // statements, at the same time as the rest; none may deadlock or lose
    // an update of the count.
    await Promise.all(writers.map(async (client, writer) => {
      for (let round = 0; round < 10; round++) {
        await client.query("BEGIN");
        await insertRuns(client, `w${writer}_r${round}_`, 5, "running");
        await client.query(
          `UPDATE runs SET status = 'succeeded'
           WHERE run_id IN ($1, $2) AND status = 'running'`,
          [`w${(writer + 1) % 6}_r${round}_0`, `w${writer}_r${round}_1`],
        );
        await client.query("COMMIT");
      }
    }));
    const result = await counts(writers[0]!);
    assert.equal(result.kept, result.actual);
    assert.ok(result.actual >= 6 * 10 * 3, `${result.actual} unfinished`);
  } finally {
    await Promise.all(writers.map((client) => client.end()));
  }
});

Deno.test("GrowthStatistics analyzes the runs table once this node created as many runs as it held", async () => {
  await freshSchema();
  await migratePostgres(database.url);
  const client = await connect();
  const reltuples = async () =>
    Number(
      (await client.query(
        "SELECT reltuples FROM pg_class WHERE oid = 'runs'::regclass",
      )).rows[0].reltuples,
    );
  try {
    const statistics = new GrowthStatistics(client, { firstRefreshRuns: 3 });
    await insertRuns(client, "a_", 5, "running");
    assert.equal(await reltuples(), -1, "never analyzed yet");
    statistics.created();
    statistics.created();
    await statistics.settled();
    assert.equal(await reltuples(), -1);
    statistics.created();
    await statistics.settled();
    assert.equal(await reltuples(), 5, "analyzed at the third creation");
    // Next when this node has created as many runs as the table held (5).
    await insertRuns(client, "b_", 7, "running");
    for (let index = 0; index < 4; index++) statistics.created();
    await statistics.settled();
    assert.equal(await reltuples(), 5);
    statistics.created();
    await statistics.settled();
    assert.equal(await reltuples(), 12);
  } finally {
    await client.end();
  }
});

// Registered last, so it runs after the others; an interrupted run leaves
// a server that the next startTestPostgres() on the machine stops.
Deno.test("pg run counts tests: stop the test database", async () => {
  await database.stop();
});
