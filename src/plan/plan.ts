import { z } from "zod";
import { AosError } from "../errors/mod.ts";
import type { Json } from "../store/mod.ts";
import { templateReferences } from "./template.ts";

const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const SKILL_REF = /^[a-z0-9_.-]{1,64}(@[0-9A-Za-z.+-]{1,64})?$/;

const jsonSchema: z.ZodType<Json> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(jsonSchema),
    z.record(z.string(), jsonSchema),
  ])
);

/** The zod schema of one step. */
export const stepSchema = z.object({
  id: z.string().regex(
    STEP_ID,
    "letters, digits, _ and -, starting with a letter",
  ),
  skill: z.string().regex(SKILL_REF, "a skill name, optionally @version"),
  params: z.record(z.string(), jsonSchema).default({}),
}).strict();

/** The zod schema of a plan: sequential steps, 1 to 100 of them. */
export const planSchema = z.object({
  steps: z.array(stepSchema).min(1).max(100),
}).strict();

/** One step of a plan. */
export type PlanStep = z.infer<typeof stepSchema>;

/** A plan: steps run in order; a step's params may use earlier outputs. */
export type Plan = z.infer<typeof planSchema>;

/**
 * Checks what the schema cannot: unique ids, and that every template refers to
 * a step that runs earlier. Skill names are checked against the registry by
 * the caller, which knows what is installed.
 */
export function checkPlan(plan: Plan): void {
  const seen = new Set<string>();
  plan.steps.forEach((step, index) => {
    if (seen.has(step.id)) {
      throw new AosError(
        "PLAN_DUPLICATE_STEP_ID",
        `step id "${step.id}" is used twice`,
        { details: { pointer: `/steps/${index}/id`, step: step.id } },
      );
    }
    for (
      const reference of templateReferences(
        step.params,
        `/steps/${index}/params`,
      )
    ) {
      if (!seen.has(reference.step)) {
        throw new AosError(
          "PLAN_UNKNOWN_REFERENCE",
          `step "${step.id}" refers to "${reference.step}", which is not an earlier step`,
          {
            details: { pointer: reference.pointer, reference: reference.step },
          },
        );
      }
    }
    seen.add(step.id);
  });
}
