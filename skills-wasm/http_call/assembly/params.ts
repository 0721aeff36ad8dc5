// The params of http_call, checked before any host call: whatever the host
// would refuse is refused here, with ERR_HTTP_INVALID_REQUEST naming the
// field, so a bad step costs no recorded call. The manifest's input_schema
// states the same shape; these checks also cover what a schema cannot say
// (header characters, URL schemes, the retry budget).
import { JsonKind, JsonNumber, JsonObject, JsonValue, stringify } from "../../_lib/json";

/** Longest URL the host accepts, in characters. */
export const URL_LENGTH_MAX: i32 = 8192;
/** Longest header name and value the host accepts, in characters. */
export const HEADER_NAME_LENGTH_MAX: i32 = 256;
export const HEADER_VALUE_LENGTH_MAX: i32 = 16384;
/** Most retries of a transient failure within one call. */
export const RETRIES_MAX: i32 = 5;
/**
 * What all attempts of one call may wait for the server together. The
 * manifest's timeout_ms (30 s) ends the whole step; the 5 s left over are
 * for the skill's own work, so a call never runs into the sandbox's limit.
 */
export const ATTEMPTS_BUDGET_MS: i32 = 25000;
/** Per-attempt timeout when the params name none (capped by the budget). */
export const TIMEOUT_MS_DEFAULT: i32 = 10000;

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const FIELDS = ["body", "headers", "max_retries", "method", "timeout_ms", "url"];
// Headers that frame the message or steer the connection: the host sets
// them itself and refuses them from skills.
const FRAMING_HEADERS = [
  "connection",
  "content-length",
  "expect",
  "host",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
const TOKEN_SYMBOLS = "!#$%&'*+-.^_`|~";

/** One HTTP call as the params ask for it. */
export class CallParams {
  method: string = "GET";
  url: string = "";
  /** Lower-case names; values as given, `{{secret:NAME}}` left for the host. */
  headers: JsonObject = new JsonObject();
  /** The body to send, or null for none. */
  body: string | null = null;
  /** Limit of each attempt. */
  timeoutMs: i32 = TIMEOUT_MS_DEFAULT;
  /** Attempts after the first when a transient failure occurs. */
  maxRetries: i32 = 0;

  /** The `aos_http` request, canonical JSON. */
  requestJson(): string {
    const body = this.body;
    const request = new JsonObject()
      .set("headers", this.headers)
      .setString("method", this.method)
      .set("timeout_ms", JsonNumber.fromI64(this.timeoutMs))
      .setString("url", this.url);
    if (body !== null) request.setString("body", body);
    return stringify(request);
  }
}

/** Params that cannot be sent: the field, and what it must be. */
export class ParamsProblem {
  constructor(
    /** `url`, `method`, `headers.<name>`, … */
    public readonly field: string,
    public readonly expected: string,
  ) {}
}

/** The checked params, or the first problem found. */
export class ParamsResult {
  constructor(
    public readonly params: CallParams | null,
    public readonly problem: ParamsProblem | null,
  ) {}
}

function refuse(field: string, expected: string): ParamsResult {
  return new ParamsResult(null, new ParamsProblem(field, expected));
}

/** Checks the step's params (already parsed JSON) and builds the call. */
export function readParams(root: JsonValue): ParamsResult {
  if (!root.isObject()) return refuse("params", "an object");
  const input = root.asObject();
  const keys = input.sortedKeys();
  for (let i = 0; i < keys.length; i++) {
    if (!FIELDS.includes(keys[i])) return refuse(keys[i], "absent (unknown param)");
  }
  const params = new CallParams();

  const url = input.get("url");
  if (url === null || !url.isString() || !isHttpUrl(url.asString().value)) {
    return refuse("url", "an absolute http or https URL of at most 8192 characters");
  }
  params.url = url.asString().value;

  const method = input.get("method");
  if (method !== null) {
    const name = method.isString() ? method.asString().value.toUpperCase() : "";
    if (!METHODS.includes(name)) {
      return refuse("method", "one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    }
    params.method = name;
  }

  const headers = input.get("headers");
  if (headers !== null) {
    const problem = readHeaders(headers, params.headers);
    if (problem !== null) return new ParamsResult(null, problem);
  }

  const body = input.get("body");
  if (body !== null && body.kind != JsonKind.Null) {
    if (body.isString()) {
      params.body = body.asString().value;
    } else {
      params.body = stringify(body);
      if (!params.headers.has("content-type")) {
        params.headers.setString("content-type", "application/json");
      }
    }
  }

  const retries = input.get("max_retries");
  if (retries !== null) {
    const count = integerIn(retries, 0, RETRIES_MAX);
    if (count < 0) return refuse("max_retries", "an integer from 0 to 5");
    params.maxRetries = count;
  }
  // Every attempt may use its whole timeout, and all must fit the budget.
  const perAttemptMax = ATTEMPTS_BUDGET_MS / (params.maxRetries + 1);
  const timeout = input.get("timeout_ms");
  if (timeout !== null) {
    const ms = integerIn(timeout, 1, perAttemptMax);
    if (ms < 0) {
      return refuse(
        "timeout_ms",
        "an integer from 1 to " + perAttemptMax.toString() +
          " (timeout_ms × (max_retries + 1) may not exceed 25000)",
      );
    }
    params.timeoutMs = ms;
  } else {
    params.timeoutMs = min(TIMEOUT_MS_DEFAULT, perAttemptMax);
  }
  return new ParamsResult(params, null);
}

/** The value as an integer within [low, high], or -1. */
function integerIn(value: JsonValue, low: i32, high: i32): i32 {
  if (!value.isNumber()) return -1;
  const number = value.asNumber().toF64();
  if (!(number >= <f64>low && number <= <f64>high) || Math.floor(number) != number) return -1;
  return <i32>number;
}

/**
 * A cheap check of the URL's form: http(s) scheme, something after it, no
 * whitespace or control characters. The host parses it fully (WHATWG URL)
 * and answers HTTP_URL_INVALID for the rest.
 */
function isHttpUrl(url: string): bool {
  if (url.length > URL_LENGTH_MAX) return false;
  const lower = url.toLowerCase();
  const rest = lower.startsWith("http://")
    ? 7
    : lower.startsWith("https://")
    ? 8
    : -1;
  if (rest < 0 || url.length == rest) return false;
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

function readHeaders(value: JsonValue, into: JsonObject): ParamsProblem | null {
  if (!value.isObject()) return new ParamsProblem("headers", "an object of strings");
  const headers = value.asObject();
  const names = headers.sortedKeys();
  for (let i = 0; i < names.length; i++) {
    const given = names[i];
    const field = "headers." + given;
    const name = given.toLowerCase();
    if (!isToken(given) || given.length > HEADER_NAME_LENGTH_MAX) {
      return new ParamsProblem(field, "a header name (an HTTP token of at most 256 characters)");
    }
    if (FRAMING_HEADERS.includes(name)) {
      return new ParamsProblem(field, "absent: the host sets " + name + " itself");
    }
    if (into.has(name)) {
      return new ParamsProblem(field, "given once (header names ignore case)");
    }
    const headerValue = headers.get(given)!;
    if (!headerValue.isString() || !isFieldValue(headerValue.asString().value)) {
      return new ParamsProblem(
        field,
        "a string of at most 16384 characters without CR, LF or other control characters",
      );
    }
    into.set(name, headerValue);
  }
  return null;
}

function isToken(text: string): bool {
  if (text.length == 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alphanumeric = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a);
    if (!alphanumeric && (c > 0x7e || !TOKEN_SYMBOLS.includes(String.fromCharCode(c)))) {
      return false;
    }
  }
  return true;
}

/** Visible ASCII, space, tab and obs-text (0x80-0xff), as the host allows. */
function isFieldValue(text: string): bool {
  if (text.length > HEADER_VALUE_LENGTH_MAX) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c != 0x09 && (c < 0x20 || c == 0x7f || c > 0xff)) return false;
  }
  return true;
}
