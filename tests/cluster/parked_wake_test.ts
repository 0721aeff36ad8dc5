/**
 * Parked runs on a shared PostgreSQL: a run parked by one node is woken by
 * a message sent to another, and by its timer on a node that learned of the
 * wake time through NOTIFY alone (its fallback poll is ten minutes).
 */
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { MemoryLogger, SimulatedClock } from "../../src/deps/mod.ts";
import { openNode } from "../../src/node/mod.ts";
import { openPostgresStore } from "../../src/store/mod.ts";
import { startTestPostgres } from "../support/postgres.ts";
import {
  requestJson,
  TEST_ADMIN_KEY,
  TEST_TENANT_KEY,
} from "../support/test_node.ts";

type OpenNode = (nodeId: string) => ReturnType<typeof openNode>;

function nodesOn(url: string, clock: SimulatedClock): OpenNode {
  return async (nodeId: string) =>
    await openNode({
      ...DEFAULT_CONFIG,
      port: 0,
      dataDir: Deno.makeTempDirSync({ prefix: `aos-park-${nodeId}-` }),
      ownership: {
        nodeId,
        leaseMs: 10_000,
        // Ten minutes: a wake that comes sooner came through NOTIFY.
        pollMs: 600_000,
        runsMax: 10,
      },
      bootstrap: { adminKey: TEST_ADMIN_KEY, tenantKey: TEST_TENANT_KEY },
    }, {
      log: new MemoryLogger(),
      clock,
      store: await openPostgresStore(url),
    });
}

Deno.test("postgres: a run parked by node A is signalled through node B, and after B is gone A's NOTIFY-armed timer wakes it", async () => {
  await using database = await startTestPostgres();
  const clock = new SimulatedClock(1_800_000_000_000);
  const open = nodesOn(database.url, clock);
  const a = await open("node-a");
  let b: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const { body } = await requestJson(a, "POST", "/v1/runs", {
      steps: [
        { id: "gate", wait_signal: { name: "go" } },
        { id: "nap", sleep_ms: 86_400_000, depends_on: ["gate"] },
        {
          id: "after",
          skill: "json_transform",
          params: {
            op: "pick",
            input: { got: "{{steps.gate.output.payload}}" },
            keys: ["got"],
          },
          depends_on: ["nap"],
        },
      ],
    });
    const runId = String(body.run_id);
    await a.runtime.waitForRecord(
      runId,
      (record) => record.type === "SignalAwaited",
    );
    await a.runtime.waitForPark(runId);
    assert.equal((await a.store.getLease(runId))?.owner, "");
    assert.equal(a.runtime.heldRuns, 0);

    // B was not running when A parked the run; the signal sent to B wakes it there.
    b = await open("node-b");
    const sent = await requestJson(b, "POST", `/v1/runs/${runId}/signals/go`, {
      from: "b",
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const timer = await b.runtime.waitForRecord(
      runId,
      (record) => record.type === "TimerScheduled",
    );
    const dueAt = Number(timer.body.due_at);
    await b.runtime.waitForPark(runId);
    assert.equal(await a.store.nextWakeAt(), dueAt);
    await b.close();
    b = undefined;

    // Only A is left; its one wake timer was armed from B's NOTIFY.
    await clock.delayDueBy(dueAt);
    clock.advanceTo(dueAt);
    await a.runtime.waitForEnd(runId, 60_000);
    const view = (await requestJson(a, "GET", `/v1/runs/${runId}`)).body;
    assert.equal(view.status, "succeeded", JSON.stringify(view));
    assert.deepEqual((view.output as { result: unknown }).result, {
      got: { from: "b" },
    });
    const log = await a.store.readLog(runId);
    assert.equal(log.find((r) => r.type === "TimerFired")?.at, dueAt);
    assert.equal(log.filter((r) => r.type === "SignalReceived").length, 1);
  } finally {
    await b?.close();
    await a.close();
  }
});

Deno.test("postgres: a signal sent to node B while node A runs the run is recorded by A, woken by NOTIFY, without giving the run up", async () => {
  await using database = await startTestPostgres();
  const clock = new SimulatedClock(1_800_000_000_000);
  const open = nodesOn(database.url, clock);
  const a = await open("node-a");
  const b = await open("node-b");
  try {
    const { run_id: runId } = await a.runtime.submit({
      steps: [
        // Shorter than the park threshold: A keeps the run while it naps.
        { id: "nap", params: {}, sleep_ms: 500 },
        { id: "gate", params: {}, wait_signal: { name: "go" } },
      ],
    }, { tenant: "default" });
    const timer = await a.runtime.waitForRecord(
      runId,
      (record) => record.type === "TimerScheduled",
    );
    const lease = await b.store.getLease(runId);
    assert.equal(lease?.owner, "node-a");
    // A's claim poll is ten minutes: only the request's NOTIFY tells A.
    const answer = await requestJson(
      b,
      "POST",
      `/v1/runs/${runId}/signals/go`,
      { n: 1 },
    );
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.body.queued, false);
    assert.deepEqual(await b.store.getLease(runId), lease);
    await clock.delayDueBy(Number(timer.body.due_at));
    clock.advanceTo(Number(timer.body.due_at));
    await b.runtime.waitForEnd(runId, 60_000);
    const log = await b.store.readLog(runId);
    assert.equal(log.at(-1)?.type, "RunSucceeded");
    assert.equal(log.filter((r) => r.type === "SignalReceived").length, 1);
  } finally {
    await b.close();
    await a.close();
  }
});
