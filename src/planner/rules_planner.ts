import { AosError } from "../errors/mod.ts";
import type { Plan, PlanStep } from "../plan/mod.ts";
import type { Json } from "../store/mod.ts";

/** One rule: a goal pattern and the steps it stands for. */
interface Rule {
  pattern: RegExp;
  steps: (
    match: RegExpExecArray,
    next: (text: string) => PlanStep[],
  ) => PlanStep[];
}

const UNIT_MS: Record<string, number> = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

// Ordered: the first matching rule wins. Each builds steps from the goal's
// words only, so the same goal always gives the same plan.
const RULES: Rule[] = [
  {
    pattern: /^(.+?)\s+then\s+(.+)$/is,
    steps: (match, next) => chain([next(match[1]!), next(match[2]!)]),
  },
  {
    pattern: /^wait\s+(\d{1,6})\s+(second|minute|hour|day)s?$/i,
    steps: (
      match,
    ) => [{
      id: "wait",
      sleep_ms: Number(match[1]) * UNIT_MS[match[2]!.toLowerCase()]!,
      params: {},
    }],
  },
  {
    pattern: /^fetch\s+(https?:\/\/\S+?)(?:\s+and\s+extract\s+(\$\S*))?$/i,
    steps: (match) => {
      const fetch: PlanStep = {
        id: "fetch",
        skill: "http_call",
        params: { method: "GET", url: match[1]! },
      };
      if (match[2] === undefined) return [fetch];
      return [fetch, {
        id: "extract",
        skill: "json_transform",
        params: {
          op: "extract",
          input: "{{steps.fetch.output.body}}",
          path: match[2],
        },
      }];
    },
  },
  {
    pattern: /^extract\s+(\$\S*)\s+from\s+(\{.*\}|\[.*\])$/is,
    steps: (match) => [{
      id: "extract",
      skill: "json_transform",
      params: { op: "extract", input: parseJson(match[2]!), path: match[1]! },
    }],
  },
  {
    pattern: /^(?:ask|summari[sz]e)\s+"(.+)"$/is,
    steps: (
      match,
    ) => [{
      id: "ask",
      skill: "llm_invoke",
      params: { adapter: "stub", model: "stub-1", prompt: match[1]! },
    }],
  },
];

function parseJson(text: string): Json {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AosError("PLANNER_NO_PLAN", "the goal's JSON does not parse", {
      cause: error,
      details: { json: text.slice(0, 200) },
    });
  }
}

/**
 * Joins parts in order: each part's step ids (and its templates' references
 * to them) get the part's number as a prefix, and each part's first step
 * waits for the previous part's last step.
 */
function chain(parts: PlanStep[][]): PlanStep[] {
  const steps: PlanStep[] = [];
  parts.forEach((part, number) => {
    const prefix = `p${number + 1}_`;
    const rename = (id: string) => `${prefix}${id}`;
    part.forEach((step, index) => {
      const params = JSON.parse(
        JSON.stringify(step.params).replace(
          /\{\{\s*steps\.([A-Za-z][A-Za-z0-9_-]*)\./g,
          (_m, id: string) => `{{steps.${rename(id)}.`,
        ),
      );
      const previous = index > 0
        ? [rename(part[index - 1]!.id)]
        : steps.length > 0
        ? [steps[steps.length - 1]!.id]
        : [];
      steps.push({
        ...step,
        id: rename(step.id),
        params,
        depends_on: previous,
      });
    });
  });
  return steps;
}

function stepsFor(text: string, depth: number): PlanStep[] {
  if (depth > 16) {
    throw new AosError("PLANNER_NO_PLAN", "the goal chains more than 16 parts");
  }
  const goal = text.trim();
  for (const rule of RULES) {
    const match = rule.pattern.exec(goal);
    if (match !== null) {
      return rule.steps(match, (part) => stepsFor(part, depth + 1));
    }
  }
  throw new AosError(
    "PLANNER_NO_PLAN",
    `no planning rule understands "${goal.slice(0, 200)}"`,
    {
      details: {
        goal: goal.slice(0, 200),
        forms: [
          "fetch <url> [and extract <$.path>]",
          "extract <$.path> from <json>",
          'ask "<prompt>"',
          "wait <n> seconds|minutes|hours|days",
          "<goal> then <goal>",
        ],
      },
    },
  );
}

/**
 * The deterministic planner: a fixed list of goal forms, each mapped to
 * steps. Pure: the same goal text always gives the same plan; anything it
 * does not understand is PLANNER_NO_PLAN with the forms it knows.
 */
export function planWithRules(
  goal: string,
  context?: Record<string, unknown>,
): Plan {
  const steps = stepsFor(goal, 0);
  return {
    steps,
    ...(context === undefined
      ? {}
      : { context: context as Record<string, Json> }),
  };
}
