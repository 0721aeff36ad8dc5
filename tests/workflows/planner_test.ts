import assert from "node:assert/strict";
import { liveClock, liveRandom } from "../../src/deps/mod.ts";
import { replayLog } from "../../src/replay/mod.ts";
import { Sandbox } from "../../src/sandbox/mod.ts";
import type { LogRecord } from "../../src/store/mod.ts";
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
    const sandbox = new Sandbox({
      modules: node.registry,
      clock: liveClock,
      random: liveRandom,
    });
    try {
      const report = await replayLog(events, sandbox);
      assert.equal(
        report.verdict,
        "identical",
        JSON.stringify(report.divergence),
      );
    } finally {
      await sandbox.close();
    }
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
