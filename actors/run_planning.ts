import { AosError, toAosError } from "../src/errors/mod.ts";
import { type Metrics, observeModelCall } from "../src/metrics/mod.ts";
import { checkPlan, type Plan, planSchema } from "../src/plan/mod.ts";
import {
  type Goal,
  planFromAnswer,
  PLANNER_STEP,
  plannerRequest,
  planWithRules,
} from "../src/planner/mod.ts";
import type { SkillRegistry } from "../src/skills/registry.ts";
import type { SkillPin } from "./run_messages.ts";
import type { GoalPlanner, StepExecutor } from "./run_ports.ts";

/** What planning and pinning need. */
export interface RunPlanningDeps {
  registry: SkillRegistry;
  executor: StepExecutor;
  metrics: Metrics;
}

/**
 * How a run gets its plan and pins: a submitted plan is checked and every
 * skill it names is pinned to what the registry has installed now; a goal's
 * plan is made by a planner and then checked and pinned the same way.
 */
export class RunPlanning {
  readonly #deps: RunPlanningDeps;

  constructor(deps: RunPlanningDeps) {
    this.#deps = deps;
  }

  /** Validates a plan against the registry and pins every skill it names. */
  pinPlan(plan: Plan): Record<string, SkillPin> {
    checkPlan(plan);
    const pins: Record<string, SkillPin> = {};
    plan.steps.forEach((step, index) => {
      for (const field of ["skill", "fallback_skill"] as const) {
        const reference = step[field];
        if (reference === undefined || pins[reference] !== undefined) continue;
        const pin = this.#deps.registry.pin(reference);
        if (pin === undefined) {
          throw new AosError(
            "PLAN_UNKNOWN_SKILL",
            `step "${step.id}" uses unknown skill "${reference}"`,
            {
              details: {
                pointer: `/steps/${index}/${field}`,
                skill: reference,
              },
            },
          );
        }
        pins[reference] = pin;
      }
    });
    return pins;
  }

  /** Pins one installed skill; PLAN_UNKNOWN_SKILL at `pointer` otherwise. */
  pinSkill(reference: string, pointer: string): SkillPin {
    const pin = this.#deps.registry.pin(reference);
    if (pin === undefined) {
      throw new AosError(
        "PLAN_UNKNOWN_SKILL",
        `skill "${reference}" is not installed`,
        {
          details: { pointer, skill: reference },
        },
      );
    }
    return pin;
  }

  /**
   * Makes the plan of a goal run: the rules planner from the goal text
   * alone; the LLM planner by running the pinned `llm_invoke` as a
   * pseudo-step whose host calls are recorded, so a crash mid-planning
   * repeats no model call. Any plan is validated and pinned like a
   * submitted one.
   */
  readonly planGoal: GoalPlanner = async (
    { run_id, goal, pin, hostCalls },
  ) => {
    try {
      let plan: Plan;
      if (goal.planner === "rules") {
        plan = planWithRules(goal.goal, goal.context);
      } else {
        if (pin === undefined) {
          throw new AosError(
            "PLANNER_NO_PLAN",
            "the run pinned no llm_invoke for its planner",
          );
        }
        const skills = this.#deps.registry.list().map((skill) => ({
          name: skill.name,
          version: skill.version,
          description: skill.manifest.description,
          input_schema: skill.manifest.input_schema,
        }));
        const outcome = await this.#deps.executor.execute({
          run_id,
          step: PLANNER_STEP,
          attempt: 1,
          pin,
          input: plannerRequest(goal, skills),
          hostCalls,
        });
        if (!outcome.ok) return { ok: false, error: outcome.error };
        observeModelCall(this.#deps.metrics, pin.name, outcome.output);
        const proposed = planSchema.safeParse(
          planFromAnswer(
            String((outcome.output as { content?: unknown }).content ?? ""),
          ),
        );
        if (!proposed.success) {
          throw new AosError(
            "PLANNER_INVALID_PLAN",
            "the model proposed a plan that is not valid",
            {
              details: {
                issues: proposed.error.issues.map((issue) =>
                  `${issue.path.join(".")}: ${issue.message}`
                ).slice(0, 20),
              },
            },
          );
        }
        plan = {
          ...proposed.data,
          ...(goal.context === undefined
            ? {}
            : { context: goal.context as Plan["context"] }),
        };
      }
      const pins = this.#pinGoalPlan(plan, goal);
      return { ok: true, plan, pins, planner: goal.planner };
    } catch (error) {
      return { ok: false, error: toAosError(error).toRecorded() };
    }
  };

  #pinGoalPlan(plan: Plan, goal: Goal): Record<string, SkillPin> {
    try {
      return this.pinPlan(plan);
    } catch (error) {
      if (goal.planner !== "llm" || !(error instanceof AosError)) throw error;
      throw new AosError(
        "PLANNER_INVALID_PLAN",
        `the model's plan was refused: ${error.message}`,
        {
          cause: error,
          details: { refused_with: error.code, ...error.details },
        },
      );
    }
  }
}
