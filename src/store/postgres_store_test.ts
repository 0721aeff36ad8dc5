import assert from "node:assert/strict";
import pg from "pg";
import { AosError } from "../errors/mod.ts";
import { PostgresStore } from "./postgres_store.ts";
import { emptyHead, headAfter, sealRecord } from "./record.ts";
import { storeContract } from "./store_contract.ts";
import { startTestPostgres } from "../../tests/support/postgres.ts";

// One database for the file (a throwaway server, or one on DATABASE_URL's);
// every test starts from an empty schema. Tests of a file run one at a time.
const database = await startTestPostgres();

storeContract("postgres", {
  async open() {
    await database.exec(
      "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
    );
    return {
      store: await PostgresStore.open(database.url),
      second: () => PostgresStore.open(database.url),
    };
  },
});

/**
 * Creates run `runId` and appends its StepStarted without waiting for the
 * flush (a run's continuation); returns that record.
 */
async function startedRun(store: PostgresStore, runId: string) {
  const first = sealRecord(emptyHead(runId), {
    type: "RunSubmitted",
    body: {},
    at: 1,
  });
  await store.createRun(first, { tenant: "t" });
  const next = sealRecord(headAfter(first), {
    type: "StepStarted",
    body: {},
    at: 2,
  });
  await store.append([next], { durable: false });
  return next;
}

Deno.test("postgres store: a run's barrier fails when the run's log no longer holds its mark", async () => {
  await database.exec(
    "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
  );
  const store = await PostgresStore.open(database.url);
  try {
    const next = await startedRun(store, "m1");
    // As after a restart that lost the append: the mark is not in the log.
    await assert.rejects(
      store.syncBarrier({ run_id: "m1", seq: 2, hash: "a".repeat(64) }),
      (error: unknown) =>
        error instanceof AosError && error.code === "STORE_SEQUENCE_CONFLICT",
    );
    await store.append([sealRecord(headAfter(next), {
      type: "StepSucceeded",
      body: {},
      at: 3,
    })], { durable: false });
    // An earlier record of the run, followed by more: the mark holds.
    await store.syncBarrier({ run_id: "m1", seq: next.seq, hash: next.hash });
  } finally {
    await store.close();
  }
});

Deno.test("postgres store: a barrier flushes the WAL past every commit made without waiting for its flush", async () => {
  // A server that flushes at commit, as in production (the file's shared
  // server may not).
  await using durableDb = await startTestPostgres({
    local: true,
    durableCommits: true,
  });
  const store = await PostgresStore.open(durableDb.url);
  const probe = new pg.Client({ connectionString: durableDb.url });
  await probe.connect();
  // True when the WAL is flushed at least as far as it was written at `lsn`.
  const flushedPast = async (lsn: string) =>
    (await probe.query(
      "SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), $1::pg_lsn) >= 0 AS ok",
      [lsn],
    )).rows[0].ok as boolean;
  const written = async () =>
    String(
      (await probe.query("SELECT pg_current_wal_insert_lsn() AS lsn")).rows[0]
        .lsn,
    );
  try {
    const next = await startedRun(store, "b1");
    const afterAppend = await written();
    // A run's barrier (before an effect leaves).
    await store.syncBarrier({ run_id: "b1", seq: next.seq, hash: next.hash });
    assert.ok(await flushedPast(afterAppend), "the run's barrier flushed");
    await store.append([sealRecord(headAfter(next), {
      type: "StepSucceeded",
      body: {},
      at: 3,
    })], { durable: false });
    const afterSecond = await written();
    // A reader's barrier (before an API answer shows what it read).
    await store.syncBarrier();
    assert.ok(await flushedPast(afterSecond), "the reader's barrier flushed");
  } finally {
    await probe.end();
    await store.close();
  }
});

// Registered last, so it runs after the contract; an interrupted run leaves
// a server that the next startTestPostgres() on the machine stops.
Deno.test("postgres store tests: stop the test database", async () => {
  await database.stop();
});
