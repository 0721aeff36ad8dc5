import assert from "node:assert/strict";
import { join } from "node:path";
import { SqliteStore, verifyChain } from "../../src/store/mod.ts";
import { ServerProcess } from "../support/server_process.ts";
import { FIXTURE_SKILLS } from "../support/test_node.ts";

const RUNS = 12;

function plan(index: number) {
  return {
    steps: [
      {
        id: "work",
        skill: "spin",
        params: { iterations: 20_000_000, value: { run: index } },
      },
      {
        id: "stamp",
        skill: "nonce",
        params: { label: "run-{{steps.work.output.value.run}}" },
      },
      {
        id: "shape",
        skill: "json_transform",
        params: {
          op: "pick",
          input: "{{steps.stamp.output}}",
          keys: ["label", "now_ms"],
        },
      },
    ],
  };
}

Deno.test("kill -9 of aos serve mid-flight: after a restart every run completes, no completed step repeats", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-crash-" });
  const args = [
    "--log-level",
    "debug",
    "--skills-dir",
    join(FIXTURE_SKILLS, "spin"),
    "--skills-dir",
    join(FIXTURE_SKILLS, "nonce"),
  ];
  const first = await ServerProcess.start({ dataDir, args });
  const runIds: string[] = [];
  for (let index = 0; index < RUNS; index++) {
    const { status, body } = await first.request(
      "POST",
      "/v1/runs",
      plan(index),
    );
    assert.equal(status, 202);
    runIds.push(String(body.run_id));
  }
  // Kill as soon as a few steps have completed: the rest are queued or running.
  await first.waitForCount(
    (line) => line.event === "record_appended" && line.type === "StepSucceeded",
    4,
  );
  await first.stop("SIGKILL");

  const store = SqliteStore.open(join(dataDir, "aos.db"));
  const unfinished = await store.listUnfinishedRuns();
  const stepsDoneBefore = new Map<string, number>();
  for (const runId of runIds) {
    const log = await store.readLog(runId);
    stepsDoneBefore.set(
      runId,
      log.filter((record) => record.type === "StepSucceeded").length,
    );
  }
  await store.close();
  assert.ok(
    unfinished.length > 0,
    "the kill came after every run had finished",
  );

  const second = await ServerProcess.start({ dataDir, args });
  try {
    for (const runId of runIds) {
      const view = await second.request(
        "GET",
        `/v1/runs/${runId}?wait_ms=60000`,
      );
      assert.equal(
        view.body.status,
        "succeeded",
        `${runId}: ${JSON.stringify(view.body.error)}`,
      );
      const { body } = await second.request("GET", `/v1/runs/${runId}/events`);
      const events = body.events as Parameters<typeof verifyChain>[0];
      assert.equal(verifyChain(events), undefined);
      for (const step of ["work", "stamp", "shape"]) {
        const of = (type: string) =>
          events.filter((record) =>
            record.type === type && record.body.step === step
          );
        assert.equal(
          of("StepStarted").length,
          1,
          `${runId}/${step} started more than once`,
        );
        assert.equal(
          of("StepSucceeded").length,
          1,
          `${runId}/${step} completed more than once`,
        );
      }
      const hostCalls = events.filter((record) => record.type === "HostCall");
      assert.deepEqual(
        hostCalls.map((record) => record.body.index),
        [0, 1],
        `${runId}: host calls repeated`,
      );
      const stamped = events.find((record) =>
        record.type === "StepSucceeded" && record.body.step === "stamp"
      )!;
      assert.equal(
        (stamped.body.output as { now_ms: number }).now_ms,
        hostCalls[0]!.body.result,
      );
      const before = stepsDoneBefore.get(runId)!;
      const succeededSeqs = events.filter((record) =>
        record.type === "StepSucceeded"
      ).map((record) => record.seq);
      assert.ok(succeededSeqs.length >= before);
    }
    const resumed = second.lines.find((line) => line.event === "runs_resumed");
    assert.equal(resumed?.count, unfinished.length);
  } finally {
    await second.stop("SIGTERM");
  }
  const replay = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      "replay",
      "--store",
      join(dataDir, "aos.db"),
      "--json",
    ],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const reports = new TextDecoder().decode(replay.stdout).trim().split("\n")
    .map((line) => JSON.parse(line));
  assert.equal(
    replay.code,
    0,
    new TextDecoder().decode(replay.stdout) +
      new TextDecoder().decode(replay.stderr),
  );
  assert.ok(
    reports.filter((report) => report.source.startsWith("store:")).length >=
      RUNS,
  );
});
