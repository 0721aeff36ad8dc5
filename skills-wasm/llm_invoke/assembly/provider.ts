// One call to a model provider through the host (aos_http): the request,
// and the mapping of every way it can fail onto the catalog. The host
// records the answer, so on replay the same answer comes back from the log
// and the same mapping gives the same output or failure.
import { httpJson } from "../../_lib/http";
import { JsonNumber, JsonObject, JsonValue, parseJsonText, stringify } from "../../_lib/json";
import {
  AUTH_FAILED,
  BAD_RESPONSE,
  CONTENT_BLOCKED,
  CONTEXT_TOO_LONG,
  Failure,
  INVALID_MODEL,
  INVALID_PROMPT,
  OVERLOADED,
  RATE_LIMITED,
  shorten,
  TIMEOUT,
} from "./failure";
import { LlmParams } from "./params";

// Host failures that say something about this node or the params, not about
// the provider: reported unchanged, because they are not retryable and an
// LLM code would hide which setting to fix.
const PASSED_THROUGH: Array<string> = [
  "HTTP_ADDRESS_FORBIDDEN",
  "HTTP_EXTERNAL_DISABLED",
  "HTTP_HOST_NOT_ALLOWED",
  "HTTP_REDIRECT_LIMIT",
  "HTTP_RESPONSE_TOO_LARGE",
  "HTTP_SECRET_UNKNOWN",
  "HTTP_URL_INVALID",
];

const PROVIDER_MESSAGE_CHARS_MAX: i32 = 500;
const RETRY_AFTER_MS_MAX: i64 = 86_400_000;

/** The provider's HTTP answer (any status), or the failure to reach it. */
export class Reply {
  constructor(
    public readonly status: i32,
    /** Lower-case names, as the host records them. */
    public readonly headers: JsonObject,
    /** The body text; "" when the host had to send it as base64 (not UTF-8). */
    public readonly body: string,
    public readonly failure: Failure | null,
  ) {}

  static failed(failure: Failure): Reply {
    return new Reply(0, new JsonObject(), "", failure);
  }
}

/** Details every provider failure carries: which adapter and model. */
export function baseDetails(params: LlmParams): JsonObject {
  return new JsonObject().setString("adapter", params.adapter).setString("model", params.model);
}

/** POSTs `body` as JSON to `url` with `headers`, through aos_http. */
export function post(params: LlmParams, url: string, headers: JsonObject, body: JsonObject): Reply {
  headers.setString("content-type", "application/json");
  const request = new JsonObject()
    .setString("method", "POST")
    .setString("url", url)
    .set("headers", headers)
    .setString("body", stringify(body))
    .set("timeout_ms", JsonNumber.fromI64(params.timeoutMs));
  const parsed = parseJsonText(httpJson(stringify(request)));
  const answer = parsed.ok && parsed.value!.isObject() ? parsed.value!.asObject() : null;
  if (answer === null) {
    return Reply.failed(new Failure(BAD_RESPONSE, "the host's answer to aos_http is not a JSON object", baseDetails(params)));
  }
  const error = answer.get("error");
  if (error !== null && error.isObject()) return Reply.failed(transportFailure(params, error.asObject()));
  const status = answer.get("status");
  const answerHeaders = answer.get("headers");
  const text = answer.get("body");
  const encoding = answer.get("body_encoding");
  if (status === null || !status.isNumber() || answerHeaders === null || !answerHeaders.isObject() ||
    text === null || !text.isString()) {
    return Reply.failed(new Failure(BAD_RESPONSE, "the host's answer to aos_http has no status, headers or body", baseDetails(params)));
  }
  const utf8 = encoding === null || (encoding.isString() && encoding.asString().value == "utf8");
  return new Reply(<i32>status.asNumber().toF64(), answerHeaders.asObject(), utf8 ? text.asString().value : "", null);
}

function stringMember(object: JsonObject, key: string): string {
  const value = object.get(key);
  return value !== null && value.isString() ? value.asString().value : "";
}

/** Maps a failed exchange (timeout, refused connection, policy) to a failure. */
function transportFailure(params: LlmParams, error: JsonObject): Failure {
  const code = stringMember(error, "code");
  const message = stringMember(error, "message");
  const hostDetails = error.get("details");
  if (PASSED_THROUGH.includes(code)) {
    const details = hostDetails !== null && hostDetails.isObject() ? hostDetails.asObject() : new JsonObject();
    return new Failure(code, message, details);
  }
  const details = baseDetails(params).setString("http_code", code).setString("http_message", message);
  if (code == "HTTP_TIMEOUT") {
    details.set("timeout_ms", JsonNumber.fromI64(params.timeoutMs));
    return new Failure(TIMEOUT, params.adapter + " did not answer within " + params.timeoutMs.toString() + " ms", details);
  }
  // Refused or reset connections, failed DNS: the provider cannot be reached
  // now, which a caller handles like an overloaded provider (retry later).
  return new Failure(OVERLOADED, params.adapter + " could not be reached (" + code + "): " + message, details);
}

/** What a provider's error body says, in either provider's format. */
class ProviderError {
  type: string = "";
  code: string = "";
  param: string = "";
  message: string = "";
}

// OpenAI: {"error":{"message","type","param","code"}}; Anthropic:
// {"type":"error","error":{"type","message"}}. Compatible servers sometimes
// send {"error":"text"} or {"message":"text"}; those give a message only.
function readProviderError(body: string): ProviderError {
  const found = new ProviderError();
  const parsed = parseJsonText(body);
  if (!parsed.ok || !parsed.value!.isObject()) {
    found.message = shorten(body, PROVIDER_MESSAGE_CHARS_MAX);
    return found;
  }
  const root = parsed.value!.asObject();
  const error = root.get("error");
  const object: JsonObject = error !== null && error.isObject() ? error.asObject() : root;
  found.type = stringMember(object, "type");
  found.code = stringMember(object, "code");
  found.param = stringMember(object, "param");
  found.message = stringMember(object, "message");
  if (found.message.length == 0 && error !== null && error.isString()) found.message = error.asString().value;
  found.message = shorten(found.message, PROVIDER_MESSAGE_CHARS_MAX);
  return found;
}

function mentionsContextLimit(message: string): bool {
  const lower = message.toLowerCase();
  return lower.includes("prompt is too long") || lower.includes("context length") ||
    lower.includes("context window") || lower.includes("context limit") ||
    lower.includes("maximum context");
}

/** Maps a provider's non-2xx answer onto the catalog. */
export function statusFailure(params: LlmParams, reply: Reply): Failure {
  const status = reply.status;
  const error = readProviderError(reply.body);
  const details = baseDetails(params).set("status", JsonNumber.fromI64(status));
  if (error.type.length > 0) details.setString("provider_type", error.type);
  if (error.code.length > 0) details.setString("provider_code", error.code);
  if (error.message.length > 0) details.setString("provider_message", error.message);
  let code = BAD_RESPONSE;
  if (status == 429) {
    code = RATE_LIMITED;
    const retryAfterMs = retryAfterMsOf(reply.headers);
    if (retryAfterMs >= 0) details.set("retry_after_ms", JsonNumber.fromI64(retryAfterMs));
  } else if (status == 401 || status == 403) {
    code = AUTH_FAILED;
  } else if (error.code == "model_not_found" || status == 404) {
    code = INVALID_MODEL;
  } else if (error.code == "content_policy_violation" || error.code == "content_filter") {
    code = CONTENT_BLOCKED;
  } else if (status == 413 || error.code == "context_length_exceeded" ||
    (status >= 400 && status < 500 && mentionsContextLimit(error.message))) {
    code = CONTEXT_TOO_LONG;
  } else if (status == 408 || status == 504) {
    code = TIMEOUT;
  } else if (status >= 500 || error.type == "overloaded_error") {
    // 503 and Anthropic's 529 say so; any other 5xx is the same to a caller.
    code = OVERLOADED;
  } else if (status >= 400) {
    code = INVALID_PROMPT;
  }
  const said = error.message.length > 0 ? ": " + shorten(error.message, 200) : "";
  return new Failure(code, params.adapter + " answered " + status.toString() + said, details);
}

/**
 * The wait a 429 asks for: `retry-after-ms` (OpenAI), else `retry-after` in
 * seconds (decimals allowed); -1 when neither is given as a number (an
 * HTTP-date would need the clock, which this skill does not read).
 */
function retryAfterMsOf(headers: JsonObject): i64 {
  const ms = headerNumberMs(headers.get("retry-after-ms"), 1);
  return ms >= 0 ? ms : headerNumberMs(headers.get("retry-after"), 1000);
}

function headerNumberMs(value: JsonValue | null, unitMs: i64): i64 {
  if (value === null || !value.isString()) return -1;
  const text = value.asString().value.trim();
  let whole: i64 = 0;
  let fraction: i64 = 0;
  let fractionScale: i64 = 1;
  let digits = 0;
  let seenPoint = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x2e && !seenPoint) {
      seenPoint = true;
      continue;
    }
    if (c < 0x30 || c > 0x39 || digits >= 12) return -1;
    digits++;
    if (!seenPoint) {
      whole = whole * 10 + <i64>(c - 0x30);
    } else if (fractionScale < 1000) {
      fraction = fraction * 10 + <i64>(c - 0x30);
      fractionScale *= 10;
    }
  }
  if (digits == 0) return -1;
  const ms = whole * unitMs + (fraction * unitMs + fractionScale - 1) / fractionScale;
  return ms > RETRY_AFTER_MS_MAX ? RETRY_AFTER_MS_MAX : ms;
}

/** A 2xx answer that cannot be understood. */
export function badResponse(params: LlmParams, reply: Reply, reason: string): Failure {
  const details = baseDetails(params)
    .setString("reason", reason)
    .set("status", JsonNumber.fromI64(reply.status));
  return new Failure(BAD_RESPONSE, params.adapter + " answered something this skill cannot read: " + reason, details);
}
