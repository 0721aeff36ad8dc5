import { z } from "zod";
import { jsonSchema, planSchema } from "../plan/mod.ts";
import { goalSchema } from "../planner/mod.ts";
import { adminPaths } from "./_openapi_admin.ts";
import {
  errorCatalog,
  forkAccepted,
  health,
  keyIssued,
  keyView,
  readiness,
  replayAnswer,
  resumeAccepted,
  signalAccepted,
  skillDetail,
  skillInstalled,
  skillSummary,
  tenantCreated,
  tenantDayBudget,
  tenantRecord,
} from "./_openapi_responses.ts";
import { runPaths } from "./_openapi_runs.ts";
import type { JsonSchema } from "./_openapi_schema.ts";
import { replayBody } from "./replay_routes.ts";
import { forkBody, resumeBody } from "./run_control_routes.ts";
import {
  cancelBody,
  errorEnvelope,
  eventsPage,
  runAccepted,
  runPage,
  runView,
} from "./run_schemas.ts";
import { installJson } from "./skills_routes.ts";
import { createBody as tenantCreateBody } from "./tenant_routes.ts";

// The OpenAPI 3.1 document of the API, generated from the same zod schemas
// the routes validate with. OpenAPI 3.1 schemas are JSON Schema 2020-12,
// which is what `z.toJSONSchema` writes. openapi_test.ts fails when a route
// the app serves is missing here.

const COMPONENTS: Record<string, z.ZodType> = {
  JsonValue: jsonSchema,
  Plan: planSchema,
  Goal: goalSchema,
  RunAccepted: runAccepted,
  RunPage: runPage,
  RunView: runView,
  EventsPage: eventsPage,
  CancelRequest: cancelBody,
  ReplayRequest: replayBody,
  ReplayReport: replayAnswer,
  ResumeRequest: resumeBody,
  ForkRequest: forkBody,
  ForkAccepted: forkAccepted,
  SignalAccepted: signalAccepted,
  ResumeAccepted: resumeAccepted,
  SkillSummary: skillSummary,
  SkillDetail: skillDetail,
  SkillInstall: installJson,
  SkillInstalled: skillInstalled,
  Tenant: tenantRecord,
  TenantCreate: tenantCreateBody,
  TenantDayBudget: tenantDayBudget,
  KeyView: keyView,
  TenantCreated: tenantCreated,
  KeyIssued: keyIssued,
  Error: errorEnvelope,
  ErrorCatalog: errorCatalog,
  Health: health,
  Readiness: readiness,
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
    // Every route needs an API key unless it says `security: []`.
    security: [{ apiKey: [] }],
    paths: { ...runPaths(), ...adminPaths() },
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description:
            "a tenant's key, or an admin key for skill installs and tenants",
        },
      },
    },
  };
  return cached;
}
