import { catalogEntry, isErrorCode } from "../errors/mod.ts";
import type { Metrics, SANDBOX_LIMIT_KIND_NAMES } from "./metrics.ts";

type LimitKind = typeof SANDBOX_LIMIT_KIND_NAMES[number];

/** Catalog codes that mean a step was stopped at a sandbox limit, by kind. */
export const SANDBOX_LIMIT_KINDS: Readonly<Record<string, LimitKind>> = {
  SANDBOX_TIMEOUT: "timeout",
  SANDBOX_MEMORY_LIMIT: "memory",
  SANDBOX_OUTPUT_TOO_LARGE: "output_size",
  SANDBOX_OUTPUT_TOO_DEEP: "output_depth",
  SANDBOX_BUSY: "queue",
  HTTP_RESPONSE_TOO_LARGE: "http_response_size",
  HTTP_ADDRESS_FORBIDDEN: "network_policy",
  HTTP_HOST_NOT_ALLOWED: "network_policy",
  HTTP_EXTERNAL_DISABLED: "network_policy",
};

// The built-in model skill; its models are bounded by its price table, so
// they are safe as label values. Other skills' outputs are not read.
const LLM_SKILL = "llm_invoke";
const LABEL_CHARS_MAX = 64;

/** One live step attempt's outcome, as the run engine saw it. */
export interface StepObservation {
  skill: string;
  version: string;
  /** From StepStarted to the outcome; null when unknown (a resumed attempt). */
  seconds: number | null;
  outcome:
    | { ok: true; output: unknown }
    | { ok: false; code: string; details?: Record<string, unknown> };
}

/**
 * Counts one live step attempt: attempts and duration by skill, sandbox limit
 * breaches, determinism violations found on a live re-run (a step resumed
 * after a crash whose host calls no longer match the log), and the model
 * cost and tokens an `llm_invoke` step reports.
 */
export function observeStep(metrics: Metrics, step: StepObservation): void {
  const outcome = step.outcome.ok ? "succeeded" : "failed";
  metrics.skillAttemptsTotal.inc({ skill: step.skill, outcome });
  if (step.seconds !== null) {
    metrics.skillDurationSeconds.observe(
      { skill: step.skill, version: step.version },
      step.seconds,
    );
  }
  if (!step.outcome.ok) {
    const kind = SANDBOX_LIMIT_KINDS[step.outcome.code];
    if (kind !== undefined) metrics.sandboxLimitBreachesTotal.inc({ kind });
    if (step.outcome.code === "HOST_CALL_MISMATCH") {
      metrics.determinismViolationsTotal.inc({
        skill: step.skill,
        violation_type: mismatchClass(step.outcome.details ?? {}),
      });
    }
    return;
  }
  observeModelCall(metrics, step.skill, step.outcome.output);
}

/**
 * Adds the cost and tokens an `llm_invoke` call reports (a step's, or the
 * LLM planner's, whose call is no step) to the model metrics; other skills'
 * outputs are not read.
 */
export function observeModelCall(
  metrics: Metrics,
  skill: string,
  output: unknown,
): void {
  if (skill === LLM_SKILL) observeLlmUsage(metrics, output);
}

// The replay divergence class of a live mismatch: another kind of call at
// that position is a changed order, the same kind asking otherwise a changed
// request.
function mismatchClass(details: Record<string, unknown>): string {
  const kindOf = (side: unknown) =>
    typeof side === "object" && side !== null
      ? (side as { kind?: unknown }).kind
      : undefined;
  return kindOf(details.expected) === kindOf(details.actual)
    ? "host_call_request_changed"
    : "host_call_order_changed";
}

function observeLlmUsage(metrics: Metrics, output: unknown): void {
  if (typeof output !== "object" || output === null) return;
  const usage = output as Record<string, unknown>;
  const { adapter, model } = usage;
  if (typeof adapter !== "string" || typeof model !== "string") return;
  const labels = {
    provider: adapter.slice(0, LABEL_CHARS_MAX),
    model: model.slice(0, LABEL_CHARS_MAX),
  };
  const count = (value: unknown) =>
    typeof value === "number" && Number.isFinite(value) && value >= 0
      ? value
      : 0;
  metrics.llmCostCentsTotal.inc(labels, count(usage.cost_cents));
  metrics.llmTokensTotal.inc(
    { ...labels, type: "input" },
    count(usage.input_tokens),
  );
  metrics.llmTokensTotal.inc(
    { ...labels, type: "output" },
    count(usage.output_tokens),
  );
}

/** A live run that reached a final status. */
export interface RunObservation {
  status: string;
  /** The failure's catalog code when the run failed. */
  code: string | null;
  seconds: number | null;
}

/**
 * Counts a finished run: by status, failures by code, its duration, and a
 * run stopped by a budget (a BUDGET-category failure). Refusals before a run
 * exists are counted where they are refused.
 */
export function observeRun(metrics: Metrics, run: RunObservation): void {
  metrics.runsTotal.inc({ status: run.status });
  if (run.status === "failed" && run.code !== null) {
    metrics.runsFailedTotal.inc({ code: run.code });
    if (
      isErrorCode(run.code) && catalogEntry(run.code).category === "BUDGET"
    ) {
      metrics.budgetExceededTotal.inc();
    }
  }
  if (run.seconds !== null) metrics.runDurationSeconds.observe(run.seconds);
}
