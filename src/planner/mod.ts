/** Planners: turn a goal into a plan (deterministic rules, or an LLM asked through llm_invoke). */
export { type Goal, goalSchema, PLANNER_SKILL, PLANNER_STEP } from "./goal.ts";
export {
  planFromAnswer,
  plannerRequest,
  type SkillDescription,
} from "./llm_planner.ts";
export { planWithRules } from "./rules_planner.ts";
