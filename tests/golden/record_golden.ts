/**
 * Records the golden logs in this folder from real runs: an in-process node
 * with the built-in and fixture skills runs each plan below against real
 * loopback servers (an HTTP API and a fake OpenAI-compatible provider), and
 * each run's log is written as `<name>.jsonl`. Replay needs none of those
 * servers: every answer is in the log. Run it after a deliberate change to a
 * skill or to the record format, then review the diff:
 *
 *   deno run -A tests/golden/record_golden.ts
 *
 * Names after the command record only those logs, and the others stay byte
 * for byte as they are:
 *
 *   deno run -A tests/golden/record_golden.ts run_control_signal_pause
 *
 * The run-control logs need more than a plan (signals, a resume, a fork);
 * `goldenScenarios` drives them through the API.
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
    // Ledger 2: free steps hold no budget, so this log has no budget record.
    ledger2_free_steps: {
      steps: [
        { id: "work", skill: "spin", params: { iterations: 1000, value: { n: 2 } } },
        { id: "stamp", skill: "nonce", params: { label: "free", bytes: 8 } },
        { id: "pick", skill: "json_transform", params: { op: "pick", input: "{{steps.stamp.output}}", keys: ["label"] } },
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

type GoldenNode = Awaited<ReturnType<typeof openTestNode>>;

async function recorded(node: GoldenNode, runId: string, type: string): Promise<void> {
  await node.runtime.waitForRecord(runId, (record) => record.type === type);
}

async function send(node: GoldenNode, path: string, body: unknown): Promise<Record<string, unknown>> {
  const { status, body: answer } = await requestJson(node, "POST", path, body);
  if (status !== 202) throw new Error(`${path}: ${status} ${JSON.stringify(answer)}`);
  return answer;
}

/**
 * Golden runs that need more than a plan: name → drives the run through the
 * API and returns the id of the run whose log is kept.
 */
export function goldenScenarios(): Record<string, (node: GoldenNode) => Promise<string>> {
  return {
    // A signal that arrives before its wait, one that arrives during a wait,
    // a step that pauses the run when it fails, and a resume with new params.
    run_control_signal_pause: async (node) => {
      const { body } = await requestJson(node, "POST", "/v1/runs", {
        steps: [
          { id: "gate", wait_signal: { name: "go", timeout_ms: 86_400_000 } },
          { id: "approve", wait_signal: { name: "approve" } },
          {
            id: "total",
            skill: "json_transform",
            params: { op: "extract", input: "{{steps.approve.output.payload}}", path: "$.order.total" },
            on_exhausted: "pause",
          },
        ],
      });
      const runId = String(body.run_id);
      await recorded(node, runId, "SignalAwaited");
      await send(node, `/v1/runs/${runId}/signals/approve`, { order: { id: 7, amount: 120 }, by: "ada" });
      await send(node, `/v1/runs/${runId}/signals/go`, null);
      await recorded(node, runId, "RunPaused");
      await send(node, `/v1/runs/${runId}/resume`, {
        params: { op: "extract", input: "{{steps.approve.output.payload}}", path: "$.order.amount" },
      });
      return runId;
    },
    // A fork of a failed run from its failing step, with a fix for it.
    run_control_fork: async (node) => {
      const { body } = await requestJson(node, "POST", "/v1/runs", {
        steps: [
          { id: "stamp", skill: "nonce", params: { label: "order-7", bytes: 8 } },
          { id: "shape", skill: "json_transform", params: { op: "extract", input: "{{steps.stamp.output}}", path: "$.labels" } },
        ],
      });
      const parentId = String(body.run_id);
      await requestJson(node, "GET", `/v1/runs/${parentId}?wait_ms=60000`);
      const fork = await send(node, `/v1/runs/${parentId}/fork`, {
        from_step: "shape",
        overrides: { shape: { params: { op: "pick", input: "{{steps.stamp.output}}", keys: ["label"] } } },
      });
      return String(fork.run_id);
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
    const only = new Set(Deno.args);
    const runs: [string, () => Promise<string>][] = [
      ...Object.entries(goldenPlans({ api: api.origin, llm: llm.origin })).map(([name, plan]): [string, () => Promise<string>] => [
        name,
        async () => {
          const { status, body } = await requestJson(node, "POST", "/v1/runs", plan);
          if (status !== 202) throw new Error(`${name}: ${JSON.stringify(body)}`);
          return String(body.run_id);
        },
      ]),
      ...Object.entries(goldenScenarios()).map(([name, drive]): [string, () => Promise<string>] => [name, () => drive(node)]),
    ];
    for (const [name, start] of runs) {
      if (only.size > 0 && !only.has(name)) continue;
      const runId = await start();
      const view = await requestJson(node, "GET", `/v1/runs/${runId}?wait_ms=60000`);
      const records = await node.store.readLog(runId);
      const file = join(new URL(".", import.meta.url).pathname, `${name}.jsonl`);
      await Deno.writeTextFile(file, records.map(recordToLine).join("\n") + "\n");
      console.log(`${name}: ${view.body.status}, ${records.length} records → ${file}`);
    }
  } finally {
    await node.close();
  }
}
