import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { startFakeLlmServer } from "../support/fake_llm_server.ts";
import {
  changedSeries,
  parseExposition,
  seriesKey,
} from "../support/metrics_text.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";

type Node = Awaited<ReturnType<typeof openTestNode>>;

async function scrape(node: Node): Promise<Map<string, number>> {
  const response = await node.app.request("/metrics");
  assert.equal(response.status, 200);
  return parseExposition(await response.text());
}

async function run(
  node: Node,
  plan: unknown,
): Promise<Record<string, unknown>> {
  const submitted = await requestJson(node, "POST", "/v1/runs", plan);
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  return (await requestJson(
    node,
    "GET",
    `/v1/runs/${submitted.body.run_id}?wait_ms=60000`,
  )).body;
}

// Timings, gauges, the store's syncs and the API's own counters move with
// every request; the tests look at what a run's outcome changes.
const timingOrHttp = (key: string) =>
  key.startsWith("nova_http_") || key.startsWith("nova_store_append_") ||
  key.startsWith("nova_store_syncs_") ||
  key.startsWith("nova_worker_pool_") || key.startsWith("nova_db_pool_") ||
  key.startsWith("nova_registry_operation_") || !key.startsWith("nova_") ||
  /_(bucket|sum)[{]|_(bucket|sum)$/.test(key);

const k = seriesKey;

Deno.test("a failed step increments exactly the run, failure and attempt counters it should", async () => {
  const node = await openTestNode();
  try {
    const before = await scrape(node);
    const view = await run(node, {
      steps: [
        {
          id: "ok",
          skill: "json_transform",
          params: { op: "extract", input: { a: 1 }, path: "$.a" },
        },
        {
          id: "bad",
          skill: "json_transform",
          depends_on: ["ok"],
          params: { op: "extract", input: { a: 1 }, path: "$.missing" },
        },
      ],
    });
    assert.equal(view.status, "failed");
    assert.equal(view.code, "ERR_JSON_PATH_NOT_FOUND");
    const changed = changedSeries(before, await scrape(node), timingOrHttp);
    assert.deepEqual(changed, {
      [k("nova_runs_total", { status: "failed" })]: 1,
      [k("nova_runs_failed_total", { code: "ERR_JSON_PATH_NOT_FOUND" })]: 1,
      [k("nova_run_duration_seconds_count")]: 1,
      [
        k("nova_skill_attempts_total", {
          skill: "json_transform",
          outcome: "succeeded",
        })
      ]: 1,
      [
        k("nova_skill_attempts_total", {
          skill: "json_transform",
          outcome: "failed",
        })
      ]: 1,
      [
        k("nova_skill_duration_seconds_count", {
          skill: "json_transform",
          version: node.registry.pin("json_transform")!.version,
        })
      ]: 2,
    });
  } finally {
    await node.close();
  }
});

Deno.test("a step stopped at its time limit counts a sandbox limit breach per attempt", async () => {
  const node = await openTestNode();
  try {
    const before = await scrape(node);
    const view = await run(node, {
      steps: [{
        id: "slow",
        skill: "spin",
        timeout_ms: 50,
        params: { iterations: 1_000_000_000, value: 1 },
        retry: { max_attempts: 2, backoff_ms: 5 },
      }],
    });
    assert.equal(view.code, "SANDBOX_TIMEOUT");
    const changed = changedSeries(before, await scrape(node), timingOrHttp);
    assert.equal(
      changed[k("nova_sandbox_limit_breaches_total", { kind: "timeout" })],
      2,
    );
    assert.equal(
      changed[
        k("nova_skill_attempts_total", {
          skill: "spin",
          outcome: "failed",
        })
      ],
      2,
    );
    assert.equal(
      changed[k("nova_runs_failed_total", { code: "SANDBOX_TIMEOUT" })],
      1,
    );
  } finally {
    await node.close();
  }
});

Deno.test("llm_invoke steps add their reported cost and tokens by provider and model", async () => {
  const node = await openTestNode();
  try {
    const before = await scrape(node);
    const view = await run(node, {
      steps: ["one", "two"].map((id) => ({
        id,
        skill: "llm_invoke",
        params: { adapter: "stub", model: "gpt-4o-mini", prompt: `Say ${id}` },
      })),
    });
    assert.equal(view.status, "succeeded");
    const outputs = (view.steps as { output: Record<string, number> }[])
      .map((step) => step.output);
    const sum = (field: string) =>
      outputs.reduce((total, output) => total + output[field]!, 0);
    assert.ok(sum("cost_cents") > 0);
    const changed = changedSeries(before, await scrape(node), timingOrHttp);
    const labels = { provider: "stub", model: "gpt-4o-mini" };
    assert.equal(
      changed[k("nova_llm_cost_cents_total", labels)],
      sum("cost_cents"),
    );
    assert.equal(
      changed[k("nova_llm_tokens_total", { ...labels, type: "input" })],
      sum("input_tokens"),
    );
    assert.equal(
      changed[k("nova_llm_tokens_total", { ...labels, type: "output" })],
      sum("output_tokens"),
    );
  } finally {
    await node.close();
  }
});

Deno.test("replaying a run counts replay metrics and leaves every live one alone", async () => {
  const node = await openTestNode();
  try {
    const view = await run(node, {
      steps: [
        {
          id: "ask",
          skill: "llm_invoke",
          params: { adapter: "stub", model: "gpt-4o-mini", prompt: "hello" },
        },
        {
          id: "bad",
          skill: "json_transform",
          depends_on: ["ask"],
          params: { op: "extract", input: { a: 1 }, path: "$.missing" },
        },
      ],
    });
    assert.equal(view.status, "failed");
    const before = await scrape(node);
    const replayed = await requestJson(
      node,
      "POST",
      `/v1/runs/${view.run_id}/replay`,
    );
    assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
    assert.equal(replayed.body.verdict, "identical");
    const changed = changedSeries(before, await scrape(node), timingOrHttp);
    assert.deepEqual(changed, {
      [k("nova_replay_tests_total", { status: "identical" })]: 1,
    });
  } finally {
    await node.close();
  }
});

Deno.test("a run stopped by its budget counts once, and the model spend metric equals what the run charged", async () => {
  const node = await openTestNode();
  try {
    const before = await scrape(node);
    const ask = (id: string) => ({
      id,
      skill: "llm_invoke",
      params: { adapter: "stub", model: "gpt-4o-mini", prompt: `say ${id}` },
    });
    const view = await run(node, {
      budget_cents: 6,
      steps: [ask("a"), ask("b"), ask("c")],
    });
    assert.equal(view.code, "BUDGET_EXCEEDED");
    const charged = (view.steps as { cost_cents?: number }[]).reduce(
      (total, step) => total + (step.cost_cents ?? 0),
      0,
    );
    assert.ok(charged > 0);
    const changed = changedSeries(before, await scrape(node), timingOrHttp);
    assert.equal(changed[k("nova_budget_exceeded_total")], 1);
    assert.equal(
      changed[k("nova_runs_failed_total", { code: "BUDGET_EXCEEDED" })],
      1,
    );
    assert.equal(
      changed[
        k("nova_llm_cost_cents_total", {
          provider: "stub",
          model: "gpt-4o-mini",
        })
      ],
      charged,
    );
  } finally {
    await node.close();
  }
});

Deno.test("the LLM planner's model call counts into the model cost and tokens", async () => {
  await using llm = startFakeLlmServer();
  llm.enqueue({
    kind: "reply",
    content: JSON.stringify({
      steps: [{
        id: "pick",
        skill: "json_transform",
        params: { op: "pick", input: { a: 1, b: 2 }, keys: ["a"] },
      }],
    }),
    inputTokens: 300,
    outputTokens: 40,
  });
  const node = await openTestNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: llm.port }],
      },
      secrets: { OPENAI_API_KEY: "sk-planner" },
    },
  });
  try {
    const before = await scrape(node);
    const view = await run(node, {
      goal: "keep only field a of {a: 1, b: 2}",
      planner: "llm",
      planner_options: {
        adapter: "openai",
        model: "gpt-4o-mini",
        base_url: llm.origin,
      },
    });
    assert.equal(view.status, "succeeded", JSON.stringify(view.error));
    const changed = changedSeries(before, await scrape(node), timingOrHttp);
    const labels = { provider: "openai", model: "gpt-4o-mini" };
    // ceil((300 × 15 + 40 × 60) / 1,000,000) cents at gpt-4o-mini's prices.
    assert.equal(changed[k("nova_llm_cost_cents_total", labels)], 1);
    assert.equal(
      changed[k("nova_llm_tokens_total", { ...labels, type: "input" })],
      300,
    );
    assert.equal(
      changed[k("nova_llm_tokens_total", { ...labels, type: "output" })],
      40,
    );
  } finally {
    await node.close();
  }
});
