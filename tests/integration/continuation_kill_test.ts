/**
 * A run's own continuations are appended without waiting for the disk. A
 * real `aos serve` killed with SIGKILL while such records are committed
 * and not yet synced (a long pure step in flight after two pure steps) must
 * restart, finish the run, and `aos replay` must certify its log.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { LogRecord } from "../../src/store/mod.ts";
import { ServerProcess } from "../support/server_process.ts";
import { FIXTURE_SKILLS, THREE_STEP_PLAN } from "../support/test_node.ts";

const PLAN = {
  steps: [
    THREE_STEP_PLAN.steps[0]!,
    THREE_STEP_PLAN.steps[1]!,
    {
      // Pure and long: the kill lands while it runs.
      id: "slow",
      skill: "spin",
      params: { iterations: 200_000_000, value: "{{steps.pick.output}}" },
    },
    THREE_STEP_PLAN.steps[2]!,
  ],
};

/** The run's committed records, read as another process would. */
function committedLog(path: string, runId: string): LogRecord[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(
      "SELECT line FROM records WHERE run_id = ? ORDER BY seq",
    ).all(runId).map((row) => JSON.parse(String(row.line)) as LogRecord);
  } finally {
    db.close();
  }
}

Deno.test("kill -9 while a pure step runs after unsynced continuations: the restarted node finishes the run and replay certifies it", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-continuation-kill-" });
  const dbPath = join(dataDir, "aos.db");
  const args = ["--skills-dir", join(FIXTURE_SKILLS, "spin")];
  const first = await ServerProcess.start({ dataDir, args });
  let runId = "";
  let before: LogRecord[] = [];
  // Every commit writes the WAL: wake on its changes, not on a clock.
  const watcher = Deno.watchFs(dataDir);
  try {
    const submitted = await first.request("POST", "/v1/runs", PLAN);
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    runId = String(submitted.body.run_id);
    const slowStarted = (log: LogRecord[]) =>
      log.some((record) =>
        record.type === "StepStarted" && record.body.step === "slow"
      );
    before = committedLog(dbPath, runId);
    for await (const _event of watcher) {
      if (slowStarted(before)) break;
      before = committedLog(dbPath, runId);
    }
    assert.ok(slowStarted(before));
  } finally {
    watcher.close();
    await first.stop("SIGKILL");
  }
  assert.ok(
    !before.some((record) =>
      record.type === "StepSucceeded" &&
      record.body.step === "slow"
    ),
    "the kill came after the slow step ended",
  );

  const second = await ServerProcess.start({ dataDir, args });
  let log: LogRecord[];
  try {
    const view = await second.request(
      "GET",
      `/v1/runs/${runId}?wait_ms=60000`,
    );
    assert.equal(view.body.status, "succeeded", JSON.stringify(view.body));
    log = (await second.request("GET", `/v1/runs/${runId}/events`)).body
      .events as LogRecord[];
  } finally {
    await second.stop("SIGTERM");
  }
  // A process kill loses nothing committed: every record seen before it
  // is in the final log, unchanged, and the slow step ran to its end once.
  for (const record of before) {
    assert.equal(log[record.seq]?.hash, record.hash, `record ${record.seq}`);
  }
  assert.equal(
    log.filter((record) =>
      record.type === "StepSucceeded" && record.body.step === "slow"
    ).length,
    1,
  );

  const replay = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      "replay",
      "--store",
      dbPath,
      "--runs",
      runId,
      "--json",
    ],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const out = decoder.decode(replay.stdout);
  assert.equal(replay.code, 0, out + decoder.decode(replay.stderr));
  const reports = out.trim().split("\n").map((line) => JSON.parse(line))
    .filter((report) => String(report.source).startsWith("store:"));
  assert.equal(reports.length, 1, JSON.stringify(reports));
  assert.equal(reports[0].verdict, "identical", JSON.stringify(reports[0]));
});
