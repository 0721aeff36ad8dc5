// Paths: $ root, .name, ['name'] / ["name"], [N] (negative from the end).
// Parsed once per call, then resolved against one value or against every
// element of an array (map, filter, sort).
import { JsonValue } from "../../_lib/json";

export class PathStep {
  constructor(
    public readonly isIndex: bool,
    public readonly key: string,
    public readonly index: i32,
    /** Code-unit offset just past this step in the path text. */
    public readonly end: i32,
  ) {}
}

export class ParsedPath {
  steps: Array<PathStep> = [];
  error: string = "";
  /** Code-unit offset of the first syntax error, or -1. */
  errorPosition: i32 = -1;

  constructor(public readonly text: string) {}

  get ok(): bool { return this.errorPosition < 0; }

  fail(reason: string, position: i32): ParsedPath {
    this.error = reason;
    this.errorPosition = position;
    return this;
  }
}

/** The value at `path` inside `root`, or null when some step does not match. */
export function resolvePath(path: ParsedPath, root: JsonValue): JsonValue | null {
  let current = root;
  const steps = path.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    const next = step.isIndex ? itemAt(current, step.index) : memberOf(current, step.key);
    if (next === null) return null;
    current = next;
  }
  return current;
}

/** The longest prefix of the path text that resolves in `root` ("$" at least). */
export function resolvedPrefix(path: ParsedPath, root: JsonValue): string {
  let current = root;
  let resolvedEnd = 1; // "$" always resolves
  const steps = path.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    const next = step.isIndex ? itemAt(current, step.index) : memberOf(current, step.key);
    if (next === null) break;
    current = next;
    resolvedEnd = step.end;
  }
  return path.text.substring(0, resolvedEnd);
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

/** Characters that end a `.name` step (besides the end of the path). */
function endsName(unit: i32): bool {
  return unit == 0x2e || unit == 0x5b || unit == 0x5d || unit == 0x27 || unit == 0x22 || unit <= 0x20;
}

/** Parses `path`; `ok` is false and `errorPosition` set on a syntax error. */
export function parsePath(path: string): ParsedPath {
  const parsed = new ParsedPath(path);
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
