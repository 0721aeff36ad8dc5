// calendar_write through the real sandbox: the mock calendar service, a real
// Radicale CalDAV server on loopback, re-executions after a crash, replay,
// and the RFC 5545 text it writes.
import assert from "node:assert/strict";
import { join } from "node:path";
import type { HostCallPort, StepOutcome } from "../../actors/run_ports.ts";
import type { HostCallBody, HostCallKind } from "../../actors/run_messages.ts";
import { SeededRandom, SimulatedClock } from "../../src/deps/mod.ts";
import {
  GuardedHttpClient,
  type HttpGateway,
  replayPort,
  Sandbox,
} from "../../src/sandbox/mod.ts";
import {
  type MockCalendarService,
  mockCalendarService,
} from "../../src/sandbox/services/calendar.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { parseManifest } from "../../src/skills/manifest.ts";
import { type Json, sha256Hex } from "../../src/store/mod.ts";
import { closedPort, startServer } from "../support/http_servers.ts";
import { startRadicale } from "../support/radicale.ts";
import { pinOf, skillModule } from "./_harness.ts";

const SKILL_DIR = "skills-wasm/calendar_write";
const NOW_MS = 1_700_000_000_000; // 2023-11-14T22:13:20Z
const bytes = await skillModule(SKILL_DIR);
const manifest = parseManifest(
  Deno.readTextFileSync(join(PROJECT_ROOT, SKILL_DIR, "manifest.yaml")),
);
const PIN = pinOf(manifest, bytes);

const EVENT = {
  title: "Design review",
  start: "2025-03-10T10:00:00",
  end: "2025-03-10T11:30:00",
  time_zone: "Europe/Paris",
};

interface Harness extends AsyncDisposable {
  sandbox: Sandbox;
  calendar: MockCalendarService;
}

function openHarness(
  options: { http?: HttpGateway; calendar?: boolean } = {},
): Harness {
  const calendar = mockCalendarService();
  const sandbox = new Sandbox({
    modules: { module: () => Promise.resolve({ bytes, manifest }) },
    clock: new SimulatedClock(NOW_MS),
    random: new SeededRandom(1),
    poolSizeMax: 1,
    ...(options.calendar === false ? {} : { services: { calendar } }),
    ...(options.http === undefined ? {} : { http: options.http }),
  });
  return { sandbox, calendar, [Symbol.asyncDispose]: () => sandbox.close() };
}

/** One execution of step `book` of run `run_1`, with the log it leaves. */
interface Execution {
  outcome: StepOutcome;
  /** Answers made durable by this execution (recorded ones excluded). */
  persisted: HostCallBody[];
}

/**
 * Executes the step. `recorded` answers are served first, as after a crash;
 * `crashOn` makes persisting that kind of answer fail, as if the node died
 * after the provider acted but before the answer reached the log.
 */
async function execute(
  sandbox: Sandbox,
  input: Json,
  options: {
    recorded?: HostCallBody[];
    crashOn?: HostCallKind;
    step?: string;
    attempt?: number;
  } = {},
): Promise<Execution> {
  const persisted: HostCallBody[] = [];
  const port: HostCallPort = {
    recorded: options.recorded ?? [],
    persist(call) {
      // The identity question is not a side effect; crash on the write.
      const identity =
        (call.request as { op?: string } | null)?.op === "identity";
      if (call.kind === options.crashOn && !identity) {
        return Promise.reject(new Error("the node died here"));
      }
      persisted.push(call);
      return Promise.resolve();
    },
  };
  const outcome = await sandbox.execute({
    run_id: "run_1",
    step: options.step ?? "book",
    attempt: options.attempt ?? 1,
    pin: PIN,
    input,
    hostCalls: port,
  });
  return { outcome, persisted };
}

interface Output {
  provider: string;
  uid: string;
  created: boolean;
  etag: string | null;
  ics_sha256: string;
  side_effects: { kind: string; provider: string; uid: string }[];
}

function output(outcome: StepOutcome): Output {
  if (!outcome.ok) {
    assert.fail(`expected success, got ${JSON.stringify(outcome.error)}`);
  }
  return outcome.output as unknown as Output;
}

function failure(outcome: StepOutcome, code: string) {
  if (outcome.ok) {
    assert.fail(`expected ${code}, got ${JSON.stringify(outcome.output)}`);
  }
  assert.equal(outcome.error.code, code, outcome.error.message);
  return outcome.error;
}

/** The UID the skill derives: sha256 of the run and step the host names. */
function derivedUid(_event: unknown, step = "book"): string {
  return `aos-${sha256Hex(`run_1/${step}`).slice(0, 32)}`;
}

/** Checks RFC 5545 framing; returns the unfolded content lines. */
function checkIcsFraming(ics: string): string[] {
  assert.ok(ics.endsWith("\r\n"), "the text ends with CRLF");
  assert.doesNotMatch(ics, /[^\r]\n|\r(?!\n)/, "every line ends with CRLF");
  const physical = ics.slice(0, -2).split("\r\n");
  const encoder = new TextEncoder();
  const strict = new TextDecoder("utf-8", { fatal: true });
  for (const line of physical) {
    const octets = encoder.encode(line);
    assert.ok(octets.length <= 75, `${octets.length} octets: ${line}`);
    // A fold never cuts a UTF-8 sequence: each line decodes on its own.
    assert.equal(strict.decode(octets), line);
  }
  const lines = ics.slice(0, -2).replaceAll("\r\n ", "").split("\r\n");
  assert.equal(lines[0], "BEGIN:VCALENDAR");
  assert.equal(lines.at(-1), "END:VCALENDAR");
  return lines;
}

Deno.test("calendar_write writes the RFC 5545 text of the event to the mock calendar", async () => {
  await using harness = openHarness();
  const { outcome, persisted } = await execute(harness.sandbox, {
    event: {
      ...EVENT,
      description: "Agenda; budget, hiring\\ops\nBring: laptops",
      location: "Room 4, 2nd floor",
      recurrence: "FREQ=WEEKLY;COUNT=4;BYDAY=MO",
      organizer: "ada@example.com",
      attendees: [
        "grace@example.com",
        { email: "alan@example.com", name: "Turing, Alan" },
      ],
    },
  });
  const result = output(outcome);
  const uid = derivedUid({ ...EVENT, organizer: "ada@example.com" });
  const [stored] = harness.calendar.list("default");
  assert.ok(stored !== undefined);
  assert.deepEqual(result, {
    provider: "mock",
    uid,
    created: true,
    etag: stored.etag,
    ics_sha256: sha256Hex(stored.ics),
    side_effects: [{ kind: "calendar", provider: "mock", uid }],
  });
  assert.deepEqual(checkIcsFraming(stored.ics), [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//AOS//calendar_write 1.0.1//EN",
    "CALSCALE:GREGORIAN",
    "BEGIN:VEVENT",
    `UID:${uid}`,
    "DTSTAMP:20231114T221320Z",
    "SEQUENCE:0",
    "DTSTART;TZID=Europe/Paris:20250310T100000",
    "DTEND;TZID=Europe/Paris:20250310T113000",
    "RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=MO",
    "SUMMARY:Design review",
    "DESCRIPTION:Agenda\\; budget\\, hiring\\\\ops\\nBring: laptops",
    "LOCATION:Room 4\\, 2nd floor",
    "ORGANIZER:mailto:ada@example.com",
    "ATTENDEE:mailto:grace@example.com",
    'ATTENDEE;CN="Turing, Alan":mailto:alan@example.com',
    "END:VEVENT",
    "END:VCALENDAR",
  ]);
  assert.deepEqual(persisted.map((call) => call.kind), [
    "calendar",
    "now",
    "calendar",
  ]);
  assert.deepEqual(stored.created_by, { run_id: "run_1", step: "book" });
});

Deno.test("calendar_write folds long lines at 75 octets without splitting a character", async () => {
  await using harness = openHarness();
  const description = "Réunion d'équipe 🗓️ — ".repeat(12) + "fin";
  const title = "x".repeat(74) + "é" + "y".repeat(80);
  output(
    (await execute(harness.sandbox, {
      event: { ...EVENT, title, description },
    })).outcome,
  );
  const [stored] = harness.calendar.list();
  const lines = checkIcsFraming(stored!.ics);
  assert.ok(stored!.ics.split("\r\n").length > lines.length, "lines folded");
  assert.ok(lines.includes(`SUMMARY:${title}`));
  assert.ok(lines.includes(`DESCRIPTION:${description}`));
});

Deno.test("calendar_write writes UTC times with Z and no TZID", async () => {
  await using harness = openHarness();
  output(
    (await execute(harness.sandbox, {
      event: { ...EVENT, time_zone: "UTC" },
    })).outcome,
  );
  const lines = checkIcsFraming(harness.calendar.list()[0]!.ics);
  assert.ok(lines.includes("DTSTART:20250310T100000Z"));
  assert.ok(lines.includes("DTEND:20250310T113000Z"));
});

Deno.test("calendar_write re-executed after a crash leaves one event (mock)", async () => {
  await using harness = openHarness();
  const input = { event: EVENT };
  // The service stored the event, but the node died before its answer was
  // durable: the log holds only the clock reading.
  const crashed = await execute(harness.sandbox, input, {
    crashOn: "calendar",
  });
  assert.equal(crashed.outcome.ok, false);
  assert.equal(harness.calendar.list().length, 1);

  const recovered = await execute(harness.sandbox, input, {
    recorded: crashed.persisted,
  });
  const result = output(recovered.outcome);
  assert.equal(result.created, false, "the second write replaced the first");
  assert.equal(result.uid, derivedUid(EVENT));
  assert.equal(harness.calendar.list().length, 1, "never a duplicate");
  assert.equal(harness.calendar.list()[0]!.writes, 2);

  // A re-execution with every answer in the log writes nothing and
  // returns the same bytes.
  const log = [...crashed.persisted, ...recovered.persisted];
  const again = await execute(harness.sandbox, input, { recorded: log });
  assert.equal(again.persisted.length, 0);
  assert.equal(harness.calendar.list()[0]!.writes, 2);
  assert.ok(again.outcome.ok && recovered.outcome.ok);
  assert.equal(again.outcome.output_sha256, recovered.outcome.output_sha256);
});

Deno.test("calendar_write updates a mock event: SEQUENCE goes up, a stale etag is refused", async () => {
  await using harness = openHarness();
  const created = output(
    (await execute(harness.sandbox, { event: EVENT }))
      .outcome,
  );
  const update = {
    operation: "update",
    uid: created.uid,
    event: {
      ...EVENT,
      title: "Design review (moved)",
      end: "2025-03-10T12:00:00",
    },
  };
  const updated = output((await execute(harness.sandbox, update)).outcome);
  assert.equal(updated.created, false);
  assert.equal(updated.uid, created.uid);
  assert.notEqual(updated.etag, created.etag);
  const [stored] = harness.calendar.list();
  const lines = checkIcsFraming(stored!.ics);
  assert.ok(lines.includes("SUMMARY:Design review (moved)"));
  assert.ok(lines.includes("SEQUENCE:1"));
  assert.equal(harness.calendar.list().length, 1);

  const stale = await execute(harness.sandbox, {
    ...update,
    etag: created.etag,
  });
  failure(stale.outcome, "ERR_CALENDAR_NOT_FOUND");
  const missing = await execute(harness.sandbox, {
    ...update,
    uid: "no-such-event",
  });
  failure(missing.outcome, "ERR_CALENDAR_NOT_FOUND");
});

Deno.test("calendar_write on a host without a calendar service fails with ERR_CALENDAR_NOT_FOUND", async () => {
  await using harness = openHarness({ calendar: false });
  const { outcome } = await execute(harness.sandbox, { event: EVENT });
  const error = failure(outcome, "ERR_CALENDAR_NOT_FOUND");
  assert.equal(error.retryable, false);
  assert.equal(error.details.cause_code, "HOST_CALL_INVALID");
});

Deno.test("calendar_write refuses invalid events before any host call", async (t) => {
  await using harness = openHarness();
  const invalid: [string, Record<string, unknown>, string][] = [
    ["a missing title", { title: undefined }, "event.title"],
    ["a blank title", { title: "  " }, "event.title"],
    ["an end before the start", { end: "2025-03-10T09:00:00" }, "event.end"],
    ["an end equal to the start", { end: EVENT.start }, "event.end"],
    [
      "a start with an offset",
      { start: "2025-03-10T10:00:00+01:00" },
      "event.start",
    ],
    [
      "a day that does not exist",
      { start: "2025-02-29T10:00:00" },
      "event.start",
    ],
    [
      "a time zone with spaces",
      { time_zone: "Europe/New York" },
      "event.time_zone",
    ],
    [
      "a time zone that is an offset",
      { time_zone: "+01:00" },
      "event.time_zone",
    ],
    ["a missing time zone", { time_zone: undefined }, "event.time_zone"],
    ["an RRULE without FREQ", { recurrence: "COUNT=4" }, "event.recurrence"],
    [
      "an RRULE with a bad FREQ",
      { recurrence: "FREQ=FORTNIGHTLY" },
      "event.recurrence",
    ],
    ["an RRULE with COUNT and UNTIL", {
      recurrence: "FREQ=DAILY;COUNT=2;UNTIL=20250401T000000Z",
    }, "event.recurrence"],
    ["an RRULE with a local UNTIL", {
      recurrence: "FREQ=DAILY;UNTIL=20250401T000000",
    }, "event.recurrence"],
    [
      "an RRULE with a bad BYDAY",
      { recurrence: "FREQ=WEEKLY;BYDAY=MO,XX" },
      "event.recurrence",
    ],
    [
      "an RRULE with a zero COUNT",
      { recurrence: "FREQ=WEEKLY;COUNT=0" },
      "event.recurrence",
    ],
    [
      "an RRULE with the prefix",
      { recurrence: "RRULE:FREQ=WEEKLY" },
      "event.recurrence",
    ],
    [
      "an RRULE with a repeated part",
      { recurrence: "FREQ=WEEKLY;FREQ=DAILY" },
      "event.recurrence",
    ],
    [
      "an attendee who is no address",
      { attendees: ["bob"] },
      "event.attendees[0]",
    ],
    ["a name with a quote", {
      attendees: [{ email: "a@b.c", name: 'Bob "B"' }],
    }, "event.attendees[0].name"],
    ["a title with a control character", { title: "a\u0007b" }, "event.title"],
  ];
  for (const [name, change, field] of invalid) {
    await t.step(name, async () => {
      const event = JSON.parse(JSON.stringify({ ...EVENT, ...change }));
      const { outcome, persisted } = await execute(harness.sandbox, { event });
      const error = failure(outcome, "ERR_CALENDAR_INVALID_EVENT");
      assert.equal(error.details.field, field, error.message);
      assert.equal(persisted.length, 0, "nothing was asked of the host");
    });
  }
  await t.step("a uid that cannot be a file name", async () => {
    const { outcome } = await execute(harness.sandbox, {
      uid: "../etc",
      event: EVENT,
    });
    assert.equal(
      failure(outcome, "ERR_CALENDAR_INVALID_EVENT").details.field,
      "uid",
    );
  });
  // The skill refuses what its input_schema cannot express ...
  const inputs: [string, Record<string, unknown>, string][] = [
    ["a collection that is no URL", {
      provider: "caldav",
      collection_url: "dav/alice",
    }, "collection_url"],
    ["an etag on create", { etag: '"x"' }, "etag"],
  ];
  for (const [name, params, field] of inputs) {
    await t.step(name, async () => {
      const { outcome } = await execute(harness.sandbox, {
        ...params,
        event: EVENT,
      } as Json);
      assert.equal(
        failure(outcome, "SKILL_INPUT_INVALID").details.field,
        field,
      );
    });
  }
  // ... and the sandbox refuses what it can, before the skill runs.
  const shapes: [string, Record<string, unknown>][] = [
    ["an unknown provider", { provider: "google", event: EVENT }],
    ["caldav without a collection", { provider: "caldav", event: EVENT }],
    ["an update without a uid", { operation: "update", event: EVENT }],
    ["an unknown param", { username: "alice", event: EVENT }],
    ["an unknown event field", { event: { ...EVENT, colour: "red" } }],
    ["a negative sequence", { event: { ...EVENT, sequence: -1 } }],
    ["no event", {}],
  ];
  for (const [name, params] of shapes) {
    await t.step(name, async () => {
      const { outcome } = await execute(harness.sandbox, params as Json);
      failure(outcome, "VALIDATION_INPUT_SCHEMA");
    });
  }
  assert.equal(harness.calendar.list().length, 0);
});

/** GETs a resource from Radicale as the test user. */
async function davGet(
  url: string,
  authorization: string,
): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { headers: { authorization } });
  return { status: response.status, text: await response.text() };
}

/** The `.ics` resources of a collection, by PROPFIND. */
async function davResources(
  collectionUrl: string,
  authorization: string,
): Promise<string[]> {
  const response = await fetch(collectionUrl, {
    method: "PROPFIND",
    headers: { authorization, depth: "1" },
  });
  const text = await response.text();
  assert.equal(response.status, 207, text);
  return [...text.matchAll(/<(?:\w+:)?href>([^<]*\.ics)<\//g)].map((match) =>
    match[1]!.split("/").pop()!
  ).sort();
}

function unfold(ics: string): string[] {
  return ics.replaceAll("\r\n ", "").split("\r\n");
}

function gateway(port: number, token: string | undefined): HttpGateway {
  return {
    client: new GuardedHttpClient({
      loopbackAllowlist: [{ host: "127.0.0.1", port }],
    }),
    secrets: token === undefined ? {} : { CALDAV_BASIC: token },
  };
}

Deno.test("calendar_write against a real CalDAV server (Radicale)", async (t) => {
  await using radicale = await startRadicale();
  const token = btoa(`${radicale.user}:${radicale.password}`);
  await using harness = openHarness({
    http: gateway(radicale.port, token),
  });
  const auth = radicale.authorization;
  const event = {
    ...EVENT,
    description: "Quarterly; all hands",
    recurrence: "FREQ=WEEKLY;COUNT=4",
    attendees: [{ email: "grace@example.com", name: "Hopper, Grace" }],
  };
  const input = {
    provider: "caldav",
    collection_url: radicale.collectionUrl,
    event,
  };
  const uid = derivedUid(EVENT);
  let created: Output | undefined;

  await t.step("create puts the event in the collection", async () => {
    const { outcome, persisted } = await execute(harness.sandbox, input);
    created = output(outcome);
    assert.equal(created.provider, "caldav");
    assert.equal(created.uid, uid);
    assert.equal(created.created, true);
    assert.match(created.etag ?? "", /^".+"$/);
    const stored = await davGet(`${radicale.collectionUrl}${uid}.ics`, auth);
    assert.equal(stored.status, 200);
    const lines = unfold(stored.text);
    for (
      const line of [
        `UID:${uid}`,
        "SUMMARY:Design review",
        "DESCRIPTION:Quarterly\\; all hands",
        "DTSTART;TZID=Europe/Paris:20250310T100000",
        "DTEND;TZID=Europe/Paris:20250310T113000",
        "RRULE:FREQ=WEEKLY;COUNT=4",
        'ATTENDEE;CN="Hopper, Grace":mailto:grace@example.com',
        "DTSTAMP:20231114T221320Z",
        "SEQUENCE:0",
      ]
    ) assert.ok(lines.includes(line), `${line} in\n${stored.text}`);
    assert.deepEqual(await davResources(radicale.collectionUrl, auth), [
      `${uid}.ics`,
    ]);
    // The log holds the secret's reference, never its value.
    const put = persisted.find((call) => call.kind === "http")!;
    assert.equal(
      (put.request as { headers: Record<string, string> }).headers
        .authorization,
      "Basic {{secret:CALDAV_BASIC}}",
    );
    assert.ok(!JSON.stringify(persisted).includes(token));
  });

  await t.step(
    "the same step run again replaces its event: still one",
    async () => {
      const again = output((await execute(harness.sandbox, input)).outcome);
      assert.equal(again.uid, uid);
      assert.equal(again.created, false);
      assert.deepEqual(await davResources(radicale.collectionUrl, auth), [
        `${uid}.ics`,
      ]);
    },
  );

  await t.step(
    "a step re-executed after a crash before its answer was logged leaves one event",
    async () => {
      const lunch = { ...EVENT, title: "Lunch" };
      const lunchInput = { ...input, event: lunch };
      const crashed = await execute(harness.sandbox, lunchInput, {
        crashOn: "http",
        step: "lunch",
      });
      assert.equal(crashed.outcome.ok, false);
      const recovered = await execute(harness.sandbox, lunchInput, {
        recorded: crashed.persisted,
        step: "lunch",
      });
      const result = output(recovered.outcome);
      assert.equal(result.created, false);
      assert.equal(result.uid, derivedUid(lunch, "lunch"));
      assert.deepEqual(
        await davResources(radicale.collectionUrl, auth),
        [`${uid}.ics`, `${result.uid}.ics`].sort(),
      );

      // Replay serves every answer from the log: same bytes, nothing sent.
      const log = [...crashed.persisted, ...recovered.persisted];
      const replayed = await harness.sandbox.execute({
        run_id: "run_1",
        step: "lunch",
        attempt: 1,
        pin: PIN,
        input: lunchInput,
        hostCalls: replayPort(log),
      });
      assert.ok(replayed.ok && recovered.outcome.ok, JSON.stringify(replayed));
      assert.equal(replayed.output_sha256, recovered.outcome.output_sha256);
    },
  );

  await t.step(
    "a retry of the step (a new attempt, so a new Idempotency-Key) still writes its one event",
    async () => {
      const retried = output(
        (await execute(harness.sandbox, input, { attempt: 2 })).outcome,
      );
      assert.equal(retried.uid, uid);
      assert.equal(retried.created, false);
      assert.deepEqual(
        await davResources(radicale.collectionUrl, auth),
        [`${uid}.ics`, `${derivedUid(EVENT, "lunch")}.ics`].sort(),
      );
    },
  );

  await t.step("update changes the event and raises its SEQUENCE", async () => {
    const updated = output(
      (await execute(harness.sandbox, {
        ...input,
        operation: "update",
        uid,
        event: { ...event, title: "Design review (moved)", location: "Room 7" },
      })).outcome,
    );
    assert.equal(updated.created, false);
    assert.notEqual(updated.etag, created?.etag);
    const stored = await davGet(`${radicale.collectionUrl}${uid}.ics`, auth);
    const lines = unfold(stored.text);
    assert.ok(lines.includes("SUMMARY:Design review (moved)"), stored.text);
    assert.ok(lines.includes("LOCATION:Room 7"));
    assert.ok(lines.includes("SEQUENCE:1"));
    assert.equal((await davResources(radicale.collectionUrl, auth)).length, 2);
  });

  await t.step(
    "update with a stale etag or of an unknown uid is ERR_CALENDAR_NOT_FOUND",
    async () => {
      const stale = await execute(harness.sandbox, {
        ...input,
        operation: "update",
        uid,
        etag: created!.etag!,
      });
      assert.equal(
        failure(stale.outcome, "ERR_CALENDAR_NOT_FOUND").details.reason,
        "etag_mismatch",
      );
      const unknown = await execute(harness.sandbox, {
        ...input,
        operation: "update",
        uid: "no-such-event",
      });
      failure(unknown.outcome, "ERR_CALENDAR_NOT_FOUND");
    },
  );

  await t.step("an unknown collection is ERR_CALENDAR_NOT_FOUND", async () => {
    const { outcome } = await execute(harness.sandbox, {
      ...input,
      collection_url: `${radicale.url}/${radicale.user}/no-such-calendar/`,
    });
    assert.equal(
      failure(outcome, "ERR_CALENDAR_NOT_FOUND").details.status,
      409,
    );
  });

  await t.step("another user's collection is ERR_CALENDAR_AUTH", async () => {
    const { outcome } = await execute(harness.sandbox, {
      ...input,
      collection_url: `${radicale.url}/bob/work/`,
    });
    failure(outcome, "ERR_CALENDAR_AUTH");
  });

  await t.step("a wrong password is ERR_CALENDAR_AUTH", async () => {
    await using wrong = openHarness({
      http: gateway(radicale.port, btoa(`${radicale.user}:wrong-password`)),
    });
    const { outcome } = await execute(wrong.sandbox, input);
    assert.equal(failure(outcome, "ERR_CALENDAR_AUTH").details.status, 401);
  });

  await t.step(
    "a host without the CALDAV_BASIC secret is HTTP_SECRET_UNKNOWN",
    async () => {
      await using bare = openHarness({
        http: gateway(radicale.port, undefined),
      });
      failure(
        (await execute(bare.sandbox, input)).outcome,
        "HTTP_SECRET_UNKNOWN",
      );
    },
  );

  assert.equal((await davResources(radicale.collectionUrl, auth)).length, 2);
});

Deno.test("calendar_write maps a failing or unreachable CalDAV server to ERR_CALENDAR_PROVIDER", async () => {
  await using failing = startServer(() =>
    new Response("try later", { status: 503 })
  );
  await using harness = openHarness({
    http: gateway(failing.port, "dG9rZW4="),
  });
  const busy = await execute(harness.sandbox, {
    provider: "caldav",
    collection_url: `${failing.origin}/alice/work`,
    event: EVENT,
  });
  const error = failure(busy.outcome, "ERR_CALENDAR_PROVIDER");
  assert.equal(error.details.status, 503);
  assert.equal(error.retryable, true);

  const port = closedPort();
  await using down = openHarness({ http: gateway(port, "dG9rZW4=") });
  const unreachable = await execute(down.sandbox, {
    provider: "caldav",
    collection_url: `http://127.0.0.1:${port}/alice/work/`,
    event: EVENT,
  });
  assert.equal(
    failure(unreachable.outcome, "ERR_CALENDAR_PROVIDER").details.cause_code,
    "HTTP_CONNECT_FAILED",
  );
});

Deno.test("calendar_write seeds the UID with the run and step: two steps writing the same event keep two events", async () => {
  await using harness = openHarness();
  const input = { event: EVENT };
  const first = output(
    (await execute(harness.sandbox, input, { step: "remind_ada" })).outcome,
  );
  const second = output(
    (await execute(harness.sandbox, input, { step: "remind_bob" })).outcome,
  );
  assert.equal(first.uid, derivedUid(EVENT, "remind_ada"));
  assert.equal(second.uid, derivedUid(EVENT, "remind_bob"));
  assert.notEqual(first.uid, second.uid);
  assert.equal(harness.calendar.list().length, 2);
});
