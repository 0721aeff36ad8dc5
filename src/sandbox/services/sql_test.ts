import assert from "node:assert/strict";
import { AosError } from "../../errors/mod.ts";
import { closedPort } from "../../../tests/support/http_servers.ts";
import { startTestPostgres } from "../../../tests/support/postgres.ts";
import {
  checkStatement,
  parseArrayLiteral,
  parseSqlRequest,
  type SqlService,
  sqlService,
} from "./sql.ts";

const READER = { permissions: ["sql"], run_id: "run_test", step: "query" };
const WRITER = {
  permissions: ["sql:write"],
  run_id: "run_test",
  step: "query",
};

/** The AosError `promise` rejects with, after checking its code. */
async function failure(
  promise: Promise<unknown>,
  code: string,
): Promise<AosError> {
  try {
    const answer = await promise;
    assert.fail(`expected ${code}, got ${JSON.stringify(answer)}`);
  } catch (error) {
    if (!(error instanceof AosError)) throw error;
    assert.equal(error.code, code, error.message);
    return error;
  }
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof AosError
      ? `${error.code}:${error.details.reason ?? error.details.field}`
      : String(error);
  }
}

Deno.test("checkStatement() allows one data statement and ignores ';' in quotes and comments", () => {
  const allowed = [
    "select 1",
    "select 1;",
    "  select 1 ; -- done\n",
    "SELECT ';' AS semicolon",
    "select 'it''s; fine'",
    "select E'\\'; still a string'",
    'select 1 as "a;b"',
    "select $$;$$, $tag$ ; $ $tag$",
    "/* ; /* nested ; */ */ select 1",
    "(select 1) union (select 2)",
    "with t as (select 1) select * from t",
    "insert into t values ($1)",
    "explain select 1",
    "values (1)",
  ];
  for (const text of allowed) {
    assert.equal(codeOf(() => checkStatement(text)), undefined, text);
  }
  const refused: [string, string][] = [
    ["select 1; select 2", "ERR_SQL_INVALID_QUERY:multiple_statements"],
    ["select 1;;", "ERR_SQL_INVALID_QUERY:multiple_statements"],
    ["select ';'; drop table t", "ERR_SQL_INVALID_QUERY:multiple_statements"],
    ["select 1 /* */; commit", "ERR_SQL_INVALID_QUERY:multiple_statements"],
    [
      "set statement_timeout = 0",
      "ERR_SQL_INVALID_QUERY:statement_not_allowed",
    ],
    ["commit", "ERR_SQL_INVALID_QUERY:statement_not_allowed"],
    ["begin", "ERR_SQL_INVALID_QUERY:statement_not_allowed"],
    ["create table t (id int)", "ERR_SQL_INVALID_QUERY:statement_not_allowed"],
    ["-- only a comment", "ERR_SQL_INVALID_QUERY:statement_not_allowed"],
    ["select 'open", "ERR_SQL_INVALID_QUERY:sql"],
    ["select $x$ open", "ERR_SQL_INVALID_QUERY:sql"],
    ["select 1 /* open", "ERR_SQL_INVALID_QUERY:sql"],
    ["select '\u0000'", "ERR_SQL_INVALID_QUERY:sql"],
  ];
  for (const [text, expected] of refused) {
    assert.equal(codeOf(() => checkStatement(text)), expected, text);
  }
});

Deno.test("parseSqlRequest() names the field it refuses", () => {
  const cases: [unknown, string][] = [
    [[], "request"],
    [{ sql: "select 1" }, "datasource"],
    [{ datasource: "main", sql: " " }, "sql"],
    [{ datasource: "main", sql: "select 1", params: {} }, "params"],
    [{ datasource: "main", sql: "select 1", params: ["a\u0000"] }, "params[0]"],
    [{ datasource: "main", sql: "select 1", timeout_ms: 0 }, "timeout_ms"],
    [{ datasource: "main", sql: "select 1", row_limit: 1.5 }, "row_limit"],
    [{ datasource: "main", sql: "select 1", url: "postgres://x" }, "url"],
  ];
  for (const [request, field] of cases) {
    assert.equal(
      codeOf(() => parseSqlRequest(request)),
      `ERR_SQL_INVALID_QUERY:${field}`,
    );
  }
  assert.deepEqual(parseSqlRequest({ datasource: "main", sql: "select 1" }), {
    datasource: "main",
    sql: "select 1",
    params: [],
  });
});

Deno.test("parseArrayLiteral() reads quoted, NULL, nested and bounded arrays", () => {
  assert.deepEqual(parseArrayLiteral("{}"), []);
  assert.deepEqual(parseArrayLiteral('{1,"a,b","c\\"d",NULL,"NULL"}'), [
    "1",
    "a,b",
    'c"d',
    null,
    "NULL",
  ]);
  assert.deepEqual(parseArrayLiteral("{{1,2},{3,4}}"), [["1", "2"], [
    "3",
    "4",
  ]]);
  assert.deepEqual(parseArrayLiteral("[0:1]={5,6}"), ["5", "6"]);
  for (const malformed of ["", "{1,2", '{"open', "1,2"]) {
    assert.throws(() => parseArrayLiteral(malformed), /malformed/, malformed);
  }
});

Deno.test("sqlService() against a real PostgreSQL", async (t) => {
  await using database = await startTestPostgres();
  await database.exec(`
    create type mood as enum ('calm', 'busy');
    create domain positive as int4 check (value > 0);
    create table notes (id int primary key, body text not null);
    insert into notes select g, 'note ' || g from generate_series(1, 50) g;
  `);
  const services: SqlService[] = [];
  const open = (options: Partial<Parameters<typeof sqlService>[0]> = {}) => {
    const service = sqlService({
      datasources: { main: { url: database.url } },
      ...options,
    });
    services.push(service);
    return service;
  };
  const sql = open();
  const ask = (
    request: Record<string, unknown>,
    context = READER,
    service = sql,
  ) => service.answer({ datasource: "main", ...request }, context);
  try {
    await t.step("values become JSON by column type", async () => {
      const answer = await ask({
        sql: `select 1::int2 as i2, 2::int4 as i4, 9007199254740993::int8 as i8,
          1.5::float4 as f4, 0.1::float8 as f8, 'NaN'::float8 as nan,
          123456789012345678901234567890.5::numeric as n, true as b, 'zoë'::text as t,
          '00000000-0000-0000-0000-000000000001'::uuid as u, '2024-02-29'::date as d,
          '2024-02-29 13:14:15.123456'::timestamp as ts,
          '2024-02-29 13:14:15.123456+02'::timestamptz as tz,
          '\\x00ff10'::bytea as by, '{"b": [1, 2.5], "a": null}'::json as j,
          '{"k": "v"}'::jsonb as jb, array[1, null, 3]::int4[] as ai,
          array['a,b', null, 'c"d']::text[] as at, array[[1,2],[3,4]]::int8[] as a2,
          'calm'::mood as m, 5::positive as p, null::int4 as nothing, $1 as echoed`,
        params: ["p1"],
      });
      assert.deepEqual(answer, {
        ok: true,
        command: "SELECT",
        row_count: 1,
        truncated: false,
        columns: [
          ["i2", "int2"],
          ["i4", "int4"],
          ["i8", "int8"],
          ["f4", "float4"],
          ["f8", "float8"],
          ["nan", "float8"],
          ["n", "numeric"],
          ["b", "bool"],
          ["t", "text"],
          ["u", "uuid"],
          ["d", "date"],
          ["ts", "timestamp"],
          ["tz", "timestamptz"],
          ["by", "bytea"],
          ["j", "json"],
          ["jb", "jsonb"],
          ["ai", "int4[]"],
          ["at", "text[]"],
          ["a2", "int8[]"],
          ["m", "mood"],
          ["p", "int4"],
          ["nothing", "int4"],
          ["echoed", "text"],
        ].map(([name, type]) => ({ name, type })),
        rows: [[
          1,
          2,
          "9007199254740993",
          1.5,
          0.1,
          "NaN",
          "123456789012345678901234567890.5",
          true,
          "zoë",
          "00000000-0000-0000-0000-000000000001",
          "2024-02-29",
          "2024-02-29T13:14:15.123456",
          "2024-02-29T11:14:15.123456Z",
          "AP8Q",
          { b: [1, 2.5], a: null },
          { k: "v" },
          [1, null, 3],
          ["a,b", null, 'c"d'],
          [["1", "2"], ["3", "4"]],
          "calm",
          5,
          null,
          "p1",
        ]],
      });
    });

    await t.step("parameters are bound, never interpolated", async () => {
      const answer = await ask({
        sql:
          "select id, body from notes where id = $1 or body = $2 order by id",
        params: [3, "x' or '1'='1"],
      }) as { rows: unknown[] };
      assert.deepEqual(answer.rows, [[3, "note 3"]]);
      const json = await ask({
        sql: "select $1::jsonb -> 'a' as a, $2::bool as b",
        params: [{ a: [1] }, true],
      }) as {
        rows: unknown[];
      };
      assert.deepEqual(json.rows, [[[1], true]]);
    });

    await t.step(
      "rows stop at row_limit, and truncated says more were there",
      async () => {
        const cut = await ask({
          sql: "select id from notes order by id",
          row_limit: 10,
        }) as Record<string, unknown>;
        assert.deepEqual(
          cut.rows,
          Array.from({ length: 10 }, (_, index) => [index + 1]),
        );
        assert.deepEqual([cut.truncated, cut.row_count, cut.command], [
          true,
          10,
          null,
        ]);
        const whole = await ask({
          sql: "select id from notes",
          row_limit: 50,
        }) as Record<string, unknown>;
        assert.deepEqual([whole.truncated, whole.row_count, whole.command], [
          false,
          50,
          "SELECT",
        ]);
        const capped = open({ rowsMax: 20 });
        const ceiling = await ask(
          { sql: "select id from notes", row_limit: 1000 },
          READER,
          capped,
        ) as Record<
          string,
          unknown
        >;
        assert.deepEqual([ceiling.truncated, ceiling.row_count], [true, 20]);
        const small = open({ answerBytesMax: 2000 });
        const bytes = await ask(
          { sql: "select repeat('x', 100) from notes" },
          READER,
          small,
        ) as Record<string, unknown>;
        assert.equal(bytes.truncated, true);
        assert.ok(
          (bytes.rows as unknown[]).length < 20,
          `${(bytes.rows as unknown[]).length} rows`,
        );
      },
    );

    await t.step(
      "a write without sql:write is refused by PostgreSQL (25006)",
      async () => {
        const refused = await failure(
          ask({
            sql: "insert into notes values ($1, $2)",
            params: [100, "new"],
          }),
          "ERR_SQL_READ_ONLY",
        );
        assert.equal(refused.details.sqlstate, "25006");
        const written = await ask({
          sql: "insert into notes values ($1, $2)",
          params: [100, "new"],
        }, WRITER);
        assert.deepEqual(written, {
          ok: true,
          columns: [],
          rows: [],
          row_count: 1,
          truncated: false,
          command: "INSERT",
        });
        const updated = await ask({
          sql: "update notes set body = 'x' where id > $1",
          params: [90],
        }, WRITER) as Record<
          string,
          unknown
        >;
        assert.deepEqual([updated.command, updated.row_count], ["UPDATE", 1]);
      },
    );

    await t.step("readOnlyUrl serves skills without sql:write", async () => {
      const split = open({
        datasources: {
          main: {
            url: database.url,
            readOnlyUrl: `postgres://reader:pw@127.0.0.1:${closedPort()}/db`,
          },
        },
      });
      await failure(
        ask({ sql: "select 1" }, READER, split),
        "ERR_SQL_CONNECTION",
      );
      assert.equal(
        (await ask({ sql: "select 1" }, WRITER, split) as { ok: boolean }).ok,
        true,
      );
    });

    await t.step(
      "a statement past its timeout is cancelled (57014)",
      async () => {
        const started = performance.now();
        const late = await failure(
          ask({ sql: "select pg_sleep(5)", timeout_ms: 200 }),
          "ERR_SQL_TIMEOUT",
        );
        assert.equal(late.details.sqlstate, "57014");
        const strict = open({ statementTimeoutMsMax: 200 });
        await failure(
          ask(
            { sql: "select pg_sleep(5)", timeout_ms: 60_000 },
            READER,
            strict,
          ),
          "ERR_SQL_TIMEOUT",
        );
        assert.ok(
          performance.now() - started < 4000,
          "the statements ran to the end",
        );
        // The connection is usable afterwards: the transaction was rolled back.
        assert.equal(
          (await ask({ sql: "select 1" }, READER, strict) as { ok: boolean })
            .ok,
          true,
        );
      },
    );

    await t.step(
      "bad statements and parameters are ERR_SQL_INVALID_QUERY",
      async () => {
        const cases: [Record<string, unknown>, string][] = [
          [{ sql: "select from from notes" }, "42601"],
          [{ sql: "select * from no_such_table" }, "42P01"],
          [{ sql: "select no_such_column from notes" }, "42703"],
          [{ sql: "select $1::int + $2::int", params: [1] }, "08P01"],
          [{ sql: "select $1::int", params: ["abc"] }, "22P02"],
        ];
        for (const [request, sqlstate] of cases) {
          const error = await failure(ask(request), "ERR_SQL_INVALID_QUERY");
          assert.equal(error.details.sqlstate, sqlstate, error.message);
        }
        const syntax = await failure(
          ask({ sql: "select from from notes" }),
          "ERR_SQL_INVALID_QUERY",
        );
        assert.equal(syntax.details.position, 13);
        await failure(
          ask({ sql: "select 1; select 2" }),
          "ERR_SQL_INVALID_QUERY",
        );
        const division = await failure(
          ask({ sql: "select 1 / 0" }),
          "ERR_SQL_ERROR",
        );
        assert.equal(division.details.sqlstate, "22012");
      },
    );

    await t.step(
      "an unknown datasource is ERR_SQL_DATASOURCE_UNKNOWN",
      async () => {
        const error = await failure(
          sql.answer({ datasource: "other", sql: "select 1" }, READER),
          "ERR_SQL_DATASOURCE_UNKNOWN",
        );
        assert.deepEqual(error.details, {
          datasource: "other",
          configured: ["main"],
        });
      },
    );

    await t.step(
      "a database that refuses connections is ERR_SQL_CONNECTION",
      async () => {
        const port = closedPort();
        const down = open({
          datasources: {
            main: { url: `postgres://aos:pw@127.0.0.1:${port}/aos` },
          },
        });
        const error = await failure(
          ask({ sql: "select 1" }, READER, down),
          "ERR_SQL_CONNECTION",
        );
        assert.deepEqual(error.details, {
          datasource: "main",
          reason: "ECONNREFUSED",
        });
      },
    );

    await t.step(
      "a pooled connection the server closed is replaced",
      async () => {
        const single = open({ connectionsMax: 1 });
        const { rows } = await ask(
          { sql: "select pg_backend_pid()" },
          READER,
          single,
        ) as { rows: number[][] };
        await database.exec(`select pg_terminate_backend(${rows[0]![0]})`);
        // The first call may still meet the dead connection; that is retryable.
        const first = await ask({ sql: "select 1" }, READER, single).catch((
          error,
        ) => error);
        if (first instanceof AosError) {
          assert.equal(first.code, "ERR_SQL_CONNECTION", first.message);
        }
        assert.equal(
          (await ask({ sql: "select 1" }, READER, single) as { ok: boolean })
            .ok,
          true,
        );
      },
    );

    await t.step(
      "a connection lost mid-statement is ERR_SQL_CONNECTION, and the next call gets a fresh one",
      async () => {
        const single = open({ connectionsMax: 1 });
        const text = "select pg_sleep(5) as slept";
        const slow = ask({ sql: text }, READER, single).catch((error) => error);
        // A bounded probe for the statement to be running, no fixed sleep.
        let pid: number | undefined;
        for (let attempt = 0; attempt < 2000 && pid === undefined; attempt++) {
          const { rows } = await ask({
            sql: "select pid from pg_stat_activity where datname = " +
              "current_database() and state = 'active' and query = $1",
            params: [text],
          }) as { rows: number[][] };
          pid = rows[0]?.[0];
        }
        assert.ok(pid !== undefined, "the statement never started");
        await ask({ sql: "select pg_terminate_backend($1)", params: [pid] });
        const error = await slow;
        assert.ok(error instanceof AosError, String(error));
        assert.equal(error.code, "ERR_SQL_CONNECTION");
        assert.equal(error.details.sqlstate, "57P01");
        const after = await ask({ sql: "select 1" }, READER, single) as {
          ok: boolean;
        };
        assert.equal(after.ok, true);
      },
    );

    await t.step(
      "session settings a statement changes do not reach the next call",
      async () => {
        const single = open({ connectionsMax: 1 });
        await ask(
          {
            sql:
              "select set_config('TimeZone', 'Asia/Tokyo', false), set_config('search_path', 'nowhere', false), " +
              "pg_advisory_lock(7)",
          },
          READER,
          single,
        );
        const after = await ask(
          {
            sql:
              "select current_setting('TimeZone'), current_setting('search_path'), " +
              // Only this database's lock 7 (a bigint key: objsubid 1):
              // migrations of other tests on the same server take advisory
              // locks of their own meanwhile.
              "(select count(*)::int4 from pg_locks where locktype = 'advisory' " +
              "and objid = 7 and objsubid = 1 and database = " +
              "(select oid from pg_database where datname = current_database()))",
          },
          READER,
          single,
        ) as { rows: unknown[] };
        assert.deepEqual(after.rows, [["UTC", '"$user", public', 0]]);
      },
    );

    await t.step(
      "answers and errors never hold the URL or the password",
      async () => {
        const password = database.password;
        const url = new URL(database.url);
        url.password = "wrong-" + password;
        const wrong = open({ datasources: { main: { url: url.href } } });
        const denied = await failure(
          ask({ sql: "select 1" }, READER, wrong),
          "ERR_SQL_ERROR",
        );
        assert.equal(denied.details.sqlstate, "28P01");
        const seen = [
          JSON.stringify(denied.toJSON()),
          JSON.stringify(
            (await failure(
              ask({ sql: "select nope" }),
              "ERR_SQL_INVALID_QUERY",
            )).toJSON(),
          ),
          JSON.stringify(
            await ask({ sql: "select current_user, current_database()" }),
          ),
          JSON.stringify(
            (await failure(
              open({
                datasources: {
                  main: {
                    url: `postgres://u:${password}@127.0.0.1:${closedPort()}/d`,
                  },
                },
              })
                .answer({ datasource: "main", sql: "select 1" }, READER),
              "ERR_SQL_CONNECTION",
            )).toJSON(),
          ),
        ].join("\n");
        for (const secret of [password, database.url, url.href, url.password]) {
          assert.ok(
            !seen.includes(secret),
            `an answer holds ${secret}:\n${seen}`,
          );
        }
      },
    );

    await t.step(
      "after close(), calls fail with ERR_SQL_CONNECTION",
      async () => {
        const closing = open();
        await ask({ sql: "select 1" }, READER, closing);
        await closing.close();
        await failure(
          ask({ sql: "select 1" }, READER, closing),
          "ERR_SQL_CONNECTION",
        );
      },
    );
  } finally {
    await Promise.all(services.map((service) => service.close()));
  }
});
