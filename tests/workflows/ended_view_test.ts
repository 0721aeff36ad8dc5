/**
 * The view of a run that ended on this node comes from its actor's final
 * state; it must be the view folded from the stored log, for runs that
 * succeed and runs that fail.
 */
import assert from "node:assert/strict";
import { fold } from "../../actors/run_reducer.ts";
import { messageOf } from "../../actors/run_messages.ts";
import { viewRun } from "../../actors/run_view.ts";
import { openTestNode, THREE_STEP_PLAN } from "../support/test_node.ts";

const FAILING_PLAN = {
  steps: [{
    id: "missing",
    skill: "json_transform",
    params: { op: "extract", input: { a: [1, 2] }, path: "$.a[5]" },
  }],
};

Deno.test("view() of a run ended on this node equals the view folded from its stored log", async () => {
  const node = await openTestNode();
  try {
    for (const plan of [THREE_STEP_PLAN, FAILING_PLAN]) {
      const { run_id } = await node.runtime.submit(plan, {
        tenant: "default",
      });
      await node.runtime.waitForEnd(run_id, 10_000);
      const records = await node.store.readLog(run_id);
      const folded = viewRun(
        fold(records.map(messageOf))!,
        records[records.length - 1]!.hash,
      );
      const view = await node.runtime.view(run_id);
      assert.notEqual(view?.status, "running");
      assert.deepEqual(view, folded);
    }
  } finally {
    await node.close();
  }
});
