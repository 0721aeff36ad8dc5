// The params of postgres_query, checked before the host call: the manifest's
// input_schema states the same shape, and these checks also cover what a
// schema does not say (a blank query, a datasource name no host can
// configure), so a bad step costs no recorded call. Problems are
// ERR_SQL_INVALID_QUERY with details.field naming the param.
import { JsonArray, JsonNumber, JsonObject, JsonValue, stringify } from "../../_lib/json";

/** Datasource names as hosts configure them (AOS_DATASOURCE_<NAME>, lower-cased). */
export const DATASOURCE_LENGTH_MAX: i32 = 64;
/** Longest query, in UTF-8 bytes. */
export const QUERY_BYTES_MAX: i32 = 256 * 1024;
/** The host refuses larger requests to a service (SERVICE_REQUEST_BYTES_MAX). */
export const REQUEST_BYTES_MAX: i32 = 1024 * 1024;
/** Most params of one statement; the host takes no more. */
export const PARAMS_MAX: i32 = 10000;
/** The statement must end before the step's 30 s limit ends the skill. */
export const TIMEOUT_MS_MAX: i32 = 25000;
/** Most rows an answer may hold; the host may cap lower. */
export const ROW_LIMIT_MAX: i32 = 10000;
/** Rows returned when the params set no row_limit. */
export const ROW_LIMIT_DEFAULT: i32 = 1000;

const FIELDS = ["datasource", "params", "query", "row_limit", "timeout_ms"];

/** One statement as the params ask for it. */
export class QueryParams {
  datasource: string = "";
  query: string = "";
  params: JsonArray = new JsonArray();
  /** 0 when not given: the host's ceiling applies. */
  timeoutMs: i32 = 0;
  rowLimit: i32 = ROW_LIMIT_DEFAULT;

  /** The `aos_sql` request, canonical JSON. */
  requestJson(): string {
    const request = new JsonObject()
      .setString("datasource", this.datasource)
      .set("params", this.params)
      .set("row_limit", JsonNumber.fromI64(this.rowLimit))
      .setString("sql", this.query);
    if (this.timeoutMs > 0) request.set("timeout_ms", JsonNumber.fromI64(this.timeoutMs));
    return stringify(request);
  }
}

/** Params that cannot be sent: the field, and what it must be. */
export class ParamsProblem {
  constructor(
    public readonly field: string,
    public readonly expected: string,
  ) {}
}

/** The checked params, or the first problem found. */
export class ParamsResult {
  constructor(
    public readonly params: QueryParams | null,
    public readonly problem: ParamsProblem | null,
  ) {}
}

function problem(field: string, expected: string): ParamsResult {
  return new ParamsResult(null, new ParamsProblem(field, expected));
}

function isNameChar(unit: i32): bool {
  return (unit >= 0x61 && unit <= 0x7a) || (unit >= 0x30 && unit <= 0x39) || unit == 0x5f;
}

function isBlank(text: string): bool {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit != 0x20 && unit != 0x09 && unit != 0x0a && unit != 0x0d && unit != 0x0c) return false;
  }
  return true;
}

/**
 * A whole number in 1..max, or -1. Numbers arrive in the host's canonical
 * form, so an integral value is written with digits only.
 */
function positiveInteger(value: JsonValue, max: i32): i32 {
  if (!value.isNumber()) return -1;
  const lexeme = value.asNumber().lexeme;
  if (lexeme.length == 0 || lexeme.length > 9) return -1;
  for (let i = 0; i < lexeme.length; i++) {
    const unit = lexeme.charCodeAt(i);
    if (unit < 0x30 || unit > 0x39) return -1;
  }
  const number = I32.parseInt(lexeme);
  return number >= 1 && number <= max ? number : -1;
}

/** Checks the step's params. */
export function parseParams(root: JsonValue): ParamsResult {
  if (!root.isObject()) return problem("params", "a JSON object");
  const object = root.asObject();
  const keys = object.sortedKeys();
  for (let i = 0; i < keys.length; i++) {
    if (!FIELDS.includes(keys[i])) return problem(keys[i], "absent (postgres_query takes " + FIELDS.join(", ") + ")");
  }
  const params = new QueryParams();

  const datasource = object.get("datasource");
  const nameExpected = "a datasource name: 1 to 64 lowercase letters, digits and _";
  if (datasource === null || !datasource.isString()) return problem("datasource", nameExpected);
  const name = datasource.asString().value;
  if (name.length == 0 || name.length > DATASOURCE_LENGTH_MAX) return problem("datasource", nameExpected);
  for (let i = 0; i < name.length; i++) {
    if (!isNameChar(name.charCodeAt(i))) return problem("datasource", nameExpected);
  }
  params.datasource = name;

  const query = object.get("query");
  if (query === null || !query.isString() || isBlank(query.asString().value)) {
    return problem("query", "one SQL statement, not blank");
  }
  params.query = query.asString().value;
  if (String.UTF8.byteLength(params.query) > QUERY_BYTES_MAX) {
    return problem("query", "at most " + QUERY_BYTES_MAX.toString() + " bytes of UTF-8");
  }

  const values = object.get("params");
  if (values !== null) {
    if (!values.isArray() || values.asArray().items.length > PARAMS_MAX) {
      return problem("params", "an array of at most " + PARAMS_MAX.toString() + " values for $1..$n");
    }
    params.params = values.asArray();
  }

  const timeout = object.get("timeout_ms");
  if (timeout !== null) {
    params.timeoutMs = positiveInteger(timeout, TIMEOUT_MS_MAX);
    if (params.timeoutMs < 0) return problem("timeout_ms", "an integer from 1 to " + TIMEOUT_MS_MAX.toString());
  }

  const rowLimit = object.get("row_limit");
  if (rowLimit !== null) {
    params.rowLimit = positiveInteger(rowLimit, ROW_LIMIT_MAX);
    if (params.rowLimit < 0) return problem("row_limit", "an integer from 1 to " + ROW_LIMIT_MAX.toString());
  }

  if (String.UTF8.byteLength(params.requestJson()) > REQUEST_BYTES_MAX) {
    return problem("params", "small enough that query and params fit in " + REQUEST_BYTES_MAX.toString() + " bytes");
  }
  return new ParamsResult(params, null);
}
