// The step's params: which provider and operation, where, and the event.
import { JsonObject, JsonValue } from "../../_lib/json";
import { CalendarEvent, parseEvent } from "./event";
import { invalidEvent, invalidInput, Problem, stringOf } from "./problem";
import { uidProblem } from "./uid";

const PARAM_KEYS = ["calendar", "collection_url", "etag", "event", "operation", "provider", "uid"];
const URL_CHARS_MAX: i32 = 2000;
const ETAG_CHARS_MAX: i32 = 200;
const CALENDAR_CHARS_MAX: i32 = 64;

/** Validated params. */
export class Params {
  constructor(
    /** `mock` or `caldav`. */
    public readonly provider: string,
    /** `create` or `update`. */
    public readonly operation: string,
    /** The mock calendar's name. */
    public readonly calendar: string,
    /** The CalDAV collection; "" for the mock provider. */
    public readonly collectionUrl: string,
    public readonly uid: string | null,
    public readonly etag: string | null,
    public readonly event: CalendarEvent,
  ) {}
}

/** The params, or the first problem found in them. */
export class ParamsResult {
  constructor(public readonly params: Params | null, public readonly problem: Problem | null) {}
}

function refuse(field: string, expected: string): ParamsResult {
  return new ParamsResult(null, invalidInput(field, expected));
}

/** A string member or `fallback` when absent; null when present but not a string. */
function optionalString(params: JsonObject, key: string, fallback: string): string | null {
  const value = params.get(key);
  if (value === null) return fallback;
  return stringOf(value);
}

function hasControlOrSpace(text: string): bool {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) <= 0x20 || text.charCodeAt(i) == 0x7f) return true;
  }
  return false;
}

function isCalendarName(name: string): bool {
  if (name.length == 0 || name.length > CALENDAR_CHARS_MAX) return false;
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    const ok = (unit >= 0x30 && unit <= 0x39) || (unit >= 0x41 && unit <= 0x5a) ||
      (unit >= 0x61 && unit <= 0x7a) || unit == 0x5f || unit == 0x2d;
    if (!ok) return false;
  }
  return true;
}

/** Reads and checks the step's params (`root` is the parsed input). */
export function parseParams(root: JsonValue): ParamsResult {
  if (!root.isObject()) return refuse("params", "an object");
  const params = root.asObject();
  const keys = params.sortedKeys();
  for (let i = 0; i < keys.length; i++) {
    if (!PARAM_KEYS.includes(keys[i])) return refuse(keys[i], "absent: it is not a param of calendar_write");
  }
  const provider = optionalString(params, "provider", "mock");
  if (provider === null || (provider! != "mock" && provider! != "caldav")) {
    return refuse("provider", "\"mock\" or \"caldav\"");
  }
  const operation = optionalString(params, "operation", "create");
  if (operation === null || (operation! != "create" && operation! != "update")) {
    return refuse("operation", "\"create\" or \"update\"");
  }
  const calendar = optionalString(params, "calendar", "default");
  if (calendar === null || !isCalendarName(calendar!)) {
    return refuse("calendar", "a calendar name of 1-64 letters, digits, _ or -");
  }
  let collectionUrl = "";
  if (provider! == "caldav") {
    if (params.has("calendar")) return refuse("calendar", "absent for caldav: collection_url names the calendar");
    const url = stringOf(params.get("collection_url"));
    if (url === null) return refuse("collection_url", "the CalDAV collection URL (required for caldav)");
    const lower = url!.toLowerCase();
    const absolute = lower.startsWith("http://") || lower.startsWith("https://");
    if (!absolute || url!.length > URL_CHARS_MAX || hasControlOrSpace(url!) || url!.includes("?") || url!.includes("#")) {
      return refuse("collection_url", "an absolute http(s) URL without query or fragment");
    }
    collectionUrl = url!;
  } else if (params.has("collection_url")) {
    return refuse("collection_url", "absent for the mock provider");
  }
  let etag: string | null = null;
  if (params.has("etag")) {
    if (operation! != "update") return refuse("etag", "absent: it applies to update only");
    etag = stringOf(params.get("etag"));
    if (etag === null || etag!.length == 0 || etag!.length > ETAG_CHARS_MAX || hasControlOrSpace(etag!)) {
      return refuse("etag", "an entity tag as the calendar returned it");
    }
  }
  let uid: string | null = null;
  if (params.has("uid")) {
    uid = stringOf(params.get("uid"));
    if (uid === null) return new ParamsResult(null, invalidEvent("uid", "must be a string"));
  } else if (operation! == "update") {
    return refuse("uid", "the UID of the event to update (required for update)");
  }
  const parsed = parseEvent(params.get("event"));
  if (parsed.problem !== null) return new ParamsResult(null, parsed.problem);
  if (uid !== null) {
    const problem = uidProblem(uid!);
    if (problem.length > 0) return new ParamsResult(null, invalidEvent("uid", problem));
  }
  return new ParamsResult(
    new Params(provider!, operation!, calendar!, collectionUrl, uid, etag, parsed.event!),
    null,
  );
}
