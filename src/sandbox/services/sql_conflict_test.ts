// Serialization failures (40001) and deadlocks (40P01) produced for real in
// PostgreSQL, with the sessions ordered by what the server reports (a
// session waiting on a lock), never by sleeps.
import assert from "node:assert/strict";
import { AosError, catalogEntry } from "../../errors/mod.ts";
import { startTestPostgres } from "../../../tests/support/postgres.ts";
import {
  openPgSession,
  waitForLockWaits,
} from "../../../tests/support/pg_session.ts";
import { sqlService } from "./sql.ts";

const WRITER = { permissions: ["sql:write"], run_id: "run_test", step: "q" };
const READER = { permissions: ["sql"], run_id: "run_test", step: "q" };

Deno.test("ERR_SQL_CONFLICT is a retryable catalog code", () => {
  const entry = catalogEntry("ERR_SQL_CONFLICT");
  assert.equal(entry.retryable, true);
  assert.equal(entry.category, "TRANSIENT");
  assert.equal(new AosError("ERR_SQL_CONFLICT", "x").retryable, true);
});

Deno.test("sqlService() reports serialization failures and deadlocks as ERR_SQL_CONFLICT", async (t) => {
  await using database = await startTestPostgres();
  // Every transaction of this database is SERIALIZABLE unless it says
  // otherwise, the service's included: a datasource configured that way.
  await database.exec(`
    do $$ begin
      execute format(
        'alter database %I set default_transaction_isolation = serializable',
        current_database());
    end $$;
    create table counters (id int primary key, n int not null);
    insert into counters values (1, 0), (2, 0);
  `);
  const sql = sqlService({ datasources: { main: { url: database.url } } });
  const ask = (text: string, context = WRITER) =>
    sql.answer({ datasource: "main", sql: text }, context);
  try {
    await t.step(
      "a concurrent update under SERIALIZABLE is 40001",
      async () => {
        await using other = await openPgSession(database.url);
        await other.query("begin isolation level serializable");
        await other.query("update counters set n = n + 1 where id = 1");
        // The service's statement takes its snapshot, then waits for the row.
        const pending = ask("update counters set n = n + 10 where id = 1")
          .then(() => undefined, (error) => error);
        await waitForLockWaits(database.url, { applicationName: "aos" });
        await other.query("commit");
        const error = await pending;
        assert.ok(error instanceof AosError, `no failure: ${error}`);
        assert.equal(error.code, "ERR_SQL_CONFLICT", error.message);
        assert.equal(error.retryable, true);
        assert.equal(error.details.sqlstate, "40001");
        assert.equal(error.details.datasource, "main");
        // Run again, the statement succeeds: the conflict was transient.
        await ask("update counters set n = n + 10 where id = 1");
        const after = await ask("select n from counters where id = 1", READER);
        assert.deepEqual((after as { rows: unknown[] }).rows, [[11]]);
      },
    );

    await t.step(
      "two statements taking two locks in opposite orders are 40P01 for one of them",
      async () => {
        // A gate both statements pass together: each takes its first lock,
        // then waits on the gate, then asks for the other's lock.
        await using gate = await openPgSession(database.url);
        await gate.query("begin");
        await gate.query("select pg_advisory_xact_lock(9)");
        const locking = (first: number, second: number) =>
          ask(
            `select pg_advisory_xact_lock(${first}),
              pg_advisory_xact_lock_shared(9), pg_advisory_xact_lock(${second})`,
            READER,
          ).then((answer) => answer, (error) => error as unknown);
        const outcomes = Promise.all([locking(1, 2), locking(2, 1)]);
        await waitForLockWaits(database.url, {
          applicationName: "aos",
          count: 2,
        });
        await gate.query("commit");
        const [one, two] = await outcomes;
        const failed = [one, two].filter((outcome) =>
          outcome instanceof AosError
        ) as AosError[];
        assert.equal(failed.length, 1, JSON.stringify([one, two]));
        assert.equal(failed[0]!.code, "ERR_SQL_CONFLICT", failed[0]!.message);
        assert.equal(failed[0]!.details.sqlstate, "40P01");
        assert.equal(failed[0]!.retryable, true);
        const succeeded = [one, two].find((outcome) =>
          !(outcome instanceof AosError)
        ) as { ok: boolean };
        assert.equal(succeeded.ok, true);
      },
    );
  } finally {
    await sql.close();
  }
});
