/**
 * Every failure code AOS may report. `contracts/errors.yaml` is the catalog of
 * record; `catalog_test.ts` fails when this list and the catalog disagree, so
 * a code can be neither used without a catalog entry nor left stale.
 */
export const ERROR_CODES = [
  "VALIDATION_JSON_MALFORMED",
  "VALIDATION_BODY_INVALID",
  "VALIDATION_QUERY_INVALID",
  "ROUTE_NOT_FOUND",
  "RUN_NOT_FOUND",
  "PLAN_UNKNOWN_SKILL",
  "PLAN_DUPLICATE_STEP_ID",
  "PLAN_UNKNOWN_REFERENCE",
  "PLAN_TEMPLATE_INVALID",
  "PLAN_TEMPLATE_PATH_MISSING",
  "SKILL_MODULE_MISSING",
  "SKILL_ERROR",
  "SKILL_INPUT_INVALID",
  "SKILL_ABORTED",
  "SANDBOX_LOAD_FAILED",
  "SANDBOX_TRAP",
  "SANDBOX_TIMEOUT",
  "SANDBOX_OUTPUT_INVALID",
  "SANDBOX_MEMORY_LIMIT",
  "SANDBOX_OUTPUT_TOO_LARGE",
  "SANDBOX_OUTPUT_TOO_DEEP",
  "SANDBOX_WORKER_DIED",
  "SANDBOX_BUSY",
  "MODULE_INVALID",
  "MODULE_TOO_LARGE",
  "MODULE_IMPORT_FORBIDDEN",
  "MODULE_START_FORBIDDEN",
  "MODULE_ENTRYPOINT_MISSING",
  "MODULE_MEMORY_TOO_LARGE",
  "HOST_CALL_INVALID",
  "HOST_CALL_MISMATCH",
  "HTTP_URL_INVALID",
  "HTTP_ADDRESS_FORBIDDEN",
  "HTTP_HOST_NOT_ALLOWED",
  "HTTP_DNS_FAILED",
  "HTTP_CONNECT_FAILED",
  "HTTP_TIMEOUT",
  "HTTP_RESPONSE_TOO_LARGE",
  "HTTP_REDIRECT_LIMIT",
  "HTTP_SECRET_UNKNOWN",
  "ERR_JSON_INVALID_INPUT",
  "ERR_JSON_INVALID_PARAMS",
  "ERR_JSON_UNKNOWN_OP",
  "ERR_JSON_INVALID_PATH",
  "ERR_JSON_PATH_NOT_FOUND",
  "ERR_JSON_TYPE_MISMATCH",
  "STORE_SEQUENCE_CONFLICT",
  "STORE_CHAIN_BROKEN",
  "STORE_RUN_EXISTS",
  "STORE_UNAVAILABLE",
  "LOG_RECORD_INVALID",
  "RUN_INVARIANT_BROKEN",
  "SUPERVISOR_GAVE_UP",
  "REPLAY_DIVERGED",
  "INTERNAL",
] as const;

/** A code from the failure catalog. */
export type ErrorCode = typeof ERROR_CODES[number];

/** True when `value` is a code of the failure catalog. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" &&
    (ERROR_CODES as readonly string[]).includes(value);
}
