import { AosError } from "../src/errors/mod.ts";

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
