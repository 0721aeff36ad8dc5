import assert from "node:assert/strict";
import { assertLogsReplay } from "../support/replay_check.ts";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import { startFakeLlmServer } from "../support/fake_llm_server.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";

Deno.test("a goal run records the rules planner's plan, runs it, and replays without planning again", async () => {
  const node = await openTestNode();
  try {
    const submitted = await requestJson(node, "POST", "/v1/runs", {
      goal: 'extract $.order.id from {"order": {"id": 42}}',
      planner: "rules",
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const runId = String(submitted.body.run_id);
    const view =
      (await requestJson(node, "GET", `/v1/runs/${runId}?wait_ms=30000`)).body;
    assert.equal(view.status, "succeeded", JSON.stringify(view.error));
    assert.deepEqual((view.output as { result: number }).result, 42);
    const events = (await requestJson(node, "GET", `/v1/runs/${runId}/events`))
      .body.events as LogRecord[];
    assert.deepEqual(events.slice(0, 3).map((record) => record.type), [
      "RunSubmitted",
      "PlanProduced",
      "StepStarted",
    ]);
    assert.equal(events[0]!.body.plan, null);
    assert.equal((events[1]!.body as { planner: string }).planner, "rules");
    await assertLogsReplay(node.registry, [events]);
  } finally {
    await node.close();
  }
});

Deno.test("a goal no rule understands fails its run with PLANNER_NO_PLAN", async () => {
  const node = await openTestNode();
  try {
    const { body } = await requestJson(node, "POST", "/v1/runs", {
      goal: "make me a sandwich",
    });
    const view =
      (await requestJson(node, "GET", `/v1/runs/${body.run_id}?wait_ms=30000`))
        .body;
    assert.equal(view.status, "failed");
    assert.equal(view.code, "PLANNER_NO_PLAN");
    const invalid = await requestJson(node, "POST", "/v1/runs", { goal: "" });
    assert.equal(invalid.status, 400);
    assert.equal(
      (invalid.body.error as { code: string }).code,
      "VALIDATION_BODY_INVALID",
    );
  } finally {
    await node.close();
  }
});

Deno.test("the LLM planner asks llm_invoke for a plan, records it with the model call, and replays without the provider", async () => {
  await using llm = startFakeLlmServer();
  const plan = {
    steps: [{
      id: "pick",
      skill: "json_transform",
      params: { op: "pick", input: { a: 1, b: 2 }, keys: ["a"] },
    }],
  };
  llm.enqueue(
    {
      kind: "reply",
      content: "```json\n" + JSON.stringify(plan) + "\n```",
      inputTokens: 300,
      outputTokens: 40,
    },
    {
      kind: "reply",
      content: JSON.stringify({ steps: [{ id: "x", skill: "no_such_skill" }] }),
      inputTokens: 300,
      outputTokens: 20,
    },
  );
  const node = await openTestNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: llm.port }],
      },
      secrets: { OPENAI_API_KEY: "sk-planner" },
    },
  });
  const goal = {
    goal: "keep only field a of {a: 1, b: 2}",
    planner: "llm",
    planner_options: {
      adapter: "openai",
      model: "gpt-4o-mini",
      base_url: llm.origin,
    },
  };
  try {
    const { body } = await requestJson(node, "POST", "/v1/runs", goal);
    const runId = String(body.run_id);
    const view =
      (await requestJson(node, "GET", `/v1/runs/${runId}?wait_ms=30000`)).body;
    assert.equal(view.status, "succeeded", JSON.stringify(view.error));
    assert.deepEqual((view.output as { result: unknown }).result, { a: 1 });
    const prompt = JSON.stringify(llm.requests[0]!.body);
    assert.match(
      prompt,
      /json_transform/,
      "the model was shown the installed skills",
    );
    const events = (await requestJson(node, "GET", `/v1/runs/${runId}/events`))
      .body.events as LogRecord[];
    assert.deepEqual(events.slice(0, 3).map((record) => record.type), [
      "RunSubmitted",
      "HostCall",
      "PlanProduced",
    ]);
    assert.equal(events[1]!.body.step, "__planner");

    const refused = await requestJson(node, "POST", "/v1/runs", goal);
    const refusedView = (await requestJson(
      node,
      "GET",
      `/v1/runs/${refused.body.run_id}?wait_ms=30000`,
    )).body;
    assert.equal(refusedView.status, "failed");
    assert.equal(refusedView.code, "PLANNER_INVALID_PLAN");

    await llm.close();
    const requestsBefore = llm.requests.length;
    await assertLogsReplay(node.registry, [events]);
    assert.equal(llm.requests.length, requestsBefore);
  } finally {
    await node.close();
  }
});
