import { AosError } from "../src/errors/mod.ts";
import type { JsonObject } from "../src/store/mod.ts";
import type { RunState } from "./run_state.ts";

/** RUN_NOT_FOUND for `runId` (also what a run of another tenant is). */
export function runNotFound(runId: string): AosError {
  return new AosError("RUN_NOT_FOUND", `run ${runId} not found`, {
    details: { run_id: runId },
  });
}

/** RUN_ALREADY_FINISHED for `runId`, which ended with `status`. */
export function alreadyFinished(runId: string, status: string): AosError {
  return new AosError(
    "RUN_ALREADY_FINISHED",
    `run ${runId} has already ended (${status})`,
    { details: { run_id: runId, status } },
  );
}

/** RUN_NOT_PAUSED: the run is not paused, or `step` of it is not. */
export function notPaused(
  runId: string,
  status: string,
  step: string | null,
): AosError {
  return new AosError(
    "RUN_NOT_PAUSED",
    status !== "paused"
      ? `run ${runId} is ${status}, not paused`
      : `step ${step ?? "(none)"} of run ${runId} is not paused`,
    { details: { run_id: runId, status, step } },
  );
}

/** What a resume asks: `params` for the paused (or named) step, a new budget. */
export interface ResumeAsk {
  step?: string;
  params?: JsonObject;
  budget_cents?: number;
}

/**
 * Why `state` cannot take `ask` (RUN_NOT_PAUSED), or undefined when it can:
 * the run must be paused, a named step paused, and params need a step.
 */
export function resumeRefusal(
  state: RunState,
  ask: ResumeAsk,
): AosError | undefined {
  const target = ask.step ?? state.pause?.step ?? undefined;
  const paused = state.steps.find((step) => step.id === target);
  if (
    state.status !== "paused" ||
    (ask.step !== undefined && paused?.status !== "paused") ||
    (ask.params !== undefined && paused === undefined)
  ) {
    return notPaused(state.run_id, state.status, target ?? null);
  }
  return undefined;
}
