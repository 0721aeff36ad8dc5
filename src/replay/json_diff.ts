import type { Json } from "../store/mod.ts";

/**
 * One difference between two JSON values, at a JSON Pointer (RFC 6901).
 * `expected` is absent when the value was added, `actual` when it was
 * removed.
 */
export interface JsonDifference {
  path: string;
  op: "changed" | "added" | "removed";
  expected?: Json;
  actual?: Json;
}

/** Options of `jsonDiff`. */
export interface JsonDiffOptions {
  /** Most differences listed (default 50); a report stays readable. */
  differencesMax?: number;
}

/**
 * The differences between `expected` and `actual`, depth first, objects by
 * sorted key and arrays by position, so the same pair always gives the same
 * list. Stops at `differencesMax`; `truncated` says so.
 *
 * @example
 * ```ts
 * jsonDiff({ a: 1, b: [1] }, { a: 2, b: [1, 2] }).differences;
 * // [{ path: "/a", op: "changed", expected: 1, actual: 2 },
 * //  { path: "/b/1", op: "added", actual: 2 }]
 * ```
 */
export function jsonDiff(
  expected: Json,
  actual: Json,
  options: JsonDiffOptions = {},
): { differences: JsonDifference[]; truncated: boolean } {
  const limit = options.differencesMax ?? 50;
  const differences: JsonDifference[] = [];
  let truncated = false;
  const push = (difference: JsonDifference): boolean => {
    if (differences.length >= limit) {
      truncated = true;
      return false;
    }
    differences.push(difference);
    return true;
  };
  const walk = (path: string, left: Json, right: Json): boolean => {
    if (isObject(left) && isObject(right)) {
      const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])]
        .sort();
      for (const key of keys) {
        const child = `${path}/${escapePointer(key)}`;
        const ok = !Object.hasOwn(right, key)
          ? push({ path: child, op: "removed", expected: left[key]! })
          : !Object.hasOwn(left, key)
          ? push({ path: child, op: "added", actual: right[key]! })
          : walk(child, left[key]!, right[key]!);
        if (!ok) return false;
      }
      return true;
    }
    if (Array.isArray(left) && Array.isArray(right)) {
      for (let i = 0; i < Math.max(left.length, right.length); i++) {
        const child = `${path}/${i}`;
        const ok = i >= right.length
          ? push({ path: child, op: "removed", expected: left[i]! })
          : i >= left.length
          ? push({ path: child, op: "added", actual: right[i]! })
          : walk(child, left[i]!, right[i]!);
        if (!ok) return false;
      }
      return true;
    }
    if (sameScalar(left, right)) return true;
    return push({ path, op: "changed", expected: left, actual: right });
  };
  walk("", expected, actual);
  return { differences, truncated };
}

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Containers of different kinds, or scalars: equal only when both are the
// same scalar.
function sameScalar(left: Json, right: Json): boolean {
  if (typeof left === "object" && left !== null) return false;
  if (typeof right === "object" && right !== null) return false;
  return left === right;
}

function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}
