import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import { startServer } from "../support/http_servers.ts";
import { requestJson } from "../support/test_node.ts";
import { VirtualTime } from "../support/virtual_time.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

// Far more than the work takes, far less than the virtual time that passes.
const WALL_MS_MAX = 20_000;

Deno.test("virtual time: a one-hour retry backoff finishes at once, and the log holds the hour", async () => {
  let calls = 0;
  await using api = startServer(() =>
    ++calls === 1
      ? new Response("busy", { status: 503 })
      : Response.json({ ok: true })
  );
  const time = new VirtualTime();
  const node = await time.openNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: api.port }],
      },
    },
  });
  try {
    const wallStart = performance.now();
    const { body } = await requestJson(node, "POST", "/v1/runs", {
      steps: [{
        id: "call",
        skill: "http_call",
        params: { url: `${api.origin}/flaky` },
        retry: {
          max_attempts: 2,
          backoff_ms: HOUR_MS,
          backoff_max_ms: HOUR_MS,
        },
      }],
    });
    const runId = String(body.run_id);
    const settled = await time.runUntilSettled(node, runId);
    const wallMs = performance.now() - wallStart;
    assert.equal(settled.view.status, "succeeded");
    assert.equal(calls, 2);
    assert.ok(settled.elapsedMs >= HOUR_MS, `${settled.elapsedMs} ms passed`);
    assert.ok(wallMs < WALL_MS_MAX, `took ${wallMs} ms of real time`);
    const records = await node.store.readLog(runId);
    const failed = records.find((record) => record.type === "StepFailed")!;
    const retry = records.find((record) => record.type === "RetryScheduled")!;
    const second = records.findLast((record) => record.type === "StepStarted")!;
    assert.equal(retry.body.due_at, failed.at + HOUR_MS);
    assert.ok(second.at >= failed.at + HOUR_MS);
    assert.deepEqual(settled.jumps, [failed.at + HOUR_MS]);
    await assertLogsReplay(node.registry, [records]);
  } finally {
    await node.close();
  }
});

Deno.test("virtual time: a one-day sleep finishes at once and reports the day it slept", async () => {
  const time = new VirtualTime();
  const node = await time.openNode();
  try {
    const wallStart = performance.now();
    const { body } = await requestJson(node, "POST", "/v1/runs", {
      steps: [
        { id: "nap", sleep_ms: DAY_MS },
        {
          id: "after",
          skill: "json_transform",
          params: { op: "pick", input: { a: 1, b: 2 }, keys: ["a"] },
        },
      ],
    });
    const settled = await time.runUntilSettled(node, String(body.run_id));
    assert.equal(settled.view.status, "succeeded");
    assert.deepEqual(settled.view.steps[0]!.output, { slept_ms: DAY_MS });
    assert.equal(settled.elapsedMs, DAY_MS);
    assert.ok(performance.now() - wallStart < WALL_MS_MAX);
  } finally {
    await node.close();
  }
});

Deno.test("virtual time: a wait_signal step with a one-day timeout fails with SIGNAL_WAIT_TIMEOUT, and one without waits for its signal", async () => {
  const time = new VirtualTime();
  const node = await time.openNode();
  try {
    const timedOut = await requestJson(node, "POST", "/v1/runs", {
      steps: [{
        id: "approve",
        wait_signal: { name: "approve", timeout_ms: DAY_MS },
      }],
    });
    const runId = String(timedOut.body.run_id);
    const settled = await time.runUntilSettled(node, runId);
    assert.equal(settled.view.status, "failed");
    assert.equal(settled.view.code, "SIGNAL_WAIT_TIMEOUT");
    assert.equal(settled.elapsedMs, DAY_MS);
    const view = await requestJson(node, "GET", `/v1/runs/${runId}`);
    assert.equal(
      (view.body.error as { code: string }).code,
      "SIGNAL_WAIT_TIMEOUT",
    );

    const patient = await requestJson(node, "POST", "/v1/runs", {
      steps: [{ id: "approve", wait_signal: { name: "approve" } }],
    });
    const patientId = String(patient.body.run_id);
    const waiting = await time.runUntilSettled(node, patientId);
    assert.equal(waiting.view.status, "running");
    assert.equal(waiting.view.steps[0]!.status, "waiting");
    assert.equal(waiting.elapsedMs, 0);
    await requestJson(node, "POST", `/v1/runs/${patientId}/signals/approve`, {
      ok: true,
    });
    const done = await time.runUntilSettled(node, patientId);
    assert.equal(done.view.status, "succeeded");
  } finally {
    await node.close();
  }
});
