/**
 * A resume sent to a node that does not hold the paused run, while the
 * node that does still has a step in flight: the resume waits in the store,
 * the holder records it (without giving the run up), and the node asked
 * answers once it is in the log, or `queued` when the holder has not taken
 * it within its wait.
 */
import assert from "node:assert/strict";
import { SimulatedClock } from "../../src/deps/mod.ts";
import { AosError } from "../../src/errors/mod.ts";
import { RelayedResumes } from "../../actors/relayed_resumes.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import { requestJson } from "../support/test_node.ts";
import { openSharedStoreNode, runNapping, senderTiming } from "./_cluster.ts";

// `shape` has no input: it fails for good and pauses the run, while `nap`
// sleeps on: the run is paused and still held by its node.
const PLAN = {
  steps: [
    { id: "nap", sleep_ms: 3_600_000, params: {} },
    {
      id: "shape",
      skill: "json_transform",
      depends_on: [] as string[],
      on_exhausted: "pause" as const,
      params: { op: "extract", path: "$.a" },
    },
  ],
};

const FIXED = { op: "extract", path: "$.a", input: { a: 7 } };

/** Submits PLAN to `holder` and resolves once the run is paused there. */
async function pausedOn(
  holder: Awaited<ReturnType<typeof openSharedStoreNode>>,
): Promise<{ runId: string; dueAt: number }> {
  const { runId, timer } = await runNapping(holder, PLAN);
  await holder.runtime.waitForRecord(
    runId,
    (record) => record.type === "RunPaused",
  );
  return { runId, dueAt: Number(timer.body.due_at) };
}

Deno.test("a resume on a node that does not hold the paused run: the holder records it while its other step sleeps", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-resume-" });
  const clock = new SimulatedClock(1_800_000_000_000);
  const holder = await openSharedStoreNode(dataDir, "holder", { clock });
  const other = await openSharedStoreNode(dataDir, "other");
  try {
    const { runId, dueAt } = await pausedOn(holder);
    const lease = await other.store.getLease(runId);
    assert.equal(lease?.owner, "holder");
    assert.equal((await other.store.getRun(runId))?.status, "paused");

    // A step that is not paused is refused where it is asked, at once.
    const wrong = await requestJson(
      other,
      "POST",
      `/v1/runs/${runId}/resume`,
      { step: "nap", params: FIXED },
    );
    assert.equal(wrong.status, 409, JSON.stringify(wrong.body));
    assert.equal((wrong.body.error as { code: string }).code, "RUN_NOT_PAUSED");

    const answer = await requestJson(
      other,
      "POST",
      `/v1/runs/${runId}/resume`,
      { step: "shape", params: FIXED },
    );
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.body.queued, false);
    assert.equal(answer.body.status, "running");
    // Recorded by the holder, which kept the run all along.
    assert.deepEqual(await other.store.getLease(runId), lease);
    const resumed = (await other.store.readLog(runId))
      .filter((record) => record.type === "RunResumed");
    assert.equal(resumed.length, 1);
    const request = resumed[0]!.body.request as string;
    assert.match(request, /^res_[0-9a-f]{24}$/);
    assert.deepEqual(resumed[0]!.body, {
      step: "shape",
      params: FIXED,
      request,
    });
    assert.equal(await other.store.resumeRequestWaiting(runId, request), false);
    const { text } = await other.metrics.exposition();
    assert.match(text, /^nova_resumes_relayed_total\{outcome="recorded"\} 1$/m);

    clock.advanceTo(dueAt);
    await holder.runtime.waitForEnd(runId, 60_000);
    const view = await requestJson(other, "GET", `/v1/runs/${runId}`);
    assert.equal(view.body.status, "succeeded", JSON.stringify(view.body));
    const records = await other.store.readLog(runId);
    await assertLogsReplay(holder.registry, [records]);
  } finally {
    await other.close();
    await holder.close();
  }
});

Deno.test("a resume the holder has not taken within the wait answers queued and waits in the store; a second one is refused meanwhile", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-resume-queued-" });
  // The holder looks for requests every ten minutes of the live clock.
  const holder = await openSharedStoreNode(dataDir, "holder", {
    clock: new SimulatedClock(1_800_000_000_000),
    pollMs: 600_000,
  });
  const other = await openSharedStoreNode(dataDir, "other");
  const timing = senderTiming();
  const senderClock = timing.clock;
  const relay = new RelayedResumes({ ...timing, store: other.store });
  try {
    const { runId } = await pausedOn(holder);
    const sent = relay.send(runId, { step: "shape", params: FIXED });
    for (let waited = 0; waited < 30_000; waited += 200) {
      await senderClock.delaysPending(1);
      senderClock.advance(200);
    }
    const outcome = await sent;
    assert.equal(outcome.queued, true);
    assert.equal(outcome.state.status, "paused");
    const [waiting] = await other.store.pendingResumes("holder");
    assert.equal(waiting?.run_id, runId);
    assert.deepEqual(waiting?.body, { step: "shape", params: FIXED });
    await assert.rejects(
      relay.send(runId, { step: "shape", params: FIXED }),
      (error) =>
        error instanceof AosError && error.code === "RUN_NOT_PAUSED" &&
        /on its way/.test(error.message),
    );
    // The run does not park while it waits.
    const lease = await holder.store.getLease(runId);
    assert.equal(await holder.store.parkRun(lease!, { wakeAt: null }), false);
  } finally {
    await other.close();
    await holder.close();
  }
});
