/**
 * The run routes of `/openapi.json`: submit, list, status, events, cancel,
 * replay, signals, resume and fork.
 *
 * @module
 */
import { SIGNAL_NAME } from "../plan/mod.ts";
import {
  errors,
  json,
  jsonBody,
  type JsonSchema,
  pathParameter,
  queryParameters,
  REF,
  RUN_ID,
  schemaOf,
} from "./_openapi_schema.ts";
import {
  eventsQuery,
  idempotencyKey,
  runListQuery,
  runViewQuery,
  submitQuery,
} from "./run_schemas.ts";

const PLAN_OR_GOAL = { oneOf: [REF("Plan"), REF("Goal")] };

/** The run paths, keyed by OpenAPI path template. */
export function runPaths(): Record<string, JsonSchema> {
  return {
    "/v1/runs": {
      post: {
        operationId: "submitRun",
        summary: "Submit a plan, or a goal for a planner",
        parameters: [{
          name: "Idempotency-Key",
          in: "header",
          required: false,
          description:
            "retries with the same key and body get the first response; keys are kept 24 hours (configurable)",
          schema: schemaOf(idempotencyKey),
        }, ...queryParameters(submitQuery)],
        requestBody: {
          required: true,
          content: {
            "application/json": { schema: PLAN_OR_GOAL },
            "application/yaml": { schema: PLAN_OR_GOAL },
          },
        },
        responses: {
          "200": json(
            REF("RunView"),
            "with wait_ms: the run ended or paused within it (the run was durable before the wait began)",
          ),
          "202": json(REF("RunAccepted"), "accepted; the run is durable"),
          ...errors(400, 401, 409, 413, 422, 429, 503),
        },
      },
      get: {
        operationId: "listRuns",
        summary: "List the tenant's runs, newest first",
        parameters: queryParameters(runListQuery),
        responses: {
          "200": json(REF("RunPage"), "one page"),
          ...errors(400, 401),
        },
      },
    },
    "/v1/runs/{id}": {
      get: {
        operationId: "getRun",
        summary: "A run's status, steps and outputs",
        parameters: [RUN_ID, ...queryParameters(runViewQuery)],
        responses: {
          "200": json(REF("RunView"), "the run"),
          ...errors(400, 401, 404),
        },
      },
    },
    "/v1/runs/{id}/cancel": {
      post: {
        operationId: "cancelRun",
        summary: "Stop a run",
        parameters: [RUN_ID],
        requestBody: jsonBody("CancelRequest", false),
        responses: {
          "202": json(REF("RunView"), "the run, cancelled"),
          ...errors(400, 401, 404, 409),
        },
      },
    },
    "/v1/runs/{id}/events": {
      get: {
        operationId: "runEvents",
        summary: "A run's log; with follow=1, a server-sent event stream",
        parameters: [
          RUN_ID,
          ...queryParameters(eventsQuery),
          {
            name: "Last-Event-ID",
            in: "header",
            required: false,
            description: "resume a followed stream after this seq",
            schema: { type: "string", pattern: "^\\d{1,15}$" },
          },
        ],
        responses: {
          "200": {
            description:
              "the log; as text/event-stream, `record` events (id = seq, data = the record) then one `end` event",
            content: {
              "application/json": { schema: REF("EventsPage") },
              "text/event-stream": { schema: { type: "string" } },
            },
          },
          ...errors(400, 401, 404),
        },
      },
    },
    "/v1/runs/{id}/replay": {
      post: {
        operationId: "replayRun",
        summary:
          "Re-execute a run against its recorded host calls and report the first divergence; with skill, an upgrade dry-run",
        parameters: [RUN_ID],
        requestBody: jsonBody("ReplayRequest", false),
        responses: {
          "200": json(REF("ReplayReport"), "the verdict and report"),
          ...errors(400, 401, 404, 413),
        },
      },
    },
    "/v1/runs/{id}/signals/{name}": {
      post: {
        operationId: "signalRun",
        summary:
          "Send a signal to a run; a wait_signal step of that name takes it (JSON body = payload, empty = null)",
        parameters: [
          RUN_ID,
          pathParameter("name", "the signal's name", {
            type: "string",
            pattern: SIGNAL_NAME.source,
          }),
          {
            name: "Idempotency-Key",
            in: "header",
            required: false,
            description:
              "retries with the same key, run, name and payload get the first response, and the run records the signal once; keys are kept 24 hours (configurable)",
            schema: schemaOf(idempotencyKey),
          },
        ],
        requestBody: {
          required: false,
          content: { "application/json": { schema: REF("JsonValue") } },
        },
        responses: {
          "202": json(
            REF("SignalAccepted"),
            "recorded in the run's log; with queued: true, another node runs the run and had not recorded it within 30 s, and it waits in the store for that node (or the run's next holder); the run records it before it ends",
          ),
          ...errors(400, 401, 404, 409, 413, 422),
        },
      },
    },
    "/v1/runs/{id}/resume": {
      post: {
        operationId: "resumeRun",
        summary:
          "Resume a paused run, optionally with new params for the paused step or a larger budget",
        parameters: [RUN_ID],
        requestBody: jsonBody("ResumeRequest", false),
        responses: {
          "202": json(
            REF("ResumeAccepted"),
            "the run, resumed; with queued: true, another node runs the run (a step in flight) and had not recorded the resume within 30 s, and it waits in the store for that node",
          ),
          ...errors(400, 401, 404, 409, 413),
        },
      },
    },
    "/v1/runs/{id}/fork": {
      post: {
        operationId: "forkRun",
        summary:
          "Start a new run that copies this run's log up to from_step and runs on from there",
        parameters: [RUN_ID],
        requestBody: jsonBody("ForkRequest", true),
        responses: {
          "202": json(REF("ForkAccepted"), "the fork, accepted"),
          ...errors(400, 401, 404, 409, 413, 422),
        },
      },
    },
  };
}
