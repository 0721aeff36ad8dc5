import type { RecordedError } from "../src/errors/mod.ts";
import type { Json, RunStatus } from "../src/store/mod.ts";
import { type ForkOrigin, pinLabel } from "./run_messages.ts";
import {
  costOfOutput,
  pinFor,
  planStep,
  type RunState,
  type StepState,
} from "./run_state.ts";

/** One step as clients see it. */
export interface StepView {
  id: string;
  /** The module of the current or last attempt; null for a sleep step. */
  skill: string | null;
  status: string;
  attempts: number;
  fallback: boolean;
  output: Json | null;
  error: RecordedError | null;
  skip_reason: string | null;
  latency_ms: number | null;
  cost_cents: number;
  side_effects: Json[];
  host_calls: number;
}

/** A run as clients see it (`GET /v1/runs/:id`): its structured outcome. */
export interface RunView {
  run_id: string;
  tenant: string;
  status: RunStatus;
  /** The failure code of a failed run. */
  code: string | null;
  message: string | null;
  submitted_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  output: Json | null;
  error: RecordedError | null;
  cost_cents: number;
  steps: StepView[];
  /** Why a paused run paused: the step (null for the budget) and its error. */
  pause: { step: string | null; error: RecordedError } | null;
  /** The run this one was forked from, and where. */
  fork: ForkOrigin | null;
  /** Signals received that no `wait_signal` step has taken yet, oldest first. */
  signals_pending: { name: string; seq: number }[];
  records: number;
  digest: string;
}

function sideEffectsOf(output: Json | null): Json[] {
  const effects =
    output !== null && typeof output === "object" && !Array.isArray(output)
      ? output.side_effects
      : undefined;
  return Array.isArray(effects) ? effects : [];
}

function viewStep(state: RunState, step: StepState): StepView {
  const planned = planStep(state, step.id);
  return {
    id: step.id,
    skill: planned.skill === undefined
      ? null
      : pinLabel(pinFor(state, planned, step.fallback)),
    status: step.status,
    attempts: step.attempt,
    fallback: step.fallback,
    output: step.output,
    error: step.error,
    skip_reason: step.skip_reason,
    latency_ms: step.started_at !== null && step.finished_at !== null
      ? step.finished_at - step.started_at
      : null,
    cost_cents: costOfOutput(step.output),
    side_effects: sideEffectsOf(step.output),
    host_calls: step.host_calls.length,
  };
}

/** Projects a run's state into its client view. Pure. */
export function viewRun(state: RunState, digest: string): RunView {
  const steps = state.steps.map((step) => viewStep(state, step));
  return {
    run_id: state.run_id,
    tenant: state.tenant,
    status: state.status,
    code: state.error?.code ?? null,
    message: state.error?.message ?? null,
    submitted_at: new Date(state.submitted_at).toISOString(),
    finished_at: state.finished_at === null
      ? null
      : new Date(state.finished_at).toISOString(),
    duration_ms: state.finished_at === null
      ? null
      : state.finished_at - state.submitted_at,
    output: state.output,
    error: state.error,
    cost_cents: steps.reduce((sum, step) => sum + step.cost_cents, 0),
    steps,
    pause: state.pause,
    fork: state.fork,
    signals_pending: state.signals.map(({ name, seq }) => ({ name, seq })),
    records: state.records,
    digest,
  };
}
