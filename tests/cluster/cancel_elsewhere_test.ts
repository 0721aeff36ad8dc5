/**
 * A cancel sent to a node that does not hold the run reaches the node that
 * does: the request waits in the store, the holder records it and ends the
 * run, and the node asked answers with the cancelled run.
 */
import assert from "node:assert/strict";
import { SimulatedClock } from "../../src/deps/mod.ts";
import { requestJson } from "../support/test_node.ts";
import { openSharedStoreNode, runNapping } from "./_cluster.ts";

const NAP = { steps: [{ id: "nap", sleep_ms: 3_600_000, params: {} }] };

Deno.test("cancel on a node that does not hold the run: the holder cancels it", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-cancel-" });
  const holder = await openSharedStoreNode(dataDir, "holder");
  const other = await openSharedStoreNode(dataDir, "other");
  try {
    const { runId } = await runNapping(holder, NAP);
    assert.equal((await other.store.getLease(runId))?.owner, "holder");
    const answer = await requestJson(
      other,
      "POST",
      `/v1/runs/${runId}/cancel`,
      { reason: "not needed" },
    );
    assert.equal(answer.status, 202);
    assert.equal(answer.body.status, "cancelled");
    const log = await other.store.readLog(runId);
    const cancel = log.find((record) => record.type === "CancelRequested");
    assert.deepEqual(cancel?.body, { reason: "not needed" });
    assert.equal(log.filter((r) => r.type === "RunCancelled").length, 1);
    const again = await requestJson(other, "POST", `/v1/runs/${runId}/cancel`);
    assert.equal(again.status, 409);
  } finally {
    await other.close();
    await holder.close();
  }
});

Deno.test("a long poll on a node that does not hold the run wakes when the holder ends it", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-wait-elsewhere-" });
  const holder = await openSharedStoreNode(dataDir, "holder");
  // The waiting node's clock never moves, so its wait cannot end by its
  // timeout: only its look at the store (on the live lease clock) ends it.
  const other = await openSharedStoreNode(dataDir, "other", {
    clock: new SimulatedClock(Date.now()),
  });
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    const { runId } = await runNapping(holder, NAP);
    const waited = other.runtime.waitForEnd(runId, 60_000);
    await holder.runtime.cancel(runId, "done elsewhere");
    await Promise.race([
      waited,
      new Promise((_, reject) => {
        guard = setTimeout(
          () => reject(new Error("the waiter was not woken")),
          30_000,
        );
      }),
    ]);
    assert.equal((await other.store.getRun(runId))?.status, "cancelled");
  } finally {
    clearTimeout(guard);
    await other.close();
    await holder.close();
  }
});
