/**
 * The workflows of the seed's M4 plan, end to end through a real node, real
 * loopback servers, a real PostgreSQL and the real skills; each run is then
 * replayed with every server stopped. (The budget-exceeded workflow waits for
 * per-run budgets.)
 */
import { assertRunsReplay } from "../support/replay_check.ts";
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import { startFakeLlmServer } from "../support/fake_llm_server.ts";
import { startServer } from "../support/http_servers.ts";
import { startTestPostgres } from "../support/postgres.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";

type Node = Awaited<ReturnType<typeof openTestNode>>;

async function run(
  node: Node,
  plan: unknown,
): Promise<
  { runId: string; view: Record<string, unknown>; events: LogRecord[] }
> {
  const submitted = await requestJson(node, "POST", "/v1/runs", plan);
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const runId = String(submitted.body.run_id);
  const view =
    (await requestJson(node, "GET", `/v1/runs/${runId}?wait_ms=60000`)).body;
  const events = (await requestJson(node, "GET", `/v1/runs/${runId}/events`))
    .body.events as LogRecord[];
  return { runId, view, events };
}

Deno.test("the M4 workflows run against real servers and replay byte-identically with all of them stopped", async () => {
  let flakyCalls = 0;
  let sideEffects = 0;
  const api = startServer((request) => {
    sideEffects++;
    const path = new URL(request.url).pathname;
    if (path === "/orders") {
      return Response.json({
        orders: [{ id: 7, customer: "Ada", total: 120 }],
      });
    }
    if (path === "/flaky") {
      return ++flakyCalls <= 2
        ? new Response("busy", { status: 503 })
        : Response.json({ ok: true });
    }
    return new Response("no such thing", { status: 404 });
  });
  const llm = startFakeLlmServer();
  const database = await startTestPostgres();
  await database.exec(
    "CREATE TABLE customers (name text PRIMARY KEY, tier text); INSERT INTO customers VALUES ('Ada', 'gold');",
  );
  const node = await openTestNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: api.port }, {
          host: "127.0.0.1",
          port: llm.port,
        }],
      },
      secrets: { OPENAI_API_KEY: "sk-test-m4" },
      datasources: { main: { url: database.url } },
    },
  });
  const runs: string[] = [];
  try {
    const simple = await run(node, {
      steps: [
        {
          id: "fetch",
          skill: "http_call",
          params: { url: `${api.origin}/orders` },
        },
        {
          id: "first",
          skill: "json_transform",
          params: {
            op: "extract",
            input: "{{steps.fetch.output.body}}",
            path: "$.orders[0]",
          },
        },
      ],
    });
    assert.equal(simple.view.status, "succeeded");
    assert.deepEqual((simple.view.output as { result: unknown }).result, {
      id: 7,
      customer: "Ada",
      total: 120,
    });
    runs.push(simple.runId);

    const chain = await run(node, {
      steps: [
        {
          id: "draft",
          skill: "llm_invoke",
          params: {
            adapter: "stub",
            model: "gpt-4o-mini",
            prompt: "Draft a greeting",
          },
        },
        {
          id: "polish",
          skill: "llm_invoke",
          params: {
            adapter: "stub",
            model: "gpt-4o-mini",
            prompt: "Polish: {{steps.draft.output.content}}",
          },
        },
      ],
    });
    assert.equal(chain.view.status, "succeeded");
    assert.match(
      String((chain.view.output as { content: string }).content),
      /^stub answer /,
    );
    runs.push(chain.runId);

    const transient = await run(node, {
      steps: [{
        id: "call",
        skill: "http_call",
        params: { url: `${api.origin}/flaky` },
        retry: { max_attempts: 3, backoff_ms: 10 },
      }],
    });
    assert.equal(transient.view.status, "succeeded");
    assert.equal(
      (transient.view.steps as { attempts: number }[])[0]!.attempts,
      3,
    );
    assert.equal(
      transient.events.filter((record) => record.type === "RetryScheduled")
        .length,
      2,
    );
    runs.push(transient.runId);

    const permanent = await run(node, {
      steps: [{
        id: "call",
        skill: "http_call",
        params: { url: `${api.origin}/missing` },
        retry: { max_attempts: 3, backoff_ms: 10 },
      }],
    });
    assert.equal(permanent.view.status, "failed");
    assert.equal(permanent.view.code, "ERR_HTTP_4XX");
    assert.equal(
      (permanent.view.steps as { attempts: number }[])[0]!.attempts,
      1,
    );
    runs.push(permanent.runId);

    llm.enqueue({
      kind: "reply",
      content: "Dear Ada, thank you for your order.",
      inputTokens: 40,
      outputTokens: 9,
    });
    const mixed = await run(node, {
      steps: [
        {
          id: "fetch",
          skill: "http_call",
          params: { url: `${api.origin}/orders` },
        },
        {
          id: "order",
          skill: "json_transform",
          params: {
            op: "extract",
            input: "{{steps.fetch.output.body}}",
            path: "$.orders[0]",
          },
        },
        {
          id: "tier",
          skill: "postgres_query",
          depends_on: ["order"],
          params: {
            datasource: "main",
            query: "SELECT tier FROM customers WHERE name = $1",
            params: ["{{steps.order.output.result.customer}}"],
          },
        },
        {
          id: "note",
          skill: "llm_invoke",
          depends_on: ["tier"],
          params: {
            adapter: "openai",
            base_url: llm.origin,
            model: "gpt-4o-mini",
            prompt:
              "Thank {{steps.order.output.result.customer}} ({{steps.tier.output.rows[0][0]}} tier)",
          },
        },
        {
          id: "follow_up",
          skill: "calendar_write",
          depends_on: ["note"],
          params: {
            provider: "mock",
            operation: "create",
            event: {
              title: "Call {{steps.order.output.result.customer}}",
              start: "2026-12-01T10:00:00",
              end: "2026-12-01T10:30:00",
              time_zone: "Europe/Paris",
              description: "{{steps.note.output.content}}",
            },
          },
          output_key: "event",
        },
      ],
    });
    assert.equal(
      mixed.view.status,
      "succeeded",
      JSON.stringify(mixed.view.error),
    );
    assert.equal(
      (mixed.view.output as { event: { provider: string } }).event.provider,
      "mock",
    );
    assert.equal(llm.requests[0]!.headers.authorization, "Bearer sk-test-m4");
    const events = await requestJson(node, "GET", "/v1/calendars/mock/events");
    assert.equal((events.body.events as unknown[]).length, 1);
    runs.push(mixed.runId);
  } finally {
    await node.close();
  }
  const sideEffectsBefore = sideEffects;
  await api.close();
  await llm.close();
  await database.stop();

  await assertRunsReplay(node.dataDir, runs);
  assert.equal(sideEffects, sideEffectsBefore, "replay reached a server");
});
