/**
 * The mock calendar: an in-memory calendar behind `aos_calendar`, for plans
 * that write events without a real calendar server (demos, tests, dry
 * runs). Its answers go through the host-call journal like every host
 * answer, so a re-executed or replayed step is served the recorded answer
 * and writes nothing twice.
 *
 * @module
 */
import { z } from "zod";
import { AosError } from "../../errors/mod.ts";
import { type Json, sha256Hex } from "../../store/mod.ts";
import type { HostService, HostServiceContext } from "../host_functions.ts";

/** Who wrote an event: the run and step whose skill made the call. */
export interface EventWriter {
  run_id: string;
  step: string;
}

/** One event as the mock calendar keeps it. */
export interface StoredEvent {
  calendar: string;
  uid: string;
  /** The RFC 5545 text the skill wrote. */
  ics: string;
  /** The event as the skill described it (JSON). */
  event: Json;
  /** `"<first 32 hex of sha256(ics)>"`, quoted like an HTTP entity tag. */
  etag: string;
  /** How many puts wrote this UID; a replaced event is never a second event. */
  writes: number;
  created_by: EventWriter;
  updated_by: EventWriter;
}

/** The mock calendar service, with a way to see what it holds. */
export interface MockCalendarService extends HostService {
  /** Events of `calendar` (of every calendar when undefined), oldest first. */
  list(calendar?: string): StoredEvent[];
}

/** Options of `mockCalendarService`. */
export interface MockCalendarOptions {
  /** Most events over all calendars; 10 000. A put past it is ERR_CALENDAR_PROVIDER. */
  eventsMax?: number;
  /** Largest `ics`, in UTF-16 code units; 256 Ki. */
  icsCharsMax?: number;
}

/** The permission a skill needs to reach the calendar service. */
export const CALENDAR_PERMISSION = "calendar";

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const UID = /^(?!\.)[A-Za-z0-9._@-]{1,200}$/;

function requestSchema(icsCharsMax: number) {
  const target = {
    calendar: z.string().regex(NAME, "1-64 letters, digits, _ or -"),
    uid: z.string().regex(UID, "1-200 letters, digits, . _ - @"),
  };
  return z.discriminatedUnion("op", [
    // Which run and step is calling: the skill seeds event UIDs with it, so a
    // retried or recovered step overwrites its own event. Recorded like any
    // answer, so a replayed step sees the same identity.
    z.object({ op: z.literal("identity") }).strict(),
    z.object({ op: z.literal("get"), ...target }).strict(),
    z.object({
      op: z.literal("put"),
      ...target,
      ics: z.string().min(1).max(icsCharsMax),
      event: z.record(z.string(), z.unknown()),
      if_match: z.string().min(1).max(200).optional(),
    }).strict(),
  ]);
}

type CalendarRequest = z.infer<ReturnType<typeof requestSchema>>;
type PutRequest = Extract<CalendarRequest, { op: "put" }>;

/**
 * An in-memory calendar service. Requests:
 * - `{ op: "get", calendar, uid }` → `{ ok: true, found: false, uid }` or
 *   `{ ok: true, found: true, uid, etag, ics, event }`;
 * - `{ op: "put", calendar, uid, ics, event, if_match? }` → `{ ok: true,
 *   uid, created, etag }`. A put of a UID the calendar holds replaces that
 *   event (created: false), so a step that runs again never duplicates it.
 *   With `if_match`, the put fails with ERR_CALENDAR_NOT_FOUND unless the
 *   stored event has that etag.
 *
 * A request that breaks this shape, or whose `ics` does not carry its
 * `uid`, is refused (HOST_CALL_INVALID, ERR_CALENDAR_INVALID_EVENT); the
 * host records the refusal as the call's `{ ok: false, error }` answer.
 *
 * @example
 * ```ts
 * const calendar = mockCalendarService();
 * const sandbox = new Sandbox({ modules, clock, random, services: { calendar } });
 * // ... run a plan with calendar_write, provider mock ...
 * console.log(calendar.list("default").map((event) => event.uid));
 * ```
 */
export function mockCalendarService(
  options: MockCalendarOptions = {},
): MockCalendarService {
  const eventsMax = options.eventsMax ?? 10_000;
  const schema = requestSchema(options.icsCharsMax ?? 256 * 1024);
  const calendars = new Map<string, Map<string, StoredEvent>>();
  let total = 0;

  const put = (request: PutRequest, writer: EventWriter): Json => {
    checkIcs(request.ics, request.uid);
    let events = calendars.get(request.calendar);
    const stored = events?.get(request.uid);
    if (request.if_match !== undefined && stored?.etag !== request.if_match) {
      throw new AosError(
        "ERR_CALENDAR_NOT_FOUND",
        stored === undefined
          ? `there is no event ${request.uid} in calendar ${request.calendar}`
          : `event ${request.uid} changed since etag ${request.if_match}`,
        {
          details: {
            calendar: request.calendar,
            uid: request.uid,
            reason: stored === undefined ? "missing" : "etag_mismatch",
          },
        },
      );
    }
    if (stored === undefined && total >= eventsMax) {
      throw new AosError(
        "ERR_CALENDAR_PROVIDER",
        `the mock calendar holds ${total} events, its limit`,
        { details: { events_max: eventsMax } },
      );
    }
    if (events === undefined) {
      events = new Map();
      calendars.set(request.calendar, events);
    }
    const etag = `"${sha256Hex(request.ics).slice(0, 32)}"`;
    events.set(request.uid, {
      calendar: request.calendar,
      uid: request.uid,
      ics: request.ics,
      event: structuredClone(request.event) as Json,
      etag,
      writes: (stored?.writes ?? 0) + 1,
      created_by: stored?.created_by ?? writer,
      updated_by: writer,
    });
    if (stored === undefined) total++;
    return { ok: true, uid: request.uid, created: stored === undefined, etag };
  };

  const handle = (request: unknown, context: HostServiceContext): Json => {
    if (!context.permissions.includes(CALENDAR_PERMISSION)) {
      throw new AosError(
        "HOST_CALL_INVALID",
        "the skill is not granted the calendar permission",
        { details: { permission: CALENDAR_PERMISSION } },
      );
    }
    const parsed = schema.safeParse(request);
    if (!parsed.success) {
      throw new AosError(
        "HOST_CALL_INVALID",
        "the calendar request is not valid",
        {
          details: {
            issues: parsed.error.issues.slice(0, 20).map((issue) =>
              `${issue.path.join(".") || "(request)"}: ${issue.message}`
            ),
          },
        },
      );
    }
    const body = parsed.data;
    if (body.op === "identity") {
      return { ok: true, run_id: context.run_id, step: context.step };
    }
    if (body.op === "put") {
      return put(body, { run_id: context.run_id, step: context.step });
    }
    const stored = calendars.get(body.calendar)?.get(body.uid);
    if (stored === undefined) return { ok: true, found: false, uid: body.uid };
    return {
      ok: true,
      found: true,
      uid: stored.uid,
      etag: stored.etag,
      ics: stored.ics,
      event: structuredClone(stored.event),
    };
  };

  return {
    answer(request: unknown, context: HostServiceContext): Promise<Json> {
      try {
        return Promise.resolve(handle(request, context));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    list(calendar?: string): StoredEvent[] {
      const chosen = calendar === undefined
        ? [...calendars.values()]
        : [calendars.get(calendar) ?? new Map<string, StoredEvent>()];
      return chosen.flatMap((events) =>
        [...events.values()].map((event) => structuredClone(event))
      );
    },
  };
}

/**
 * The `ics` must be one calendar whose (unfolded) UID line names `uid`:
 * otherwise what is stored under a UID would describe another event.
 */
function checkIcs(ics: string, uid: string): void {
  const unfolded = ics.replace(/\r\n[ \t]/g, "");
  const lines = unfolded.split("\r\n");
  const problem = !unfolded.startsWith("BEGIN:VCALENDAR\r\n")
    ? "does not start with BEGIN:VCALENDAR and CRLF"
    : !lines.includes(`UID:${uid}`)
    ? `has no line UID:${uid}`
    : undefined;
  if (problem !== undefined) {
    throw new AosError(
      "ERR_CALENDAR_INVALID_EVENT",
      `the calendar text ${problem}`,
      { details: { field: "ics", reason: problem, uid } },
    );
  }
}
