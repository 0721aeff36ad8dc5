import assert from "node:assert/strict";
import { Hono } from "hono";
import { errorResponse } from "../../api/mod.ts";
import { silentLogger } from "../../deps/mod.ts";
import { AosError } from "../../errors/mod.ts";
import { sha256Hex } from "../../store/mod.ts";
import { mockCalendarService } from "./calendar.ts";
import { calendarRoutes } from "../../api/calendar_routes.ts";

const CONTEXT = {
  permissions: ["calendar"],
  run_id: "run_1",
  step: "book",
};

function ics(uid: string, summary = "Standup"): string {
  return [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "BEGIN:VEVENT",
    `UID:${uid}`,
    `SUMMARY:${summary}`,
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");
}

function put(uid: string, extra: Record<string, unknown> = {}) {
  return {
    op: "put",
    calendar: "default",
    uid,
    ics: ics(uid),
    event: { title: "Standup" },
    ...extra,
  };
}

async function refusal(
  promise: Promise<unknown>,
): Promise<AosError> {
  const error = await promise.then(
    () => assert.fail("expected a refusal"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof AosError, String(error));
  return error;
}

Deno.test("mockCalendarService() creates an event, then replaces it on a second put of the same uid", async () => {
  const calendar = mockCalendarService();
  const first = await calendar.answer(put("a-1"), CONTEXT);
  const etag = `"${sha256Hex(ics("a-1")).slice(0, 32)}"`;
  assert.deepEqual(first, { ok: true, uid: "a-1", created: true, etag });

  const replaced = await calendar.answer(
    put("a-1", { ics: ics("a-1", "Moved"), event: { title: "Moved" } }),
    { ...CONTEXT, run_id: "run_2" },
  );
  assert.equal((replaced as { created: boolean }).created, false);
  const events = calendar.list("default");
  assert.equal(events.length, 1, "a second put never duplicates");
  assert.deepEqual(events[0]!.event, { title: "Moved" });
  assert.equal(events[0]!.writes, 2);
  assert.deepEqual(events[0]!.created_by, { run_id: "run_1", step: "book" });
  assert.deepEqual(events[0]!.updated_by, { run_id: "run_2", step: "book" });
});

Deno.test("mockCalendarService() answers get with the stored version, or found false", async () => {
  const calendar = mockCalendarService();
  assert.deepEqual(
    await calendar.answer(
      { op: "get", calendar: "default", uid: "a-1" },
      CONTEXT,
    ),
    { ok: true, found: false, uid: "a-1" },
  );
  const { etag } = await calendar.answer(put("a-1"), CONTEXT) as {
    etag: string;
  };
  assert.deepEqual(
    await calendar.answer(
      { op: "get", calendar: "default", uid: "a-1" },
      CONTEXT,
    ),
    {
      ok: true,
      found: true,
      uid: "a-1",
      etag,
      ics: ics("a-1"),
      event: { title: "Standup" },
    },
  );
  assert.deepEqual(
    await calendar.answer(
      { op: "get", calendar: "other", uid: "a-1" },
      CONTEXT,
    ),
    { ok: true, found: false, uid: "a-1" },
    "calendars are separate",
  );
});

Deno.test("mockCalendarService() writes with if_match only over the version it names", async () => {
  const calendar = mockCalendarService();
  const missing = await refusal(
    calendar.answer(put("a-1", { if_match: '"x"' }), CONTEXT),
  );
  assert.equal(missing.code, "ERR_CALENDAR_NOT_FOUND");
  assert.equal(missing.details.reason, "missing");

  const { etag } = await calendar.answer(put("a-1"), CONTEXT) as {
    etag: string;
  };
  const stale = await refusal(
    calendar.answer(put("a-1", { if_match: '"stale"' }), CONTEXT),
  );
  assert.equal(stale.code, "ERR_CALENDAR_NOT_FOUND");
  assert.equal(stale.details.reason, "etag_mismatch");

  const updated = await calendar.answer(
    put("a-1", { if_match: etag, ics: ics("a-1", "Later") }),
    CONTEXT,
  );
  assert.equal((updated as { created: boolean }).created, false);
  assert.equal(calendar.list().length, 1);
});

Deno.test("mockCalendarService() refuses requests it cannot take", async (t) => {
  const calendar = mockCalendarService();
  const cases: [string, unknown, string][] = [
    ["not an object", "put", "HOST_CALL_INVALID"],
    [
      "an unknown op",
      { op: "delete", calendar: "c", uid: "u" },
      "HOST_CALL_INVALID",
    ],
    [
      "a bad calendar name",
      { ...put("u"), calendar: "a/b" },
      "HOST_CALL_INVALID",
    ],
    [
      "a uid with a slash",
      { ...put("../x"), ics: ics("../x") },
      "HOST_CALL_INVALID",
    ],
    ["an unknown member", { ...put("u"), extra: 1 }, "HOST_CALL_INVALID"],
    [
      "ics of another uid",
      { ...put("u"), ics: ics("v") },
      "ERR_CALENDAR_INVALID_EVENT",
    ],
    [
      "ics that is no calendar",
      { ...put("u"), ics: "UID:u\r\n" },
      "ERR_CALENDAR_INVALID_EVENT",
    ],
  ];
  for (const [name, request, code] of cases) {
    await t.step(name, async () => {
      const error = await refusal(calendar.answer(request, CONTEXT));
      assert.equal(error.code, code, error.message);
    });
  }
  const ungranted = await refusal(
    calendar.answer(put("u"), { ...CONTEXT, permissions: ["http"] }),
  );
  assert.equal(ungranted.code, "HOST_CALL_INVALID");
  assert.equal(calendar.list().length, 0, "nothing refused was stored");
});

Deno.test("mockCalendarService() finds the uid of a folded UID line", async () => {
  const calendar = mockCalendarService();
  const uid = `aos-${"0123456789".repeat(10)}`;
  const line = `UID:${uid}`;
  const folded = ics(uid).replace(
    line,
    `${line.slice(0, 75)}\r\n ${line.slice(75)}`,
  );
  const answer = await calendar.answer(put(uid, { ics: folded }), CONTEXT);
  assert.equal((answer as { created: boolean }).created, true);
});

Deno.test("mockCalendarService() holds at most eventsMax events, but still replaces", async () => {
  const calendar = mockCalendarService({ eventsMax: 2 });
  await calendar.answer(put("a"), CONTEXT);
  await calendar.answer(put("b"), CONTEXT);
  const full = await refusal(calendar.answer(put("c"), CONTEXT));
  assert.equal(full.code, "ERR_CALENDAR_PROVIDER");
  await calendar.answer(put("a"), CONTEXT);
  assert.deepEqual(calendar.list().map((event) => event.uid), ["a", "b"]);
});

Deno.test("mockCalendarService() list() returns copies, by calendar", async () => {
  const calendar = mockCalendarService();
  await calendar.answer(put("a"), CONTEXT);
  await calendar.answer({ ...put("b"), calendar: "team" }, CONTEXT);
  assert.deepEqual(calendar.list("team").map((event) => event.uid), ["b"]);
  assert.deepEqual(calendar.list("nope"), []);
  assert.deepEqual(calendar.list().map((event) => event.uid), ["a", "b"]);
  calendar.list("default")[0]!.ics = "changed";
  assert.equal(calendar.list("default")[0]!.ics, ics("a"));
});

Deno.test("calendarRoutes() lists the mock calendar's events and refuses a bad query", async () => {
  const calendar = mockCalendarService();
  await calendar.answer(put("a"), CONTEXT);
  await calendar.answer({ ...put("b"), calendar: "team" }, CONTEXT);
  const app = new Hono();
  app.onError((error, c) => errorResponse(error, c, silentLogger));
  calendarRoutes(app, calendar);

  const all = await app.request("/v1/calendars/mock/events");
  assert.equal(all.status, 200);
  const body = await all.json() as { events: { uid: string }[] };
  assert.deepEqual(body.events.map((event) => event.uid), ["a", "b"]);

  const team = await app.request("/v1/calendars/mock/events?calendar=team");
  const teamBody = await team.json() as { events: { uid: string }[] };
  assert.deepEqual(teamBody.events.map((event) => event.uid), ["b"]);

  const bad = await app.request("/v1/calendars/mock/events?calendar=a/b");
  assert.equal(bad.status, 400);
  const error = await bad.json() as { error: { code: string } };
  assert.equal(error.error.code, "VALIDATION_QUERY_INVALID");
});
