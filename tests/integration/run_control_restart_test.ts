import assert from "node:assert/strict";
import { join } from "node:path";
import { DirectoryModules } from "../../src/replay/mod.ts";
import { findSkillDirs, PROJECT_ROOT } from "../../src/skills/build.ts";
import { SqliteStore } from "../../src/store/mod.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import { type LogLine, ServerProcess } from "../support/server_process.ts";

const appended = (runId: string, type: string) => (line: LogLine) =>
  line.event === "record_appended" && line.run_id === runId &&
  line.type === type;

Deno.test("aos serve killed between a signal and its wait: after the restart the signal is still there, in order, and the run finishes", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-signals-" });
  const args = ["--log-level", "debug"];
  const first = await ServerProcess.start({ dataDir, args });
  let runId: string;
  let pausedId: string;
  try {
    const submitted = await first.request("POST", "/v1/runs", {
      steps: [
        { id: "gate", wait_signal: { name: "go" } },
        { id: "first", wait_signal: { name: "approve" } },
        { id: "second", wait_signal: { name: "approve", timeout_ms: 600_000 } },
        {
          id: "both",
          skill: "json_transform",
          params: {
            op: "pick",
            input: {
              first: "{{steps.first.output.payload}}",
              second: "{{steps.second.output.payload}}",
            },
            keys: ["first", "second"],
          },
        },
      ],
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    runId = String(submitted.body.run_id);
    await first.waitFor(appended(runId, "SignalAwaited"));
    for (const n of [1, 2]) {
      const sent = await first.request(
        "POST",
        `/v1/runs/${runId}/signals/approve`,
        { n },
      );
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
    }
    // A second run pauses, to be resumed after the restart.
    const paused = await first.request("POST", "/v1/runs", {
      steps: [{
        id: "total",
        skill: "json_transform",
        params: { op: "extract", input: { a: 1 }, path: "$.b" },
        on_exhausted: "pause",
      }],
    });
    pausedId = String(paused.body.run_id);
    await first.waitFor(appended(pausedId, "RunPaused"));
  } finally {
    await first.stop("SIGKILL");
  }

  const second = await ServerProcess.start({ dataDir, args });
  try {
    const waiting = await second.request("GET", `/v1/runs/${runId}`);
    assert.equal(waiting.body.status, "running");
    assert.deepEqual(
      (waiting.body.signals_pending as { name: string }[]).map((s) => s.name),
      ["approve", "approve"],
    );
    assert.equal(
      (await second.request("GET", `/v1/runs/${pausedId}`)).body.status,
      "paused",
    );
    const go = await second.request("POST", `/v1/runs/${runId}/signals/go`, {
      by: "ops",
    });
    assert.equal(go.status, 202, JSON.stringify(go.body));
    const done = await second.request("GET", `/v1/runs/${runId}?wait_ms=30000`);
    assert.equal(done.body.status, "succeeded", JSON.stringify(done.body));
    assert.deepEqual((done.body.output as Record<string, unknown>).result, {
      first: { n: 1 },
      second: { n: 2 },
    });
    const resumed = await second.request(
      "POST",
      `/v1/runs/${pausedId}/resume`,
      { params: { op: "extract", input: { a: 1 }, path: "$.a" } },
    );
    assert.equal(resumed.status, 202, JSON.stringify(resumed.body));
    const finished = await second.request(
      "GET",
      `/v1/runs/${pausedId}?wait_ms=30000`,
    );
    assert.equal(finished.body.status, "succeeded");
  } finally {
    await second.stop();
  }
  const store = SqliteStore.open(join(dataDir, "aos.db"));
  try {
    const logs = [await store.readLog(runId), await store.readLog(pausedId)];
    assert.deepEqual(
      logs[0]!.map((record) => record.type).filter((type) =>
        type.startsWith("Signal")
      ),
      [
        "SignalAwaited",
        "SignalReceived",
        "SignalReceived",
        "SignalReceived",
        "SignalDelivered",
        "SignalDelivered",
        "SignalDelivered",
      ],
    );
    await assertLogsReplay(
      new DirectoryModules(findSkillDirs(PROJECT_ROOT, { fixtures: true })),
      logs,
    );
  } finally {
    await store.close();
  }
});
