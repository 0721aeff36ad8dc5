import assert from "node:assert/strict";
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

Deno.test("postgres store: a run's barrier fails when the run's log no longer holds its mark", async () => {
  await database.exec(
    "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
  );
  const store = await PostgresStore.open(database.url);
  try {
    const first = sealRecord(emptyHead("m1"), {
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

// Registered last, so it runs after the contract; an interrupted run leaves
// a server that the next startTestPostgres() on the machine stops.
Deno.test("postgres store tests: stop the test database", async () => {
  await database.stop();
});
