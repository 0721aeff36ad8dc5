import assert from "node:assert/strict";
import { EndedRuns } from "./ended_runs.ts";
import type { RunState } from "./run_reducer.ts";

function ended(runId: string) {
  return { state: { run_id: runId } as RunState, digest: `d-${runId}` };
}

Deno.test("EndedRuns keeps the most recent sizeMax runs and drops the oldest first", () => {
  const runs = new EndedRuns(2);
  runs.add(ended("a"));
  runs.add(ended("b"));
  runs.add(ended("c"));
  assert.equal(runs.size, 2);
  assert.equal(runs.get("a"), undefined);
  assert.equal(runs.get("b")?.digest, "d-b");
  assert.equal(runs.get("c")?.digest, "d-c");
});
