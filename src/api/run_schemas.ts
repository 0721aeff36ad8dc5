import { z } from "zod";
import { ERROR_CODES } from "../errors/mod.ts";
import { TERMINAL_STATUSES } from "../store/mod.ts";

// The zod schemas of the run routes: requests are validated with them and
// `/openapi.json` is generated from them, so the document cannot drift from
// what the server accepts.

const runStatus = z.enum(["running", "paused", ...TERMINAL_STATUSES] as [
  string,
  ...string[],
]);

/** A time in a query: ISO 8601 with an offset, or milliseconds since the epoch. */
const instant = z.union([
  z.string().regex(/^\d{1,15}$/).transform(Number),
  z.iso.datetime({ offset: true }).transform((text) => Date.parse(text)),
]).meta({
  description:
    "ISO 8601 date-time with an offset (2026-11-25T08:00:00Z) or milliseconds since the epoch",
});

/** `GET /v1/runs`. */
export const runListQuery = z.object({
  status: runStatus.optional(),
  skill: z.string().regex(/^[a-z0-9_.-]{1,64}$/).optional().meta({
    description: "only runs that pinned this skill (by name) when submitted",
  }),
  created_from: instant.optional().meta({
    description: "only runs created at or after this time",
  }),
  created_before: instant.optional().meta({
    description: "only runs created before this time",
  }),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(200).optional().meta({
    description: "next_cursor of the previous page",
  }),
}).strict();

/** `GET /v1/runs/:id`. */
export const runViewQuery = z.object({
  wait_ms: z.coerce.number().int().min(0).max(60_000).optional().meta({
    description: "long-poll: wait up to this long for the run to end",
  }),
}).strict();

/** `POST /v1/runs`. */
export const submitQuery = z.object({
  wait_ms: z.coerce.number().int().min(0).max(60_000).optional().meta({
    description:
      "once the run is accepted, wait up to this long for it to end or pause: 200 with the run's view if it did, else 202 as without it",
  }),
}).strict();

/** `POST /v1/runs/:id/cancel`. */
export const cancelBody = z.object({ reason: z.string().max(500).optional() })
  .strict();

/** `GET /v1/runs/:id/events`. */
export const eventsQuery = z.object({
  from_seq: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
    .default(0),
  follow: z.enum(["1", "0", "true", "false"]).optional().meta({
    description:
      "1: stream records as server-sent events until the run ends (Last-Event-ID resumes)",
  }),
}).strict();

/** `Last-Event-ID` of a reconnecting event stream: the seq last received. */
export const lastEventId = z.string().regex(/^\d{1,15}$/).transform(Number);

/**
 * `Idempotency-Key`: a Structured Fields string (the IETF draft's form,
 * `"abc"`), or the bare token most clients send.
 */
export const idempotencyKey = z.string()
  .transform((text) => text.trim().replace(/^"(.*)"$/, "$1"))
  .pipe(
    z.string().min(1).max(255).regex(
      /^[\x21\x23-\x5b\x5d-\x7e]+$/,
      "visible ASCII without quotes, backslashes or spaces",
    ),
  );

/** `202` of `POST /v1/runs`. */
export const runAccepted = z.object({
  run_id: z.string(),
  status: z.literal("running"),
  links: z.object({ self: z.string() }),
});

const runSummary = z.object({
  run_id: z.string(),
  tenant: z.string(),
  status: runStatus,
  created_at: z.number().int(),
  updated_at: z.number().int(),
  last_seq: z.number().int(),
  digest: z.string(),
});

/** `200` of `GET /v1/runs`. */
export const runPage = z.object({
  runs: z.array(runSummary),
  next_cursor: z.string().nullable(),
});

const logRecord = z.object({
  v: z.number().int(),
  run_id: z.string(),
  seq: z.number().int(),
  at: z.number().int(),
  type: z.string(),
  body: z.record(z.string(), z.unknown()),
  prev: z.string(),
  hash: z.string(),
});

/** `200` of `GET /v1/runs/:id/events` without `follow`. */
export const eventsPage = z.object({
  run_id: z.string(),
  digest: z.string(),
  events: z.array(logRecord),
});

const recordedError = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()),
  category: z.string(),
  retryable: z.boolean(),
});

/** `200` of `GET /v1/runs/:id`. */
export const runView = z.object({
  run_id: z.string(),
  tenant: z.string(),
  status: runStatus,
  code: z.string().nullable(),
  message: z.string().nullable(),
  submitted_at: z.string(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().nullable(),
  output: z.unknown(),
  error: recordedError.nullable(),
  cost_cents: z.number(),
  steps: z.array(
    z.object({
      id: z.string(),
      skill: z.string().nullable(),
      status: z.string(),
      attempts: z.number().int(),
      output: z.unknown(),
      error: recordedError.nullable(),
    }).loose(),
  ),
  records: z.number().int(),
  digest: z.string(),
}).loose();

/** Every error answer: `{ error: { code, message, details } }`. */
export const errorEnvelope = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).meta({
      description:
        "validation errors list details.issues as { pointer (JSON pointer), message, code }",
    }),
  }),
});
