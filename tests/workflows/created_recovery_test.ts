/**
 * A run created and held by this process starts from its first record
 * without reading the store; that start must equal recovery from the store.
 */
import assert from "node:assert/strict";
import { recoverRun } from "../../actors/run_snapshot.ts";
import { SqliteStore } from "../../src/store/sqlite_store.ts";
import { openTestNode, THREE_STEP_PLAN } from "../support/test_node.ts";

Deno.test("recoverRun() from the created first record equals recovery from a store holding only that record", async () => {
  const node = await openTestNode();
  const store = SqliteStore.open(":memory:");
  try {
    const { run_id } = await node.runtime.submit(THREE_STEP_PLAN, {
      tenant: "default",
    });
    await node.runtime.waitForEnd(run_id, 10_000);
    const first = (await node.store.readLog(run_id))[0]!;
    await store.createRun(first, { tenant: "default" });
    const fromStore = await recoverRun(run_id, { store });
    const fromRecord = await recoverRun(run_id, {
      store: {
        append: (records, options) => store.append(records, options),
        readLog: () => Promise.reject(new Error("must not read the log")),
        getSnapshot: () => Promise.reject(new Error("nor its snapshot")),
      },
      created: first,
    });
    assert.deepEqual(fromRecord, fromStore);
  } finally {
    await store.close();
    await node.close();
  }
});
