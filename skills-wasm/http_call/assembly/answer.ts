// What one aos_http answer means for the step: an output, or a catalog error
// and whether another attempt could help. The host has already recorded the
// answer, so this is a pure function of it (plus aos_now for a Retry-After
// date, itself recorded).
import { nowMs } from "../../_lib/host";
import {
  JsonArray,
  JsonBool,
  JsonKind,
  JsonNull,
  JsonNumber,
  JsonObject,
  JsonString,
  JsonValue,
  parseJson,
  stringify,
} from "../../_lib/json";
import { sha256Hex } from "../../_lib/sha256";
import { CallParams } from "./params";
import { parseRetryAfter } from "./retry_after";

/** Largest response body the skill accepts, in bytes after decoding. */
export const BODY_BYTES_MAX: i32 = 10 * 1024 * 1024;
/** Longest body excerpt in error details, in characters. */
export const EXCERPT_LENGTH_MAX: i32 = 512;

/** The outcome of one attempt. */
export class Verdict {
  constructor(
    /** The step's output (canonical JSON), or "" when the attempt failed. */
    public readonly output: string,
    /** The catalog code of the failure, or "". */
    public readonly code: string,
    public readonly message: string,
    /** Canonical details of the failure. */
    public readonly details: JsonObject,
    /** Whether another attempt could succeed: timeouts, connections, DNS, 5xx, 429. */
    public readonly transient: bool,
  ) {}

  get failed(): bool { return this.code.length > 0; }
}

function succeed(output: JsonObject): Verdict {
  return new Verdict(stringify(output), "", "", new JsonObject(), false);
}

function failure(code: string, message: string, details: JsonObject, transient: bool): Verdict {
  return new Verdict("", code, message, details, transient);
}

/**
 * Judges `answer` (the host's JSON) of attempt number `attempts`. `last` is
 * false while retries remain; only the last attempt's failure is reported,
 * so only then is the clock read for a Retry-After date.
 */
export function judge(answer: JsonObject, params: CallParams, attempts: i32, last: bool): Verdict {
  const ok = member(answer, "ok");
  assert(ok.kind == JsonKind.Bool, "aos_http answer without ok");
  if (changetype<JsonBool>(ok).value) return judgeResponse(answer, params, attempts, last);
  return judgeError(member(answer, "error").asObject(), params, attempts);
}

// The answer comes from the host; a missing member is a host bug, and the
// assert turns it into SKILL_ABORTED rather than a wrong output.
function member(object: JsonObject, key: string): JsonValue {
  const value = object.get(key);
  assert(value !== null, "aos_http answer without " + key);
  return value!;
}

function stringMember(object: JsonObject, key: string): string {
  return member(object, key).asString().value;
}

function judgeResponse(answer: JsonObject, params: CallParams, attempts: i32, last: bool): Verdict {
  const status = <i32>member(answer, "status").asNumber().toF64();
  const headers = member(answer, "headers").asObject();
  const body = stringMember(answer, "body");
  const encoding = stringMember(answer, "body_encoding");
  const bodyBytes = encoding == "base64" ? base64DecodedLength(body) : String.UTF8.byteLength(body);
  if (bodyBytes > BODY_BYTES_MAX) {
    const details = new JsonObject()
      .set("attempts", JsonNumber.fromI64(attempts))
      .set("bytes", JsonNumber.fromI64(bodyBytes))
      .set("limit_bytes", JsonNumber.fromI64(BODY_BYTES_MAX))
      .set("status", JsonNumber.fromI64(status))
      .setString("url", params.url);
    const message = "the response body is " + bodyBytes.toString() + " bytes, over the cap of " +
      BODY_BYTES_MAX.toString();
    return failure("ERR_HTTP_BODY_TOO_LARGE", message, details, false);
  }
  if (status >= 400) return statusFailure(status, headers, body, params, attempts, last);

  const bytes = Uint8Array.wrap(String.UTF8.encode(body));
  const sha256 = sha256Hex(bytes);
  const effect = new JsonObject()
    .setString("kind", "http")
    .setString("method", params.method)
    .setString("response_sha256", sha256)
    .setString("url", params.url);
  return succeed(new JsonObject()
    .set("body", bodyValue(body, bytes, encoding, headers))
    .setString("body_encoding", encoding)
    .set("code", JsonNumber.fromI64(status))
    .set("headers", headers)
    .setString("response_sha256", sha256)
    .set("side_effects", new JsonArray().push(effect))
    .setString("status", "ok"));
}

/** The body parsed when the server says it is JSON and it parses; else the text. */
function bodyValue(body: string, bytes: Uint8Array, encoding: string, headers: JsonObject): JsonValue {
  const contentType = headers.get("content-type");
  if (encoding == "utf8" && contentType !== null && isJsonMediaType(contentType.asString().value)) {
    const parsed = parseJson(bytes);
    if (parsed.ok) return parsed.value!;
  }
  return new JsonString(body);
}

/** `application/json` or any `+json` type, parameters ignored. */
function isJsonMediaType(contentType: string): bool {
  const semicolon = contentType.indexOf(";");
  const media = (semicolon < 0 ? contentType : contentType.substring(0, semicolon))
    .trim()
    .toLowerCase();
  return media == "application/json" || media.endsWith("+json");
}

function base64DecodedLength(text: string): i32 {
  let padding = 0;
  if (text.endsWith("==")) padding = 2;
  else if (text.endsWith("=")) padding = 1;
  return (text.length / 4) * 3 - padding;
}

function statusFailure(
  status: i32,
  headers: JsonObject,
  body: string,
  params: CallParams,
  attempts: i32,
  last: bool,
): Verdict {
  const details = new JsonObject()
    .set("attempts", JsonNumber.fromI64(attempts))
    .setString("body_excerpt", excerpt(body))
    .set("status", JsonNumber.fromI64(status))
    .setString("url", params.url);
  const tries = triesSuffix(attempts);
  if (status == 429) {
    details.set("retry_after_ms", retryAfterMs(headers, last));
    return failure("ERR_RATE_LIMITED", "the server is rate limiting (HTTP 429)" + tries, details, true);
  }
  if (status >= 500) {
    return failure("ERR_HTTP_5XX", "the server failed with HTTP " + status.toString() + tries, details, true);
  }
  const message = "the server refused the request with HTTP " + status.toString();
  return failure("ERR_HTTP_4XX", message, details, false);
}

/** The first 512 characters of `body`, never ending inside a surrogate pair. */
function excerpt(body: string): string {
  if (body.length <= EXCERPT_LENGTH_MAX) return body;
  let end = EXCERPT_LENGTH_MAX;
  const last = body.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return body.substring(0, end);
}

/** Retry-After in milliseconds (a past date is 0), or null when absent or malformed. */
function retryAfterMs(headers: JsonObject, last: bool): JsonValue {
  const header = headers.get("retry-after");
  if (header === null || !header.isString()) return new JsonNull();
  const parsed = parseRetryAfter(header.asString().value);
  if (parsed.isDelay) return JsonNumber.fromI64(parsed.delayMs);
  if (!parsed.isDate || !last) return new JsonNull();
  const waitMs = parsed.dateMs - nowMs();
  return JsonNumber.fromI64(waitMs > 0 ? waitMs : 0);
}

function triesSuffix(attempts: i32): string {
  return attempts > 1 ? " (" + attempts.toString() + " attempts)" : "";
}

function judgeError(error: JsonObject, params: CallParams, attempts: i32): Verdict {
  const hostCode = stringMember(error, "code");
  const hostMessage = stringMember(error, "message");
  const given = error.get("details");
  const hostDetails = given !== null && given.isObject() ? given.asObject() : new JsonObject();
  if (hostCode == "HTTP_EXTERNAL_DISABLED") {
    return succeed(refusal("stubbed", 501, "HTTP_EXTERNAL_DISABLED", params.url));
  }
  const addressClass = hostDetails.get("class");
  const metadata = addressClass !== null && addressClass.isString() &&
    addressClass.asString().value == "metadata";
  if (hostCode == "HTTP_ADDRESS_FORBIDDEN" && !metadata) {
    return succeed(refusal("forbidden", 403, "LOCAL_URL_FORBIDDEN", params.url));
  }

  const details = new JsonObject();
  const keys = hostDetails.sortedKeys();
  for (let i = 0; i < keys.length; i++) details.set(keys[i], hostDetails.get(keys[i])!);
  details
    .set("attempts", JsonNumber.fromI64(attempts))
    .setString("host_code", hostCode)
    .setString("url", params.url);
  const message = hostMessage + triesSuffix(attempts);
  if (hostCode == "HTTP_ADDRESS_FORBIDDEN") {
    return failure("FORBIDDEN_URL", "cloud metadata endpoints are never allowed: " + message, details, false);
  }
  if (hostCode == "HTTP_TIMEOUT") return failure("ERR_TIMEOUT", message, details, true);
  if (hostCode == "HTTP_CONNECT_FAILED") return failure("ERR_CONNECTION", message, details, true);
  if (hostCode == "HTTP_DNS_FAILED") return failure("ERR_DNS", message, details, true);
  if (hostCode == "HTTP_RESPONSE_TOO_LARGE") {
    return failure("ERR_HTTP_BODY_TOO_LARGE", message, details, false);
  }
  if (
    hostCode == "HTTP_URL_INVALID" || hostCode == "HTTP_HOST_NOT_ALLOWED" ||
    hostCode == "HTTP_SECRET_UNKNOWN" || hostCode == "HTTP_REDIRECT_LIMIT" ||
    hostCode == "HOST_CALL_INVALID"
  ) {
    details.setString("field", invalidField(hostCode, hostDetails));
    return failure("ERR_HTTP_INVALID_REQUEST", message, details, false);
  }
  // A failure the host has no specific code for: the call did not complete.
  return failure("ERR_CONNECTION", "the request did not complete: " + message, details, false);
}

/** The `stubbed` and `forbidden` outputs: the call was not made, by policy. */
function refusal(status: string, code: i32, errorCode: string, url: string): JsonObject {
  return new JsonObject()
    .set("code", JsonNumber.fromI64(code))
    .setString("error_code", errorCode)
    .setString("status", status)
    .setString("url", url);
}

/** The param a host refusal is about, as far as its details say. */
function invalidField(hostCode: string, hostDetails: JsonObject): string {
  if (hostCode == "HTTP_SECRET_UNKNOWN") return "headers";
  const header = hostDetails.get("header");
  if (header !== null && header.isString()) return "headers." + header.asString().value;
  if (hostDetails.has("method")) return "method";
  if (hostCode == "HOST_CALL_INVALID") return hostDetails.has("limit_bytes") ? "body" : "params";
  return "url";
}
