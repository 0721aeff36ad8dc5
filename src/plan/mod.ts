/** Plans: what a run executes, validated before it is accepted. */
export {
  type Condition,
  conditionSchema,
  evaluateCondition,
} from "./condition.ts";
export {
  checkPlan,
  CONCURRENCY_DEFAULT,
  dependenciesOf,
  jsonSchema,
  type Plan,
  planSchema,
  type PlanStep,
  SIGNAL_NAME,
  stepSchema,
  waitSignalSchema,
} from "./plan.ts";
export {
  backoffMs,
  DEFAULT_RETRY,
  NO_RETRY,
  retries,
  type RetryPolicy,
  retrySchema,
} from "./retry.ts";
export {
  lookupPath,
  resolveTemplates,
  type TemplateReference,
  templateReferences,
  type TemplateScope,
} from "./template.ts";
