// filter: the elements of an array whose value at `where.path` satisfies
// `where.op` against `where.value`. Values of different JSON types never
// match each other (not even with ne), and a path that does not resolve
// matches only `exists` with value false.
import { JsonArray, JsonBool, JsonKind, JsonObject, JsonValue } from "../../_lib/json";
import { compareNumbers, compareStrings, valuesEqual } from "./compare";
import { invalidParams, invalidPath, Outcome, succeeded, typeMismatch } from "./outcome";
import { ParsedPath, parsePath, resolvePath } from "./path";

// In the order of WHERE_OPS, which is sorted for the error message.
const CONTAINS = 0;
const ENDSWITH = 1;
const EQ = 2;
const EXISTS = 3;
const GT = 4;
const GTE = 5;
const LT = 6;
const LTE = 7;
const NE = 8;
const STARTSWITH = 9;
const WHERE_OPS = ["contains", "endswith", "eq", "exists", "gt", "gte", "lt", "lte", "ne", "startswith"];

class Condition {
  constructor(
    public readonly path: ParsedPath,
    public readonly op: i32,
    /** The value to compare with; for exists, true or false. */
    public readonly value: JsonValue,
    /** `value` as f64 when it is a number, read once rather than per element. */
    public readonly number: f64,
  ) {}
}

export function filter(params: JsonObject, input: JsonValue): Outcome {
  const whereValue = params.get("where");
  if (whereValue === null || !whereValue.isObject()) return invalidParams("where", "an object {path, op, value}");
  const where = whereValue.asObject();
  const pathValue = where.get("path");
  if (pathValue === null || !pathValue.isString()) return invalidParams("where.path", "a string");
  const opValue = where.get("op");
  const op = opValue !== null && opValue.isString() ? WHERE_OPS.indexOf(opValue.asString().value) : -1;
  if (op < 0) return invalidParams("where.op", "one of " + WHERE_OPS.join(", "));
  let value = where.get("value");
  const problem = valueProblem(op, value);
  if (problem !== null) return invalidParams("where.value", problem);
  if (value === null) value = new JsonBool(true); // exists without a value
  const path = parsePath(pathValue.asString().value);
  if (!path.ok) return invalidPath(path, "where.path");
  if (!input.isArray()) return typeMismatch("filter", "array", input);

  const condition = new Condition(path, op, value, value.isNumber() ? value.asNumber().toF64() : 0);
  const items = input.asArray().items;
  const result = new JsonArray();
  for (let i = 0; i < items.length; i++) {
    if (matches(condition, items[i])) result.push(items[i]);
  }
  return succeeded(result);
}

/** What `where.value` must be for `op`, or null when it is acceptable. */
function valueProblem(op: i32, value: JsonValue | null): string | null {
  if (op == EXISTS) {
    return value === null || value.kind == JsonKind.Bool ? null : "a boolean (or absent) for exists";
  }
  if (value === null) return "present for " + WHERE_OPS[op];
  if (op == GT || op == GTE || op == LT || op == LTE) {
    return value.isNumber() || value.isString() ? null : "a number or a string for " + WHERE_OPS[op];
  }
  if (op == STARTSWITH || op == ENDSWITH) {
    return value.isString() ? null : "a string for " + WHERE_OPS[op];
  }
  return null; // eq, ne and contains take any value
}

function matches(condition: Condition, element: JsonValue): bool {
  const target = resolvePath(condition.path, element);
  const op = condition.op;
  const value = condition.value;
  if (op == EXISTS) return (target !== null) == changetype<JsonBool>(value).value;
  if (target === null || (op != CONTAINS && target.kind != value.kind)) return false;
  if (op == EQ) return valuesEqual(target, value);
  if (op == NE) return !valuesEqual(target, value);
  if (op == CONTAINS) return contains(target, value);
  if (op == STARTSWITH) return target.asString().value.startsWith(value.asString().value);
  if (op == ENDSWITH) return target.asString().value.endsWith(value.asString().value);
  const order = target.isNumber()
    ? compareNumbers(target.asNumber().toF64(), condition.number)
    : compareStrings(target.asString().value, value.asString().value);
  if (op == GT) return order > 0;
  if (op == GTE) return order >= 0;
  if (op == LT) return order < 0;
  return order <= 0; // LTE
}

/** A substring of a string, a member of an array, or a key of an object. */
function contains(target: JsonValue, value: JsonValue): bool {
  if (target.isString()) return value.isString() && target.asString().value.includes(value.asString().value);
  if (target.isObject()) return value.isString() && target.asObject().has(value.asString().value);
  if (!target.isArray()) return false;
  const items = target.asArray().items;
  for (let i = 0; i < items.length; i++) {
    if (valuesEqual(items[i], value)) return true;
  }
  return false;
}
