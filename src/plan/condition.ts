import { z } from "zod";
import { canonicalJson, type Json } from "../store/mod.ts";
import { lookupPath, type TemplateScope } from "./template.ts";

const PATTERN_LENGTH_MAX = 256;
const MATCH_INPUT_LENGTH_MAX = 65_536;

/** The zod schema of a step condition. */
export const conditionSchema = z.object({
  /** `steps.<id>.output.<path>` or `context.<path>`. */
  path: z.string().min(1).max(512),
  op: z.enum([
    "eq",
    "ne",
    "gt",
    "lt",
    "exists",
    "not_exists",
    "contains",
    "matches",
  ]),
  value: z.lazy(() => z.unknown()).optional(),
}).strict().superRefine((condition, context) => {
  const needsValue = condition.op !== "exists" && condition.op !== "not_exists";
  if (needsValue && condition.value === undefined) {
    context.addIssue({
      code: "custom",
      message: `op ${condition.op} needs a value`,
      path: ["value"],
    });
  }
  if (condition.op === "matches") {
    if (
      typeof condition.value !== "string" ||
      condition.value.length > PATTERN_LENGTH_MAX
    ) {
      context.addIssue({
        code: "custom",
        message:
          `matches needs a pattern of at most ${PATTERN_LENGTH_MAX} characters`,
        path: ["value"],
      });
    } else {
      try {
        new RegExp(condition.value, "u");
      } catch {
        context.addIssue({
          code: "custom",
          message: "not a valid regular expression",
          path: ["value"],
        });
      }
    }
  }
});

/** A step condition. */
export type Condition = z.infer<typeof conditionSchema>;

/**
 * Whether `condition` holds over earlier outputs and the plan's context.
 * Pure. A path that does not resolve only satisfies `not_exists`.
 */
export function evaluateCondition(
  condition: Condition,
  scope: TemplateScope,
): boolean {
  const found = lookupPath(condition.path, scope);
  if (condition.op === "exists") return found !== undefined;
  if (condition.op === "not_exists") return found === undefined;
  if (found === undefined) return false;
  const expected = condition.value as Json;
  switch (condition.op) {
    case "eq":
      return canonicalJson(found) === canonicalJson(expected);
    case "ne":
      return canonicalJson(found) !== canonicalJson(expected);
    case "gt":
    case "lt":
      return compare(found, expected, condition.op);
    case "contains":
      return contains(found, expected);
    case "matches":
      return typeof found === "string" &&
        found.length <= MATCH_INPUT_LENGTH_MAX &&
        new RegExp(expected as string, "u").test(found);
  }
}

function compare(left: Json, right: Json, op: "gt" | "lt"): boolean {
  const comparable = (typeof left === "number" && typeof right === "number") ||
    (typeof left === "string" && typeof right === "string");
  if (!comparable) return false;
  return op === "gt" ? left > right : left < right;
}

function contains(haystack: Json, needle: Json): boolean {
  if (typeof haystack === "string") {
    return typeof needle === "string" && haystack.includes(needle);
  }
  if (Array.isArray(haystack)) {
    return haystack.some((item) =>
      canonicalJson(item) === canonicalJson(needle)
    );
  }
  if (haystack !== null && typeof haystack === "object") {
    return typeof needle === "string" && Object.hasOwn(haystack, needle);
  }
  return false;
}
