// json_transform: extract a value by path, or pick/omit object keys.
// Input {op, input, path?, keys?}; output {result} in canonical JSON.
import { fail, readInputBytes, writeOutput } from "../../_lib/abi";
import {
  JsonArray,
  JsonNull,
  JsonNumber,
  JsonObject,
  JsonString,
  JsonValue,
  parseJson,
  stringify,
} from "../../_lib/json";

const OPS = ["extract", "omit", "pick"];

/** The entrypoint named in manifest.yaml. */
export function run(): i32 {
  const parsed = parseJson(readInputBytes());
  if (!parsed.ok) {
    const details = new JsonObject()
      .set("position", JsonNumber.fromI64(parsed.position))
      .setString("reason", parsed.error);
    const message = "params are not valid JSON: " + parsed.error + " at byte " +
      parsed.position.toString();
    return fail("ERR_JSON_INVALID_INPUT", message, stringify(details));
  }
  const root = parsed.value!;
  if (!root.isObject()) return invalidParams("params", "an object");
  const params = root.asObject();

  const opValue = params.get("op");
  const op = opValue !== null && opValue.isString() ? opValue.asString().value : "";
  if (!OPS.includes(op)) return unknownOp(opValue);

  const input = params.get("input");
  if (input === null) return invalidParams("input", "any JSON value");
  if (op == "extract") return extract(params, input);
  return pickOrOmit(op == "pick", params, input);
}

function succeed(result: JsonValue): i32 {
  writeOutput(stringify(new JsonObject().set("result", result)));
  return 0;
}

function invalidParams(field: string, expected: string): i32 {
  const details = new JsonObject().setString("expected", expected).setString("field", field);
  const message = "param '" + field + "' must be " + expected;
  return fail("ERR_JSON_INVALID_PARAMS", message, stringify(details));
}

function unknownOp(opValue: JsonValue | null): i32 {
  const allowed = new JsonArray();
  for (let i = 0; i < OPS.length; i++) allowed.push(new JsonString(OPS[i]));
  const op: JsonValue = opValue !== null ? opValue : new JsonNull();
  const details = new JsonObject().set("allowed", allowed).set("op", op);
  const message = "unknown op " + (opValue !== null ? stringify(op) : "(missing)") +
    "; expected one of extract, omit, pick";
  return fail("ERR_JSON_UNKNOWN_OP", message, stringify(details));
}

function pickOrOmit(pick: bool, params: JsonObject, input: JsonValue): i32 {
  const keysValue = params.get("keys");
  if (keysValue === null || !keysValue.isArray()) return invalidParams("keys", "an array of strings");
  const keys = keysValue.asArray().items;
  for (let i = 0; i < keys.length; i++) {
    if (!keys[i].isString()) return invalidParams("keys", "an array of strings");
  }
  if (!input.isObject()) {
    const details = new JsonObject().setString("actual", input.typeName()).setString("expected", "object");
    const message = (pick ? "pick" : "omit") + " needs an object input, got " + input.typeName();
    return fail("ERR_JSON_TYPE_MISMATCH", message, stringify(details));
  }
  const source = input.asObject();
  const result = new JsonObject();
  if (pick) {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i].asString().value;
      const value = source.get(key);
      if (value !== null) result.set(key, value);
    }
  } else {
    const sourceKeys = source.sortedKeys();
    for (let i = 0; i < sourceKeys.length; i++) result.set(sourceKeys[i], source.get(sourceKeys[i])!);
    for (let i = 0; i < keys.length; i++) result.delete(keys[i].asString().value);
  }
  return succeed(result);
}

function extract(params: JsonObject, input: JsonValue): i32 {
  const pathValue = params.get("path");
  if (pathValue === null || !pathValue.isString()) return invalidParams("path", "a string");
  const path = pathValue.asString().value;
  const steps = parsePath(path);
  if (steps.errorPosition >= 0) {
    const details = new JsonObject()
      .setString("path", path)
      .set("position", JsonNumber.fromI64(steps.errorPosition));
    const message = "invalid path: " + steps.error + " at position " + steps.errorPosition.toString();
    return fail("ERR_JSON_INVALID_PATH", message, stringify(details));
  }
  let current = input;
  let resolvedEnd = 1; // "$" always resolves
  for (let i = 0; i < steps.steps.length; i++) {
    const step = steps.steps[i];
    const next = step.isIndex ? itemAt(current, step.index) : memberOf(current, step.key);
    if (next === null) {
      const at = path.substring(0, resolvedEnd);
      const details = new JsonObject().setString("at", at).setString("path", path);
      const message = "nothing at " + path + " (resolved up to " + at + ")";
      return fail("ERR_JSON_PATH_NOT_FOUND", message, stringify(details));
    }
    current = next;
    resolvedEnd = step.end;
  }
  return succeed(current);
}

function memberOf(value: JsonValue, key: string): JsonValue | null {
  return value.isObject() ? value.asObject().get(key) : null;
}

function itemAt(value: JsonValue, index: i32): JsonValue | null {
  if (!value.isArray()) return null;
  const items = value.asArray().items;
  const position = index < 0 ? items.length + index : index;
  return position >= 0 && position < items.length ? items[position] : null;
}

// --- paths: $ root, .name, ['name'] / ["name"], [N] (negative from the end) ---

class PathStep {
  constructor(
    public readonly isIndex: bool,
    public readonly key: string,
    public readonly index: i32,
    /** Code-unit offset just past this step in the path text. */
    public readonly end: i32,
  ) {}
}

class ParsedPath {
  steps: Array<PathStep> = [];
  error: string = "";
  /** Code-unit offset of the first syntax error, or -1. */
  errorPosition: i32 = -1;

  fail(reason: string, position: i32): ParsedPath {
    this.error = reason;
    this.errorPosition = position;
    return this;
  }
}

/** Characters that end a `.name` step (besides the end of the path). */
function endsName(unit: i32): bool {
  return unit == 0x2e || unit == 0x5b || unit == 0x5d || unit == 0x27 || unit == 0x22 || unit <= 0x20;
}

function parsePath(path: string): ParsedPath {
  const parsed = new ParsedPath();
  if (path.length == 0 || path.charCodeAt(0) != 0x24) return parsed.fail("a path starts with '$'", 0);
  let i = 1;
  while (i < path.length) {
    const c = path.charCodeAt(i);
    if (c == 0x2e) {
      const start = i + 1;
      i = start;
      while (i < path.length && !endsName(path.charCodeAt(i))) i++;
      if (i == start) return parsed.fail("expected a name after '.'", i);
      parsed.steps.push(new PathStep(false, path.substring(start, i), 0, i));
    } else if (c == 0x5b) {
      i = parseBracket(path, i + 1, parsed);
      if (i < 0) return parsed;
    } else {
      return parsed.fail("expected '.' or '['", i);
    }
  }
  return parsed;
}

/** Parses `'name']`, `"name"]` or `N]` from `start`; returns the next offset or -1. */
function parseBracket(path: string, start: i32, parsed: ParsedPath): i32 {
  const quote = start < path.length ? path.charCodeAt(start) : -1;
  let i = start;
  if (quote == 0x27 || quote == 0x22) {
    const units = new Array<string>();
    i++;
    while (i < path.length && path.charCodeAt(i) != quote) {
      if (path.charCodeAt(i) == 0x5c) {
        i++;
        const escaped = i < path.length ? path.charCodeAt(i) : -1;
        if (escaped != quote && escaped != 0x5c) {
          parsed.fail("only \\\\ and the quote may be escaped", i);
          return -1;
        }
      }
      units.push(path.charAt(i));
      i++;
    }
    if (i >= path.length) {
      parsed.fail("unterminated quoted name", i);
      return -1;
    }
    i++;
    if (i >= path.length || path.charCodeAt(i) != 0x5d) {
      parsed.fail("expected ']'", i);
      return -1;
    }
    parsed.steps.push(new PathStep(false, units.join(""), 0, i + 1));
    return i + 1;
  }
  return parseIndex(path, start, parsed);
}

function parseIndex(path: string, start: i32, parsed: ParsedPath): i32 {
  let i = start;
  const negative = i < path.length && path.charCodeAt(i) == 0x2d;
  if (negative) i++;
  const digitsStart = i;
  let value = 0;
  while (i < path.length && path.charCodeAt(i) >= 0x30 && path.charCodeAt(i) <= 0x39) {
    // Nine digits keep the value inside i32; larger indexes cannot exist anyway.
    if (i - digitsStart == 9) {
      parsed.fail("index too large", i);
      return -1;
    }
    value = value * 10 + (path.charCodeAt(i) - 0x30);
    i++;
  }
  if (i == digitsStart) {
    parsed.fail("expected a quoted name or an index", i);
    return -1;
  }
  if (path.charCodeAt(digitsStart) == 0x30 && (i - digitsStart > 1 || negative)) {
    parsed.fail("an index has no leading zeros and is never -0", digitsStart);
    return -1;
  }
  if (i >= path.length || path.charCodeAt(i) != 0x5d) {
    parsed.fail("expected ']'", i);
    return -1;
  }
  parsed.steps.push(new PathStep(true, "", negative ? -value : value, i + 1));
  return i + 1;
}
