import { AosError } from "../src/errors/mod.ts";
import { utcDay } from "../src/budget/mod.ts";
import { dependenciesOf } from "../src/plan/mod.ts";
import type { RunMessage } from "./run_messages.ts";
import type { Effect, Reduction, RunEnvelope } from "./run_reducer.ts";
import {
  budgetUse,
  costOfOutput,
  invariant,
  pinFor,
  planStep,
  type RunState,
  stepDone,
  type StepState,
} from "./run_state.ts";

/**
 * The budget ledger of a run, pure. A step attempt's estimate is reserved
 * against the tenant's UTC day before it starts (the shell asks the store:
 * `ReserveBudget`, answered by BudgetReserved or BudgetRefused); a succeeded
 * attempt is charged its actual `cost_cents` and the rest released; any
 * other end of an attempt releases all of it. Each BudgetReleased closes a
 * reservation and asks the shell to settle it in the store (`SettleBudget`).
 *
 * Ledger 1 reserves for every attempt, zero cents included. Ledger 2 (runs
 * submitted since) reserves only an estimate of cents: an attempt without
 * one holds nothing, so a run of free steps writes no budget record and
 * no ledger entry. Should such an attempt's output report a cost anyway,
 * it is charged by an unreserved BudgetCharged, booked on the UTC day the
 * attempt ended (`BookCharge`, with that record).
 */

type BudgetMessage = Extract<
  RunEnvelope,
  {
    type:
      | "BudgetReserved"
      | "BudgetRefused"
      | "BudgetCharged"
      | "BudgetReleased";
  }
>;

/** The store key of an attempt's reservation. */
export function reservationKey(
  runId: string,
  step: string,
  attempt: number,
): string {
  return `${runId}/${step}/${attempt}`;
}

function stepOf(state: RunState, id: string): StepState {
  const step = state.steps.find((candidate) => candidate.id === id);
  invariant(step !== undefined, `unknown step ${id}`);
  return step;
}

function withStep(state: RunState, next: StepState): RunState {
  return {
    ...state,
    steps: state.steps.map((step) => step.id === next.id ? next : step),
  };
}

/** The estimate a step's next attempt reserves, or an invariant failure when it may not start. */
function nextAttemptEstimate(state: RunState, step: StepState): number {
  const fallback = step.status === "fallback_ready";
  const planned = planStep(state, step.id);
  const waiting = step.status === "pending" &&
    dependenciesOf(state.plan, state.plan.steps.indexOf(planned)).some((id) =>
      !stepDone(stepOf(state, id))
    );
  invariant(
    (fallback || step.status === "pending" || step.status === "ready") &&
      !waiting,
    `budget for step ${step.id} that cannot start (${step.status})`,
  );
  return pinFor(state, planned, fallback).cost_estimate_cents ?? 0;
}

/** Applies a Budget* message. */
export function applyBudget(
  state: RunState,
  message: BudgetMessage,
): Reduction {
  invariant(state.ledger !== 0, `${message.type} in a run without a ledger`);
  const step = stepOf(state, message.body.step);
  const { attempt, cents } = message.body;
  switch (message.type) {
    case "BudgetReserved":
    case "BudgetRefused": {
      invariant(
        message.type === "BudgetRefused" || state.ledger === 1 || cents > 0,
        `step ${step.id} reserved nothing in a ledger that does not`,
      );
      invariant(
        step.reservation === null && attempt === step.attempt + 1,
        `budget answer for step ${step.id} attempt ${attempt} out of order`,
      );
      invariant(
        cents === nextAttemptEstimate(state, step),
        `step ${step.id} reserved ${cents} cents, not its estimate`,
      );
      if (message.type === "BudgetRefused") {
        const { limit_cents, spent_cents, reserved_cents, day, scope } =
          message.body;
        const left = Math.max(0, limit_cents - spent_cents - reserved_cents);
        const error = new AosError(
          "BUDGET_EXCEEDED",
          scope === "run"
            ? `step ${step.id} needs ${cents} cents; the run has ${left} of ${limit_cents} left`
            : `step ${step.id} needs ${cents} cents; tenant ${state.tenant} has ${left} of ${limit_cents} left for ${day}`,
          {
            // A run's own budget reads as it always has (budget_cents).
            details: scope === "run"
              ? {
                scope,
                budget_cents: limit_cents,
                spent_cents,
                reserved_cents,
                estimate_cents: cents,
              }
              : {
                scope,
                day,
                limit_cents,
                spent_cents,
                reserved_cents,
                estimate_cents: cents,
              },
          },
        );
        return {
          state: {
            ...state,
            budget_error: { step: step.id, error: error.toRecorded() },
          },
          effects: [],
        };
      }
      const reservation = {
        attempt,
        cents,
        day: message.body.day,
        charged_cents: null,
      };
      return { state: withStep(state, { ...step, reservation }), effects: [] };
    }
    case "BudgetCharged": {
      if (message.body.day !== undefined) {
        return chargeUnreserved(state, step, attempt, cents, message.body.day);
      }
      const reservation = step.reservation;
      invariant(
        reservation !== null && reservation.attempt === attempt &&
          reservation.charged_cents === null && step.status === "succeeded",
        `charge for step ${step.id} attempt ${attempt} out of order`,
      );
      return {
        state: withStep(
          { ...state, charged_cents: state.charged_cents + cents },
          { ...step, reservation: { ...reservation, charged_cents: cents } },
        ),
        effects: [],
      };
    }
    case "BudgetReleased": {
      const reservation = step.reservation;
      invariant(
        reservation !== null && reservation.attempt === attempt &&
          cents === releasable(reservation),
        `release for step ${step.id} attempt ${attempt} out of order`,
      );
      return {
        state: withStep(state, { ...step, reservation: null }),
        effects: [{
          kind: "SettleBudget",
          step: step.id,
          attempt,
          reserved_cents: reservation.cents,
          charged_cents: reservation.charged_cents ?? 0,
        }],
      };
    }
  }
}

/** Applies the BudgetCharged of an attempt that reserved nothing (ledger 2). */
function chargeUnreserved(
  state: RunState,
  step: StepState,
  attempt: number,
  cents: number,
  day: string,
): Reduction {
  const owed = unreservedCharge(state, step);
  invariant(
    owed > 0 && owed === cents && attempt === step.attempt,
    `unreserved charge for step ${step.id} attempt ${attempt} out of order`,
  );
  return {
    state: withStep(
      { ...state, charged_cents: state.charged_cents + cents },
      { ...step, charged_unreserved: attempt },
    ),
    effects: [{ kind: "BookCharge", step: step.id, attempt, cents, day }],
  };
}

/**
 * What a ledger-2 step's last attempt owes without a reservation: the cost
 * its output reports, when the attempt succeeded without an estimate (so
 * reserved nothing) and is not charged yet; 0 otherwise.
 */
function unreservedCharge(state: RunState, step: StepState): number {
  if (
    state.ledger !== 2 || step.status !== "succeeded" ||
    step.reservation !== null || step.charged_unreserved === step.attempt
  ) return 0;
  // Asked for every succeeded step on every decision: a free step (no
  // reported cost, the usual case) ends here, before any plan lookup.
  const cost = costOfOutput(step.output);
  if (cost === 0) return 0;
  const planned = planStep(state, step.id);
  const skill = step.fallback ? planned.fallback_skill : planned.skill;
  if (skill === undefined) return 0;
  if ((pinFor(state, planned, step.fallback).cost_estimate_cents ?? 0) > 0) {
    return 0;
  }
  return cost;
}

function releasable(
  reservation: NonNullable<StepState["reservation"]>,
): number {
  return Math.max(0, reservation.cents - (reservation.charged_cents ?? 0));
}

function release(step: StepState): RunMessage {
  const reservation = step.reservation!;
  return {
    type: "BudgetReleased",
    body: {
      step: step.id,
      attempt: reservation.attempt,
      cents: releasable(reservation),
    },
  };
}

/**
 * The ledger's next decision, taken before any other: charge a succeeded
 * attempt, then release what it did not use; release the whole reservation
 * of an attempt that ended any other way. Undefined when there is none.
 */
export function settlementDecision(state: RunState): RunMessage | undefined {
  if (state.ledger === 0) return undefined;
  for (const step of state.steps) {
    const owed = unreservedCharge(state, step);
    if (owed > 0) {
      return {
        type: "BudgetCharged",
        body: {
          step: step.id,
          attempt: step.attempt,
          cents: owed,
          day: utcDay(step.finished_at ?? state.last_at),
        },
      };
    }
    const reservation = step.reservation;
    if (reservation === null || reservation.attempt !== step.attempt) continue;
    if (step.status === "running") continue;
    if (step.status === "succeeded" && reservation.charged_cents === null) {
      return {
        type: "BudgetCharged",
        body: {
          step: step.id,
          attempt: reservation.attempt,
          cents: costOfOutput(step.output),
        },
      };
    }
    return release(step);
  }
  return undefined;
}

/**
 * The decision that an attempt's estimate does not fit the run's own
 * budget. Recorded (unlike an older run's direct RunFailed) so the refusal
 * outlives the releases that come before the run's end.
 */
export function runBudgetRefusal(
  state: RunState,
  step: string,
  estimateCents: number,
): RunMessage {
  const use = budgetUse(state);
  return {
    type: "BudgetRefused",
    body: {
      step,
      attempt: stepOf(state, step).attempt + 1,
      cents: estimateCents,
      scope: "run",
      limit_cents: state.plan.budget_cents ?? 0,
      ...use,
    },
  };
}

/**
 * `final` (RunSucceeded, RunFailed, RunCancelled) once no reservation is
 * open; until then, the release of the next open one, so a run never ends
 * holding its tenant's budget.
 */
export function endRun(state: RunState, final: RunMessage): Effect[] {
  const holding = state.ledger !== 0
    ? state.steps.find((step) => step.reservation !== null)
    : undefined;
  const message = holding === undefined ? final : release(holding);
  return [{ kind: "AppendMessage", message }];
}
