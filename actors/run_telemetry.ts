import type { Logger } from "../src/deps/mod.ts";
import { runTraceId } from "../src/deps/mod.ts";
import { type Metrics, observeRun, observeStep } from "../src/metrics/mod.ts";
import type { LogRecord } from "../src/store/mod.ts";
import type { TimedMessage } from "./run_messages.ts";
import type { RunState } from "./run_reducer.ts";
import { pinFor, planStep } from "./run_state.ts";

/** Where a run's telemetry goes. */
export interface RunTelemetryDeps {
  log: Logger;
  metrics: Metrics;
}

/**
 * The log lines and metrics of one durable record of a run (`state` is the
 * run after its batch): a step's end (its duration, outcome and skill),
 * log-size limits, a pause, and each record at debug level.
 */
export function recordTelemetry(
  { log, metrics }: RunTelemetryDeps,
  record: LogRecord,
  message: TimedMessage,
  state: RunState,
): void {
  if (log.enabled("debug")) {
    log.log("debug", "record_appended", {
      ...runFields(state),
      seq: record.seq,
      type: record.type,
    });
  }
  if (
    message.type === "LogSizeWarning" || message.type === "LogSizeExceeded"
  ) {
    const limit = message.type === "LogSizeWarning" ? "soft" : "hard";
    metrics.runLogLimitsTotal.inc({ limit });
    log.log("warn", "run_log_limit", {
      run_id: state.run_id,
      limit,
      ...message.body,
    });
  }
  if (message.type === "RunPaused") {
    log.log("info", "run_paused", {
      run_id: state.run_id,
      step: message.body.step,
      code: message.body.error.code,
    });
  }
  if (message.type !== "StepSucceeded" && message.type !== "StepFailed") {
    return;
  }
  const step = state.steps.find((candidate) =>
    candidate.id === message.body.step
  )!;
  const pin = pinFor(state, planStep(state, step.id), step.fallback);
  const failure = message.type === "StepFailed"
    ? message.body.error
    : undefined;
  observeStep(metrics, {
    skill: pin.name,
    version: pin.version,
    seconds: step.attempt_started_at === null
      ? null
      : (record.at - step.attempt_started_at) / 1000,
    outcome: failure === undefined
      ? { ok: true, output: (message.body as { output: unknown }).output }
      : { ok: false, code: failure.code, details: failure.details },
  });
  log.log(failure === undefined ? "info" : "warn", "step_finished", {
    ...runFields(state),
    step: step.id,
    attempt: message.body.attempt,
    skill: pin.name,
    version: pin.version,
    outcome: failure === undefined ? "succeeded" : "failed",
    code: failure?.code ?? null,
  });
}

/** The log line and metrics of a run that ended (`state` is final). */
export function runEndTelemetry(
  { log, metrics }: RunTelemetryDeps,
  state: RunState,
): void {
  observeRun(metrics, {
    status: state.status,
    code: state.status === "failed" ? state.error?.code ?? null : null,
    seconds: state.finished_at === null
      ? null
      : (state.finished_at - state.submitted_at) / 1000,
  });
  log.log("info", "run_finished", {
    ...runFields(state),
    status: state.status,
    code: state.error?.code ?? null,
  });
}

/** The fields every log line about a run carries. */
function runFields(
  state: RunState,
): { run_id: string; tenant: string; trace_id: string } {
  return {
    run_id: state.run_id,
    tenant: state.tenant,
    trace_id: runTraceId(state.run_id, state.traceparent),
  };
}
