// The event a step asks for, validated. Every rule broken here is an
// ERR_CALENDAR_INVALID_EVENT naming the field, so a plan author learns what
// to fix before anything reaches a calendar.
import { JsonArray, JsonNumber, JsonObject, JsonValue } from "../../_lib/json";
import { LocalDateTime, parseLocalDateTime } from "./datetime";
import { invalidEvent, Problem, stringOf } from "./problem";
import { rruleProblem } from "./rrule";

export const TITLE_CHARS_MAX: i32 = 1000;
export const DESCRIPTION_CHARS_MAX: i32 = 32_768;
export const LOCATION_CHARS_MAX: i32 = 1000;
export const ATTENDEES_MAX: i32 = 100;
export const NAME_CHARS_MAX: i32 = 200;
export const EMAIL_CHARS_MAX: i32 = 254;
export const TIME_ZONE_CHARS_MAX: i32 = 64;

const EVENT_KEYS = [
  "attendees", "description", "end", "location", "organizer", "recurrence", "sequence", "start",
  "time_zone", "title",
];

/** An organizer or attendee: an address and, optionally, a display name. */
export class Person {
  constructor(public readonly email: string, public readonly name: string | null) {}

  toJson(): JsonObject {
    const object = new JsonObject().setString("email", this.email);
    const name = this.name;
    if (name !== null) object.setString("name", name);
    return object;
  }
}

/** A validated event; times are local to `timeZone`. */
export class CalendarEvent {
  constructor(
    public readonly title: string,
    public readonly start: LocalDateTime,
    public readonly end: LocalDateTime,
    public readonly timeZone: string,
    public readonly description: string | null,
    public readonly location: string | null,
    public readonly recurrence: string | null,
    public readonly organizer: Person | null,
    public readonly attendees: Array<Person>,
    /** SEQUENCE asked for, or -1 to let the operation choose. */
    public readonly sequence: i32,
  ) {}

  /** UTC needs no VTIMEZONE: its times are written with a `Z`. */
  isUtc(): bool {
    return this.timeZone == "UTC" || this.timeZone == "Etc/UTC";
  }

  /** The event as the mock calendar stores it (normalised values). */
  toJson(sequence: i32): JsonObject {
    const attendees = new JsonArray();
    for (let i = 0; i < this.attendees.length; i++) attendees.push(this.attendees[i].toJson());
    const object = new JsonObject()
      .setString("title", this.title)
      .setString("start", this.start.iso())
      .setString("end", this.end.iso())
      .setString("time_zone", this.timeZone)
      .set("attendees", attendees)
      .set("sequence", JsonNumber.fromI64(sequence));
    const description = this.description;
    if (description !== null) object.setString("description", description);
    const location = this.location;
    if (location !== null) object.setString("location", location);
    const recurrence = this.recurrence;
    if (recurrence !== null) object.setString("recurrence", recurrence);
    const organizer = this.organizer;
    if (organizer !== null) object.set("organizer", organizer.toJson());
    return object;
  }
}

/** The event, or the first problem found in it. */
export class EventResult {
  constructor(public readonly event: CalendarEvent | null, public readonly problem: Problem | null) {}
}

class TextResult {
  constructor(public readonly value: string | null, public readonly problem: Problem | null) {}
}

class PersonResult {
  constructor(public readonly value: Person | null, public readonly problem: Problem | null) {}
}

function refuse(field: string, reason: string): EventResult {
  return new EventResult(null, invalidEvent(field, reason));
}

/** Whether `text` holds a control character TEXT may not carry (tab and line breaks may). */
function hasControl(text: string, allowLineBreaks: bool): bool {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit == 0x7f) return true;
    if (unit >= 0x20) continue;
    if (unit == 0x09) continue;
    if (allowLineBreaks && (unit == 0x0a || unit == 0x0d)) continue;
    return true;
  }
  return false;
}

/** An optional text member: absent is null, anything else must be a bounded string. */
function text(event: JsonObject, key: string, charsMax: i32): TextResult {
  const value = event.get(key);
  if (value === null) return new TextResult(null, null);
  const field = "event." + key;
  if (!value.isString()) return new TextResult(null, invalidEvent(field, "must be a string"));
  const content = value.asString().value;
  if (content.length > charsMax) {
    return new TextResult(null, invalidEvent(field, "is longer than " + charsMax.toString() + " characters"));
  }
  if (hasControl(content, true)) {
    return new TextResult(null, invalidEvent(field, "contains a control character"));
  }
  return new TextResult(content, null);
}

function isAlphaNumeric(unit: i32): bool {
  return (unit >= 0x30 && unit <= 0x39) || (unit >= 0x41 && unit <= 0x5a) || (unit >= 0x61 && unit <= 0x7a);
}

/** Why `email` is not an address this skill writes as `mailto:`, or "". */
export function emailProblem(email: string): string {
  if (email.length < 3 || email.length > EMAIL_CHARS_MAX) return "is not an email address";
  const at = email.indexOf("@");
  if (at <= 0 || at != email.lastIndexOf("@") || at == email.length - 1) return "is not an email address";
  const local = email.substring(0, at);
  const domain = email.substring(at + 1);
  if (local.length > 64 || local.startsWith(".") || local.endsWith(".") || local.includes("..")) {
    return "has an invalid local part";
  }
  // atext without the characters a mailto: URI would have to percent-encode.
  const allowed = ".!$&'*+-=^_`{|}~";
  for (let i = 0; i < local.length; i++) {
    const unit = local.charCodeAt(i);
    if (!isAlphaNumeric(unit) && !allowed.includes(local.charAt(i))) return "has an invalid local part";
  }
  const labels = domain.split(".");
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label.length == 0 || label.length > 63 || label.startsWith("-") || label.endsWith("-")) {
      return "has an invalid domain";
    }
    for (let j = 0; j < label.length; j++) {
      if (!isAlphaNumeric(label.charCodeAt(j)) && label.charCodeAt(j) != 0x2d) return "has an invalid domain";
    }
  }
  return "";
}

/** A person given as `"a@b.c"` or `{email, name?}`. */
function person(value: JsonValue, field: string): PersonResult {
  let email: string | null = null;
  let name: string | null = null;
  if (value.isString()) {
    email = value.asString().value;
  } else if (value.isObject()) {
    const object = value.asObject();
    const keys = object.sortedKeys();
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] != "email" && keys[i] != "name") {
        return new PersonResult(null, invalidEvent(field, "has an unknown member '" + keys[i] + "'"));
      }
    }
    email = stringOf(object.get("email"));
    if (email === null) return new PersonResult(null, invalidEvent(field + ".email", "must be a string"));
    if (object.has("name")) {
      name = stringOf(object.get("name"));
      if (name === null) return new PersonResult(null, invalidEvent(field + ".name", "must be a string"));
    }
  } else {
    return new PersonResult(null, invalidEvent(field, "must be an email address or {email, name}"));
  }
  const problem = emailProblem(email!);
  if (problem.length > 0) return new PersonResult(null, invalidEvent(field, problem));
  if (name !== null) {
    const given = name!;
    // A parameter value may be quoted, but a quote itself has no escape.
    if (given.length == 0 || given.length > NAME_CHARS_MAX || given.includes("\"") || hasControl(given, false)) {
      return new PersonResult(
        null,
        invalidEvent(field + ".name", "must be 1-" + NAME_CHARS_MAX.toString() + " characters without quotes or control characters"),
      );
    }
  }
  return new PersonResult(new Person(email!, name), null);
}

/** Why `zone` is not an IANA time zone name by its syntax, or "". */
export function timeZoneProblem(zone: string): string {
  if (zone.length == 0 || zone.length > TIME_ZONE_CHARS_MAX) return "must be an IANA time zone name like Europe/Paris";
  const segments = zone.split("/");
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment.length == 0 || segment == "." || segment == "..") return "must be an IANA time zone name like Europe/Paris";
    const first = segment.charCodeAt(0);
    if (i == 0 && !((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a))) {
      return "must be an IANA time zone name like Europe/Paris";
    }
    for (let j = 0; j < segment.length; j++) {
      const unit = segment.charCodeAt(j);
      if (!isAlphaNumeric(unit) && unit != 0x5f && unit != 0x2d && unit != 0x2b) {
        return "must be an IANA time zone name like Europe/Paris";
      }
    }
  }
  return "";
}

/** Reads and checks `value` as the step's `event`. */
export function parseEvent(value: JsonValue | null): EventResult {
  if (value === null) return refuse("event", "is required");
  if (!value.isObject()) return refuse("event", "must be an object");
  const event = value.asObject();
  const keys = event.sortedKeys();
  for (let i = 0; i < keys.length; i++) {
    if (!EVENT_KEYS.includes(keys[i])) return refuse("event." + keys[i], "is not an event field");
  }
  const title = text(event, "title", TITLE_CHARS_MAX);
  if (title.problem !== null) return new EventResult(null, title.problem);
  if (title.value === null || title.value!.trim().length == 0) return refuse("event.title", "is required");

  const startText = stringOf(event.get("start"));
  if (startText === null) return refuse("event.start", "is required (a local date-time string)");
  const start = parseLocalDateTime(startText!);
  if (start.value === null) return refuse("event.start", start.reason);
  const endText = stringOf(event.get("end"));
  if (endText === null) return refuse("event.end", "is required (a local date-time string)");
  const end = parseLocalDateTime(endText!);
  if (end.value === null) return refuse("event.end", end.reason);
  if (end.value!.iso() <= start.value!.iso()) return refuse("event.end", "must be after event.start");

  const zone = stringOf(event.get("time_zone"));
  if (zone === null) return refuse("event.time_zone", "is required (an IANA name like Europe/Paris)");
  const zoneProblem = timeZoneProblem(zone!);
  if (zoneProblem.length > 0) return refuse("event.time_zone", zoneProblem);

  const description = text(event, "description", DESCRIPTION_CHARS_MAX);
  if (description.problem !== null) return new EventResult(null, description.problem);
  const location = text(event, "location", LOCATION_CHARS_MAX);
  if (location.problem !== null) return new EventResult(null, location.problem);

  let recurrence: string | null = null;
  if (event.has("recurrence")) {
    recurrence = stringOf(event.get("recurrence"));
    if (recurrence === null) return refuse("event.recurrence", "must be an RRULE value string");
    const problem = rruleProblem(recurrence!);
    if (problem.length > 0) return refuse("event.recurrence", problem);
  }

  let organizer: Person | null = null;
  const organizerValue = event.get("organizer");
  if (organizerValue !== null) {
    const parsed = person(organizerValue, "event.organizer");
    if (parsed.problem !== null) return new EventResult(null, parsed.problem);
    organizer = parsed.value;
  }

  const attendees = new Array<Person>();
  const attendeesValue = event.get("attendees");
  if (attendeesValue !== null) {
    if (!attendeesValue.isArray()) return refuse("event.attendees", "must be an array");
    const items = attendeesValue.asArray().items;
    if (items.length > ATTENDEES_MAX) return refuse("event.attendees", "has more than " + ATTENDEES_MAX.toString() + " entries");
    for (let i = 0; i < items.length; i++) {
      const parsed = person(items[i], "event.attendees[" + i.toString() + "]");
      if (parsed.problem !== null) return new EventResult(null, parsed.problem);
      attendees.push(parsed.value!);
    }
  }

  let sequence: i32 = -1;
  const sequenceValue = event.get("sequence");
  if (sequenceValue !== null) {
    sequence = sequenceValue.isNumber() ? nonNegative(sequenceValue.asNumber().lexeme) : -1;
    if (sequence < 0) return refuse("event.sequence", "must be an integer from 0 to 999999999");
  }

  return new EventResult(
    new CalendarEvent(
      title.value!, start.value!, end.value!, zone!, description.value, location.value, recurrence,
      organizer, attendees, sequence,
    ),
    null,
  );
}

/** The value of a JSON number lexeme of 1-9 digits, or -1. */
export function nonNegative(lexeme: string): i32 {
  if (lexeme.length == 0 || lexeme.length > 9) return -1;
  let value = 0;
  for (let i = 0; i < lexeme.length; i++) {
    const unit = lexeme.charCodeAt(i);
    if (unit < 0x30 || unit > 0x39) return -1;
    value = value * 10 + (unit - 0x30);
  }
  return value;
}
