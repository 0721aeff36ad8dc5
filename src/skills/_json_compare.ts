// Comparing a skill's JSON with what its contract expects, and saying where
// the two part: a contract failure is only useful if it points at the member.
import { canonicalJson } from "../store/mod.ts";

/** Where two JSON values first disagree. */
export interface JsonMismatch {
  /** A JSONPath-like location, `$` for the whole value. */
  path: string;
  /** What was expected there, or undefined when the member should not exist. */
  expected: unknown;
  /** What was found there, or undefined when the member is missing. */
  actual: unknown;
}

/**
 * The first place where `actual` is not exactly `expected` (canonical JSON
 * equality, members in key order), or undefined when they are equal.
 *
 * @example
 * ```ts
 * firstDifference({ a: [1, 2] }, { a: [1, 3] }); // { path: "$.a[1]", expected: 2, actual: 3 }
 * ```
 */
export function firstDifference(
  expected: unknown,
  actual: unknown,
  path = "$",
): JsonMismatch | undefined {
  if (expected === undefined || actual === undefined) {
    return expected === actual ? undefined : { path, expected, actual };
  }
  if (canonicalJson(expected) === canonicalJson(actual)) return undefined;
  if (isObject(expected) && isObject(actual)) {
    const keys = [
      ...new Set([...Object.keys(expected), ...Object.keys(actual)]),
    ]
      .sort();
    for (const key of keys) {
      const found = firstDifference(
        expected[key],
        actual[key],
        memberPath(path, key),
      );
      if (found !== undefined) return found;
    }
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const common = Math.min(expected.length, actual.length);
    for (let index = 0; index < common; index++) {
      const found = firstDifference(
        expected[index],
        actual[index],
        `${path}[${index}]`,
      );
      if (found !== undefined) return found;
    }
    const index = common;
    return {
      path: `${path}[${index}]`,
      expected: expected[index],
      actual: actual[index],
    };
  }
  return { path, expected, actual };
}

/**
 * The first member of `expected` that `actual` lacks or holds differently,
 * or undefined when `actual` contains `expected`. Objects match when every
 * member of `expected` matches (other members of `actual` are ignored);
 * arrays must have the same length and match item by item; anything else
 * must be equal.
 *
 * @example
 * ```ts
 * firstSubsetMismatch({ a: { b: 1 } }, { a: { b: 1, c: 2 }, d: 3 }); // undefined
 * ```
 */
export function firstSubsetMismatch(
  expected: unknown,
  actual: unknown,
  path = "$",
): JsonMismatch | undefined {
  if (isObject(expected)) {
    if (!isObject(actual)) return { path, expected, actual };
    for (const key of Object.keys(expected).sort()) {
      const found = firstSubsetMismatch(
        expected[key],
        actual[key],
        memberPath(path, key),
      );
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return { path, expected, actual };
    const longest = Math.max(expected.length, actual.length);
    for (let index = 0; index < longest; index++) {
      const itemPath = `${path}[${index}]`;
      if (index >= expected.length || index >= actual.length) {
        return {
          path: itemPath,
          expected: expected[index],
          actual: actual[index],
        };
      }
      const found = firstSubsetMismatch(
        expected[index],
        actual[index],
        itemPath,
      );
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (actual === undefined) return { path, expected, actual };
  return canonicalJson(expected) === canonicalJson(actual)
    ? undefined
    : { path, expected, actual };
}

/** `at $.a: expected 1, got 2` (values shortened to stay readable). */
export function describeMismatch(mismatch: JsonMismatch): string {
  const expected = mismatch.expected === undefined
    ? "no such member"
    : shorten(canonicalJson(mismatch.expected));
  const actual = mismatch.actual === undefined
    ? "nothing (missing)"
    : shorten(canonicalJson(mismatch.actual));
  return `at ${mismatch.path}: expected ${expected}, got ${actual}`;
}

/** `text`, cut to `limit` characters with an ellipsis. */
export function shorten(text: string, limit = 200): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

function memberPath(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
    ? `${path}.${key}`
    : `${path}[${JSON.stringify(key)}]`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
