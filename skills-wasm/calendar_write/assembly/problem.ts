// Why a call fails. AssemblyScript has no exceptions: a check returns a
// Problem (or null when all is well) and the entrypoint reports the first.
import { JsonObject, JsonValue } from "../../_lib/json";

export const INVALID_EVENT = "ERR_CALENDAR_INVALID_EVENT";
export const INPUT_INVALID = "SKILL_INPUT_INVALID";
export const PROVIDER = "ERR_CALENDAR_PROVIDER";
export const AUTH = "ERR_CALENDAR_AUTH";
export const NOT_FOUND = "ERR_CALENDAR_NOT_FOUND";

/** A catalog code, a message and canonical-JSON-ready details. */
export class Problem {
  constructor(
    public readonly code: string,
    public readonly message: string,
    public readonly details: JsonObject,
  ) {}
}

/** The event (a field of `event`, or `uid`) breaks a rule of RFC 5545 or of this skill. */
export function invalidEvent(field: string, reason: string): Problem {
  const details = new JsonObject().setString("field", field).setString("reason", reason);
  return new Problem(INVALID_EVENT, field + ": " + reason, details);
}

/** A param that is not about the event (provider, operation, URL) is wrong. */
export function invalidInput(field: string, expected: string): Problem {
  const details = new JsonObject().setString("expected", expected).setString("field", field);
  return new Problem(INPUT_INVALID, "param '" + field + "' must be " + expected, details);
}

/** `value` as a string, or null when it is absent or not a string. */
export function stringOf(value: JsonValue | null): string | null {
  if (value === null || !value.isString()) return null;
  return value.asString().value;
}
