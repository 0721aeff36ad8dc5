import assert from "node:assert/strict";
import type { StepExecution, StepOutcome } from "../../actors/run_actor.ts";
import { replayLog } from "../../src/replay/mod.ts";
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
