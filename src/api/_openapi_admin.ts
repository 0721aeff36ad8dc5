/**
 * The other routes of `/openapi.json`: skills, tenants, the mock calendar,
 * the failure catalog, health, metrics and the document itself.
 *
 * @module
 */
import {
  errors,
  json,
  jsonBody,
  type JsonSchema,
  pathParameter,
  queryParameters,
  REF,
} from "./_openapi_schema.ts";
import { eventsQuery as calendarEventsQuery } from "./calendar_routes.ts";

const PUBLIC = { security: [] };
const SKILL_NAME = pathParameter("name", "the skill's name");
const TENANT_ID = pathParameter("id", "the tenant's id");

function array(id: string): JsonSchema {
  return { type: "array", items: REF(id) };
}

function object(properties: Record<string, JsonSchema>): JsonSchema {
  return {
    type: "object",
    properties,
    required: Object.keys(properties),
  };
}

/** The skill registry paths. */
function skillPaths(): Record<string, JsonSchema> {
  return {
    "/v1/skills": {
      get: {
        operationId: "listSkills",
        summary: "Every installed skill version",
        responses: {
          "200": json(object({ skills: array("SkillSummary") }), "the skills"),
          ...errors(401),
        },
      },
      post: {
        operationId: "installSkill",
        summary:
          "Install a skill version (admin): JSON, or multipart with a manifest field and a module file",
        requestBody: {
          required: true,
          content: {
            "application/json": { schema: REF("SkillInstall") },
            "multipart/form-data": {
              schema: {
                type: "object",
                required: ["manifest", "module"],
                properties: {
                  manifest: { type: "string", description: "YAML" },
                  module: {
                    type: "string",
                    contentMediaType: "application/wasm",
                  },
                  sha256: { type: "string" },
                },
              },
            },
          },
        },
        responses: {
          "201": json(REF("SkillInstalled"), "installed"),
          "200": json(REF("SkillInstalled"), "already installed, same bytes"),
          ...errors(400, 401, 403, 409, 413, 422),
        },
      },
    },
    "/v1/skills/{name}": {
      get: {
        operationId: "skillVersions",
        summary: "The installed versions of a skill, oldest first",
        parameters: [SKILL_NAME],
        responses: {
          "200": json(
            object({
              name: { type: "string" },
              versions: array("SkillSummary"),
            }),
            "the versions",
          ),
          ...errors(401, 404),
        },
      },
    },
    "/v1/skills/{name}/{version}": {
      get: {
        operationId: "skillVersion",
        summary: "One installed version with its manifest",
        parameters: [
          SKILL_NAME,
          pathParameter("version", "a semantic version"),
        ],
        responses: {
          "200": json(REF("SkillDetail"), "the version"),
          ...errors(401, 404),
        },
      },
    },
  };
}

/** The tenant paths (admin, except a tenant's own budget). */
function tenantPaths(): Record<string, JsonSchema> {
  const issued = (description: string) => ({
    "201": json(REF("KeyIssued"), description),
    ...errors(400, 401, 403, 404),
  });
  return {
    "/v1/tenants": {
      get: {
        operationId: "listTenants",
        summary: "Every tenant (admin)",
        responses: {
          "200": json(object({ tenants: array("Tenant") }), "the tenants"),
          ...errors(401, 403),
        },
      },
      post: {
        operationId: "createTenant",
        summary: "Create a tenant and its first key (admin)",
        requestBody: jsonBody("TenantCreate", true),
        responses: {
          "201": json(
            REF("TenantCreated"),
            "created; the key is shown once",
          ),
          ...errors(400, 401, 403, 404),
          "409": json(REF("Error"), "the tenant exists"),
        },
      },
    },
    "/v1/tenants/me/budget": {
      get: {
        operationId: "tenantBudget",
        summary: "The calling tenant's budget for today (UTC)",
        responses: {
          "200": json(REF("TenantDayBudget"), "today's budget"),
          ...errors(401, 403),
        },
      },
    },
    "/v1/tenants/{id}/keys": {
      get: {
        operationId: "listTenantKeys",
        summary: "A tenant's keys, without the keys themselves (admin)",
        parameters: [TENANT_ID],
        responses: {
          "200": json(
            object({ tenant: { type: "string" }, keys: array("KeyView") }),
            "the keys",
          ),
          ...errors(401, 403, 404),
        },
      },
      post: {
        operationId: "issueTenantKey",
        summary: "Issue another key; the others keep working (admin)",
        parameters: [TENANT_ID],
        requestBody: {
          required: false,
          content: {
            "application/json": {
              schema: { type: "object", additionalProperties: false },
            },
          },
        },
        responses: issued("issued; the key is shown once"),
      },
    },
    "/v1/tenants/{id}/keys/{key_id}/revoke": {
      post: {
        operationId: "revokeTenantKey",
        summary: "Revoke one key; it stops working at once (admin)",
        parameters: [TENANT_ID, pathParameter("key_id", "the key's id")],
        responses: {
          "200": json(
            object({ tenant: { type: "string" }, key: REF("KeyView") }),
            "revoked",
          ),
          ...errors(401, 403, 404),
        },
      },
    },
    "/v1/tenants/{id}/rotate": {
      post: {
        operationId: "rotateTenantKeys",
        summary: "Issue a new key and revoke every other (admin)",
        parameters: [TENANT_ID],
        responses: issued("rotated; the new key is shown once"),
      },
    },
  };
}

/** Operations, the catalog, the mock calendar and this document. */
function servicePaths(): Record<string, JsonSchema> {
  return {
    "/v1/calendars/mock/events": {
      get: {
        operationId: "mockCalendarEvents",
        summary: "Events calendar_write stored in the mock calendar",
        parameters: queryParameters(calendarEventsQuery),
        responses: {
          "200": json(
            object({ events: { type: "array", items: { type: "object" } } }),
            "oldest first",
          ),
          ...errors(400, 401),
        },
      },
    },
    "/v1/errors": {
      get: {
        operationId: "errorCatalog",
        summary: "The failure catalog",
        ...PUBLIC,
        responses: {
          "200": json(REF("ErrorCatalog"), "every error code"),
        },
      },
    },
    "/healthz": {
      get: {
        operationId: "health",
        ...PUBLIC,
        responses: { "200": json(REF("Health"), "the process is up") },
      },
    },
    "/readyz": {
      get: {
        operationId: "ready",
        ...PUBLIC,
        responses: {
          "200": json(REF("Readiness"), "ready"),
          "503": json(
            REF("Readiness"),
            "not ready: the store does not answer, or no skill is installed",
          ),
        },
      },
    },
    "/metrics": {
      get: {
        operationId: "metrics",
        summary: "Prometheus metrics (nova_*)",
        ...PUBLIC,
        responses: {
          "200": {
            description: "the Prometheus text format",
            content: { "text/plain": { schema: { type: "string" } } },
          },
        },
      },
    },
    "/openapi.json": {
      get: {
        operationId: "openApi",
        summary: "This document",
        ...PUBLIC,
        responses: {
          "200": json({
            type: "object",
            properties: {
              openapi: { const: "3.1.0" },
              info: { type: "object" },
              paths: { type: "object" },
              components: { type: "object" },
            },
            required: ["openapi", "info", "paths", "components"],
            additionalProperties: true,
          }, "OpenAPI 3.1"),
        },
      },
    },
  };
}

/** Every path but the run paths, keyed by OpenAPI path template. */
export function adminPaths(): Record<string, JsonSchema> {
  return { ...skillPaths(), ...tenantPaths(), ...servicePaths() };
}
