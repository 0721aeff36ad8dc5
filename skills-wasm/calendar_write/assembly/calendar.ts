// What the skill needs from a calendar, whichever provider holds it: read
// the current version of an event, create one, replace one.
import { JsonBool, JsonKind, JsonObject, JsonValue, parseJson } from "../../_lib/json";
import { Problem } from "./problem";

/** The stored version of an event, or why it could not be read. */
export class Current {
  constructor(
    public readonly found: bool,
    public readonly etag: string | null,
    /** The stored calendar text; "" when unknown. */
    public readonly ics: string,
    public readonly problem: Problem | null,
  ) {}

  static failed(problem: Problem): Current {
    return new Current(false, null, "", problem);
  }
}

/** The outcome of a write. */
export class Written {
  constructor(
    public readonly created: bool,
    public readonly etag: string | null,
    public readonly problem: Problem | null,
  ) {}

  static failed(problem: Problem): Written {
    return new Written(false, null, problem);
  }
}

/** A provider's calendar. Every call goes through a recorded host function. */
export abstract class Calendar {
  abstract read(uid: string): Current;

  /**
   * Writes the event under `uid`; an event already there is replaced, never
   * duplicated, and `created` says which happened.
   */
  abstract create(uid: string, ics: string, event: JsonObject): Written;

  /** Replaces the event if its version is still `ifMatch` (no condition when null). */
  abstract update(uid: string, ics: string, event: JsonObject, ifMatch: string | null): Written;
}

/** A host answer parsed as an object, or null when it is not one. */
export function answerObject(bytes: Uint8Array): JsonObject | null {
  const parsed = parseJson(bytes);
  if (!parsed.ok || !parsed.value!.isObject()) return null;
  return parsed.value!.asObject();
}

/** `value` as a boolean; false when it is absent or not one. */
export function isTrue(value: JsonValue | null): bool {
  return value !== null && value.kind == JsonKind.Bool && changetype<JsonBool>(value).value;
}
