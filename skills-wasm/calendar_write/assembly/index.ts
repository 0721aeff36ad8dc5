// calendar_write: creates or updates one calendar event, in the host's mock
// calendar or on a CalDAV server, as RFC 5545 text. The event's UID is the
// same every time the step runs, so a re-run replaces its event and never
// adds a second one. Input and output: see manifest.yaml.
import { fail, readInputBytes, writeOutput } from "../../_lib/abi";
import { nowMs } from "../../_lib/host";
import { JsonArray, JsonBool, JsonNull, JsonObject, JsonString, JsonValue, parseJson, stringify } from "../../_lib/json";
import { sha256HexOfString } from "../../_lib/sha256";
import { CalDavCalendar } from "./caldav";
import { Calendar, Current, Written } from "./calendar";
import { utcStamp } from "./datetime";
import { buildIcs, sequenceOf } from "./ics";
import { MockCalendar } from "./mock";
import { Params, parseParams } from "./params";
import { INPUT_INVALID, NOT_FOUND, Problem } from "./problem";
import { deriveUid, eventSeed, stepSeed } from "./uid";

/** The entrypoint named in manifest.yaml. */
export function run(): i32 {
  const parsed = parseJson(readInputBytes());
  if (!parsed.ok) {
    const details = new JsonObject().setString("reason", parsed.error);
    return fail(INPUT_INVALID, "params are not valid JSON: " + parsed.error, stringify(details));
  }
  const result = parseParams(parsed.value!);
  if (result.problem !== null) return report(result.problem!);
  const params = result.params!;
  const given = params.uid;
  let uid = "";
  if (given !== null) {
    uid = given!;
  } else {
    const seed = stepSeed();
    uid = deriveUid(seed.length > 0 ? seed : eventSeed(params.event));
  }
  // Recorded: a re-run writes the same DTSTAMP, so the same bytes.
  const dtstamp = utcStamp(nowMs());
  const calendar: Calendar = params.provider == "caldav"
    ? changetype<Calendar>(new CalDavCalendar(params.collectionUrl))
    : changetype<Calendar>(new MockCalendar(params.calendar));
  return params.operation == "update"
    ? update(calendar, params, uid, dtstamp)
    : create(calendar, params, uid, dtstamp);
}

function create(calendar: Calendar, params: Params, uid: string, dtstamp: string): i32 {
  const event = params.event;
  const sequence = event.sequence >= 0 ? event.sequence : 0;
  const ics = buildIcs(uid, event, dtstamp, sequence);
  return finish(params, uid, ics, calendar.create(uid, ics, event.toJson(sequence)));
}

/**
 * Reads the stored event first: an update of an event that does not exist
 * fails (ERR_CALENDAR_NOT_FOUND) instead of creating it, SEQUENCE goes one
 * past the stored one unless the step gives it, and the write is
 * conditional on the version read (or on the step's `etag`).
 */
function update(calendar: Calendar, params: Params, uid: string, dtstamp: string): i32 {
  const current: Current = calendar.read(uid);
  if (current.problem !== null) return report(current.problem!);
  if (!current.found) {
    const details = new JsonObject().setString("provider", params.provider).setString("uid", uid);
    return report(new Problem(NOT_FOUND, "there is no event " + uid + " to update", details));
  }
  const event = params.event;
  const stored = sequenceOf(current.ics);
  const sequence = event.sequence >= 0 ? event.sequence : (stored >= 0 ? stored + 1 : 1);
  const ics = buildIcs(uid, event, dtstamp, sequence);
  const etag = params.etag;
  const ifMatch = etag !== null ? etag : current.etag;
  return finish(params, uid, ics, calendar.update(uid, ics, event.toJson(sequence), ifMatch));
}

function finish(params: Params, uid: string, ics: string, written: Written): i32 {
  if (written.problem !== null) return report(written.problem!);
  const effect = new JsonObject()
    .setString("kind", "calendar")
    .setString("provider", params.provider)
    .setString("uid", uid);
  const etag = written.etag;
  let etagValue: JsonValue = new JsonNull();
  if (etag !== null) etagValue = new JsonString(etag!);
  const output = new JsonObject()
    .setString("provider", params.provider)
    .setString("uid", uid)
    .set("created", new JsonBool(written.created))
    .set("etag", etagValue)
    .setString("ics_sha256", sha256HexOfString(ics))
    .set("side_effects", new JsonArray().push(effect));
  writeOutput(stringify(output));
  return 0;
}

function report(problem: Problem): i32 {
  return fail(problem.code, problem.message, stringify(problem.details));
}
