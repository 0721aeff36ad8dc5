import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import { forkRun } from "../../actors/run_fork.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import { startServer } from "../support/http_servers.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";

type Node = Awaited<ReturnType<typeof openTestNode>>;
type Body = Record<string, unknown>;

async function submit(node: Node, plan: unknown): Promise<string> {
  const { status, body } = await requestJson(node, "POST", "/v1/runs", plan);
  assert.equal(status, 202, JSON.stringify(body));
  return String(body.run_id);
}

async function view(node: Node, runId: string, waitMs = 0): Promise<Body> {
  return (await requestJson(
    node,
    "GET",
    `/v1/runs/${runId}${waitMs > 0 ? `?wait_ms=${waitMs}` : ""}`,
  )).body;
}

function stepsOf(run: Body): Record<string, Body> {
  return Object.fromEntries(
    (run.steps as Body[]).map((step) => [String(step.id), step]),
  );
}

function codeOf(body: Body): string {
  return (body.error as { code: string }).code;
}

async function waitFor(node: Node, runId: string, type: string) {
  return await node.runtime.waitForRecord(runId, (r) => r.type === type);
}

Deno.test("signals through the API: kept in order before their wait, delivered to wait_signal steps, refused for bad names and finished runs", async () => {
  const node = await openTestNode();
  try {
    const runId = await submit(node, {
      steps: [
        { id: "gate", wait_signal: { name: "go" } },
        { id: "first", wait_signal: { name: "approve" } },
        { id: "second", wait_signal: { name: "approve" } },
        {
          id: "decide",
          skill: "json_transform",
          params: {
            op: "pick",
            input: {
              first: "{{steps.first.output.payload}}",
              second: "{{steps.second.output.payload}}",
            },
            keys: ["first", "second"],
          },
        },
      ],
    });
    await waitFor(node, runId, "SignalAwaited");
    for (const by of ["ada", "grace"]) {
      const sent = await requestJson(
        node,
        "POST",
        `/v1/runs/${runId}/signals/approve`,
        { by },
      );
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
    }
    const waiting = await view(node, runId);
    assert.equal(waiting.status, "running");
    assert.equal(stepsOf(waiting).gate!.status, "waiting");
    assert.deepEqual(
      (waiting.signals_pending as Body[]).map((signal) => signal.name),
      ["approve", "approve"],
    );
    const bad = await requestJson(
      node,
      "POST",
      `/v1/runs/${runId}/signals/not%20a%20name`,
      {},
    );
    assert.equal(bad.status, 400);
    assert.equal(codeOf(bad.body), "VALIDATION_QUERY_INVALID");
    const go = await requestJson(node, "POST", `/v1/runs/${runId}/signals/go`);
    assert.equal(go.status, 202);
    const done = await view(node, runId, 30_000);
    assert.equal(done.status, "succeeded", JSON.stringify(done));
    assert.deepEqual(stepsOf(done).gate!.output, { name: "go", payload: null });
    assert.deepEqual((done.output as Body).result, {
      first: { by: "ada" },
      second: { by: "grace" },
    });
    const late = await requestJson(
      node,
      "POST",
      `/v1/runs/${runId}/signals/go`,
      {},
    );
    assert.equal(late.status, 409);
    assert.equal(codeOf(late.body), "RUN_ALREADY_FINISHED");
    const unknown = await requestJson(
      node,
      "POST",
      "/v1/runs/run_nope/signals/go",
      {},
    );
    assert.equal(unknown.status, 404);
    // A signal sent at once after submission waits for the run's actor.
    const quick = await submit(node, {
      steps: [{ id: "wait", wait_signal: { name: "now" } }],
    });
    const atOnce = await requestJson(
      node,
      "POST",
      `/v1/runs/${quick}/signals/now`,
      1,
    );
    assert.equal(atOnce.status, 202, JSON.stringify(atOnce.body));
    assert.equal((await view(node, quick, 30_000)).status, "succeeded");
    await assertLogsReplay(node.registry, [
      await node.store.readLog(runId),
      await node.store.readLog(quick),
    ]);
  } finally {
    await node.close();
  }
});

const failingExtract = {
  op: "extract",
  input: { order: { id: 7 } },
  path: "$.order.total",
};

Deno.test("pause and resume through the API: on_exhausted pause, status paused with the reason, resume with new params after a restart", async () => {
  const first = await openTestNode();
  const runId = await submit(first, {
    steps: [
      {
        id: "total",
        skill: "json_transform",
        params: failingExtract,
        on_exhausted: "pause",
      },
      {
        id: "after",
        skill: "json_transform",
        params: {
          op: "pick",
          input: { total: "{{steps.total.output.result}}" },
          keys: ["total"],
        },
      },
    ],
  });
  const paused = await view(first, runId, 30_000);
  assert.equal(paused.status, "paused", JSON.stringify(paused));
  const pause = paused.pause as { step: string; error: { code: string } };
  assert.equal(pause.step, "total");
  assert.equal(stepsOf(paused).total!.status, "paused");
  const listed = await requestJson(first, "GET", "/v1/runs?status=paused");
  assert.deepEqual(
    (listed.body.runs as Body[]).map((run) => [run.run_id, run.status]),
    [[runId, "paused"]],
  );
  const resumeRunning = await submit(first, {
    steps: [{ id: "nap", sleep_ms: 3_600_000 }],
  });
  const notPaused = await requestJson(
    first,
    "POST",
    `/v1/runs/${resumeRunning}/resume`,
    {},
  );
  assert.equal(notPaused.status, 409);
  assert.equal(codeOf(notPaused.body), "RUN_NOT_PAUSED");
  await first.close();

  // The paused run survives a restart and is resumed on the new node.
  const second = await openTestNode({ dataDir: first.dataDir });
  try {
    assert.equal((await view(second, runId)).status, "paused");
    const wrongStep = await requestJson(
      second,
      "POST",
      `/v1/runs/${runId}/resume`,
      { step: "after", params: {} },
    );
    assert.equal(wrongStep.status, 409);
    assert.equal(codeOf(wrongStep.body), "RUN_NOT_PAUSED");
    const badBody = await requestJson(
      second,
      "POST",
      `/v1/runs/${runId}/resume`,
      { params: "nope" },
    );
    assert.equal(badBody.status, 400);
    const resumed = await requestJson(
      second,
      "POST",
      `/v1/runs/${runId}/resume`,
      { params: { ...failingExtract, path: "$.order.id" } },
    );
    assert.equal(resumed.status, 202, JSON.stringify(resumed.body));
    const done = await view(second, runId, 30_000);
    assert.equal(done.status, "succeeded", JSON.stringify(done));
    assert.equal(stepsOf(done).total!.attempts, 2);
    assert.deepEqual((done.output as Body).result, { total: 7 });
    const records = await second.store.readLog(runId);
    const types = records.map((record) => record.type);
    assert.deepEqual(types.slice(0, 5), [
      "RunSubmitted",
      "StepStarted",
      "StepFailed",
      "RunPaused",
      "RunResumed",
    ]);
    await assertLogsReplay(second.registry, [records]);
  } finally {
    await second.close();
  }
});

Deno.test("budget exhaustion pauses a run whose plan says on_budget_exhausted: pause; a resume with more budget finishes it", async () => {
  const node = await openTestNode();
  try {
    const runId = await submit(node, {
      budget_cents: 5,
      on_budget_exhausted: "pause",
      steps: ["a", "b"].map((id) => ({
        id,
        skill: "llm_invoke",
        params: { adapter: "stub", model: "gpt-4o-mini", prompt: `say ${id}` },
      })),
    });
    const paused = await view(node, runId, 30_000);
    assert.equal(paused.status, "paused", JSON.stringify(paused));
    const pause = paused.pause as { step: string; error: { code: string } };
    assert.equal(pause.error.code, "BUDGET_EXCEEDED");
    assert.equal(stepsOf(paused).a!.status, "succeeded");
    assert.equal(stepsOf(paused).b!.status, "pending");
    const resumed = await requestJson(
      node,
      "POST",
      `/v1/runs/${runId}/resume`,
      { budget_cents: 100 },
    );
    assert.equal(resumed.status, 202, JSON.stringify(resumed.body));
    const done = await view(node, runId, 30_000);
    assert.equal(done.status, "succeeded", JSON.stringify(done));
    await assertLogsReplay(node.registry, [await node.store.readLog(runId)]);
  } finally {
    await node.close();
  }
});

Deno.test("fork through the API: the new run copies the parent's prefix, repeats none of its calls, and runs the fix", async () => {
  let hits = 0;
  await using api = startServer(() => {
    hits++;
    return Response.json({ orders: [{ id: 7, customer: "Ada", total: 120 }] });
  });
  const node = await openTestNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: api.port }],
      },
    },
  });
  try {
    const parentId = await submit(node, {
      steps: [
        {
          id: "fetch",
          skill: "http_call",
          params: { url: `${api.origin}/orders` },
        },
        { id: "stamp", skill: "nonce", params: { label: "x", bytes: 8 } },
        {
          id: "first",
          skill: "json_transform",
          params: {
            op: "extract",
            input: "{{steps.fetch.output.body}}",
            path: "$.orders[3]",
          },
        },
      ],
    });
    const parent = await view(node, parentId, 30_000);
    assert.equal(parent.status, "failed");
    assert.equal(hits, 1);

    const refusals: [unknown, number, string][] = [
      [{ from_step: "nope" }, 422, "RUN_FORK_INVALID"],
      [
        { from_step: "first", overrides: { fetch: { params: {} } } },
        422,
        "RUN_FORK_INVALID",
      ],
      [
        { from_step: "first", overrides: { first: { skill: "no_such" } } },
        400,
        "PLAN_UNKNOWN_SKILL",
      ],
      [{ overrides: {} }, 400, "VALIDATION_BODY_INVALID"],
    ];
    for (const [body, status, code] of refusals) {
      const refused = await requestJson(
        node,
        "POST",
        `/v1/runs/${parentId}/fork`,
        body,
      );
      assert.equal(refused.status, status, JSON.stringify(refused.body));
      assert.equal(codeOf(refused.body), code);
    }
    const missing = await requestJson(node, "POST", "/v1/runs/run_x/fork", {
      from_step: "first",
    });
    assert.equal(missing.status, 404);

    const forked = await requestJson(
      node,
      "POST",
      `/v1/runs/${parentId}/fork`,
      {
        from_step: "first",
        overrides: {
          first: {
            params: {
              op: "extract",
              input: "{{steps.fetch.output.body}}",
              path: "$.orders[0].total",
            },
          },
        },
      },
    );
    assert.equal(forked.status, 202, JSON.stringify(forked.body));
    const forkId = String(forked.body.run_id);
    assert.notEqual(forkId, parentId);
    const child = await view(node, forkId, 30_000);
    assert.equal(child.status, "succeeded", JSON.stringify(child));
    assert.equal((child.output as Body).result, 120);
    assert.equal(hits, 1, "the fork repeated the parent's HTTP call");
    const parentLog = await node.store.readLog(parentId);
    const childLog = await node.store.readLog(forkId);
    const cut = parentLog.findIndex((record) => record.body.step === "first");
    assert.deepEqual(child.fork, {
      run_id: parentId,
      from_step: "first",
      from_seq: cut,
      digest: parentLog[cut - 1]!.hash,
    });
    const shape = (record: LogRecord) => [record.type, record.body, record.at];
    assert.deepEqual(
      childLog.slice(1, cut).map(shape),
      parentLog.slice(1, cut).map(shape),
    );
    assert.equal(childLog[0]!.run_id, forkId);
    assert.deepEqual(
      stepsOf(child).stamp!.output,
      stepsOf(parent).stamp!.output,
    );
    // From the fork point on, the fork has its own history.
    assert.equal(childLog[cut]!.type, "StepStarted");
    assert.deepEqual(
      (childLog[cut]!.body.input as Body).path,
      "$.orders[0].total",
    );
    const again = await requestJson(
      node,
      "POST",
      `/v1/runs/${forkId}/fork`,
      { from_step: "first" },
    );
    assert.equal(again.status, 202, "a fork can be forked again");
    await node.runtime.waitForEnd(String(again.body.run_id), 30_000);
    await assertLogsReplay(node.registry, [parentLog, childLog]);
  } finally {
    await node.close();
  }
});

Deno.test("fork refuses a step the parent never reached with RUN_FORK_STEP_NOT_REACHED", async () => {
  const node = await openTestNode();
  try {
    const parentId = await submit(node, {
      steps: [
        { id: "find", skill: "json_transform", params: failingExtract },
        {
          id: "never",
          skill: "json_transform",
          params: { op: "pick", input: { a: 1 }, keys: ["a"] },
        },
      ],
    });
    assert.equal((await view(node, parentId, 30_000)).status, "failed");
    const refused = await requestJson(
      node,
      "POST",
      `/v1/runs/${parentId}/fork`,
      { from_step: "never" },
    );
    assert.equal(refused.status, 409);
    assert.equal(codeOf(refused.body), "RUN_FORK_STEP_NOT_REACHED");
  } finally {
    await node.close();
  }
});

Deno.test("fork of a goal run: the override goes into the copied PlanProduced and the fork replays", async () => {
  const node = await openTestNode();
  try {
    const parentId = await submit(node, {
      goal: 'extract $.a from {"a":1} then extract $.b from {"a":2}',
      planner: "rules",
    });
    const parent = await view(node, parentId, 30_000);
    assert.equal(parent.status, "failed", JSON.stringify(parent));
    const forked = await requestJson(
      node,
      "POST",
      `/v1/runs/${parentId}/fork`,
      {
        from_step: "p2_extract",
        overrides: {
          p2_extract: {
            params: { op: "extract", input: { a: 2 }, path: "$.a" },
          },
        },
      },
    );
    assert.equal(forked.status, 202, JSON.stringify(forked.body));
    const forkId = String(forked.body.run_id);
    const child = await view(node, forkId, 30_000);
    assert.equal(child.status, "succeeded", JSON.stringify(child));
    assert.equal((child.output as Body).result, 2);
    const childLog = await node.store.readLog(forkId);
    assert.equal(childLog[0]!.body.plan, null);
    const produced = childLog.find((record) => record.type === "PlanProduced")!;
    const steps = (produced.body.plan as { steps: Body[] }).steps;
    assert.deepEqual(steps[1]!.params, {
      op: "extract",
      input: { a: 2 },
      path: "$.a",
    });
    await assertLogsReplay(node.registry, [
      await node.store.readLog(parentId),
      childLog,
    ]);
  } finally {
    await node.close();
  }
});

Deno.test("a fork stored without its copied prefix (a crash between the two writes) fails instead of running the prefix again", async () => {
  const node = await openTestNode({
    supervisor: { backoffBaseMs: 1, backoffMaxMs: 1 },
  });
  try {
    const parentId = await submit(node, {
      steps: [
        { id: "stamp", skill: "nonce", params: { label: "x", bytes: 8 } },
        {
          id: "shape",
          skill: "json_transform",
          params: { op: "pick", input: { a: 1 }, keys: ["a"] },
        },
      ],
    });
    assert.equal((await view(node, parentId, 30_000)).status, "succeeded");
    const { records } = forkRun(await node.store.readLog(parentId), {
      from_step: "shape",
    }, { runId: "run_torn_fork", pin: () => undefined });
    assert.ok(records.length > 2);
    await node.store.createRun(records[0]!, { tenant: "default" });
    const torn = await view(node, "run_torn_fork", 30_000);
    assert.equal(torn.status, "failed", JSON.stringify(torn));
    assert.equal(torn.code, "SUPERVISOR_GAVE_UP");
    assert.match(
      String(torn.message),
      /holds 1 of the \d+ records it forked from/,
    );
    const log = await node.store.readLog("run_torn_fork");
    assert.deepEqual(log.map((record) => record.type), [
      "RunSubmitted",
      "RunFailed",
    ]);
  } finally {
    await node.close();
  }
});
