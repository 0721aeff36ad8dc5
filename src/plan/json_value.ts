import { z } from "zod";
import { firstNotJson, type Json, type NotJson } from "../store/mod.ts";

/** Where a value stops being JSON, and why. */
export interface NotJsonPart {
  path: (string | number)[];
  message: string;
}

/**
 * The first part of `value` that JSON cannot hold (undefined when it is all
 * JSON): a number that is not finite, a value that is not null, a boolean,
 * a number, a string, an array or a plain object, an array hole, or a
 * member set to undefined. The path is the keys and indices down to it.
 */
export function notJson(value: unknown): NotJsonPart | undefined {
  const found = firstNotJson(value, { refuseUndefinedMembers: true });
  if (found === undefined) return undefined;
  return { path: found.path, message: messageOf(found) };
}

function messageOf(found: NotJson): string {
  switch (found.reason) {
    case "not_finite":
      return `${found.value} is not a JSON number`;
    case "not_plain":
      return "only plain objects are JSON objects";
    case "hole":
      return "an array hole is not a JSON value";
    case "type":
      return `a ${typeof found.value} is not a JSON value`;
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
