// The event's UID. It must be the same every time the same step runs, so a
// retried or recovered step overwrites its own event instead of adding a
// second one. The seed is the run and step, which the host's calendar
// service tells the skill (a recorded answer, so replay sees the same); a
// host without that service (a bare contract sandbox) falls back to what
// identifies the event itself.
import { calendarCall } from "../../_lib/calendar";
import { JsonKind, JsonNull, JsonObject, JsonString, JsonValue, parseJson, stringify } from "../../_lib/json";
import { sha256HexOfString } from "../../_lib/sha256";
import { CalendarEvent } from "./event";

/** Longest UID accepted from the caller. */
export const UID_CHARS_MAX: i32 = 200;

/** Why `uid` cannot be used (it becomes a URL path segment `<uid>.ics`), or "". */
export function uidProblem(uid: string): string {
  if (uid.length == 0 || uid.length > UID_CHARS_MAX) {
    return "must be 1-" + UID_CHARS_MAX.toString() + " characters";
  }
  if (uid.startsWith(".")) return "must not start with '.'";
  for (let i = 0; i < uid.length; i++) {
    const unit = uid.charCodeAt(i);
    const ok = (unit >= 0x30 && unit <= 0x39) || (unit >= 0x41 && unit <= 0x5a) ||
      (unit >= 0x61 && unit <= 0x7a) || unit == 0x2e || unit == 0x5f || unit == 0x2d || unit == 0x40;
    if (!ok) return "may hold only letters, digits and . _ - @";
  }
  return "";
}

/**
 * What makes two creates "the same event": canonical JSON of title, start,
 * end, time zone and organizer. Description, location and attendees are
 * left out, so correcting them in a re-run replaces the event.
 */
export function eventSeed(event: CalendarEvent): string {
  const organizer = event.organizer;
  let organizerValue: JsonValue = new JsonNull();
  if (organizer !== null) organizerValue = new JsonString(organizer.email);
  const seed = new JsonObject()
    .setString("end", event.end.iso())
    .set("organizer", organizerValue)
    .setString("start", event.start.iso())
    .setString("time_zone", event.timeZone)
    .setString("title", event.title);
  return stringify(seed);
}

/** `run_id/step` from the host's calendar service, or "" when the host has none. */
export function stepSeed(): string {
  const answer = parseJson(calendarCall('{"op":"identity"}'));
  if (!answer.ok || !answer.value!.isObject()) return "";
  const identity = answer.value!.asObject();
  const ok = identity.get("ok");
  const runId = identity.get("run_id");
  const step = identity.get("step");
  if (ok === null || ok.kind != JsonKind.Bool || runId === null || !runId.isString() || step === null || !step.isString()) {
    return "";
  }
  return runId.asString().value + "/" + step.asString().value;
}

/** `aos-` and the first 128 bits of sha256(seed), in hex. */
export function deriveUid(seed: string): string {
  return "aos-" + sha256HexOfString(seed).substring(0, 32);
}
