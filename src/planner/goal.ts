import { z } from "zod";

/** The zod schema of a goal: what to achieve, and which planner turns it into a plan. */
export const goalSchema = z.object({
  goal: z.string().min(1).max(4000),
  planner: z.enum(["rules", "llm"]).default("rules"),
  /** For the LLM planner: how `llm_invoke` is called. */
  planner_options: z.object({
    adapter: z.enum(["stub", "openai", "anthropic"]).default("openai"),
    model: z.string().min(1).max(200).default("gpt-4o-mini"),
    base_url: z.string().url().optional(),
    temperature: z.number().min(0).max(2).default(0),
  }).strict().optional(),
  context: z.record(z.string(), z.unknown()).optional(),
}).strict();

/** A goal as submitted. */
export type Goal = z.infer<typeof goalSchema>;

/** The skill the LLM planner asks. */
export const PLANNER_SKILL = "llm_invoke";

/** The step id under which the planner's host calls are recorded. */
export const PLANNER_STEP = "__planner";
