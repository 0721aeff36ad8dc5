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
  TEST_ADMIN_KEY,
  TEST_TENANT_KEY,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";

const NAP = { steps: [{ id: "nap", sleep_ms: 3_600_000, params: {} }] };

Deno.test("a submitted run is created held by its node, unheld when the node is full, and taken over when its holder is gone", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-held-" });
  const open = (nodeId: string, runsMax: number, log: MemoryLogger) =>
    openNode({
      ...DEFAULT_CONFIG,
      port: 0,
      dataDir,
      // The napping run keeps its slot (it is not parked), so `small` is full.
      ownership: {
        nodeId,
        leaseMs: 10_000,
        pollMs: 50,
        runsMax,
        parkMinMs: 86_400_000,
      },
      bootstrap: { adminKey: TEST_ADMIN_KEY, tenantKey: TEST_TENANT_KEY },
    }, { log });
  const smallLog = new MemoryLogger();
  const small = await open("small", 1, smallLog);
  const other = await open("other", 10, new MemoryLogger());
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
