import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { jsonDepth } from "../sandbox/output_limits.ts";
import { AosError, catalogEntry, toAosError } from "../errors/mod.ts";
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

/** Validates a request header with `schema`, or throws VALIDATION_HEADER_INVALID. */
export function parseHeader<T>(
  schema: z.ZodType<T, string>,
  value: string,
  header: string,
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new AosError(
    "VALIDATION_HEADER_INVALID",
    `the ${header} header is not valid`,
    { details: { header, issues: zodIssues(result.error) } },
  );
}

/** Largest request body most routes accept. */
export const BODY_BYTES_MAX = 4 * 1024 * 1024;

/** Deepest JSON nesting the API accepts. */
export const JSON_DEPTH_MAX = 64;

/**
 * Reads a request body, counting the bytes that actually arrive: a
 * `Content-Length` that lies, or a chunked body without one, cannot get past
 * `limitBytes` (VALIDATION_BODY_TOO_LARGE, 413). The stream is cancelled as
 * soon as the limit is passed.
 */
export async function readBody(
  c: Context,
  limitBytes = BODY_BYTES_MAX,
): Promise<Uint8Array> {
  const tooLarge = () =>
    new AosError(
      "VALIDATION_BODY_TOO_LARGE",
      `the request body is over ${limitBytes} bytes`,
      {
        details: { limit_bytes: limitBytes },
      },
    );
  const declared = Number(c.req.header("content-length") ?? "0");
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge();
  const body = c.req.raw.body;
  if (body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  // A reader, not `for await`: the stream's async iterator costs a promise
  // chain per chunk, and most bodies are one chunk.
  const reader = body.getReader();
  let done = false;
  try {
    for (;;) {
      const read = await reader.read();
      if (read.done) break;
      total += read.value.length;
      if (total > limitBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(read.value);
    }
    done = true;
  } finally {
    // A stream read to its end is left locked to its reader: releasing it
    // builds a TypeError (with its stack) for the reader's closed promise,
    // a cost on every request for nothing.
    if (!done) reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function bodyText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (error) {
    throw new AosError(
      "VALIDATION_JSON_MALFORMED",
      "the request body is not UTF-8",
      { cause: error },
    );
  }
}

/** Reads a body as UTF-8 text, bounded like `readBody`. */
export async function readText(
  c: Context,
  limitBytes = BODY_BYTES_MAX,
): Promise<string> {
  return bodyText(await readBody(c, limitBytes));
}

/** Reads a JSON body (bounded in size and depth); anything that is not JSON is VALIDATION_JSON_MALFORMED. */
export async function readJson(
  c: Context,
  limitBytes = BODY_BYTES_MAX,
): Promise<unknown> {
  const bytes = await readBody(c, limitBytes);
  return parseJson(bodyText(bytes), bytes);
}

/**
 * Reads a JSON body, or YAML when the content type says so (plans are often
 * written in YAML). YAML is parsed with the core schema only: no custom
 * tags, no merge keys, no aliases past a small bound.
 */
export async function readJsonOrYaml(c: Context): Promise<unknown> {
  const bytes = await readBody(c);
  const text = bodyText(bytes);
  const type = c.req.header("content-type") ?? "";
  if (!/\b(application|text)\/(x-)?yaml\b/i.test(type)) {
    return parseJson(text, bytes);
  }
  let value: unknown;
  try {
    value = parseYaml(text, {
      schema: "core",
      merge: false,
      maxAliasCount: 100,
    });
  } catch (error) {
    // The parser recurses per nesting level; running out of stack means the
    // document nests far deeper than the limit.
    if (String(error).includes("Maximum call stack size exceeded")) {
      throw tooDeep();
    }
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
  // YAML flow collections nest like JSON; bound them the same way.
  let json: string;
  try {
    json = JSON.stringify(value ?? null);
  } catch {
    json = "[".repeat(JSON_DEPTH_MAX + 1);
  }
  checkDepth(json);
  return value;
}

function tooDeep(): AosError {
  return new AosError(
    "VALIDATION_JSON_TOO_DEEP",
    `the body nests deeper than ${JSON_DEPTH_MAX} levels`,
    { details: { limit_depth: JSON_DEPTH_MAX } },
  );
}

function checkDepth(text: string): void {
  if (
    jsonDepth(new TextEncoder().encode(text), JSON_DEPTH_MAX) > JSON_DEPTH_MAX
  ) {
    throw tooDeep();
  }
}

/** Parses request text as JSON, or throws VALIDATION_JSON_MALFORMED. */
export function parseJsonText(text: string): unknown {
  return parseJson(text, new TextEncoder().encode(text));
}

/** `parseJsonText` with the text's UTF-8 bytes at hand (the body read). */
function parseJson(text: string, bytes: Uint8Array): unknown {
  if (jsonDepth(bytes, JSON_DEPTH_MAX) > JSON_DEPTH_MAX) throw tooDeep();
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
  const retryAfterS = failure.details.retry_after_s;
  if (typeof retryAfterS === "number" && Number.isInteger(retryAfterS)) {
    c.header("Retry-After", String(retryAfterS));
  } else if (
    failure.code === "STORE_UNAVAILABLE" ||
    catalogEntry(failure.code).retry_hint === "retry_after"
  ) {
    c.header("Retry-After", "1");
  }
  return c.json(
    { error: failure.toJSON() },
    failure.httpStatus as ContentfulStatusCode,
  );
}
