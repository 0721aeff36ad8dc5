/**
 * Pieces of the OpenAPI document: zod schemas as JSON Schema, parameters,
 * bodies and error answers, shared by the path modules.
 *
 * @module
 */
import { z } from "zod";

/** A JSON Schema or OpenAPI object. */
export type JsonSchema = Record<string, unknown>;

/** A reference to a component schema. */
export const REF = (id: string): JsonSchema => ({
  $ref: `#/components/schemas/${id}`,
});

/** A zod schema as JSON Schema 2020-12 (what OpenAPI 3.1 uses), as the request would send it. */
export function schemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _draft, ...rest } = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
  }) as JsonSchema;
  return rest;
}

/** Query parameters from a zod object schema, one per property. */
export function queryParameters(schema: z.ZodObject): JsonSchema[] {
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

/** A path parameter (always required in OpenAPI). */
export function pathParameter(
  name: string,
  description: string,
  schema: JsonSchema = { type: "string" },
): JsonSchema {
  return { name, in: "path", required: true, description, schema };
}

/** The `{id}` of a run. */
export const RUN_ID: JsonSchema = pathParameter("id", "the run's id");

/** A JSON answer or body. */
export function json(schema: JsonSchema, description: string): JsonSchema {
  return { description, content: { "application/json": { schema } } };
}

/** A JSON request body of component `id`. */
export function jsonBody(id: string, required: boolean): JsonSchema {
  return {
    required,
    content: { "application/json": { schema: REF(id) } },
  };
}

const DESCRIBED: Record<number, string> = {
  400: "invalid request (details.issues are JSON pointers)",
  401: "no API key, or an unknown or revoked one",
  403: "the key may not do this (an admin key is needed)",
  404: "not found (a run of another tenant is not found either)",
  409: "conflict with the current state",
  413: "body too large",
  422: "refused: see the error code",
  429: "the node is full; retry after Retry-After",
  503: "the store is unavailable; retry after Retry-After",
};

/** Error answers (`{ error: { code, message, details } }`) by status. */
export function errors(...statuses: number[]): Record<string, unknown> {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      json(REF("Error"), DESCRIBED[status] ?? "error"),
    ]),
  );
}
