/** Plans: what a run executes, validated before it is accepted. */
export {
  checkPlan,
  type Plan,
  planSchema,
  type PlanStep,
  stepSchema,
} from "./plan.ts";
export {
  resolveTemplates,
  type TemplateReference,
  templateReferences,
} from "./template.ts";
