import assert from "node:assert/strict";
import type { StepExecution, StepOutcome } from "../../actors/run_ports.ts";
import { replayLog } from "../../src/replay/mod.ts";
import { HAND_OVER_CALLS } from "../../src/replay/_step_batches.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import { golden, reseal, skillModules, withReplaySandbox } from "./_kit.ts";

Deno.test("replay hands a run's steps to the sandbox together, and certifies the run", async () => {
  const records = golden("three_step_transform");
  const batches: number[] = [];
  const report = await withReplaySandbox(
    skillModules(),
    (sandbox) =>
      replayLog(records, {
        execute: (execution: StepExecution) => sandbox.execute(execution),
        executeBatch(executions: readonly StepExecution[]) {
          batches.push(executions.length);
          return sandbox.executeBatch(executions);
        },
      } as { execute(e: StepExecution): Promise<StepOutcome> }),
  );
  assert.equal(report.verdict, "identical", JSON.stringify(report.divergence));
  assert.deepEqual(batches, [3]);
});

Deno.test("replay reports the first divergence in log order though later steps ran at once", async () => {
  const original = golden("three_step_transform");
  const edited = original.map((record) => structuredClone(record));
  // The first step's recorded output changes: its re-execution differs, and
  // the next step's input, made from that output, no longer matches the
  // log either, further on.
  const first = edited.findIndex((record) => record.type === "StepSucceeded");
  const output = edited[first]!.body.output as { result: { id: number } };
  output.result.id = 8;
  const report = await withReplaySandbox(
    skillModules(),
    (sandbox) => replayLog(reseal(edited, first), sandbox),
  );
  assert.equal(report.verdict, "diverged");
  assert.equal(report.divergence?.class, "output_changed");
  assert.equal(report.divergence?.index, first);
  assert.equal(report.divergence?.step, "extract");
});

// `count` copies of the three-step golden run, each under its own run id.
function distinctRuns(count: number): LogRecord[][] {
  const original = golden("three_step_transform");
  return Array.from(
    { length: count },
    (_, index) =>
      reseal(
        original.map((record) => ({ ...record, run_id: `run_copy_${index}` })),
        0,
      ),
  );
}

Deno.test("replay hands a worker's worth of whole logs to the sandbox at a log's end, before folding the next", async () => {
  const perLog = 3;
  const logsPerBatch = Math.ceil(HAND_OVER_CALLS / perLog);
  const logs = distinctRuns(logsPerBatch + 1);
  const events: string[] = [];
  const reports = await withReplaySandbox(skillModules(), (sandbox) => {
    const executor = {
      execute: (execution: StepExecution) => sandbox.execute(execution),
      executeBatch(executions: readonly StepExecution[]) {
        const runs = [...new Set(executions.map((e) => e.run_id))];
        events.push(`batch ${runs.join(",")}`);
        return sandbox.executeBatch(executions);
      },
    } as { execute(e: StepExecution): Promise<StepOutcome> };
    // Each replayLog folds its whole log before its first await.
    return Promise.all(logs.map((log) => {
      const report = replayLog(log, executor);
      events.push(`folded ${log[0]!.run_id}`);
      return report;
    }));
  });
  for (const report of reports) {
    assert.equal(
      report.verdict,
      "identical",
      JSON.stringify(report.divergence),
    );
  }
  const ids = logs.map((log) => log[0]!.run_id);
  const first = ids.slice(0, logsPerBatch);
  assert.deepEqual(events, [
    ...first.slice(0, -1).map((id) => `folded ${id}`),
    // Handed over inside the last of them, before the next log is folded.
    `batch ${first.join(",")}`,
    `folded ${first[first.length - 1]}`,
    `folded ${ids[logsPerBatch]}`,
    // The rest at the turn's end.
    `batch ${ids[logsPerBatch]}`,
  ]);
});

Deno.test("replay certifies each log of a batch handed over early on its own outcomes: a changed output among them diverges, the others do not", async () => {
  const logs = distinctRuns(Math.ceil(HAND_OVER_CALLS / 3) + 2);
  const tampered = 1;
  const edited = logs[tampered]!.map((record) => structuredClone(record));
  const at = edited.findIndex((record) => record.type === "StepSucceeded");
  const output = edited[at]!.body.output as { result: { id: number } };
  output.result.id = 8;
  logs[tampered] = reseal(edited, at);
  const reports = await withReplaySandbox(
    skillModules(),
    (sandbox) => Promise.all(logs.map((log) => replayLog(log, sandbox))),
  );
  reports.forEach((report, index) => {
    if (index !== tampered) {
      assert.equal(report.verdict, "identical", JSON.stringify(report));
      return;
    }
    assert.equal(report.verdict, "diverged");
    assert.equal(report.divergence?.class, "output_changed");
    assert.equal(report.divergence?.index, at);
    assert.equal(report.run_id, `run_copy_${tampered}`);
  });
});
