/**
 * A cancel sent to a node that does not hold the run reaches the node that
 * does: the request waits in the store, the holder records it and ends the
 * run, and the node asked answers with the cancelled run.
 */
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { MemoryLogger } from "../../src/deps/mod.ts";
import { openNode } from "../../src/node/mod.ts";
import {
  requestJson,
  TEST_ADMIN_KEY,
  TEST_TENANT_KEY,
} from "../support/test_node.ts";

Deno.test("cancel on a node that does not hold the run: the holder cancels it", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-cancel-" });
  const open = (nodeId: string) =>
    openNode({
      ...DEFAULT_CONFIG,
      port: 0,
      dataDir,
      // The sleeping run stays held (not parked), so the cancel goes to a
      // node that holds it.
      ownership: {
        nodeId,
        leaseMs: 10_000,
        pollMs: 50,
        runsMax: 10,
        parkMinMs: 86_400_000,
      },
      bootstrap: { adminKey: TEST_ADMIN_KEY, tenantKey: TEST_TENANT_KEY },
    }, { log: new MemoryLogger() });
  const holder = await open("holder");
  const other = await open("other");
  try {
    const { run_id: runId } = await holder.runtime.submit({
      steps: [{ id: "nap", sleep_ms: 3_600_000, params: {} }],
    }, { tenant: "default" });
    await holder.runtime.waitForRecord(
      runId,
      (record) => record.type === "TimerScheduled",
    );
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
