/**
 * What a guest may send to `aos_sql`, checked field by field before anything
 * reaches a database.
 *
 * @module
 */
import { AosError } from "../../errors/mod.ts";
import type { Json } from "../../store/mod.ts";

/** What a guest sends to `aos_sql`. */
export interface SqlRequest {
  datasource: string;
  sql: string;
  params: Json[];
  timeout_ms?: number;
  row_limit?: number;
}

const REQUEST_KEYS = ["datasource", "sql", "params", "timeout_ms", "row_limit"];
/** Most parameters of one statement (PostgreSQL takes 65 535). */
const PARAMS_MAX = 10_000;

/** ERR_SQL_INVALID_QUERY naming the field it is about. */
export function invalid(
  field: string,
  message: string,
  details: Record<string, unknown> = {},
): AosError {
  return new AosError("ERR_SQL_INVALID_QUERY", message, {
    details: { field, ...details },
  });
}

/** Checks the guest's request; throws ERR_SQL_INVALID_QUERY naming the field. */
export function parseSqlRequest(request: unknown): SqlRequest {
  if (
    typeof request !== "object" || request === null || Array.isArray(request)
  ) {
    throw invalid("request", "the sql request must be a JSON object");
  }
  const fields = request as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) =>
    !REQUEST_KEYS.includes(key)
  );
  if (unknown.length > 0) {
    throw invalid(
      unknown[0]!,
      `unknown field "${unknown[0]}" in the sql request`,
    );
  }
  const { datasource, sql, params = [], timeout_ms, row_limit } = fields;
  if (typeof datasource !== "string" || datasource === "") {
    throw invalid("datasource", "datasource must be a non-empty string");
  }
  if (typeof sql !== "string" || sql.trim() === "") {
    throw invalid("sql", "sql must be a non-empty string");
  }
  if (!Array.isArray(params) || params.length > PARAMS_MAX) {
    throw invalid(
      "params",
      `params must be an array of at most ${PARAMS_MAX} values`,
    );
  }
  params.forEach((value, index) => {
    if (typeof value === "string" && value.includes("\u0000")) {
      throw invalid(
        `params[${index}]`,
        "a parameter may not contain a NUL character",
      );
    }
  });
  const parsed: SqlRequest = { datasource, sql, params: params as Json[] };
  if (timeout_ms !== undefined) {
    if (!Number.isSafeInteger(timeout_ms) || (timeout_ms as number) < 1) {
      throw invalid("timeout_ms", "timeout_ms must be a positive integer");
    }
    parsed.timeout_ms = timeout_ms as number;
  }
  if (row_limit !== undefined) {
    if (!Number.isSafeInteger(row_limit) || (row_limit as number) < 1) {
      throw invalid("row_limit", "row_limit must be a positive integer");
    }
    parsed.row_limit = row_limit as number;
  }
  return parsed;
}
