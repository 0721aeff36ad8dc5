import type { RecordedError } from "../src/errors/mod.ts";
import type { Json, RunStatus } from "../src/store/mod.ts";
import { pinLabel } from "./run_messages.ts";
import type { RunState } from "./run_reducer.ts";

/** One step as clients see it. */
export interface StepView {
  id: string;
  skill: string;
  status: string;
  attempts: number;
  output: Json | null;
  error: RecordedError | null;
  latency_ms: number | null;
  host_calls: number;
}

/** A run as clients see it (`GET /v1/runs/:id`). */
export interface RunView {
  run_id: string;
  tenant: string;
  status: RunStatus;
  submitted_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  output: Json | null;
  error: RecordedError | null;
  steps: StepView[];
  records: number;
  digest: string;
}

/** Projects a run's state into its client view. Pure. */
export function viewRun(state: RunState, digest: string): RunView {
  return {
    run_id: state.run_id,
    tenant: state.tenant,
    status: state.status,
    submitted_at: new Date(state.submitted_at).toISOString(),
    finished_at: state.finished_at === null
      ? null
      : new Date(state.finished_at).toISOString(),
    duration_ms: state.finished_at === null
      ? null
      : state.finished_at - state.submitted_at,
    output: state.output,
    error: state.error,
    steps: state.steps.map((step, index) => ({
      id: step.id,
      skill: pinLabel(state.pins[state.plan.steps[index]!.skill]!),
      status: step.status,
      attempts: step.attempt,
      output: step.output,
      error: step.error,
      latency_ms: step.started_at !== null && step.finished_at !== null
        ? step.finished_at - step.started_at
        : null,
      host_calls: step.host_calls.length,
    })),
    records: state.records,
    digest,
  };
}
