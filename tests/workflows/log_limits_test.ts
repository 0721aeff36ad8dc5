import assert from "node:assert/strict";
import { messageOf } from "../../actors/run_messages.ts";
import { fold } from "../../actors/run_reducer.ts";
import {
  recordBytes,
  recoverRun,
  snapshotOf,
} from "../../actors/run_snapshot.ts";
import { DEFAULT_CONFIG, type RunLogLimits } from "../../src/config/mod.ts";
import { headAfter } from "../../src/store/mod.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import { startServer } from "../support/http_servers.ts";
import {
  openTestNode,
  requestJson,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";

function limits(change: Partial<RunLogLimits>): RunLogLimits {
  return { ...DEFAULT_CONFIG.runLog, ...change };
}

async function metricValue(
  node: Awaited<ReturnType<typeof openTestNode>>,
  limit: string,
): Promise<number> {
  const { text } = await node.metrics.exposition();
  const line = text.split("\n").find((candidate) =>
    candidate.startsWith(`nova_run_log_limits_total{limit="${limit}"}`)
  );
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

Deno.test("a run whose log passes the soft limit records one LogSizeWarning, counts it, and finishes", async () => {
  const node = await openTestNode({
    config: { runLog: limits({ softRecords: 3 }) },
  });
  try {
    const { body } = await requestJson(
      node,
      "POST",
      "/v1/runs",
      THREE_STEP_PLAN,
    );
    const runId = String(body.run_id);
    const view = await requestJson(
      node,
      "GET",
      `/v1/runs/${runId}?wait_ms=30000`,
    );
    assert.equal(view.body.status, "succeeded");
    const records = await node.store.readLog(runId);
    const warnings = records.filter((record) =>
      record.type === "LogSizeWarning"
    );
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.body.records_max, 3);
    assert.ok(Number(warnings[0]!.body.records) > 3);
    assert.equal(await metricValue(node, "soft"), 1);
    assert.ok(
      node.logger.lines.some((line) =>
        line.event === "run_log_limit" && line.run_id === runId
      ),
    );
    await assertLogsReplay(node.registry, [records]);
  } finally {
    await node.close();
  }
});

Deno.test("an append that would pass the hard limit never reaches the store: the run fails with RUN_LOG_TOO_LARGE", async () => {
  const big = "x".repeat(40_000);
  await using api = startServer(() => Response.json({ big }));
  const hardBytes = 24_000;
  const node = await openTestNode({
    config: {
      runLog: limits({ softBytes: 8_000, hardBytes }),
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: api.port }],
      },
    },
  });
  try {
    const { body } = await requestJson(node, "POST", "/v1/runs", {
      steps: [{
        id: "fetch",
        skill: "http_call",
        params: { url: `${api.origin}/big` },
      }],
    });
    const runId = String(body.run_id);
    const view = await requestJson(
      node,
      "GET",
      `/v1/runs/${runId}?wait_ms=30000`,
    );
    assert.equal(view.body.status, "failed", JSON.stringify(view.body));
    assert.equal(view.body.code, "RUN_LOG_TOO_LARGE");
    const records = await node.store.readLog(runId);
    const types = records.map((record) => record.type);
    // Only the run's end follows the limit (the running step is free: it
    // holds no reservation to release).
    assert.deepEqual(types.slice(types.indexOf("LogSizeExceeded")), [
      "LogSizeExceeded",
      "RunFailed",
    ]);
    assert.ok(!types.includes("StepSucceeded"));
    const bytes = records.reduce((sum, record) => sum + recordBytes(record), 0);
    assert.ok(bytes < hardBytes, `the log holds ${bytes} bytes`);
    assert.equal(await metricValue(node, "hard"), 1);
    await assertLogsReplay(node.registry, [records]);
  } finally {
    await node.close();
  }
});

Deno.test("snapshots: recovery folds only the records after the latest snapshot and reaches the same state", async () => {
  const first = await openTestNode({
    config: { runLog: limits({ snapshotEveryRecords: 3 }) },
  });
  const { body } = await requestJson(first, "POST", "/v1/runs", {
    steps: [
      ...THREE_STEP_PLAN.steps,
      { id: "approve", wait_signal: { name: "approve" } },
    ],
  });
  const runId = String(body.run_id);
  await first.runtime.waitForRecord(
    runId,
    (record) => record.type === "SignalAwaited",
  );
  // The actor writes its snapshot after observers hear of the records, and
  // parks only after that: once parked, no later snapshot can land.
  await first.runtime.waitForPark(runId);
  const records = await first.store.readLog(runId);
  const snapshot = await first.store.getSnapshot!(runId);
  assert.ok(snapshot !== undefined);
  assert.ok(snapshot.seq >= 3 && snapshot.seq < records.length);
  const recovered = await recoverRun(runId, { store: first.store });
  assert.equal(recovered.snapshotSeq, snapshot.seq);
  assert.equal(recovered.folded, records.length - 1 - snapshot.seq);
  const full = fold(records.map(messageOf));
  assert.deepEqual(recovered.state, JSON.parse(JSON.stringify(full)));
  assert.equal(
    recovered.bytes,
    records.reduce((sum, record) => sum + recordBytes(record), 0),
  );
  await first.close();

  // The restarted node starts the run from its snapshot and finishes it.
  const second = await openTestNode({ dataDir: first.dataDir });
  try {
    const again = await recoverRun(runId, { store: second.store });
    assert.equal(again.snapshotSeq, snapshot.seq);
    const sent = await requestJson(
      second,
      "POST",
      `/v1/runs/${runId}/signals/approve`,
      { ok: 1 },
    );
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const view = await requestJson(
      second,
      "GET",
      `/v1/runs/${runId}?wait_ms=30000`,
    );
    assert.equal(view.body.status, "succeeded");
    const after = await second.store.readLog(runId);
    await assertLogsReplay(second.registry, [after]);
    // A snapshot that does not join the log is ignored: the whole log is read.
    await second.store.putSnapshot!({
      ...snapshotOf(full!, headAfter(records.at(-1)!), recovered.bytes),
      seq: after.length + 5,
      hash: "f".repeat(64),
    });
    const wary = await recoverRun(runId, { store: second.store });
    assert.equal(wary.snapshotSeq, -1);
    assert.equal(wary.folded, after.length);
    assert.equal(wary.state.status, "succeeded");
  } finally {
    await second.close();
  }
});
