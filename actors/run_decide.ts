import { AosError } from "../src/errors/mod.ts";
import {
  backoffMs,
  dependenciesOf,
  evaluateCondition,
  type PlanStep,
  resolveTemplates,
  type TemplateScope,
} from "../src/plan/mod.ts";
import { isTerminal, type Json } from "../src/store/mod.ts";
import { SIGNAL_TIMER_SUFFIX } from "./run_control.ts";
import { pinLabel, type RunMessage } from "./run_messages.ts";
import { type Effect, planRun } from "./run_reducer.ts";
import {
  budgetUse,
  concurrencyOf,
  onErrorOf,
  pinFor,
  planStep,
  retryPolicyOf,
  type RunState,
  stepDone,
  type StepState,
} from "./run_state.ts";

function append(message: RunMessage): Effect[] {
  return [{ kind: "AppendMessage", message }];
}

function scopeOf(state: RunState): TemplateScope {
  const outputs: Record<string, Json> = {};
  for (const step of state.steps) {
    if (step.status === "succeeded") outputs[step.id] = step.output;
  }
  return { outputs, context: state.plan.context ?? {} };
}

function stepById(state: RunState, id: string): StepState {
  return state.steps.find((step) => step.id === id)!;
}

/** Starts an attempt, or fails it before it starts when its params do not resolve. */
function start(
  state: RunState,
  step: StepState,
  planned: PlanStep,
  fallback: boolean,
): Effect[] {
  const index = state.plan.steps.indexOf(planned);
  const attempt = step.attempt + 1;
  const field = fallback ? "fallback_params" : "params";
  const params =
    (fallback
      ? planned.fallback_params ?? planned.params
      : planned.params) as Json;
  const overBudget = budgetCheck(
    state,
    step.id,
    pinFor(state, planned, fallback).cost_estimate_cents ?? 0,
  );
  if (overBudget !== undefined) return overBudget;
  try {
    const input = resolveTemplates(
      params,
      scopeOf(state),
      `/steps/${index}/${field}`,
    );
    const skill = pinLabel(pinFor(state, planned, fallback));
    return append({
      type: "StepStarted",
      body: {
        step: step.id,
        attempt,
        input,
        skill,
        ...(fallback ? { fallback: true } : {}),
      },
    });
  } catch (error) {
    if (!(error instanceof AosError)) throw error;
    return append({
      type: "StepFailed",
      body: { step: step.id, attempt, error: error.toRecorded() },
    });
  }
}

/**
 * Ends the run with BUDGET_EXCEEDED when what is spent, what running steps
 * have reserved and `estimateCents` more would pass the plan's budget. With
 * `step` null it checks for an overrun by charges alone.
 */
function budgetCheck(
  state: RunState,
  step: string | null,
  estimateCents: number,
): Effect[] | undefined {
  const budgetCents = state.plan.budget_cents;
  if (budgetCents === undefined) return undefined;
  const use = budgetUse(state);
  const needed = use.spent_cents + use.reserved_cents + estimateCents;
  if (step === null ? use.spent_cents <= budgetCents : needed <= budgetCents) {
    return undefined;
  }
  const error = new AosError(
    "BUDGET_EXCEEDED",
    step === null
      ? `the run spent ${use.spent_cents} cents of its ${budgetCents}`
      : `step ${step} needs ${estimateCents} cents; the run has ${
        budgetCents - use.spent_cents - use.reserved_cents
      } of ${budgetCents} left`,
    {
      details: {
        budget_cents: budgetCents,
        ...use,
        estimate_cents: estimateCents,
      },
    },
  );
  return append({
    type: state.plan.on_budget_exhausted === "pause"
      ? "RunPaused"
      : "RunFailed",
    body: { step, error: error.toRecorded() },
  });
}

/**
 * A `wait_signal` step begins: it takes the oldest pending signal of its
 * name at once, or waits (with a durable timer when it has a timeout).
 */
function await_(state: RunState, step: StepState, planned: PlanStep): Effect[] {
  const wait = planned.wait_signal!;
  const signal = state.signals.find((candidate) =>
    candidate.name === wait.name
  );
  if (signal !== undefined) {
    return append({
      type: "SignalDelivered",
      body: { step: step.id, signal_seq: signal.seq },
    });
  }
  return append({
    type: "SignalAwaited",
    body: {
      step: step.id,
      name: wait.name,
      ...(wait.timeout_ms === undefined ? {} : {
        timer_id: `${step.id}${SIGNAL_TIMER_SUFFIX}`,
        due_at: state.last_at + wait.timeout_ms,
      }),
    },
  });
}

function runOutput(state: RunState): Json {
  const keyed = state.plan.steps.filter((step) =>
    step.output_key !== undefined
  );
  if (keyed.length > 0) {
    const output: Record<string, Json> = {};
    for (const planned of keyed) {
      output[planned.output_key!] = stepById(state, planned.id).output;
    }
    return output;
  }
  return state.steps[state.steps.length - 1]!.output;
}

/**
 * The next decision of a run, or none: a pure function of the state, taken
 * one at a time (the shell applies each before asking again). In order:
 * end a cancelled run; end a run whose log is too large; nothing more
 * while paused; pause the run when a step failed for good with
 * `on_exhausted: pause`; end the run when a step failed for good and may
 * not be skipped; schedule a retry's timer; hand signals to waiting steps;
 * start fallbacks, due retries and ready steps while slots are free
 * (skipping steps whose condition is false or whose dependency failed);
 * end the run when every step is done.
 */
export function decideNext(state: RunState): Effect[] {
  if (isTerminal(state.status)) return [];
  if (state.cancel_reason !== null) {
    return append({
      type: "RunCancelled",
      body: { reason: state.cancel_reason },
    });
  }
  if (state.log_error !== null) {
    return append({
      type: "RunFailed",
      body: { step: null, error: state.log_error },
    });
  }
  if (state.status === "paused") return [];
  if (state.planning !== null) return [];
  const overrun = budgetCheck(state, null, 0);
  if (overrun !== undefined) return overrun;
  if (state.plan_error !== null) {
    return append({
      type: "RunFailed",
      body: { step: null, error: state.plan_error },
    });
  }
  for (const step of state.steps) {
    if (step.status === "paused") {
      return append({
        type: "RunPaused",
        body: { step: step.id, error: step.error! },
      });
    }
  }
  for (const step of state.steps) {
    if (
      step.status === "failed" &&
      onErrorOf(state, planStep(state, step.id)) !== "continue"
    ) {
      return append({
        type: "RunFailed",
        body: { step: step.id, error: step.error! },
      });
    }
  }
  for (const step of state.steps) {
    if (step.status === "retry_wait" && step.timer === null) {
      const delayMs = backoffMs(
        retryPolicyOf(state, planStep(state, step.id)),
        step.attempt - step.attempt_base,
      );
      return append({
        type: "RetryScheduled",
        body: {
          step: step.id,
          attempt: step.attempt + 1,
          timer_id: `${step.id}#${step.attempt + 1}`,
          due_at: step.finished_at! + delayMs,
        },
      });
    }
  }
  for (const step of state.steps) {
    if (step.status !== "waiting") continue;
    const name = planStep(state, step.id).wait_signal?.name;
    const signal = state.signals.find((candidate) => candidate.name === name);
    if (signal !== undefined) {
      return append({
        type: "SignalDelivered",
        body: { step: step.id, signal_seq: signal.seq },
      });
    }
  }
  const free = concurrencyOf(state) -
    state.steps.filter((step) => step.status === "running").length;
  for (const step of state.steps) {
    if (free <= 0) break;
    if (step.status === "fallback_ready") {
      return start(state, step, planStep(state, step.id), true);
    }
    if (step.status === "ready") {
      const planned = planStep(state, step.id);
      if (planned.wait_signal !== undefined) {
        return await_(state, step, planned);
      }
      return start(state, step, planned, false);
    }
  }
  for (const [index, planned] of state.plan.steps.entries()) {
    const step = state.steps[index]!;
    if (step.status !== "pending") continue;
    const dependencies = dependenciesOf(state.plan, index).map((id) =>
      stepById(state, id)
    );
    if (!dependencies.every(stepDone)) continue;
    const blocked = dependencies.some((dependency) =>
      dependency.status === "failed" ||
      dependency.skip_reason === "dependency_failed"
    );
    if (blocked) {
      return append({
        type: "StepSkipped",
        body: { step: step.id, reason: "dependency_failed" },
      });
    }
    if (
      planned.condition !== undefined &&
      !evaluateCondition(planned.condition, scopeOf(state))
    ) {
      return append({
        type: "StepSkipped",
        body: { step: step.id, reason: "condition_false" },
      });
    }
    if (planned.sleep_ms !== undefined) {
      return append({
        type: "TimerScheduled",
        body: {
          step: step.id,
          timer_id: `${step.id}#sleep`,
          due_at: state.last_at + planned.sleep_ms,
        },
      });
    }
    if (planned.wait_signal !== undefined) {
      return await_(state, step, planned);
    }
    if (free > 0) return start(state, step, planned, false);
  }
  if (state.steps.every(stepDone)) {
    const partial = state.steps.some((step) =>
      step.status === "failed" || step.skip_reason === "dependency_failed"
    );
    return append({
      type: "RunSucceeded",
      body: {
        output: runOutput(state),
        ...(partial ? { status: "partial" as const } : {}),
      },
    });
  }
  return [];
}

/**
 * What a run folded from its log must do to continue after a restart:
 * re-execute running steps (their recorded host calls are served again, so
 * nothing they did is repeated), re-arm pending timers at their recorded due
 * times, and take the next decision.
 */
export function resume(state: RunState): Effect[] {
  if (isTerminal(state.status)) {
    return [{ kind: "FinishRun", status: state.status }];
  }
  if (state.planning !== null) return [planRun(state), ...decideNext(state)];
  const effects: Effect[] = [];
  for (const step of state.steps) {
    if (step.status === "running") {
      effects.push({
        kind: "RunStep",
        step: step.id,
        attempt: step.attempt,
        pin: pinFor(state, planStep(state, step.id), step.fallback),
        input: step.input,
        recorded: step.host_calls,
      });
    }
    if (step.timer !== null) {
      effects.push({
        kind: "StartTimer",
        timer_id: step.timer.timer_id,
        due_at: step.timer.due_at,
      });
    }
  }
  return [...effects, ...decideNext(state)];
}
