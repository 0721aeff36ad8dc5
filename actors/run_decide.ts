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
import { endRun, runBudgetRefusal, settlementDecision } from "./run_budget.ts";
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

/**
 * The states of the steps the step at `index` depends on, or undefined while
 * any of them is not done (asked after every message, for every pending
 * step: it stops at the first one not done).
 */
function dependencyStates(
  state: RunState,
  index: number,
): StepState[] | undefined {
  const ids = dependenciesOf(state.plan, index);
  const dependencies: StepState[] = [];
  for (const id of ids) {
    const dependency = stepById(state, id);
    if (!stepDone(dependency)) return undefined;
    dependencies.push(dependency);
  }
  return dependencies;
}

function stepById(state: RunState, id: string): StepState {
  return state.steps.find((step) => step.id === id)!;
}

/**
 * Starts an attempt, or fails it before it starts when its params do not
 * resolve. A ledger run first reserves the attempt's estimate against the
 * tenant's day (`ReserveBudget`); the attempt starts once BudgetReserved
 * holds it.
 */
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
  const estimateCents = pinFor(state, planned, fallback).cost_estimate_cents ??
    0;
  // Ledger 2 reserves only an estimate of cents (see run_budget.ts).
  const reserves = state.ledger === 1 ||
    (state.ledger === 2 && estimateCents > 0);
  const held = reserves && step.reservation?.attempt === attempt;
  if (!held) {
    const overBudget = budgetCheck(state, step.id, estimateCents);
    if (overBudget !== undefined) {
      return append(
        state.ledger !== 0
          ? runBudgetRefusal(state, step.id, estimateCents)
          : overBudget,
      );
    }
  }
  try {
    const input = resolveTemplates(
      params,
      scopeOf(state),
      `/steps/${index}/${field}`,
    );
    if (reserves && !held) {
      return [{
        kind: "ReserveBudget",
        step: step.id,
        attempt,
        cents: estimateCents,
      }];
    }
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
 * Ends (or, with `on_budget_exhausted: pause`, pauses) the run with
 * BUDGET_EXCEEDED when what is spent, what running steps
 * have reserved and `estimateCents` more would pass the plan's budget. With
 * `step` null it checks for an overrun by charges alone.
 */
function budgetCheck(
  state: RunState,
  step: string | null,
  estimateCents: number,
): RunMessage | undefined {
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
  return {
    type: state.plan.on_budget_exhausted === "pause"
      ? "RunPaused"
      : "RunFailed",
    body: { step, error: error.toRecorded() },
  };
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
 * settle the budget ledger (charges and releases, paused or not); end a
 * cancelled run; end a run whose log is too large; nothing more
 * while paused; pause the run when a step failed for good with
 * `on_exhausted: pause`; end the run when a step failed for good and may
 * not be skipped; schedule a retry's timer; hand signals to waiting steps;
 * start fallbacks, due retries and ready steps while slots are free
 * (skipping steps whose condition is false or whose dependency failed);
 * end the run when every step is done.
 */
export function decideNext(state: RunState): Effect[] {
  if (isTerminal(state.status)) return [];
  // Settlement goes on while paused: steps still running at a pause keep
  // their reservation until their cost is charged.
  const settlement = settlementDecision(state);
  if (settlement !== undefined) return append(settlement);
  if (state.cancel_reason !== null) {
    return endRun(state, {
      type: "RunCancelled",
      body: { reason: state.cancel_reason },
    });
  }
  if (state.log_error !== null) {
    return endRun(state, {
      type: "RunFailed",
      body: { step: null, error: state.log_error },
    });
  }
  if (state.status === "paused") return [];
  if (state.planning !== null) return [];
  const overrun = budgetCheck(state, null, 0);
  if (overrun !== undefined) {
    // A pause keeps the run's reservations; only an end releases them.
    return overrun.type === "RunPaused"
      ? append(overrun)
      : endRun(state, overrun);
  }
  if (state.plan_error !== null) {
    return endRun(state, {
      type: "RunFailed",
      body: { step: null, error: state.plan_error },
    });
  }
  if (state.budget_error !== null) {
    // A refusal (the run's budget or the tenant's day) pauses the run when
    // its plan says so; RunResumed clears it.
    if (state.plan.on_budget_exhausted === "pause") {
      return append({ type: "RunPaused", body: state.budget_error });
    }
    return endRun(state, {
      type: "RunFailed",
      body: state.budget_error,
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
      return endRun(state, {
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
  let free = concurrencyOf(state);
  for (const step of state.steps) if (step.status === "running") free--;
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
  for (let index = 0; index < state.plan.steps.length; index++) {
    const step = state.steps[index]!;
    if (step.status !== "pending") continue;
    const planned = state.plan.steps[index]!;
    const dependencies = dependencyStates(state, index);
    if (dependencies === undefined) continue;
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
    return endRun(state, {
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
