// Behaviour of the built postgres_query module: first against a fake aos_sql
// (what it asks the host, how it maps answers), then through a real node
// and a real PostgreSQL, and replayed with the database stopped.
import { assertRunsReplay } from "../support/replay_check.ts";
import assert from "node:assert/strict";
import createPlugin, { type CallContext, type Plugin } from "@extism/extism";
import { startTestPostgres } from "../support/postgres.ts";
import { openPgSession, waitForLockWaits } from "../support/pg_session.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";
import {
  type CallResult,
  callSkill,
  callSkillText,
  canonical,
  expectError,
  expectOutput,
  importModules,
  skillModule,
} from "./_harness.ts";

const wasm = await skillModule("skills-wasm/postgres_query");

/** A plugin whose aos_sql records each request and answers from `answers`. */
async function withFakeSql(
  answers: unknown[],
  body: (plugin: Plugin, requests: unknown[]) => Promise<void>,
): Promise<void> {
  const requests: unknown[] = [];
  const plugin = await createPlugin({ wasm: [{ data: wasm }] }, {
    useWasi: false,
    runInWorker: true,
    nodeWorkerArgs: { execArgv: [] },
    functions: {
      "extism:host/user": {
        aos_sql: (context: CallContext, offset: bigint) => {
          const request = context.read(offset)!.bytes();
          requests.push(JSON.parse(new TextDecoder().decode(request)));
          // The real host hands over canonical JSON too.
          return context.store(canonical(answers.shift()));
        },
      },
    },
  });
  try {
    await body(plugin, requests);
  } finally {
    await plugin.close();
  }
}

const ROWS_ANSWER = {
  ok: true,
  columns: [{ name: "id", type: "int4" }, { name: "big", type: "int8" }],
  rows: [[1, "9007199254740993"], [2, null]],
  row_count: 2,
  truncated: false,
  command: "SELECT",
};

Deno.test("postgres_query imports only the Extism kernel and aos_sql", () => {
  assert.deepEqual(importModules(wasm), [
    "extism:host/env",
    "extism:host/user",
  ]);
  const imports = WebAssembly.Module.imports(
    new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>),
  ).filter((entry) => entry.module === "extism:host/user");
  assert.deepEqual(imports.map((entry) => entry.name), ["aos_sql"]);
});

Deno.test("postgres_query sends one request with params apart from the text, and returns the answer's rows", async () => {
  await withFakeSql([ROWS_ANSWER], async (plugin, requests) => {
    const output = expectOutput(
      await callSkill(plugin, {
        datasource: "main",
        query: "select id, big from t where id < $1 and tag = $2",
        params: [3, "x' or '1'='1", null, { b: 1, a: [true] }],
        timeout_ms: 500,
      }),
    );
    assert.deepEqual(requests, [{
      datasource: "main",
      sql: "select id, big from t where id < $1 and tag = $2",
      params: [3, "x' or '1'='1", null, { a: [true], b: 1 }],
      timeout_ms: 500,
      row_limit: 1000,
    }]);
    assert.deepEqual(output, {
      columns: ROWS_ANSWER.columns,
      command: "SELECT",
      datasource: "main",
      row_count: 2,
      rows: ROWS_ANSWER.rows,
      truncated: false,
    });
  });
});

Deno.test("postgres_query reports the service's ERR_SQL_* failures as its own", async () => {
  const codes = [
    "ERR_SQL_CONFLICT",
    "ERR_SQL_READ_ONLY",
    "ERR_SQL_TIMEOUT",
    "ERR_SQL_CONNECTION",
    "ERR_SQL_INVALID_QUERY",
    "ERR_SQL_DATASOURCE_UNKNOWN",
    "ERR_SQL_ERROR",
  ];
  const answers = codes.map((code) => ({
    ok: false,
    error: {
      code,
      message: `${code} happened`,
      details: { sqlstate: "XX000" },
    },
  }));
  await withFakeSql(answers, async (plugin) => {
    for (const code of codes) {
      const outcome = await callSkill(plugin, {
        datasource: "main",
        query: "select 1",
      });
      assert.deepEqual(expectError(outcome, code), {
        datasource: "main",
        sqlstate: "XX000",
      });
      assert.equal(
        (outcome as { error: { message: string } }).error.message,
        `${code} happened`,
      );
    }
  });
});

Deno.test("postgres_query maps a host without a sql service to ERR_SQL_DATASOURCE_UNKNOWN", async () => {
  const noService = {
    ok: false,
    error: {
      code: "HOST_CALL_INVALID",
      message: "this host offers no sql service",
      details: { service: "sql" },
    },
  };
  const broken = {
    ok: false,
    error: { code: "INTERNAL", message: "boom", details: {} },
  };
  await withFakeSql(
    [noService, broken, { ok: true }, "not an object"],
    async (plugin) => {
      const call = () =>
        callSkill(plugin, { datasource: "main", query: "select 1" });
      assert.deepEqual(
        expectError(await call(), "ERR_SQL_DATASOURCE_UNKNOWN"),
        {
          cause_code: "HOST_CALL_INVALID",
          cause_message: "this host offers no sql service",
          datasource: "main",
        },
      );
      assert.equal(
        expectError(await call(), "ERR_SQL_ERROR").cause_code,
        "INTERNAL",
      );
      assert.deepEqual(expectError(await call(), "ERR_SQL_ERROR"), {
        datasource: "main",
      });
      assert.deepEqual(expectError(await call(), "ERR_SQL_ERROR"), {
        datasource: "main",
      });
    },
  );
});

Deno.test("postgres_query refuses bad params with ERR_SQL_INVALID_QUERY naming the field, before any host call", async () => {
  await withFakeSql([], async (plugin, requests) => {
    const cases: [unknown, string][] = [
      [[1], "params"],
      [
        { datasource: "main", query: "select 1", url: "postgres://u:p@h/d" },
        "url",
      ],
      [{ query: "select 1" }, "datasource"],
      [{ datasource: "Main", query: "select 1" }, "datasource"],
      [{ datasource: "x".repeat(65), query: "select 1" }, "datasource"],
      [{ datasource: "main" }, "query"],
      [{ datasource: "main", query: " \n\t" }, "query"],
      [{ datasource: "main", query: "select 1", params: "1" }, "params"],
      [{ datasource: "main", query: "select 1", timeout_ms: 0 }, "timeout_ms"],
      [
        { datasource: "main", query: "select 1", timeout_ms: 1.5 },
        "timeout_ms",
      ],
      [
        { datasource: "main", query: "select 1", timeout_ms: 25001 },
        "timeout_ms",
      ],
      [{ datasource: "main", query: "select 1", row_limit: -1 }, "row_limit"],
      [
        { datasource: "main", query: "select 1", row_limit: 10001 },
        "row_limit",
      ],
      [{ datasource: "main", query: "x".repeat(256 * 1024 + 1) }, "query"],
      [{
        datasource: "main",
        query: "select 1",
        params: ["x".repeat(1024 * 1024)],
      }, "params"],
    ];
    for (const [params, field] of cases) {
      const details = expectError(
        await callSkill(plugin, params),
        "ERR_SQL_INVALID_QUERY",
      );
      assert.equal(details.field, field, JSON.stringify(params).slice(0, 200));
    }
    const malformed: CallResult = await callSkillText(plugin, "{not json");
    assert.equal(
      expectError(malformed, "ERR_SQL_INVALID_QUERY").field,
      "params",
    );
    assert.deepEqual(requests, []);
  });
});

interface RunView {
  status: string;
  output: Record<string, unknown> | null;
  error: { code: string; details: Record<string, unknown> } | null;
}

Deno.test("postgres_query through a node and a real PostgreSQL, replayed with the database stopped", async (t) => {
  await using database = await startTestPostgres();
  await database.exec(`
    create table notes (id int primary key, body text not null, at timestamptz not null);
    insert into notes select g, 'note ' || g, timestamptz '2025-01-01 00:00:00+00' + g * interval '1 hour'
      from generate_series(1, 30) g;
  `);
  const node = await openTestNode({
    config: { datasources: { main: { url: database.url } } },
  });
  const runs: string[] = [];
  const run = async (params: Record<string, unknown>): Promise<RunView> => {
    const { body } = await requestJson(node, "POST", "/v1/runs", {
      steps: [{ id: "notes", skill: "postgres_query", params }],
    });
    runs.push(String(body.run_id));
    return (await requestJson(
      node,
      "GET",
      `/v1/runs/${body.run_id}?wait_ms=30000`,
    )).body as unknown as RunView;
  };
  try {
    await t.step("a query returns its rows as the step's output", async () => {
      const view = await run({
        datasource: "main",
        query: "select id, body, at from notes where id <= $1 order by id",
        params: [2],
      });
      assert.equal(view.status, "succeeded", JSON.stringify(view.error));
      assert.deepEqual(view.output, {
        columns: [
          { name: "id", type: "int4" },
          { name: "body", type: "text" },
          { name: "at", type: "timestamptz" },
        ],
        command: "SELECT",
        datasource: "main",
        row_count: 2,
        rows: [[1, "note 1", "2025-01-01T01:00:00Z"], [
          2,
          "note 2",
          "2025-01-01T02:00:00Z",
        ]],
        truncated: false,
      });
    });

    await t.step("row_limit truncates", async () => {
      const view = await run({
        datasource: "main",
        query: "select id from notes order by id",
        row_limit: 5,
      });
      assert.deepEqual(
        [view.output?.row_count, view.output?.truncated, view.output?.command],
        [5, true, null],
      );
    });

    await t.step("a write fails the step with ERR_SQL_READ_ONLY", async () => {
      const view = await run({
        datasource: "main",
        query: "delete from notes",
      });
      assert.equal(view.status, "failed");
      assert.equal(view.error?.code, "ERR_SQL_READ_ONLY");
      assert.equal(view.error?.details.sqlstate, "25006");
    });

    await t.step(
      "an unknown datasource fails with ERR_SQL_DATASOURCE_UNKNOWN",
      async () => {
        const view = await run({ datasource: "other", query: "select 1" });
        assert.equal(view.error?.code, "ERR_SQL_DATASOURCE_UNKNOWN");
        assert.deepEqual(view.error?.details.configured, ["main"]);
      },
    );

    await t.step(
      "a statement refused by PostgreSQL fails with its code",
      async () => {
        const view = await run({
          datasource: "main",
          query: "select nope from notes",
        });
        assert.equal(view.error?.code, "ERR_SQL_INVALID_QUERY");
        assert.equal(view.error?.details.sqlstate, "42703");
      },
    );

    await t.step(
      "a deadlock fails one attempt with ERR_SQL_CONFLICT, and the step's retry policy runs it again",
      async () => {
        // Two runs take two advisory locks in opposite orders, passing a
        // gate together, so PostgreSQL must end one of them (40P01).
        await using gate = await openPgSession(database.url);
        await gate.query("begin");
        await gate.query("select pg_advisory_xact_lock(9)");
        const submit = async (first: number, second: number) => {
          const { status, body } = await requestJson(node, "POST", "/v1/runs", {
            steps: [{
              id: "locks",
              skill: "postgres_query",
              params: {
                datasource: "main",
                query: `select pg_advisory_xact_lock(${first}) as a,
                  pg_advisory_xact_lock_shared(9) as gate,
                  pg_advisory_xact_lock(${second}) as b`,
              },
              retry: { max_attempts: 2, backoff_ms: 10 },
            }],
          });
          assert.equal(status, 202, JSON.stringify(body));
          runs.push(String(body.run_id));
          return String(body.run_id);
        };
        const ids = [await submit(1, 2), await submit(2, 1)];
        await waitForLockWaits(database.url, {
          applicationName: "aos",
          count: 2,
        });
        await gate.query("commit");
        const failures: unknown[] = [];
        for (const id of ids) {
          const view = (await requestJson(
            node,
            "GET",
            `/v1/runs/${id}?wait_ms=30000`,
          )).body as unknown as RunView;
          assert.equal(view.status, "succeeded", JSON.stringify(view.error));
          const { events } = (await requestJson(
            node,
            "GET",
            `/v1/runs/${id}/events`,
          )).body as {
            events: { type: string; body: Record<string, unknown> }[];
          };
          for (const event of events) {
            if (event.type === "StepFailed") failures.push(event.body);
            // The attempt the retry will be.
            if (event.type === "RetryScheduled") {
              assert.equal(event.body.attempt, 2);
            }
          }
        }
        assert.equal(failures.length, 1, JSON.stringify(failures));
        const failure = failures[0] as {
          attempt: number;
          error: {
            code: string;
            retryable: boolean;
            details: { sqlstate: string };
          };
        };
        assert.deepEqual(
          [
            failure.attempt,
            failure.error.code,
            failure.error.retryable,
            failure.error.details.sqlstate,
          ],
          [1, "ERR_SQL_CONFLICT", true, "40P01"],
        );
      },
    );

    await t.step(
      "the log holds the answers, never the credentials",
      async () => {
        for (const runId of runs) {
          const events = JSON.stringify(
            (await requestJson(node, "GET", `/v1/runs/${runId}/events`)).body,
          );
          assert.match(events, /"kind":"sql"/);
          assert.ok(
            !events.includes(database.password),
            `run ${runId} logged the password`,
          );
          assert.ok(
            !events.includes(database.url),
            `run ${runId} logged the URL`,
          );
        }
      },
    );
  } finally {
    await node.close();
  }

  // Replay with the database gone and a sandbox that has no sql service:
  // every answer must come from the logs.
  await database.stop();
  await assertRunsReplay(node.dataDir, runs);
});
