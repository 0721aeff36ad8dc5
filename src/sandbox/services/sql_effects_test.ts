// The effect ledger against a real PostgreSQL: a write with an effect key is
// applied once, whether its call comes again after it committed or runs
// twice at once; concurrent executions are ordered by what the server
// reports (sessions waiting on a lock), never by sleeps.
import assert from "node:assert/strict";
import { AosError } from "../../errors/mod.ts";
import { startTestPostgres } from "../../../tests/support/postgres.ts";
import {
  openPgSession,
  waitForLockWaits,
} from "../../../tests/support/pg_session.ts";
import { idempotencyKey } from "../idempotency_key.ts";
import { sqlService } from "./sql.ts";

const position = { run_id: "run_effects", step: "book", attempt: 1 };

function writer(index: number) {
  return {
    permissions: ["sql:write"],
    run_id: position.run_id,
    step: position.step,
    effect_key: idempotencyKey({ ...position, index }),
  };
}

type Answer = { ok: boolean; rows: unknown[][]; row_count: number };

Deno.test("sqlService() applies a write with an effect key once", async (t) => {
  await using database = await startTestPostgres();
  await database.exec(
    "create table orders (id serial primary key, item text not null)",
  );
  const sql = sqlService({ datasources: { main: { url: database.url } } });
  const ask = (text: string, context: object, params: unknown[] = []) =>
    sql.answer({ datasource: "main", sql: text, params }, {
      permissions: ["sql"],
      run_id: position.run_id,
      step: position.step,
      ...context,
    }) as Promise<Answer>;
  const count = async (table: string) =>
    (await ask(`select count(*)::int from ${table}`, {})).rows[0]![0];
  const insert = "insert into orders (item) values ('tea') returning id, item";
  try {
    await t.step(
      "a call made again with its key answers the first answer and writes nothing",
      async () => {
        const first = await ask(insert, writer(0));
        assert.deepEqual(first.rows, [[1, "tea"]]);
        const again = await ask(insert, writer(0));
        assert.deepEqual(again, first);
        assert.equal(await count("orders"), 1);
        assert.equal(await count("aos_effects"), 1);
        // The host made the ledger with the index its prune reads.
        const indexes = await ask(
          "select indexname::text from pg_indexes where tablename = 'aos_effects' order by 1",
          {},
        );
        assert.deepEqual(indexes.rows, [
          ["aos_effects_by_time"],
          ["aos_effects_pkey"],
        ]);
        // Another position is another effect.
        assert.deepEqual((await ask(insert, writer(1))).rows, [[2, "tea"]]);
        assert.equal(await count("orders"), 2);
      },
    );

    await t.step(
      "reads, and writes without a key, are not recorded",
      async () => {
        const before = await count("aos_effects");
        await ask("select 1", {
          effect_key: idempotencyKey({ ...position, index: 9 }),
        });
        await ask(insert, { permissions: ["sql:write"] });
        await ask(insert, { permissions: ["sql:write"] });
        assert.equal(await count("orders"), 4);
        assert.equal(await count("aos_effects"), before);
      },
    );

    await t.step(
      "a write that fails records nothing, so its call made again runs again",
      async () => {
        const failing = "insert into orders (item) values (null) returning id";
        for (let round = 0; round < 2; round++) {
          await assert.rejects(
            ask(failing, writer(2)),
            (error) =>
              error instanceof AosError && error.code === "ERR_SQL_ERROR",
          );
        }
        const recorded = await ask(
          "select count(*)::int from aos_effects where key = $1",
          {},
          [writer(2).effect_key],
        );
        assert.deepEqual(recorded.rows, [[0]]);
        assert.equal(await count("orders"), 4);
      },
    );

    await t.step(
      "two executions of one key at once: one applies, both answer its answer",
      async () => {
        await using gate = await openPgSession(database.url);
        await gate.query("begin");
        await gate.query("select pg_advisory_xact_lock(7)");
        const gated =
          "insert into orders (item) select 'coffee' from (select pg_advisory_xact_lock_shared(7)) as g returning id, item";
        const both = Promise.all([
          ask(gated, writer(3)),
          ask(gated, writer(3)),
        ]);
        await waitForLockWaits(database.url, {
          applicationName: "aos",
          count: 2,
        });
        await gate.query("commit");
        const [one, two] = await both;
        assert.deepEqual(one, two);
        assert.equal(one.rows.length, 1);
        const coffee = await ask(
          "select id from orders where item = 'coffee'",
          {},
        );
        assert.deepEqual(coffee.rows, [one.rows[0]!.slice(0, 1)]);
      },
    );
  } finally {
    await sql.close();
  }
});

Deno.test("sqlService() refuses a write, with the fix in its message, when its role may neither use nor create the ledger", async () => {
  await using database = await startTestPostgres();
  // The datasource's role works in a schema where it may not create tables
  // (its default search_path), as a least-privilege application role does.
  await database.exec(`
    create schema app;
    create table app.orders (id serial primary key, item text not null);
    revoke create on schema app from current_user;
    do $$ begin
      execute format('alter database %I set search_path = app',
        current_database());
    end $$;
  `);
  const sql = sqlService({ datasources: { main: { url: database.url } } });
  const insert = {
    datasource: "main",
    sql: "insert into orders (item) values ('tea') returning id",
  };
  try {
    const refused = await sql.answer(insert, writer(0)).then(
      () => assert.fail("the write ran without a ledger"),
      (error) => error,
    );
    assert.ok(refused instanceof AosError);
    assert.equal(refused.code, "ERR_SQL_ERROR");
    assert.equal(refused.details.sqlstate, "42501");
    assert.equal(refused.details.table, "aos_effects");
    assert.match(refused.message, /aos_effects/);
    assert.doesNotMatch(refused.message, new RegExp(database.password));
    // Created by an operator, as docs/operations.md shows, the write runs
    // once.
    await database.exec(`
      grant create on schema app to current_user;
      create table app.aos_effects (
        key text primary key,
        answer text not null,
        recorded_at timestamptz not null default now()
      );
      create index aos_effects_by_time on app.aos_effects (recorded_at);
      revoke create on schema app from current_user;
    `);
    const first = await sql.answer(insert, writer(0));
    assert.deepEqual(await sql.answer(insert, writer(0)), first);
    const orders = await sql.answer(
      { datasource: "main", sql: "select count(*)::int from orders" },
      { ...writer(1), permissions: ["sql"] },
    ) as Answer;
    assert.deepEqual(orders.rows, [[1]]);
  } finally {
    await sql.close();
  }
});
