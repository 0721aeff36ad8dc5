import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { AosError, toAosError } from "../errors/mod.ts";
import type { Logger } from "../deps/mod.ts";

/** Zod issues as JSON pointers, the form every validation error carries. */
export function zodIssues(
  error: z.ZodError,
): { pointer: string; message: string; code: string }[] {
  return error.issues.map((issue) => ({
    pointer: "/" +
      issue.path.map((part) =>
        String(part).replaceAll("~", "~0").replaceAll("/", "~1")
      ).join("/"),
    message: issue.message,
    code: issue.code,
  }));
}

/** Validates `value` with `schema`, or throws the catalog error for bad input. */
export function parseWith<T>(
  schema: z.ZodType<T>,
  value: unknown,
  what: "body" | "query",
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new AosError(
    what === "body" ? "VALIDATION_BODY_INVALID" : "VALIDATION_QUERY_INVALID",
    `the request ${what} is not valid`,
    {
      details: { issues: zodIssues(result.error) },
    },
  );
}

/** Reads a JSON body; anything that is not JSON is VALIDATION_JSON_MALFORMED. */
export async function readJson(c: Context): Promise<unknown> {
  return parseJsonText(await c.req.text());
}

/**
 * Reads a JSON body, or YAML when the content type says so (plans are often
 * written in YAML). YAML is parsed with the core schema only: no custom
 * tags, no merge keys, no aliases past a small bound.
 */
export async function readJsonOrYaml(c: Context): Promise<unknown> {
  const text = await c.req.text();
  const type = c.req.header("content-type") ?? "";
  if (!/\b(application|text)\/(x-)?yaml\b/i.test(type)) {
    return parseJsonText(text);
  }
  try {
    return parseYaml(text, {
      schema: "core",
      merge: false,
      maxAliasCount: 100,
    });
  } catch (error) {
    throw new AosError(
      "VALIDATION_JSON_MALFORMED",
      "the request body is not valid YAML",
      {
        cause: error,
        details: {
          reason: error instanceof Error
            ? error.message.split("\n")[0]
            : String(error),
        },
      },
    );
  }
}

/** Parses request text as JSON, or throws VALIDATION_JSON_MALFORMED. */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AosError(
      "VALIDATION_JSON_MALFORMED",
      "the request body is not valid JSON",
      {
        cause: error,
        details: {
          reason: error instanceof Error ? error.message : String(error),
        },
      },
    );
  }
}

/**
 * The one place where errors become HTTP responses: `{ error: { code,
 * message, details } }` with the status the catalog gives the code.
 */
export function errorResponse(
  error: unknown,
  c: Context,
  log: Logger,
): Response {
  const failure = toAosError(error);
  if (failure.httpStatus >= 500) {
    log.log("error", "request_failed", {
      code: failure.code,
      message: failure.message,
      path: c.req.path,
      stack: failure.cause instanceof Error
        ? failure.cause.stack
        : failure.stack,
    });
  }
  if (failure.code === "STORE_UNAVAILABLE") c.header("Retry-After", "1");
  return c.json(
    { error: failure.toJSON() },
    failure.httpStatus as ContentfulStatusCode,
  );
}
