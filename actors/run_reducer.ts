import { retries } from "../src/plan/mod.ts";
import { type Goal, PLANNER_SKILL, PLANNER_STEP } from "../src/planner/mod.ts";
import { isTerminal, type Json, type RunStatus } from "../src/store/mod.ts";
import { applyBudget } from "./run_budget.ts";
import {
  applyControl,
  exhaustedStatus,
  isControlMessage,
  signalTimeout,
} from "./run_control.ts";
import { decideNext } from "./run_decide.ts";
import type {
  HostCallBody,
  RunMessage,
  SkillPin,
  TimedMessage,
} from "./run_messages.ts";
import {
  invariant,
  newStep,
  onErrorOf,
  pinFor,
  planStep,
  retryPolicyOf,
  type RunState,
  type StepState,
} from "./run_state.ts";

export type { RunState, StepState } from "./run_state.ts";

/** What the shell must do after a message; results come back as messages. */
export type Effect =
  /** Record a decision: append this message next, before anything else. */
  | { kind: "AppendMessage"; message: RunMessage }
  /** Make the plan of a goal run, serving `recorded` planner host calls first. */
  | {
    kind: "PlanRun";
    goal: Goal;
    pin: SkillPin | undefined;
    recorded: HostCallBody[];
  }
  /** Execute a step's skill, serving `recorded` host calls first. */
  | {
    kind: "RunStep";
    step: string;
    attempt: number;
    pin: SkillPin;
    input: Json;
    recorded: HostCallBody[];
  }
  /**
   * Ask the store to reserve `cents` of the tenant's day for this attempt;
   * the answer comes back as BudgetReserved or BudgetRefused. Repeated until
   * answered; the store answers a repeated ask as it did the first time.
   */
  | { kind: "ReserveBudget"; step: string; attempt: number; cents: number }
  /**
   * Book the charge of an attempt that reserved nothing on its tenant's
   * `day` (ledger 2), with the BudgetCharged that records it.
   */
  | {
    kind: "BookCharge";
    step: string;
    attempt: number;
    cents: number;
    day: string;
  }
  /** Settle a released reservation in the store: charge `charged_cents`, free the rest. */
  | {
    kind: "SettleBudget";
    step: string;
    attempt: number;
    /** What the reservation held. */
    reserved_cents: number;
    charged_cents: number;
  }
  /** Send TimerFired for `timer_id` at `due_at` (now, when it is past). */
  | { kind: "StartTimer"; timer_id: string; due_at: number }
  /** The timer is no longer wanted (its wait ended another way). */
  | { kind: "CancelTimer"; timer_id: string }
  /** Interrupt these running steps: the run no longer wants their outcome. */
  | { kind: "CancelSteps"; steps: string[] }
  /** The run is over: stop the actor and release what it holds. */
  | { kind: "FinishRun"; status: RunStatus };

/** A message as the reducer sees it: the record envelope's fields. */
export type RunEnvelope = TimedMessage & { run_id: string };

/** The result of applying one message. */
export interface Reduction {
  state: RunState;
  effects: Effect[];
}

/**
 * Applies one message: `(state, message) -> { state, effects }`. Pure: no
 * clock, no randomness, no I/O; the input state is never mutated. Effects
 * hold at most one decision (`AppendMessage`); the shell applies it the same
 * way, so decisions are taken one at a time, each on the state the previous
 * one left. A message the state does not allow throws RUN_INVARIANT_BROKEN,
 * which crashes the actor so its supervisor restarts it from the log.
 */
export function reduce(
  state: RunState | undefined,
  message: RunEnvelope,
): Reduction {
  if (message.type === "RunSubmitted") {
    invariant(state === undefined, "RunSubmitted must be the first record");
    const next = submitted(message);
    return withDecision(next, next.planning === null ? [] : [planRun(next)]);
  }
  invariant(state !== undefined, `${message.type} before RunSubmitted`);
  invariant(!isTerminal(state.status), `${message.type} after the run ended`);
  const counted = { ...state, records: state.records + 1, last_at: message.at };
  const { state: next, effects } = evolve(counted, message);
  return withDecision(next, effects);
}

function withDecision(state: RunState, effects: Effect[]): Reduction {
  if (isTerminal(state.status)) return { state, effects };
  return { state, effects: [...effects, ...decideNext(state)] };
}

/** The effect that makes a goal run's plan. */
export function planRun(state: RunState): Effect {
  invariant(state.planning !== null, "no plan is being made");
  return {
    kind: "PlanRun",
    goal: state.planning.goal,
    pin: state.pins[PLANNER_SKILL],
    recorded: state.planning.host_calls,
  };
}

function submitted(
  message: Extract<RunEnvelope, { type: "RunSubmitted" }>,
): RunState {
  const { tenant, pins, abi, goal, ledger, fork } = message.body;
  invariant(
    (message.body.plan === null) === (goal !== undefined),
    "a run has either a plan or a goal",
  );
  invariant(
    ledger === undefined || ledger === 1 || ledger === 2,
    `unknown ledger version ${ledger}`,
  );
  const plan = message.body.plan ?? { steps: [] };
  for (const step of plan.steps) {
    for (const reference of [step.skill, step.fallback_skill]) {
      invariant(
        reference === undefined || pins[reference] !== undefined,
        `step ${step.id}: ${reference} is not pinned`,
      );
    }
  }
  return {
    run_id: message.run_id,
    tenant,
    status: "running",
    plan,
    pins,
    abi,
    traceparent: message.body.traceparent ?? null,
    steps: plan.steps.map((step) => newStep(step.id)),
    submitted_at: message.at,
    finished_at: null,
    output: null,
    error: null,
    cancel_reason: null,
    planning: goal === undefined ? null : { goal, host_calls: [] },
    plan_error: null,
    ledger: ledger ?? 0,
    charged_cents: 0,
    budget_error: null,
    signals: [],
    signal_requests: [],
    pause: null,
    fork: fork ?? null,
    log_warned: false,
    log_error: null,
    records: 1,
    last_at: message.at,
  };
}

function updateStep(
  state: RunState,
  id: string,
  change: (step: StepState) => StepState,
): RunState {
  const index = state.steps.findIndex((step) => step.id === id);
  invariant(index >= 0, `unknown step ${id}`);
  const steps = state.steps.slice();
  steps[index] = change(state.steps[index]!);
  return { ...state, steps };
}

function running(state: RunState): string[] {
  return state.steps.filter((step) => step.status === "running").map((step) =>
    step.id
  );
}

function ended(
  state: RunState,
  at: number,
  change: Partial<RunState>,
): Reduction {
  const next = { ...state, ...change, finished_at: at };
  const interrupted = running(state);
  const effects: Effect[] = interrupted.length > 0
    ? [{ kind: "CancelSteps", steps: interrupted }]
    : [];
  effects.push({ kind: "FinishRun", status: next.status });
  return { state: next, effects };
}

function evolve(state: RunState, message: RunEnvelope): Reduction {
  if (isControlMessage(message)) return applyControl(state, message);
  switch (message.type) {
    case "StepStarted":
      return started(state, message);
    case "HostCall": {
      const call = message.body;
      if (call.step === PLANNER_STEP) {
        invariant(
          state.planning !== null,
          "a planner host call outside planning",
        );
        invariant(
          call.index === state.planning.host_calls.length,
          `planner host call ${call.index} out of order`,
        );
        return {
          state: {
            ...state,
            planning: {
              ...state.planning,
              host_calls: [...state.planning.host_calls, call],
            },
          },
          effects: [],
        };
      }
      const next = updateStep(state, call.step, (step) => {
        invariant(
          step.status === "running" && step.attempt === call.attempt,
          `host call for step ${call.step} that is not running`,
        );
        invariant(
          call.index === step.host_calls.length,
          `host call ${call.index} of step ${call.step} out of order`,
        );
        return { ...step, host_calls: [...step.host_calls, call] };
      });
      return { state: next, effects: [] };
    }
    case "PlanProduced": {
      invariant(
        state.planning !== null,
        "a plan arrived for a run that has one",
      );
      const { plan, pins } = message.body;
      const next = {
        ...state,
        plan,
        pins: { ...state.pins, ...pins },
        steps: plan.steps.map((step) => newStep(step.id)),
        planning: null,
      };
      for (const step of plan.steps) {
        for (const reference of [step.skill, step.fallback_skill]) {
          invariant(
            reference === undefined || next.pins[reference] !== undefined,
            `step ${step.id}: ${reference} is not pinned`,
          );
        }
      }
      return { state: next, effects: [] };
    }
    case "PlanFailed":
      invariant(
        state.planning !== null,
        "planning failed for a run that has a plan",
      );
      return {
        state: { ...state, planning: null, plan_error: message.body.error },
        effects: [],
      };
    case "StepSucceeded": {
      const { step: id, attempt, output, output_sha256 } = message.body;
      const next = updateStep(state, id, (step) => {
        invariant(
          step.status === "running" && step.attempt === attempt,
          `step ${id} succeeded but is not running`,
        );
        return {
          ...step,
          status: "succeeded",
          output,
          output_sha256,
          error: null,
          finished_at: message.at,
        };
      });
      return { state: next, effects: [] };
    }
    case "StepFailed":
      return { state: failed(state, message), effects: [] };
    case "StepSkipped": {
      const { step: id, reason } = message.body;
      const next = updateStep(state, id, (step) => {
        invariant(
          step.status === "pending",
          `step ${id} skipped but not pending`,
        );
        return {
          ...step,
          status: "skipped",
          skip_reason: reason,
          finished_at: message.at,
        };
      });
      return { state: next, effects: [] };
    }
    case "RetryScheduled": {
      const { step: id, attempt, timer_id, due_at } = message.body;
      const next = updateStep(state, id, (step) => {
        invariant(
          step.status === "retry_wait" && attempt === step.attempt + 1,
          `retry of step ${id} out of order`,
        );
        return { ...step, timer: { timer_id, due_at } };
      });
      return {
        state: next,
        effects: [{ kind: "StartTimer", timer_id, due_at }],
      };
    }
    case "TimerScheduled": {
      const { step: id, timer_id, due_at } = message.body;
      const next = updateStep(state, id, (step) => {
        invariant(
          step.status === "pending",
          `sleep of step ${id} that is not pending`,
        );
        return {
          ...step,
          status: "sleeping",
          started_at: message.at,
          attempt: 1,
          timer: { timer_id, due_at },
        };
      });
      return {
        state: next,
        effects: [{ kind: "StartTimer", timer_id, due_at }],
      };
    }
    case "TimerFired":
      return { state: timerFired(state, message), effects: [] };
    case "CancelRequested":
      return {
        state: { ...state, cancel_reason: message.body.reason },
        effects: [],
      };
    case "BudgetReserved":
    case "BudgetRefused":
    case "BudgetCharged":
    case "BudgetReleased":
      return applyBudget(state, message);
    case "RunSucceeded":
      return ended(state, message.at, {
        status: message.body.status ?? "succeeded",
        output: message.body.output,
      });
    case "RunFailed":
      return ended(state, message.at, {
        status: "failed",
        error: message.body.error,
      });
    case "RunCancelled":
      return ended(state, message.at, { status: "cancelled" });
  }
  invariant(false, `unexpected ${(message as RunMessage).type}`);
}

function started(
  state: RunState,
  message: Extract<RunEnvelope, { type: "StepStarted" }>,
): Reduction {
  const { step: id, attempt, input, fallback = false } = message.body;
  const planned = planStep(state, id);
  const next = updateStep(state, id, (step) => {
    const allowed = fallback
      ? step.status === "fallback_ready"
      : step.status === "pending" || step.status === "ready";
    invariant(allowed, `step ${id} started from ${step.status}`);
    invariant(
      attempt === step.attempt + 1,
      `step ${id} attempt ${attempt} out of order`,
    );
    return {
      ...step,
      status: "running",
      attempt,
      fallback,
      input,
      error: null,
      timer: null,
      started_at: step.started_at ?? message.at,
      attempt_started_at: message.at,
      host_calls: [],
    };
  });
  const pin = pinFor(next, planned, fallback);
  return {
    state: next,
    effects: [{ kind: "RunStep", step: id, attempt, pin, input, recorded: [] }],
  };
}

/**
 * A failed attempt: retried when the policy allows, then the fallback when
 * there is one, otherwise the step has failed for good. All of it follows
 * from the plan and the error, so it is decided here, purely.
 */
function failed(
  state: RunState,
  message: Extract<RunEnvelope, { type: "StepFailed" }>,
): RunState {
  const { step: id, attempt, error } = message.body;
  const planned = planStep(state, id);
  return updateStep(state, id, (step) => {
    // A step can fail before it starts, when its params cannot be resolved.
    const beforeStart = (step.status === "pending" || step.status === "ready" ||
      step.status === "fallback_ready") &&
      attempt === step.attempt + 1;
    invariant(
      beforeStart || (step.status === "running" && step.attempt === attempt),
      `step ${id} failed but is not running`,
    );
    const base = {
      ...step,
      attempt,
      error,
      host_calls: [],
      finished_at: message.at,
    };
    if (
      !step.fallback && !beforeStart &&
      retries(retryPolicyOf(state, planned), error, attempt - step.attempt_base)
    ) {
      return { ...base, status: "retry_wait" as const };
    }
    if (
      !step.fallback && onErrorOf(state, planned) === "fallback" &&
      step.status !== "fallback_ready"
    ) {
      return { ...base, status: "fallback_ready" as const };
    }
    return { ...base, status: exhaustedStatus(state, id) };
  });
}

function timerFired(
  state: RunState,
  message: Extract<RunEnvelope, { type: "TimerFired" }>,
): RunState {
  const { timer_id } = message.body;
  const waited = signalTimeout(state, timer_id, message.at);
  if (waited !== undefined) return waited;
  const owner = state.steps.find((step) => step.timer?.timer_id === timer_id);
  invariant(owner !== undefined, `timer ${timer_id} is not pending`);
  return updateStep(state, owner.id, (step) => {
    if (step.status === "sleeping") {
      const sleptMs = message.at - (step.started_at ?? message.at);
      return {
        ...step,
        status: "succeeded",
        timer: null,
        output: { slept_ms: sleptMs },
        finished_at: message.at,
      };
    }
    invariant(
      step.status === "retry_wait",
      `timer ${timer_id} fired for step ${step.id} in ${step.status}`,
    );
    return { ...step, status: "ready", timer: null };
  });
}

/** Folds a whole log into a state (no effects are carried out). */
export function fold(messages: Iterable<RunEnvelope>): RunState | undefined {
  let state: RunState | undefined;
  for (const message of messages) state = reduce(state, message).state;
  return state;
}

export { decideNext, resume } from "./run_decide.ts";
