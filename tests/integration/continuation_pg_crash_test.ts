/**
 * On PostgreSQL a run's own continuations commit with `synchronous_commit`
 * off: a database that crashes right after may lose them while the node
 * lives on. The node must notice (the connection is lost), restart the run
 * from what the log holds, finish it, and never have shown a client a
 * record the log does not hold in the end.
 */
import assert from "node:assert/strict";
import { PostgresStore } from "../../src/store/mod.ts";
import { withAppendHooks } from "../support/append_hooks.ts";
import { startTestPostgres } from "../support/postgres.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import {
  openTestNode,
  requestJson,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";

Deno.test("PostgreSQL crashes while a run's continuations are committed and not flushed: the node restarts the run from the log, finishes it, and replay certifies it", async () => {
  // Local, so it can crash; durable commits unless a statement says otherwise.
  await using database = await startTestPostgres({
    local: true,
    durableCommits: true,
  });
  let started!: () => void;
  const slowStarted = new Promise<void>((resolve) => started = resolve);
  const store = withAppendHooks(await PostgresStore.open(database.url), {
    after(records) {
      if (
        records.some((record) =>
          record.type === "StepStarted" && record.body.step === "slow"
        )
      ) started();
    },
  });
  const node = await openTestNode({ store });
  try {
    const submitted = await requestJson(node, "POST", "/v1/runs", {
      steps: [
        THREE_STEP_PLAN.steps[0]!,
        THREE_STEP_PLAN.steps[1]!,
        {
          id: "slow",
          skill: "spin",
          params: { iterations: 100_000_000, value: 1 },
        },
        THREE_STEP_PLAN.steps[2]!,
      ],
    });
    assert.equal(submitted.status, 202);
    const runId = String(submitted.body.run_id);
    await slowStarted;
    // The records since the creation were committed without their flush.
    await database.crash!();
    await database.startAgain!();
    let view: Record<string, unknown> = {};
    // The API answers 503 while the pool reconnects; a client retries.
    for (let attempt = 0; attempt < 100; attempt++) {
      const answer = await requestJson(
        node,
        "GET",
        `/v1/runs/${runId}?wait_ms=60000`,
      );
      view = answer.body;
      if (answer.status !== 503 && view.status !== "running") break;
    }
    assert.equal(view.status, "succeeded", JSON.stringify(view));
    const log = await node.store.readLog(runId);
    assert.equal(view.digest, log[log.length - 1]!.hash);
    assert.equal(
      log.filter((record) => record.type === "RunSucceeded").length,
      1,
    );
    await assertLogsReplay(node.registry, [log]);
  } finally {
    await node.close();
  }
});
