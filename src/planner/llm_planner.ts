import { AosError } from "../errors/mod.ts";
import type { Json } from "../store/mod.ts";
import type { Goal } from "./goal.ts";

/** What the LLM planner tells the model about one installed skill. */
export interface SkillDescription {
  name: string;
  version: string;
  description: string;
  input_schema: Record<string, unknown>;
}

const SYSTEM_PROMPT = [
  "You plan workflows for AOS. Answer with one JSON object and nothing else:",
  '{"steps":[{"id":"<letters, digits, _ or ->","skill":"<a skill name below>","params":{...},"depends_on":["<earlier step id>"]}]}',
  "Params must satisfy the skill's input_schema. A param may use an earlier step's output as",
  '"{{steps.<id>.output.<path>}}". Use only the skills listed. Keep plans short.',
].join("\n");

/** The `llm_invoke` params that ask the model for a plan. Deterministic in its inputs. */
export function plannerRequest(
  goal: Goal,
  skills: readonly SkillDescription[],
): Record<string, Json> {
  const catalog = skills.map((skill) => ({
    name: skill.name,
    description: skill.description,
    input_schema: skill.input_schema as Json,
  }));
  const options = goal.planner_options ??
    { adapter: "openai" as const, model: "gpt-4o-mini", temperature: 0 };
  return {
    adapter: options.adapter,
    model: options.model,
    temperature: options.temperature,
    ...(options.base_url === undefined ? {} : { base_url: options.base_url }),
    system_prompt: SYSTEM_PROMPT,
    prompt: `Skills:\n${JSON.stringify(catalog)}\n\nGoal:\n${goal.goal}`,
  };
}

/**
 * The plan object in a model's answer: the answer itself, or the first JSON
 * object in it (models like to add fences or prose). Not validated here.
 */
export function planFromAnswer(content: string): unknown {
  const trimmed = content.trim();
  const candidates = [
    trimmed,
    trimmed.replace(/^```(?:json)?\s*|\s*```$/g, ""),
  ];
  const start = trimmed.indexOf("{");
  const end = trimmed.lastIndexOf("}");
  if (start >= 0 && end > start) candidates.push(trimmed.slice(start, end + 1));
  for (const candidate of candidates) {
    try {
      const value = JSON.parse(candidate);
      if (typeof value === "object" && value !== null) return value;
    } catch {
      // try the next reading
    }
  }
  throw new AosError(
    "PLANNER_INVALID_PLAN",
    "the model's answer holds no JSON plan",
    {
      details: { answer: content.slice(0, 500) },
    },
  );
}
