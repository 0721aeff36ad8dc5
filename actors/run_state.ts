import { AosError, type RecordedError } from "../src/errors/mod.ts";
import {
  CONCURRENCY_DEFAULT,
  DEFAULT_RETRY,
  NO_RETRY,
  type Plan,
  type PlanStep,
  type RetryPolicy,
} from "../src/plan/mod.ts";
import type { Goal } from "../src/planner/mod.ts";
import type { Json, RunStatus } from "../src/store/mod.ts";
import type {
  ForkOrigin,
  HostCallBody,
  SkillPin,
  SkipReason,
} from "./run_messages.ts";

/**
 * Where one step stands:
 * - `pending`: not started; waits for its dependencies or a free slot.
 * - `running`: an attempt is executing.
 * - `retry_wait`: a failed attempt will be retried when its timer fires.
 * - `ready`: its retry timer fired; starts when a slot is free.
 * - `fallback_ready`: attempts are spent; its fallback skill starts next.
 * - `sleeping`: a `sleep_ms` step waiting for its timer.
 * - `waiting`: a `wait_signal` step waiting for its signal.
 * - `paused`: failed for good with `on_exhausted: pause`; the run pauses.
 * - `succeeded`, `failed`, `skipped`: final.
 */
export type StepStatus =
  | "pending"
  | "running"
  | "retry_wait"
  | "ready"
  | "fallback_ready"
  | "sleeping"
  | "waiting"
  | "paused"
  | "succeeded"
  | "failed"
  | "skipped";

/** One step's state. */
export interface StepState {
  id: string;
  status: StepStatus;
  /** Attempts started so far (a fallback attempt counts). */
  attempt: number;
  /** Attempts made before the last resume; retries count from here. */
  attempt_base: number;
  /** True when the current or last attempt ran the fallback skill. */
  fallback: boolean;
  input: Json | null;
  output: Json | null;
  output_sha256: string | null;
  error: RecordedError | null;
  skip_reason: SkipReason | null;
  /** When the first attempt started. */
  started_at: number | null;
  /** When the current or last attempt started. */
  attempt_started_at: number | null;
  finished_at: number | null;
  /** The pending durable timer (retry or sleep). */
  timer: { timer_id: string; due_at: number } | null;
  /** Host calls recorded for the current attempt, in call order. */
  host_calls: HostCallBody[];
  /** The open budget reservation of an attempt (ledger runs only). */
  reservation: Reservation | null;
  /**
   * The attempt charged without a reservation (ledger 2: an attempt
   * without an estimate whose output reported a cost), or null.
   */
  charged_unreserved: number | null;
}

/** Budget held for one attempt, from BudgetReserved until BudgetReleased. */
export interface Reservation {
  attempt: number;
  cents: number;
  day: string;
  /** Set by BudgetCharged; null until the attempt's cost is charged. */
  charged_cents: number | null;
}

/** A run's state: nothing but a fold of its log. */
export interface RunState {
  run_id: string;
  tenant: string;
  status: RunStatus;
  plan: Plan;
  pins: Record<string, SkillPin>;
  abi: number;
  /** The submitter's W3C `traceparent`, or null (the trace id then comes from the run id). */
  traceparent: string | null;
  steps: StepState[];
  submitted_at: number;
  finished_at: number | null;
  output: Json | null;
  error: RecordedError | null;
  /** Set by CancelRequested; the run ends cancelled at the next decision. */
  cancel_reason: string | null;
  /** A goal run waiting for its plan (the plan is empty until PlanProduced). */
  planning: { goal: Goal; host_calls: HostCallBody[] } | null;
  /** Why planning failed; the run ends failed at the next decision. */
  plan_error: RecordedError | null;
  /**
   * The version of the run's budget ledger (RunSubmitted `ledger`); 0 for
   * a run without one (logs from before the ledger).
   */
  ledger: 0 | 1 | 2;
  /** Cents charged by BudgetCharged records (ledger runs). */
  charged_cents: number;
  /** The tenant's day refused a reservation; the run ends failed at the next decision. */
  budget_error: { step: string; error: RecordedError } | null;
  /** Signals received and not yet taken, oldest first. */
  signals: PendingSignal[];
  /**
   * Ids of the store's signal requests recorded (SignalReceived
   * `request`), so that a request delivered again is recorded once.
   */
  signal_requests: string[];
  /** Why the run is paused (status `paused`). */
  pause: { step: string | null; error: RecordedError } | null;
  /** The parent of a forked run. */
  fork: ForkOrigin | null;
  /** Set once the log passed its soft size limit. */
  log_warned: boolean;
  /** Set when the log would pass its hard size limit; the run then fails. */
  log_error: RecordedError | null;
  /** How many records have been applied. */
  records: number;
  /** `at` of the last record: the reducer's only notion of "now". */
  last_at: number;
}

/** A signal waiting in the run's inbox. */
export interface PendingSignal {
  /** Sequence number of its SignalReceived record. */
  seq: number;
  name: string;
  payload: Json;
  at: number;
}

/** Throws RUN_INVARIANT_BROKEN: the log holds something the state forbids. */
export function invariant(
  condition: unknown,
  message: string,
): asserts condition {
  if (!condition) throw new AosError("RUN_INVARIANT_BROKEN", message);
}

/** Terminal step statuses. */
export function stepDone(step: StepState): boolean {
  return step.status === "succeeded" || step.status === "failed" ||
    step.status === "skipped";
}

/** The plan entry of a step. */
export function planStep(state: RunState, id: string): PlanStep {
  const step = state.plan.steps.find((candidate) => candidate.id === id);
  invariant(step !== undefined, `unknown step ${id}`);
  return step;
}

/** What a failure of `step` does once its retries are spent. */
export function onErrorOf(
  state: RunState,
  step: PlanStep,
): "abort" | "continue" | "retry" | "fallback" {
  return step.on_error ?? state.plan.defaults?.on_error ?? "abort";
}

/** What a step failed for good does: fail (default) or pause the run. */
export function onExhaustedOf(step: PlanStep): "fail" | "pause" {
  return step.on_exhausted ?? "fail";
}

/**
 * The retry policy of a step: its own, else the plan default, else its
 * skill's manifest default (pinned at submission), else `on_error: retry`'s
 * default, else none.
 */
export function retryPolicyOf(state: RunState, step: PlanStep): RetryPolicy {
  const manifest = step.skill === undefined
    ? undefined
    : state.pins[step.skill]?.retry;
  return step.retry ?? state.plan.defaults?.retry ?? manifest ??
    (onErrorOf(state, step) === "retry" ? DEFAULT_RETRY : NO_RETRY);
}

/** The most steps running at once. */
export function concurrencyOf(state: RunState): number {
  return state.plan.concurrency ?? CONCURRENCY_DEFAULT;
}

/** The pin of the skill an attempt runs (the fallback's for a fallback attempt). */
export function pinFor(
  state: RunState,
  step: PlanStep,
  fallback: boolean,
): SkillPin {
  const reference = fallback ? step.fallback_skill : step.skill;
  invariant(
    reference !== undefined,
    `step ${step.id} has no ${fallback ? "fallback " : ""}skill`,
  );
  const pin = state.pins[reference];
  invariant(pin !== undefined, `step ${step.id}: ${reference} is not pinned`);
  const timeoutMs = step.timeout_ms ?? state.plan.defaults?.timeout_ms;
  return timeoutMs === undefined
    ? pin
    : { ...pin, timeout_ms: Math.min(pin.timeout_ms, timeoutMs) };
}

/** What a step's output says it cost (`cost_cents`, a whole number of cents), else 0. */
export function costOfOutput(output: Json | null): number {
  const cost =
    output !== null && typeof output === "object" && !Array.isArray(output)
      ? output.cost_cents
      : undefined;
  return typeof cost === "number" && Number.isInteger(cost) && cost >= 0
    ? cost
    : 0;
}

/**
 * Cents spent so far and reserved by running steps. A ledger run counts its
 * Budget* records; an older run its succeeded outputs and running estimates.
 */
export function budgetUse(
  state: RunState,
): { spent_cents: number; reserved_cents: number } {
  if (state.ledger !== 0) {
    let held = 0;
    for (const step of state.steps) {
      if (
        step.reservation !== null && step.reservation.charged_cents === null
      ) {
        held += step.reservation.cents;
      }
    }
    return { spent_cents: state.charged_cents, reserved_cents: held };
  }
  let spent = 0;
  let reserved = 0;
  for (const step of state.steps) {
    if (step.status === "succeeded") spent += costOfOutput(step.output);
    if (step.status === "running") {
      reserved += pinFor(state, planStep(state, step.id), step.fallback)
        .cost_estimate_cents ?? 0;
    }
  }
  return { spent_cents: spent, reserved_cents: reserved };
}

/** A fresh step. */
export function newStep(id: string): StepState {
  return {
    id,
    status: "pending",
    attempt: 0,
    attempt_base: 0,
    fallback: false,
    input: null,
    output: null,
    output_sha256: null,
    error: null,
    skip_reason: null,
    started_at: null,
    attempt_started_at: null,
    finished_at: null,
    timer: null,
    host_calls: [],
    reservation: null,
    charged_unreserved: null,
  };
}
