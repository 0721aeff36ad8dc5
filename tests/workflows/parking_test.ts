/**
 * Parked runs: a run with nothing to do but wait (a signal, a resume, a
 * long timer) gives up its actor, lease and slot, and any message or its
 * due timer wakes it.
 */
import assert from "node:assert/strict";
import { SimulatedClock } from "../../src/deps/mod.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import {
  openTestNode,
  requestJson,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";

type Node = Awaited<ReturnType<typeof openTestNode>>;

async function submit(node: Node, plan: unknown): Promise<string> {
  const { status, body } = await requestJson(node, "POST", "/v1/runs", plan);
  assert.equal(status, 202, JSON.stringify(body));
  return String(body.run_id);
}

async function statusOf(node: Node, runId: string, waitMs = 0) {
  const query = waitMs > 0 ? `?wait_ms=${waitMs}` : "";
  return (await requestJson(node, "GET", `/v1/runs/${runId}${query}`)).body
    .status;
}

const gated = {
  steps: [
    { id: "gate", wait_signal: { name: "go" } },
    {
      id: "after",
      skill: "json_transform",
      params: {
        op: "pick",
        input: { got: "{{steps.gate.output.payload}}" },
        keys: ["got"],
      },
      depends_on: ["gate"],
    },
  ],
};

Deno.test("parked runs hold no lease, actor or slot: more of them than AOS_RUNS_MAX leave room for new runs, and a signal wakes each", async () => {
  const node = await openTestNode({
    config: {
      ownership: {
        nodeId: "local",
        leaseMs: 10_000,
        pollMs: 2_000,
        runsMax: 2,
      },
    },
  });
  try {
    const waiting: string[] = [];
    for (let index = 0; index < 5; index++) {
      const runId = await submit(node, gated);
      await node.runtime.waitForRecord(
        runId,
        (record) => record.type === "SignalAwaited",
      );
      await node.runtime.waitForPark(runId);
      waiting.push(runId);
    }
    for (const runId of waiting) {
      assert.deepEqual(
        { ...(await node.store.getLease(runId))!, epoch: 0 },
        { run_id: runId, owner: "", epoch: 0, expires_at: 0 },
      );
    }
    // Nothing held means nothing renewed, and no actor is kept.
    assert.equal(node.runtime.heldRuns, 0);
    assert.equal(node.runtime.activeRuns, 0);
    const fresh = await submit(node, THREE_STEP_PLAN);
    assert.equal(await statusOf(node, fresh, 30_000), "succeeded");
    for (const [index, runId] of waiting.entries()) {
      const sent = await requestJson(
        node,
        "POST",
        `/v1/runs/${runId}/signals/go`,
        { n: index },
      );
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      assert.deepEqual(sent.body, {
        run_id: runId,
        signal: "go",
        status: "running",
        queued: false,
      });
    }
    for (const [index, runId] of waiting.entries()) {
      assert.equal(await statusOf(node, runId, 30_000), "succeeded");
      const view = (await requestJson(node, "GET", `/v1/runs/${runId}`)).body;
      assert.deepEqual((view.output as { result: unknown }).result, {
        got: { n: index },
      });
    }
    await assertLogsReplay(
      node.registry,
      await Promise.all(
        [...waiting, fresh].map((runId) => node.store.readLog(runId)),
      ),
    );
  } finally {
    await node.close();
  }
});

Deno.test("a parked paused run is resumed, and a parked sleeping run cancelled, through the API", async () => {
  const node = await openTestNode();
  try {
    const paused = await submit(node, {
      steps: [{
        id: "total",
        skill: "json_transform",
        params: { op: "extract", input: { order: {} }, path: "$.order.total" },
        on_exhausted: "pause",
      }],
    });
    const sleeping = await submit(node, {
      steps: [{ id: "nap", sleep_ms: 3_600_000 }],
    });
    assert.equal(await statusOf(node, paused, 30_000), "paused");
    await node.runtime.waitForPark(paused);
    await node.runtime.waitForRecord(
      sleeping,
      (record) => record.type === "TimerScheduled",
    );
    await node.runtime.waitForPark(sleeping);
    assert.equal(node.runtime.heldRuns, 0);
    const resumed = await requestJson(
      node,
      "POST",
      `/v1/runs/${paused}/resume`,
      {
        params: {
          op: "extract",
          input: { order: { total: 5 } },
          path: "$.order.total",
        },
      },
    );
    assert.equal(resumed.status, 202, JSON.stringify(resumed.body));
    assert.equal(await statusOf(node, paused, 30_000), "succeeded");
    const cancelled = await requestJson(
      node,
      "POST",
      `/v1/runs/${sleeping}/cancel`,
      { reason: "not needed" },
    );
    assert.equal(cancelled.status, 202, JSON.stringify(cancelled.body));
    assert.equal(await statusOf(node, sleeping, 30_000), "cancelled");
    const log = await node.store.readLog(sleeping);
    assert.equal(log.filter((r) => r.type === "RunCancelled").length, 1);
  } finally {
    await node.close();
  }
});

Deno.test("a parked run wakes at its timer's recorded due time, on the node's one wake timer", async () => {
  const clock = new SimulatedClock(1_800_000_000_000);
  const node = await openTestNode({ clock });
  try {
    const runId = await submit(node, {
      steps: [{ id: "nap", sleep_ms: 86_400_000 }, {
        id: "after",
        skill: "json_transform",
        params: { op: "extract", input: { a: 1 }, path: "$.a" },
        depends_on: ["nap"],
      }],
    });
    const timer = await node.runtime.waitForRecord(
      runId,
      (record) => record.type === "TimerScheduled",
    );
    const dueAt = Number(timer.body.due_at);
    await node.runtime.waitForPark(runId);
    assert.equal(await node.store.nextWakeAt(), dueAt);
    assert.equal(node.runtime.heldRuns, 0);
    // The node's wake timer is the only thing waiting for that time.
    await clock.delayDueBy(dueAt);
    clock.advanceTo(dueAt - 1);
    assert.equal(await statusOf(node, runId), "running");
    clock.advanceTo(dueAt);
    const fired = await node.runtime.waitForRecord(
      runId,
      (record) => record.type === "TimerFired",
    );
    assert.equal(fired.at, dueAt);
    assert.equal(await statusOf(node, runId, 30_000), "succeeded");
  } finally {
    await node.close();
  }
});
