/**
 * A run created and held by this process starts from its created records
 * (its first, and the first steps' starts decided with it) without reading
 * the store; that start must equal recovery from the store.
 */
import assert from "node:assert/strict";
import { recoverRun } from "../../actors/run_snapshot.ts";
import { SqliteStore } from "../../src/store/sqlite_store.ts";
import { openTestNode, THREE_STEP_PLAN } from "../support/test_node.ts";

Deno.test("recoverRun() from the created records equals recovery from a store holding only those records", async () => {
  const node = await openTestNode();
  const store = SqliteStore.open(":memory:");
  try {
    const { run_id } = await node.runtime.submit(THREE_STEP_PLAN, {
      tenant: "default",
    });
    await node.runtime.waitForEnd(run_id, 10_000);
    const log = await node.store.readLog(run_id);
    // The first step starts with the run (a free step reserves nothing).
    const created = log.slice(0, 2);
    assert.deepEqual(created.map((record) => record.type), [
      "RunSubmitted",
      "StepStarted",
    ]);
    const [first, ...decided] = created;
    await store.createRun(first!, { tenant: "default", decided });
    const fromStore = await recoverRun(run_id, { store });
    const fromRecord = await recoverRun(run_id, {
      store: {
        append: (records, options) => store.append(records, options),
        readLog: () => Promise.reject(new Error("must not read the log")),
        getSnapshot: () => Promise.reject(new Error("nor its snapshot")),
      },
      created,
    });
    assert.deepEqual(fromRecord, fromStore);
  } finally {
    await store.close();
    await node.close();
  }
});
