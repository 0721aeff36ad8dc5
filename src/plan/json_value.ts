import { z } from "zod";
import type { Json } from "../store/mod.ts";

/** Where a value stops being JSON, and why. */
export interface NotJson {
  path: (string | number)[];
  message: string;
}

/**
 * The first part of `value` that JSON cannot hold (undefined when it is all
 * JSON): a number that is not finite, a value that is not null, a boolean,
 * a number, a string, an array or a plain object, or an array hole. The
 * path is the keys and indices down to it.
 */
export function notJson(value: unknown): NotJson | undefined {
  const path: (string | number)[] = [];
  const message = firstNotJson(value, path);
  return message === undefined ? undefined : { path: path.reverse(), message };
}

// Builds the path backwards on the way out: nothing is allocated for a
// value that is JSON.
function firstNotJson(
  value: unknown,
  path: (string | number)[],
): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value)
        ? undefined
        : `${value} is not a JSON number`;
    case "object": {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
          if (!(index in value)) {
            path.push(index);
            return "an array hole is not a JSON value";
          }
          const bad = firstNotJson(value[index], path);
          if (bad !== undefined) {
            path.push(index);
            return bad;
          }
        }
        return undefined;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) {
        return "only plain objects are JSON objects";
      }
      for (const key in value) {
        const bad = firstNotJson((value as Record<string, unknown>)[key], path);
        if (bad !== undefined) {
          path.push(key);
          return bad;
        }
      }
      return undefined;
    }
    default:
      return `a ${typeof value} is not a JSON value`;
  }
}

/**
 * The zod schema of any JSON value. One walk checks it, allocating nothing
 * for a value that is JSON: a union of the six kinds, tried in turn at every
 * node, cost a plan of three steps about 30 KB of garbage and most of its
 * parse time. A value is passed on as it is, not copied.
 */
export const jsonSchema: z.ZodType<Json> = z.unknown().superRefine(
  (value, context) => {
    const bad = notJson(value);
    if (bad === undefined) return;
    context.addIssue({ code: "custom", message: bad.message, path: bad.path });
  },
).meta({ description: "Any JSON value" }) as z.ZodType<Json>;
