import { AosError } from "../src/errors/mod.ts";
import { checkPlan, type Plan, planSchema } from "../src/plan/mod.ts";
import {
  emptyHead,
  headAfter,
  type JsonObject,
  type LogRecord,
  sealRecord,
} from "../src/store/mod.ts";
import { type ForkOrigin, messageOf, type SkillPin } from "./run_messages.ts";
import { fold, type RunState } from "./run_reducer.ts";

/** What a step of a fork changes: new params, another skill, or both. */
export interface StepOverride {
  params?: JsonObject;
  skill?: string;
}

/** `POST /v1/runs/:id/fork`: where to fork, and what to change from there on. */
export interface ForkRequest {
  from_step: string;
  overrides?: Record<string, StepOverride>;
}

/** A forked run's records, ready to store, and the state they fold into. */
export interface Fork {
  records: LogRecord[];
  state: RunState;
}

function invalid(message: string, pointer: string): AosError {
  return new AosError("RUN_FORK_INVALID", message, { details: { pointer } });
}

function stepOf(record: LogRecord): unknown {
  return record.body.step;
}

/**
 * Builds a fork of `parent`: a new run whose log is the parent's records up
 * to (not including) the first record about `from_step`, sealed again under
 * `runId`, with the overrides applied to the plan. Those records keep their
 * times and bodies, so the fork folds into the state the parent had there:
 * what the prefix did (outputs, host-call answers, signals) is not done
 * again, and a step running at the cut re-executes against its recorded
 * answers as after a crash. Only `from_step` and steps that had not begun
 * before it may be overridden; anything else would contradict the prefix.
 */
export function forkRun(
  parent: readonly LogRecord[],
  request: ForkRequest,
  options: { runId: string; pin: (reference: string) => SkillPin | undefined },
): Fork {
  const first = parent[0];
  if (first === undefined) throw new Error("a fork needs a parent log");
  const parentState = fold(parent.map(messageOf));
  const steps = parentState?.plan.steps ?? [];
  if (!steps.some((step) => step.id === request.from_step)) {
    throw invalid(
      `the parent's plan has no step "${request.from_step}"`,
      "/from_step",
    );
  }
  const cut = parent.findIndex((record, index) =>
    index > 0 && stepOf(record) === request.from_step
  );
  if (cut < 0) {
    throw new AosError(
      "RUN_FORK_STEP_NOT_REACHED",
      `run ${first.run_id} never reached step "${request.from_step}"`,
      { details: { run_id: first.run_id, step: request.from_step } },
    );
  }
  const prefix = parent.slice(0, cut);
  const overrides = request.overrides ?? {};
  for (const id of Object.keys(overrides)) {
    if (!steps.some((step) => step.id === id)) {
      throw invalid(
        `the parent's plan has no step "${id}"`,
        `/overrides/${id}`,
      );
    }
    if (prefix.some((record) => stepOf(record) === id)) {
      throw invalid(
        `step "${id}" began before "${request.from_step}"; its recorded prefix cannot change`,
        `/overrides/${id}`,
      );
    }
  }
  // The plan is in RunSubmitted, or, for a goal run, in PlanProduced.
  const planAt = first.body.plan === null
    ? prefix.findIndex((record) => record.type === "PlanProduced")
    : 0;
  if (planAt < 0) {
    throw invalid("the parent has no plan to fork", "/from_step");
  }
  const bodies = prefix.map((record) => record.body);
  const planBody = bodies[planAt]!;
  const pins = { ...(planBody.pins as unknown as Record<string, SkillPin>) };
  const plan = overridden(planBody.plan as unknown as Plan, overrides);
  for (const [id, override] of Object.entries(overrides)) {
    const reference = override.skill;
    if (reference === undefined || pins[reference] !== undefined) continue;
    const pin = options.pin(reference);
    if (pin === undefined) {
      throw new AosError(
        "PLAN_UNKNOWN_SKILL",
        `skill "${reference}" is not installed`,
        { details: { pointer: `/overrides/${id}/skill`, skill: reference } },
      );
    }
    pins[reference] = pin;
  }
  bodies[planAt] = {
    ...planBody,
    plan: plan as unknown as JsonObject,
    pins: pins as unknown as JsonObject,
  };
  const origin: ForkOrigin = {
    run_id: first.run_id,
    from_step: request.from_step,
    from_seq: cut,
    digest: prefix[cut - 1]!.hash,
  };
  bodies[0] = { ...bodies[0]!, fork: origin as unknown as JsonObject };
  const records: LogRecord[] = [];
  let head = emptyHead(options.runId);
  prefix.forEach((record, index) => {
    const sealed = sealRecord(head, {
      type: record.type,
      body: bodies[index]!,
      at: record.at,
    });
    records.push(sealed);
    head = headAfter(sealed);
  });
  const state = fold(records.map(messageOf));
  if (state === undefined) throw new Error("a fork folds into no state");
  return { records, state };
}

function overridden(plan: Plan, overrides: Record<string, StepOverride>): Plan {
  if (Object.keys(overrides).length === 0) return plan;
  const changed = {
    ...plan,
    steps: plan.steps.map((step) => {
      const override = overrides[step.id];
      if (override === undefined) return step;
      return {
        ...step,
        ...(override.params === undefined ? {} : { params: override.params }),
        ...(override.skill === undefined ? {} : { skill: override.skill }),
      };
    }),
  };
  const parsed = planSchema.safeParse(changed);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(
      `the overridden plan is not valid: ${issue.message}`,
      "/" + issue.path.join("/"),
    );
  }
  checkPlan(parsed.data);
  return parsed.data;
}
