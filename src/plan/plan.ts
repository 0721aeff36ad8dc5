import { z } from "zod";
import { AosError } from "../errors/mod.ts";
import type { Json } from "../store/mod.ts";
import { conditionSchema } from "./condition.ts";
import { retrySchema } from "./retry.ts";
import { templateReferences } from "./template.ts";
import { jsonSchema } from "./json_value.ts";

export { jsonSchema };

const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const SKILL_REF = /^[a-z0-9_.-]{1,64}(@[0-9A-Za-z.+-]{1,64})?$/;

const stepId = z.string().regex(
  STEP_ID,
  "letters, digits, _ and -, starting with a letter",
);
const skillRef = z.string().regex(
  SKILL_REF,
  "a skill name, optionally @version",
);

/** Signal names: like step ids. */
export const SIGNAL_NAME = STEP_ID;

/** The zod schema of a `wait_signal` step's wait. */
export const waitSignalSchema = z.object({
  /** The signal to wait for (`POST /v1/runs/:id/signals/:name`). */
  name: z.string().regex(
    SIGNAL_NAME,
    "letters, digits, _ and -, starting with a letter",
  ),
  /** Without the signal by then, the step fails with SIGNAL_WAIT_TIMEOUT. */
  timeout_ms: z.number().int().min(1).max(366 * 24 * 3_600_000).optional(),
}).strict();

/** The zod schema of one step. */
export const stepSchema = z.object({
  id: stepId,
  /** The skill to run; absent for a `sleep_ms` step. */
  skill: skillRef.optional(),
  params: z.record(z.string(), jsonSchema).default({}),
  /** Steps that must finish first. Absent: the previous step (plans run in order by default). */
  depends_on: z.array(stepId).max(100).optional(),
  /** Run only when this holds; otherwise the step is skipped. */
  condition: conditionSchema.optional(),
  /** What a failure (after retries) does: end the run, carry on, or run a fallback skill. */
  on_error: z.enum(["abort", "continue", "retry", "fallback"]).optional(),
  retry: retrySchema.optional(),
  fallback_skill: skillRef.optional(),
  fallback_params: z.record(z.string(), jsonSchema).optional(),
  /** Per-attempt limit; the skill's manifest limit still applies when lower. */
  timeout_ms: z.number().int().min(1).max(3_600_000).optional(),
  /** Name of this step's output in the run's output. */
  output_key: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/).optional(),
  /** A durable timer instead of a skill: the step waits this long. */
  sleep_ms: z.number().int().min(0).max(366 * 24 * 3_600_000).optional(),
  /** Instead of `skill`: wait for a signal; the step's output is `{ name, payload }`. */
  wait_signal: waitSignalSchema.optional(),
  /**
   * When the step has failed for good (retries and fallback spent): `fail`
   * (default: `on_error` decides) or `pause` the run until it is resumed.
   */
  on_exhausted: z.enum(["fail", "pause"]).optional(),
}).strict();

/** The zod schema of a plan. */
export const planSchema = z.object({
  steps: z.array(stepSchema).min(1).max(100),
  /** Values steps can use as `{{context.<path>}}`. */
  context: z.record(z.string(), jsonSchema).optional(),
  /** Defaults for every step. */
  defaults: z.object({
    on_error: z.enum(["abort", "continue", "retry"]).optional(),
    retry: retrySchema.optional(),
    timeout_ms: z.number().int().min(1).max(3_600_000).optional(),
  }).strict().optional(),
  /** Most steps running at once (default 4). */
  concurrency: z.number().int().min(1).max(32).optional(),
  /**
   * Most the run may spend, in cents. Before a step starts, its skill's
   * cost estimate is reserved; a step that would not fit ends the run with
   * BUDGET_EXCEEDED, and so does a charge (the output's `cost_cents`) that
   * overruns it.
   */
  budget_cents: z.number().int().min(0).max(100_000_000).optional(),
  /** When the budget is exhausted: `fail` the run (default) or `pause` it. */
  on_budget_exhausted: z.enum(["fail", "pause"]).optional(),
}).strict();

/** One step of a plan. */
export type PlanStep = z.infer<typeof stepSchema>;

/** A plan: a DAG of steps (in order unless `depends_on` says otherwise). */
export type Plan = z.infer<typeof planSchema>;

/** Default of `Plan.concurrency`. */
export const CONCURRENCY_DEFAULT = 4;

/** The steps `step` waits for (the previous one when `depends_on` is absent). */
export function dependenciesOf(plan: Plan, index: number): string[] {
  const step = plan.steps[index]!;
  if (step.depends_on !== undefined) return step.depends_on;
  return index === 0 ? [] : [plan.steps[index - 1]!.id];
}

function planError(
  code: "PLAN_INVALID" | "PLAN_DUPLICATE_STEP_ID" | "PLAN_UNKNOWN_REFERENCE",
  message: string,
  pointer: string,
  extra: Record<string, Json> = {},
): AosError {
  return new AosError(code, message, { details: { pointer, ...extra } });
}

/**
 * Checks what the schema cannot: unique ids; known dependencies without
 * cycles or self-references; a skill or `sleep_ms` (not both); fallbacks only
 * with `on_error: fallback`; templates that refer to steps this one depends
 * on (directly or through others). Skill names are checked against the
 * registry by the caller, which knows what is installed.
 */
export function checkPlan(plan: Plan): void {
  const index = new Map<string, number>();
  plan.steps.forEach((step, position) => {
    if (index.has(step.id)) {
      throw planError(
        "PLAN_DUPLICATE_STEP_ID",
        `step id "${step.id}" is used twice`,
        `/steps/${position}/id`,
        { step: step.id },
      );
    }
    index.set(step.id, position);
  });
  plan.steps.forEach((step, position) => checkStepShape(step, position));
  const dependencies = plan.steps.map((_, position) =>
    dependenciesOf(plan, position)
  );
  dependencies.forEach((deps, position) => {
    deps.forEach((dependency, at) => {
      const pointer = `/steps/${position}/depends_on/${at}`;
      if (dependency === plan.steps[position]!.id) {
        throw planError(
          "PLAN_INVALID",
          `step "${dependency}" depends on itself`,
          pointer,
        );
      }
      if (!index.has(dependency)) {
        throw planError(
          "PLAN_UNKNOWN_REFERENCE",
          `step "${
            plan.steps[position]!.id
          }" depends on unknown step "${dependency}"`,
          pointer,
          {
            reference: dependency,
          },
        );
      }
    });
  });
  const order = topologicalOrder(plan, dependencies, index);
  const ancestors = new Map<string, Set<string>>();
  for (const position of order) {
    const own = new Set<string>();
    for (const dependency of dependencies[position]!) {
      own.add(dependency);
      for (const above of ancestors.get(dependency)!) own.add(above);
    }
    ancestors.set(plan.steps[position]!.id, own);
  }
  plan.steps.forEach((step, position) => {
    const reachable = ancestors.get(step.id)!;
    for (const field of ["params", "fallback_params"] as const) {
      for (
        const reference of templateReferences(
          step[field] ?? {},
          `/steps/${position}/${field}`,
        )
      ) {
        if (reference.step === undefined) continue;
        if (!reachable.has(reference.step)) {
          throw planError(
            "PLAN_UNKNOWN_REFERENCE",
            `step "${step.id}" refers to "${reference.step}", which is not a step it depends on`,
            reference.pointer,
            { reference: reference.step },
          );
        }
      }
    }
  });
}

function checkStepShape(step: PlanStep, position: number): void {
  const at = `/steps/${position}`;
  const kinds = [step.skill, step.sleep_ms, step.wait_signal].filter((kind) =>
    kind !== undefined
  );
  if (kinds.length !== 1) {
    throw planError(
      "PLAN_INVALID",
      `step "${step.id}" needs exactly one of skill, sleep_ms and wait_signal`,
      at,
    );
  }
  const fallback = step.fallback_skill !== undefined ||
    step.fallback_params !== undefined;
  if (fallback && step.on_error !== "fallback") {
    throw planError(
      "PLAN_INVALID",
      `step "${step.id}" has a fallback but on_error is not "fallback"`,
      `${at}/on_error`,
    );
  }
  if (fallback && step.skill === undefined) {
    throw planError(
      "PLAN_INVALID",
      `step "${step.id}" has a fallback but no skill to fall back from`,
      `${at}/fallback_skill`,
    );
  }
  if (step.on_error === "fallback" && step.fallback_skill === undefined) {
    throw planError(
      "PLAN_INVALID",
      `step "${step.id}" has on_error "fallback" without a fallback_skill`,
      `${at}/fallback_skill`,
    );
  }
}

function topologicalOrder(
  plan: Plan,
  dependencies: string[][],
  index: Map<string, number>,
): number[] {
  const state = new Array<"new" | "visiting" | "done">(plan.steps.length).fill(
    "new",
  );
  const order: number[] = [];
  const visit = (position: number, path: string[]) => {
    if (state[position] === "done") return;
    if (state[position] === "visiting") {
      const cycle = [
        ...path.slice(path.indexOf(plan.steps[position]!.id)),
        plan.steps[position]!.id,
      ];
      throw planError(
        "PLAN_INVALID",
        `the plan has a cycle: ${cycle.join(" → ")}`,
        `/steps/${position}/depends_on`,
        {
          cycle,
        },
      );
    }
    state[position] = "visiting";
    for (const dependency of dependencies[position]!) {
      visit(index.get(dependency)!, [...path, plan.steps[position]!.id]);
    }
    state[position] = "done";
    order.push(position);
  };
  plan.steps.forEach((_, position) => visit(position, []));
  return order;
}
