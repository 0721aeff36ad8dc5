/**
 * Records the golden logs in this folder from real runs: an in-process node
 * with the built-in and fixture skills runs each plan below against real
 * loopback servers (an HTTP API and a fake OpenAI-compatible provider), and
 * each run's log is written as `<name>.jsonl`. Replay needs none of those
 * servers: every answer is in the log. Run it after a deliberate change to a
 * skill or to the record format, then review the diff:
 *
 *   deno run -A tests/golden/record_golden.ts
 */
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { recordToLine } from "../../src/store/mod.ts";
import { startFakeLlmServer } from "../support/fake_llm_server.ts";
import { startServer } from "../support/http_servers.ts";
import { openTestNode, requestJson, THREE_STEP_PLAN } from "../support/test_node.ts";

/** The golden runs: name → plan, given the origins of the servers they call. */
export function goldenPlans(origins: { api: string; llm: string }): Record<string, unknown> {
  return {
    three_step_transform: THREE_STEP_PLAN,
    host_calls: {
      steps: [
        { id: "work", skill: "spin", params: { iterations: 1000, value: { ticket: "A-17" } } },
        { id: "stamp", skill: "nonce", params: { label: "{{steps.work.output.value.ticket}}", bytes: 16 } },
        { id: "shape", skill: "json_transform", params: { op: "omit", input: "{{steps.stamp.output}}", keys: ["label"] } },
      ],
    },
    failed_step: {
      steps: [
        { id: "find", skill: "json_transform", params: { op: "extract", input: { a: [1, 2] }, path: "$.a[5]" } },
        { id: "never", skill: "json_transform", params: { op: "pick", input: "{{steps.find.output.result}}", keys: ["x"] } },
      ],
    },
    m4_simple_http: {
      steps: [
        { id: "fetch", skill: "http_call", params: { url: `${origins.api}/orders` } },
        { id: "first", skill: "json_transform", params: { op: "extract", input: "{{steps.fetch.output.body}}", path: "$.orders[0]" } },
      ],
    },
    m4_llm_chain: {
      steps: [
        { id: "draft", skill: "llm_invoke", params: { adapter: "stub", model: "gpt-4o-mini", prompt: "Draft a greeting" } },
        { id: "polish", skill: "llm_invoke", params: { adapter: "stub", model: "gpt-4o-mini", prompt: "Polish: {{steps.draft.output.content}}" } },
      ],
    },
    m4_budget_exceeded: {
      budget_cents: 6,
      steps: ["a", "b", "c"].map((id) => ({
        id,
        skill: "llm_invoke",
        params: { adapter: "stub", model: "gpt-4o-mini", prompt: `say ${id}` },
      })),
    },
    m4_transient_retry: {
      steps: [{ id: "call", skill: "http_call", params: { url: `${origins.api}/flaky` }, retry: { max_attempts: 3, backoff_ms: 10 } }],
    },
    m4_permanent_failure: {
      steps: [{ id: "call", skill: "http_call", params: { url: `${origins.api}/missing` }, retry: { max_attempts: 3, backoff_ms: 10 } }],
    },
    m4_mixed: {
      steps: [
        { id: "fetch", skill: "http_call", params: { url: `${origins.api}/orders` } },
        { id: "order", skill: "json_transform", params: { op: "extract", input: "{{steps.fetch.output.body}}", path: "$.orders[0]" } },
        {
          id: "note",
          skill: "llm_invoke",
          params: { adapter: "openai", base_url: origins.llm, model: "gpt-4o-mini", prompt: "Thank {{steps.order.output.result.customer}}" },
        },
        {
          id: "follow_up",
          skill: "calendar_write",
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
        },
      ],
    },
  };
}

if (import.meta.main) {
  let flaky = 0;
  await using api = startServer((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/orders") return Response.json({ orders: [{ id: 7, customer: "Ada", total: 120 }] });
    if (path === "/flaky") return ++flaky <= 2 ? new Response("busy", { status: 503 }) : Response.json({ ok: true });
    return new Response("no such thing", { status: 404 });
  });
  await using llm = startFakeLlmServer();
  llm.enqueue({ kind: "reply", content: "Dear Ada, thank you for your order.", inputTokens: 40, outputTokens: 9 });
  const node = await openTestNode({
    config: {
      http: { ...DEFAULT_CONFIG.http, loopbackAllowlist: [{ host: "127.0.0.1", port: api.port }, { host: "127.0.0.1", port: llm.port }] },
      secrets: { OPENAI_API_KEY: "sk-golden" },
    },
  });
  try {
    for (const [name, plan] of Object.entries(goldenPlans({ api: api.origin, llm: llm.origin }))) {
      const { status, body } = await requestJson(node, "POST", "/v1/runs", plan);
      if (status !== 202) throw new Error(`${name}: ${JSON.stringify(body)}`);
      const view = await requestJson(node, "GET", `/v1/runs/${body.run_id}?wait_ms=60000`);
      const records = await node.store.readLog(String(body.run_id));
      const file = join(new URL(".", import.meta.url).pathname, `${name}.jsonl`);
      await Deno.writeTextFile(file, records.map(recordToLine).join("\n") + "\n");
      console.log(`${name}: ${view.body.status}, ${records.length} records → ${file}`);
    }
  } finally {
    await node.close();
  }
}
