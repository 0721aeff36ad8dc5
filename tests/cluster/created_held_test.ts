/**
 * A run is created already held by the node that accepts it (no claim on
 * the way to its first step) while that node has room; a full node creates
 * it unheld for another node; and a run created held by a node that then
 * died is taken over once its lease expires, like any claimed run.
 */
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { MemoryLogger } from "../../src/deps/mod.ts";
import { openNode } from "../../src/node/mod.ts";
import { emptyHead, sealRecord } from "../../src/store/mod.ts";
import {
  requestJson,
  TEST_ADMIN_KEY,
  TEST_TENANT_KEY,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";
import { openSharedStoreNode } from "./_cluster.ts";

const NAP = { steps: [{ id: "nap", sleep_ms: 3_600_000, params: {} }] };

Deno.test("a submitted run is created held by its node, unheld when the node is full, and taken over when its holder is gone", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-held-" });
  // The napping run keeps its slot (it is not parked), so `small` is full.
  const smallLog = new MemoryLogger();
  const small = await openSharedStoreNode(dataDir, "small", {
    runsMax: 1,
    log: smallLog,
  });
  const other = await openSharedStoreNode(dataDir, "other");
  try {
    const { run_id: held } = await small.runtime.submit(NAP, {
      tenant: "default",
    });
    // Held from its creation: the lease is in the store before any claim.
    const lease = await other.store.getLease(held);
    assert.equal(lease?.owner, "small");
    assert.equal(lease?.epoch, 1);
    await small.runtime.waitForRecord(
      held,
      (record) => record.type === "TimerScheduled",
    );

    // `small` holds all it may: the next run is left to `other`.
    const { run_id: overflow } = await small.runtime.submit(THREE_STEP_PLAN, {
      tenant: "default",
    });
    await other.runtime.waitForEnd(overflow, 10_000);
    assert.equal((await other.store.getRun(overflow))?.status, "succeeded");
    assert.equal(
      smallLog.lines.some((line) =>
        line.event === "run_claimed" && line.run_id === overflow
      ),
      false,
    );

    // A run created held by a node that died before running it: the lease
    // expires and another node resumes the run from its first record.
    const submitted = (await other.store.readLog(overflow))[0]!;
    const orphan = sealRecord(
      emptyHead("orphan"),
      { type: "RunSubmitted", body: submitted.body, at: Date.now() },
    );
    await other.store.createRun(orphan, {
      tenant: "default",
      lease: { owner: "gone", expires_at: Date.now() + 200 },
    });
    await other.runtime.waitForEnd("orphan", 10_000);
    const log = await other.store.readLog("orphan");
    assert.equal(log.at(-1)?.type, "RunSucceeded");
    assert.equal((await other.store.getLease("orphan"))?.epoch, 2);
  } finally {
    await other.close();
    await small.close();
  }
});

Deno.test("a full node runs the run it created unheld once one of its own runs ends", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-held-" });
  const node = await openNode({
    ...DEFAULT_CONFIG,
    port: 0,
    dataDir,
    // A long poll: the run ending is what must wake the claim.
    ownership: { nodeId: "one", leaseMs: 10_000, pollMs: 60_000, runsMax: 1 },
    bootstrap: { adminKey: TEST_ADMIN_KEY, tenantKey: TEST_TENANT_KEY },
  }, { log: new MemoryLogger() });
  try {
    const { run_id: gate } = await node.runtime.submit({
      steps: [{ id: "gate", wait_signal: { name: "go" }, params: {} }],
    }, { tenant: "default" });
    await node.runtime.waitForRecord(
      gate,
      (record) => record.type === "SignalAwaited",
    );
    const { run_id: queued } = await node.runtime.submit(THREE_STEP_PLAN, {
      tenant: "default",
    });
    assert.equal((await node.store.getLease(queued))?.owner, "");
    const sent = await requestJson(
      node,
      "POST",
      `/v1/runs/${gate}/signals/go`,
      {},
    );
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    await node.runtime.waitForEnd(gate, 10_000);
    await node.runtime.waitForEnd(queued, 10_000);
    assert.equal((await node.store.getRun(queued))?.status, "succeeded");
    // The run that ended had its lease cleared by its last append.
    assert.equal((await node.store.getLease(gate))?.owner, "");
  } finally {
    await node.close();
  }
});
