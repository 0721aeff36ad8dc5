/**
 * Driver and server errors as catalog errors, with every credential scrubbed
 * from their messages and details.
 *
 * @module
 */
import { AosError, type ErrorCode } from "../../errors/mod.ts";
import { pg } from "./_sql_driver.ts";

/** Node's codes for a connection that failed or broke. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

/** The catalog code of a SQLSTATE the server answered with. */
export function sqlstateCode(sqlstate: string): ErrorCode {
  if (sqlstate === "25006") return "ERR_SQL_READ_ONLY";
  if (sqlstate === "57014") return "ERR_SQL_TIMEOUT";
  // Transient by definition: PostgreSQL rolled the transaction back because
  // of a concurrent one, and the same statement run again can succeed.
  if (sqlstate === "40001" || sqlstate === "40P01") return "ERR_SQL_CONFLICT";
  // Class 42 is the statement (syntax, unknown table or column, types),
  // 08P01 a parameter count the statement does not take, 22P02 a
  // parameter that is not valid text for its type. 42501 is a privilege.
  if (
    (sqlstate.startsWith("42") && sqlstate !== "42501") ||
    sqlstate === "08P01" || sqlstate === "22P02"
  ) {
    return "ERR_SQL_INVALID_QUERY";
  }
  if (
    sqlstate.startsWith("08") || sqlstate === "57P01" || sqlstate === "57P02" ||
    sqlstate === "57P03" || sqlstate === "53300"
  ) {
    return "ERR_SQL_CONNECTION";
  }
  return "ERR_SQL_ERROR";
}

/** Everything a message could leak: URLs and passwords, raw and decoded. */
export function secretsOf(urls: (string | undefined)[]): string[] {
  const secrets = new Set<string>();
  for (const url of urls) {
    if (url === undefined) continue;
    secrets.add(url);
    try {
      const password = new URL(url).password;
      if (password !== "") {
        secrets.add(password);
        secrets.add(decodeURIComponent(password));
      }
    } catch {
      // not a URL pg can use either; the URL itself is scrubbed
    }
  }
  // Longest first, so a URL is scrubbed whole before its password is.
  return [...secrets].filter((secret) => secret.length > 0).sort((a, b) =>
    b.length - a.length
  );
}

function scrub(value: string, secrets: string[]): string {
  return secrets.reduce(
    (text, secret) => text.replaceAll(secret, "***"),
    value,
  );
}

interface DriverError {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
}

/** Maps a driver or server error to the catalog, without credentials. */
export function classify(
  error: unknown,
  datasource: string,
  secrets: string[],
): AosError {
  if (error instanceof AosError) return error;
  if (error instanceof pg.DatabaseError) {
    const sqlstate = error.code ?? "";
    const details: Record<string, unknown> = { datasource, sqlstate };
    if (error.position) details.position = Number(error.position);
    if (error.detail) details.detail = scrub(error.detail, secrets);
    if (error.hint) details.hint = scrub(error.hint, secrets);
    return new AosError(sqlstateCode(sqlstate), scrub(error.message, secrets), {
      cause: error,
      details,
    });
  }
  const failure = (error ?? {}) as DriverError;
  // Node reports a host with several addresses as an AggregateError.
  const first = Array.isArray(failure.errors)
    ? failure.errors[0] as DriverError
    : failure;
  const code = typeof first.code === "string" ? first.code : "";
  if (CONNECTION_CODES.has(code)) {
    return new AosError(
      "ERR_SQL_CONNECTION",
      `cannot reach datasource "${datasource}" (${code})`,
      { cause: error, details: { datasource, reason: code } },
    );
  }
  // pg's own connection failures (terminated, timed out, refused during
  // authentication) are plain Errors without a code.
  const message = scrub(String(first.message ?? error), secrets);
  return new AosError(
    "ERR_SQL_CONNECTION",
    `cannot use datasource "${datasource}": ${message}`,
    { cause: error, details: { datasource, reason: "connection_failed" } },
  );
}
