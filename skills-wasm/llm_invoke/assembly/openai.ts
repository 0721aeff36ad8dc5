// The openai adapter: any OpenAI-compatible chat-completions endpoint.
// POST {base_url}/v1/chat/completions with the key as a secret reference;
// the host puts the key in, and the log only ever holds the reference.
import { JsonKind, JsonNumber, JsonObject, JsonValue, parseJsonText } from "../../_lib/json";
import { baseDetails, badResponse, post, statusFailure } from "./provider";
import { CONTENT_BLOCKED, Completion, Failure, Outcome, shorten } from "./failure";
import { LlmParams, messagesJson, stopJson } from "./params";
import { TOKENS_MAX } from "./prices";

const AUTHORIZATION = "Bearer {{secret:OPENAI_API_KEY}}";

/** The request body: model, messages, and the tuning params that were given. */
function requestBody(params: LlmParams): JsonObject {
  const body = new JsonObject()
    .setString("model", params.model)
    .set("messages", messagesJson(params.conversation()));
  if (params.temperature !== null) body.set("temperature", params.temperature!);
  if (params.maxTokens >= 0) body.set("max_tokens", JsonNumber.fromI64(params.maxTokens));
  if (params.seed !== null) body.set("seed", params.seed!);
  if (params.stop.length > 0) body.set("stop", stopJson(params.stop));
  return body;
}

/** A token count as providers send it, or -1 when it is not one. */
export function tokenCount(value: JsonValue | null): i64 {
  if (value === null || !value.isNumber()) return -1;
  const f = value.asNumber().toF64();
  if (!(f >= 0.0 && f <= <f64>TOKENS_MAX) || f != Math.floor(f)) return -1;
  return <i64>f;
}

function member(object: JsonObject | null, key: string): JsonValue | null {
  return object === null ? null : object.get(key);
}

function objectOf(value: JsonValue | null): JsonObject | null {
  return value !== null && value.isObject() ? value.asObject() : null;
}

/** OpenAI's finish reasons, in the skill's words. */
function finishReasonOf(reason: string): string {
  if (reason == "function_call") return "tool_calls";
  return reason;
}

/** Calls the endpoint and reads choices[0].message.content, finish_reason, usage. */
export function invokeOpenAi(params: LlmParams): Outcome {
  const headers = new JsonObject().setString("authorization", AUTHORIZATION);
  const reply = post(params, params.baseUrl + "/v1/chat/completions", headers, requestBody(params));
  if (reply.failure !== null) return new Outcome(null, reply.failure);
  if (reply.status < 200 || reply.status > 299) return new Outcome(null, statusFailure(params, reply));
  const parsed = parseJsonText(reply.body);
  const root = parsed.ok ? objectOf(parsed.value) : null;
  if (root === null) return new Outcome(null, badResponse(params, reply, "the body is not a JSON object"));
  const choices = root.get("choices");
  if (choices === null || !choices.isArray() || choices.asArray().items.length == 0) {
    return new Outcome(null, badResponse(params, reply, "choices is not a non-empty array"));
  }
  const choice = objectOf(choices.asArray().items[0]);
  const message = objectOf(member(choice, "message"));
  const content = member(message, "content");
  const finish = member(choice, "finish_reason");
  if (message === null || content === null || !(content.isString() || content.kind == JsonKind.Null)) {
    return new Outcome(null, badResponse(params, reply, "choices[0].message.content is missing"));
  }
  const reason = finish !== null && finish.isString() ? finish.asString().value : "unknown";
  const refusal = member(message, "refusal");
  if (reason == "content_filter" || (refusal !== null && refusal.isString())) {
    return new Outcome(null, blocked(params, reason, refusal));
  }
  const usage = objectOf(root.get("usage"));
  const inputTokens = tokenCount(member(usage, "prompt_tokens"));
  const outputTokens = tokenCount(member(usage, "completion_tokens"));
  if (inputTokens < 0 || outputTokens < 0) {
    return new Outcome(null, badResponse(params, reply, "usage.prompt_tokens or usage.completion_tokens is missing"));
  }
  const text = content.isString() ? content.asString().value : "";
  return Outcome.ok(new Completion(text, inputTokens, outputTokens, finishReasonOf(reason)));
}

function blocked(params: LlmParams, reason: string, refusal: JsonValue | null): Failure {
  const details = baseDetails(params).setString("finish_reason", reason);
  let message = "openai's content filter blocked the answer";
  if (refusal !== null && refusal.isString()) {
    details.setString("refusal", shorten(refusal.asString().value, 500));
    message = "the model refused: " + shorten(refusal.asString().value, 200);
  }
  return new Failure(CONTENT_BLOCKED, message, details);
}
