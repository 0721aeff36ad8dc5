import { z } from "zod";
import { jsonSchema, planSchema } from "../plan/mod.ts";
import { goalSchema } from "../planner/mod.ts";
import {
  cancelBody,
  errorEnvelope,
  eventsPage,
  eventsQuery,
  idempotencyKey,
  runAccepted,
  runListQuery,
  runPage,
  runView,
  runViewQuery,
} from "./run_schemas.ts";

// The OpenAPI 3.1 document of the API, generated from the same zod schemas
// the routes validate with. OpenAPI 3.1 schemas are JSON Schema 2020-12,
// which is what `z.toJSONSchema` writes.

type JsonSchema = Record<string, unknown>;

const REF = (id: string) => ({ $ref: `#/components/schemas/${id}` });

const COMPONENTS: Record<string, z.ZodType> = {
  JsonValue: jsonSchema,
  Plan: planSchema,
  Goal: goalSchema,
  RunAccepted: runAccepted,
  RunPage: runPage,
  RunView: runView,
  EventsPage: eventsPage,
  CancelRequest: cancelBody,
  Error: errorEnvelope,
};

function componentSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) {
    registry.add(schema, { id });
  }
  const { schemas } = z.toJSONSchema(registry, {
    uri: (id) => `#/components/schemas/${id}`,
    io: "input",
    unrepresentable: "any",
  });
  const cleaned: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _draft, $id: _id, ...rest } = schema as JsonSchema;
    cleaned[id] = rest;
  }
  return cleaned;
}

function schemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _draft, ...rest } = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
  }) as JsonSchema;
  return rest;
}

/** Query parameters from a zod object schema, one per property. */
function queryParameters(schema: z.ZodObject): JsonSchema[] {
  const json = schemaOf(schema) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: "query",
      required: (json.required ?? []).includes(name) &&
        !("default" in property),
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

const RUN_ID = {
  name: "id",
  in: "path",
  required: true,
  schema: { type: "string" },
};

function json(schema: JsonSchema, description: string) {
  return { description, content: { "application/json": { schema } } };
}

function errors(...statuses: number[]): Record<string, unknown> {
  const described: Record<number, string> = {
    400: "invalid request (details.issues are JSON pointers)",
    404: "no such run for this tenant",
    409: "conflict",
    413: "body too large",
    422: "Idempotency-Key reused with a different request",
    429: "the node is full; retry after Retry-After",
  };
  return Object.fromEntries(
    statuses.map((
      status,
    ) => [String(status), json(REF("Error"), described[status] ?? "error")]),
  );
}

function paths(): Record<string, unknown> {
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
        }],
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: { oneOf: [REF("Plan"), REF("Goal")] },
            },
            "application/yaml": {
              schema: { oneOf: [REF("Plan"), REF("Goal")] },
            },
          },
        },
        responses: {
          "202": json(REF("RunAccepted"), "accepted; the run is durable"),
          ...errors(400, 409, 413, 422, 429),
        },
      },
      get: {
        operationId: "listRuns",
        summary: "List the tenant's runs, newest first",
        parameters: queryParameters(runListQuery),
        responses: {
          "200": json(REF("RunPage"), "one page"),
          ...errors(400),
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
          ...errors(400, 404),
        },
      },
    },
    "/v1/runs/{id}/cancel": {
      post: {
        operationId: "cancelRun",
        summary: "Stop a run",
        parameters: [RUN_ID],
        requestBody: {
          required: false,
          content: { "application/json": { schema: REF("CancelRequest") } },
        },
        responses: {
          "202": json(REF("RunView"), "the run, cancelled"),
          ...errors(400, 404, 409),
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
          ...errors(400, 404),
        },
      },
    },
    "/v1/errors": {
      get: {
        operationId: "errorCatalog",
        summary: "The failure catalog",
        responses: { "200": { description: "every error code" } },
      },
    },
    "/healthz": {
      get: { responses: { "200": { description: "the process is up" } } },
    },
    "/readyz": {
      get: {
        responses: {
          "200": { description: "ready" },
          "503": { description: "not ready" },
        },
      },
    },
  };
}

let cached: JsonSchema | undefined;

/** The OpenAPI 3.1 document served at `/openapi.json`. */
export function openApiDocument(): JsonSchema {
  cached ??= {
    openapi: "3.1.0",
    info: {
      title: "AOS",
      version: "1",
      description:
        "A deterministic runtime for agent workflows. Errors are { error: { code, message, details } } with codes from GET /v1/errors.",
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    paths: paths(),
    components: { schemas: componentSchemas() },
  };
  return cached;
}
