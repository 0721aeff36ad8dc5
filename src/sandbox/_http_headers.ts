import { AosError } from "../errors/mod.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, space, tab and obs-text; never CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

// Headers that frame the message or steer the connection: set by a skill,
// they could smuggle a second request or confuse a proxy on the way.
const REFUSED_REQUEST_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
  "expect",
]);

// Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the
// resource, so they are not part of the recorded response.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

const REFUSED_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
const NORMALISED_METHODS = new Set([
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "PATCH",
  "POST",
  "PUT",
]);

function invalid(message: string, details: Record<string, unknown>): AosError {
  return new AosError("HTTP_URL_INVALID", message, { details });
}

/** The method to send: a token, upper-cased if standard, never CONNECT or TRACE. */
export function requestMethod(method: string): string {
  if (!TOKEN.test(method)) {
    throw invalid("the request method is not an HTTP token", {});
  }
  const upper = method.toUpperCase();
  if (REFUSED_METHODS.has(upper)) {
    throw invalid(`the request method ${upper} is not allowed`, {
      method: upper,
    });
  }
  return NORMALISED_METHODS.has(upper) ? upper : method;
}

/**
 * A skill's request headers, names lower-cased, with defaults added.
 * Refuses framing and connection headers, invalid names and values, and a
 * name given twice; error details name the header, never its value.
 */
export function requestHeaders(
  headers: Record<string, string>,
  defaults: Record<string, string>,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (!TOKEN.test(name)) {
      throw invalid("a request header name is not an HTTP token", {});
    }
    if (REFUSED_REQUEST_HEADERS.has(name)) {
      throw invalid(
        `the request header ${name} may not be set; the client frames the request itself`,
        { header: name },
      );
    }
    if (typeof value !== "string" || !FIELD_VALUE.test(value)) {
      throw invalid(`the request header ${name} has an invalid value`, {
        header: name,
      });
    }
    if (Object.hasOwn(result, name)) {
      throw invalid(`the request header ${name} is given twice`, {
        header: name,
      });
    }
    result[name] = value;
  }
  for (const [name, value] of Object.entries(defaults)) {
    if (!Object.hasOwn(result, name)) result[name] = value;
  }
  return result;
}

/** Headers a redirect drops: the body's, when it becomes a GET. */
export const BODY_HEADERS = [
  "content-type",
  "content-encoding",
  "content-language",
  "content-location",
];

/** Headers a redirect to another origin drops, as browsers do. */
export const CREDENTIAL_HEADERS = [
  "authorization",
  "cookie",
  "proxy-authorization",
];

/** Drops `names` from a header record. */
export function withoutHeaders(
  headers: Record<string, string>,
  names: readonly string[],
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !names.includes(name)),
  );
}

/**
 * Response headers as recorded: lower-case names sorted, repeated values
 * joined with ", ", hop-by-hop headers (and those `connection` names)
 * dropped, and, when the client decoded the body, the headers that
 * described the encoded form.
 */
export function responseHeaders(
  raw: Record<string, string | string[] | undefined>,
  options: { decoded: boolean },
): Record<string, string> {
  const join = (value: string | string[]) =>
    Array.isArray(value) ? value.join(", ") : value;
  const named = new Set(
    join(raw.connection ?? "").split(",").map((token) =>
      token.trim().toLowerCase()
    ),
  );
  const entries: [string, string][] = [];
  for (const [rawName, value] of Object.entries(raw)) {
    const name = rawName.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) {
      continue;
    }
    if (
      options.decoded &&
      (name === "content-encoding" || name === "content-length")
    ) continue;
    entries.push([name, join(value)]);
  }
  entries.sort(([left], [right]) => left < right ? -1 : left > right ? 1 : 0);
  return Object.fromEntries(entries);
}
