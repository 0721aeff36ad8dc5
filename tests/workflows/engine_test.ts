import assert from "node:assert/strict";
import { SimulatedClock } from "../../src/deps/mod.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import {
  openTestNode,
  requestJson,
  TEST_TENANT_KEY,
} from "../support/test_node.ts";

type Node = Awaited<ReturnType<typeof openTestNode>>;

async function runPlan(
  node: Node,
  plan: unknown,
): Promise<{ view: Record<string, unknown>; events: LogRecord[] }> {
  const submitted = await requestJson(node, "POST", "/v1/runs", plan);
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const runId = String(submitted.body.run_id);
  const view =
    (await requestJson(node, "GET", `/v1/runs/${runId}?wait_ms=60000`)).body;
  const events = (await requestJson(node, "GET", `/v1/runs/${runId}/events`))
    .body.events as LogRecord[];
  return { view, events };
}

const steps = (view: Record<string, unknown>) =>
  Object.fromEntries(
    (view.steps as { id: string }[]).map((step) => [step.id, step]),
  ) as Record<string, Record<string, unknown>>;

const extract = (path: string) => ({
  op: "extract",
  input: { a: { flag: false, n: 3 } },
  path,
});

Deno.test("a diamond DAG runs its independent branches concurrently and joins", async () => {
  const node = await openTestNode();
  try {
    const { view, events } = await runPlan(node, {
      concurrency: 4,
      steps: [
        { id: "root", skill: "json_transform", params: extract("$.a") },
        {
          id: "left",
          skill: "spin",
          depends_on: ["root"],
          params: {
            iterations: 2_000_000,
            value: "{{steps.root.output.result.n}}",
          },
        },
        {
          id: "right",
          skill: "spin",
          depends_on: ["root"],
          params: { iterations: 2_000_000, value: "right" },
        },
        {
          id: "join",
          skill: "json_transform",
          depends_on: ["left", "right"],
          params: {
            op: "pick",
            input: {
              l: "{{steps.left.output.value}}",
              r: "{{steps.right.output.value}}",
            },
            keys: ["l", "r"],
          },
        },
      ],
    });
    assert.equal(view.status, "succeeded");
    assert.deepEqual((view.output as { result: unknown }).result, {
      l: 3,
      r: "right",
    });
    const order = events.map((record) =>
      `${record.type}:${record.body.step ?? ""}`
    );
    const bothStarted = Math.max(
      order.indexOf("StepStarted:left"),
      order.indexOf("StepStarted:right"),
    );
    const firstDone = Math.min(
      order.indexOf("StepSucceeded:left"),
      order.indexOf("StepSucceeded:right"),
    );
    assert.ok(
      bothStarted < firstDone,
      `branches ran one after the other: ${order.join(", ")}`,
    );
    assert.ok(
      order.indexOf("StepStarted:join") >
        Math.max(
          order.indexOf("StepSucceeded:left"),
          order.indexOf("StepSucceeded:right"),
        ),
    );
  } finally {
    await node.close();
  }
});

Deno.test("a false condition skips its step, and steps after it still run", async () => {
  const node = await openTestNode();
  try {
    const { view } = await runPlan(node, {
      steps: [
        { id: "check", skill: "json_transform", params: extract("$.a") },
        {
          id: "only_if_flag",
          skill: "json_transform",
          condition: {
            path: "steps.check.output.result.flag",
            op: "eq",
            value: true,
          },
          params: extract("$.a.n"),
        },
        {
          id: "after",
          skill: "json_transform",
          depends_on: ["check"],
          params: extract("$.a.n"),
          output_key: "n",
        },
      ],
    });
    assert.equal(view.status, "succeeded");
    assert.equal(steps(view).only_if_flag!.status, "skipped");
    assert.equal(steps(view).only_if_flag!.skip_reason, "condition_false");
    assert.equal((view.output as { n: { result: number } }).n.result, 3);
  } finally {
    await node.close();
  }
});

Deno.test("a fallback skill runs when the step's own skill fails", async () => {
  const node = await openTestNode();
  try {
    const { view } = await runPlan(node, {
      steps: [{
        id: "lookup",
        skill: "json_transform",
        params: extract("$.missing"),
        on_error: "fallback",
        fallback_skill: "json_transform",
        fallback_params: {
          op: "pick",
          input: { default: "x" },
          keys: ["default"],
        },
      }],
    });
    assert.equal(view.status, "succeeded");
    const lookup = steps(view).lookup!;
    assert.deepEqual([
      lookup.fallback,
      lookup.attempts,
      (lookup.output as { result: unknown }).result,
    ], [
      true,
      2,
      { default: "x" },
    ]);
  } finally {
    await node.close();
  }
});

Deno.test("on_error continue ends the run partial and skips the failed step's dependents", async () => {
  const node = await openTestNode();
  try {
    const { view } = await runPlan(node, {
      steps: [
        {
          id: "fragile",
          skill: "json_transform",
          params: extract("$.missing"),
          on_error: "continue",
        },
        {
          id: "needs_fragile",
          skill: "json_transform",
          params: extract("$.a"),
        },
        {
          id: "independent",
          skill: "json_transform",
          depends_on: [],
          params: extract("$.a.n"),
        },
      ],
    });
    assert.equal(view.status, "partial");
    assert.equal(steps(view).fragile!.status, "failed");
    assert.equal(steps(view).needs_fragile!.skip_reason, "dependency_failed");
    assert.equal(steps(view).independent!.status, "succeeded");
  } finally {
    await node.close();
  }
});

Deno.test("retries follow the policy: retryable codes only, then the run fails with the last error", async () => {
  const node = await openTestNode();
  try {
    // SANDBOX_TIMEOUT is retryable: three attempts, each stopped at 50 ms.
    const { view, events } = await runPlan(node, {
      steps: [{
        id: "slow",
        skill: "spin",
        timeout_ms: 50,
        params: { iterations: 1_000_000_000, value: 1 },
        retry: { max_attempts: 3, backoff_ms: 5, multiplier: 2 },
      }],
    });
    assert.equal(view.status, "failed");
    assert.equal(view.code, "SANDBOX_TIMEOUT");
    assert.equal(steps(view).slow!.attempts, 3);
    const retries = events.filter((record) => record.type === "RetryScheduled");
    // Backoff counts from the failure (a budget release may come between).
    const failedAt = (seq: number) =>
      events.slice(0, seq).findLast((record) => record.type === "StepFailed")!
        .at;
    assert.deepEqual(
      retries.map((record) =>
        record.body.due_at as number - failedAt(retries[0]!.seq) >= 0
      ),
      [true, true],
    );
    const delays = retries.map((record) =>
      (record.body.due_at as number) - failedAt(record.seq)
    );
    assert.deepEqual(delays, [5, 10]);
    // A permanent error is not retried, whatever the policy says.
    const permanent = await runPlan(node, {
      steps: [{
        id: "bad",
        skill: "json_transform",
        params: extract("$.missing"),
        retry: { max_attempts: 5 },
      }],
    });
    assert.equal(steps(permanent.view).bad!.attempts, 1);
  } finally {
    await node.close();
  }
});

Deno.test("cancel during a long step interrupts it and ends the run cancelled; a finished run cannot be cancelled", async () => {
  const node = await openTestNode();
  try {
    const submitted = await requestJson(node, "POST", "/v1/runs", {
      steps: [{
        id: "long",
        skill: "spin",
        params: { iterations: 1_000_000_000, value: 1 },
      }, { id: "never", skill: "spin", params: { iterations: 1, value: 2 } }],
    });
    const runId = String(submitted.body.run_id);
    // Wait for the long step to be running, through the log rather than time.
    for (;;) {
      const events =
        (await requestJson(node, "GET", `/v1/runs/${runId}/events`)).body
          .events as LogRecord[];
      if (events.some((record) => record.type === "StepStarted")) break;
      await node.runtime.waitForEnd(runId, 5);
    }
    const cancelled = await requestJson(
      node,
      "POST",
      `/v1/runs/${runId}/cancel`,
      { reason: "user changed their mind" },
    );
    assert.equal(cancelled.status, 202);
    assert.equal(cancelled.body.status, "cancelled");
    const events = (await requestJson(node, "GET", `/v1/runs/${runId}/events`))
      .body.events as LogRecord[];
    // The interrupted step is free: it held no reservation, so nothing is
    // released before the run ends (a held one is: run_budget_test.ts).
    assert.deepEqual(events.slice(-3).map((record) => record.type), [
      "StepStarted",
      "CancelRequested",
      "RunCancelled",
    ]);
    assert.ok(
      !events.some((record) =>
        record.type === "StepSucceeded" || record.type === "StepFailed"
      ),
    );
    const again = await requestJson(node, "POST", `/v1/runs/${runId}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(
      (again.body.error as { code: string }).code,
      "RUN_ALREADY_FINISHED",
    );
    assert.equal(
      (await requestJson(node, "POST", "/v1/runs/run_unknown/cancel")).status,
      404,
    );
  } finally {
    await node.close();
  }
});

Deno.test("a durable timer fires at its recorded due time after a restart, not restart time plus the delay", async () => {
  const clock = new SimulatedClock(1_800_000_000_000);
  const first = await openTestNode({ clock });
  const { body } = await requestJson(first, "POST", "/v1/runs", {
    steps: [{ id: "nap", sleep_ms: 3_600_000 }, {
      id: "after",
      skill: "json_transform",
      params: extract("$.a.n"),
    }],
  });
  const runId = String(body.run_id);
  const timer = await first.runtime.waitForRecord(
    runId,
    (record) => record.type === "TimerScheduled",
  );
  assert.equal(timer.body.due_at, 1_800_000_000_000 + 3_600_000);
  await first.close();
  clock.advance(3_000_000); // the node is down for 50 minutes
  const second = await openTestNode({ clock, dataDir: first.dataDir });
  try {
    await clock.delaysPending();
    clock.advance(599_999);
    assert.equal(
      (await requestJson(second, "GET", `/v1/runs/${runId}`)).body.status,
      "running",
    );
    clock.advance(1);
    const view =
      (await requestJson(second, "GET", `/v1/runs/${runId}?wait_ms=60000`))
        .body;
    assert.equal(view.status, "succeeded");
    assert.deepEqual(steps(view).nap!.output, { slept_ms: 3_600_000 });
  } finally {
    await second.close();
  }
});

Deno.test("invalid plans are refused with a pointer: cycles, unknown and self dependencies, stray fallbacks", async () => {
  const node = await openTestNode();
  try {
    const table: [string, unknown, string, string][] = [
      [
        "cycle",
        {
          steps: [{ id: "a", skill: "spin", depends_on: ["b"], params: {} }, {
            id: "b",
            skill: "spin",
            depends_on: ["a"],
            params: {},
          }],
        },
        "PLAN_INVALID",
        "/steps/0/depends_on",
      ],
      [
        "unknown dependency",
        { steps: [{ id: "a", skill: "spin", depends_on: ["zz"] }] },
        "PLAN_UNKNOWN_REFERENCE",
        "/steps/0/depends_on/0",
      ],
      [
        "self dependency",
        { steps: [{ id: "a", skill: "spin", depends_on: ["a"] }] },
        "PLAN_INVALID",
        "/steps/0/depends_on/0",
      ],
      [
        "fallback without on_error",
        {
          steps: [{ id: "a", skill: "spin", fallback_skill: "spin" }],
        },
        "PLAN_INVALID",
        "/steps/0/on_error",
      ],
      [
        "skill and sleep",
        { steps: [{ id: "a", skill: "spin", sleep_ms: 5 }] },
        "PLAN_INVALID",
        "/steps/0",
      ],
      [
        "unknown fallback skill",
        {
          steps: [{
            id: "a",
            skill: "spin",
            on_error: "fallback",
            fallback_skill: "nope",
          }],
        },
        "PLAN_UNKNOWN_SKILL",
        "/steps/0/fallback_skill",
      ],
    ];
    for (const [name, plan, code, pointer] of table) {
      const response = await requestJson(node, "POST", "/v1/runs", plan);
      assert.equal(response.status, 400, name);
      const error = response.body.error as {
        code: string;
        details: { pointer: string };
      };
      assert.deepEqual(
        [error.code, error.details.pointer],
        [code, pointer],
        name,
      );
    }
  } finally {
    await node.close();
  }
});

Deno.test("plans may be submitted as YAML; malformed YAML is a 400", async () => {
  const node = await openTestNode();
  try {
    const yaml = [
      "steps:",
      "  - id: pick",
      "    skill: json_transform",
      "    params: { op: pick, input: { a: 1, b: 2 }, keys: [a] }",
    ].join("\n");
    const send = (body: string) =>
      node.app.request("/v1/runs", {
        method: "POST",
        body,
        headers: {
          "content-type": "application/yaml",
          authorization: `Bearer ${TEST_TENANT_KEY}`,
        },
      });
    const accepted = await send(yaml);
    assert.equal(accepted.status, 202);
    const { run_id } = await accepted.json();
    const view =
      (await requestJson(node, "GET", `/v1/runs/${run_id}?wait_ms=30000`)).body;
    assert.deepEqual((view.output as { result: unknown }).result, { a: 1 });
    const broken = await send("steps: [unclosed");
    assert.equal(broken.status, 400);
    assert.equal((await broken.json()).error.code, "VALIDATION_JSON_MALFORMED");
  } finally {
    await node.close();
  }
});

Deno.test("a run stops with BUDGET_EXCEEDED before a step its budget cannot cover", async () => {
  const node = await openTestNode();
  try {
    const ask = (id: string) => ({
      id,
      skill: "llm_invoke",
      params: { adapter: "stub", model: "gpt-4o-mini", prompt: `say ${id}` },
    });
    const { view, events } = await runPlan(node, {
      budget_cents: 6,
      steps: [ask("a"), ask("b"), ask("c")],
    });
    assert.equal(view.status, "failed");
    assert.equal(view.code, "BUDGET_EXCEEDED");
    const byId = steps(view);
    assert.deepEqual([byId.a!.status, byId.b!.status, byId.c!.status], [
      "succeeded",
      "succeeded",
      "pending",
    ]);
    const spent = (byId.a!.cost_cents as number) +
      (byId.b!.cost_cents as number);
    const failure = events[events.length - 1]!;
    assert.equal(failure.body.step, "c");
    assert.deepEqual(
      (failure.body.error as { details: Record<string, number> }).details,
      {
        scope: "run",
        budget_cents: 6,
        spent_cents: spent,
        reserved_cents: 0,
        estimate_cents: 5,
      },
    );
    assert.ok(
      !events.some((record) =>
        record.type === "StepStarted" && record.body.step === "c"
      ),
    );
  } finally {
    await node.close();
  }
});
