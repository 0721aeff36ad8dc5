// The anthropic adapter: POST {base_url}/v1/messages (Messages API,
// anthropic-version 2023-06-01) with the key as a secret reference.
import { JsonArray, JsonNumber, JsonObject, parseJsonText } from "../../_lib/json";
import { baseDetails, badResponse, post, statusFailure } from "./provider";
import { CONTENT_BLOCKED, Completion, Failure, Outcome } from "./failure";
import { LlmParams, Message, messagesJson, stopJson } from "./params";
import { tokenCount } from "./openai";

const API_KEY = "{{secret:ANTHROPIC_API_KEY}}";
const API_VERSION = "2023-06-01";
/** The Messages API requires max_tokens; this is sent when the params give none. */
export const ANTHROPIC_MAX_TOKENS_DEFAULT: i64 = 1024;

/**
 * The request body. The API takes system text apart from the messages:
 * system_prompt and any system messages go to `system`, joined by a blank
 * line, in order. seed has no Anthropic equivalent and is not sent.
 */
function requestBody(params: LlmParams): JsonObject {
  const system = new Array<string>();
  const messages = new Array<Message>();
  const conversation = params.conversation();
  for (let i = 0; i < conversation.length; i++) {
    if (conversation[i].role == "system") system.push(conversation[i].content);
    else messages.push(conversation[i]);
  }
  const maxTokens = params.maxTokens >= 0 ? params.maxTokens : ANTHROPIC_MAX_TOKENS_DEFAULT;
  const body = new JsonObject()
    .setString("model", params.model)
    .set("messages", messagesJson(messages))
    .set("max_tokens", JsonNumber.fromI64(maxTokens));
  if (system.length > 0) body.setString("system", system.join("\n\n"));
  if (params.temperature !== null) body.set("temperature", params.temperature!);
  if (params.stop.length > 0) body.set("stop_sequences", stopJson(params.stop));
  return body;
}

/** Anthropic's stop reasons, in the skill's words (OpenAI's). */
function finishReasonOf(reason: string): string {
  if (reason == "end_turn" || reason == "stop_sequence") return "stop";
  if (reason == "max_tokens") return "length";
  if (reason == "tool_use") return "tool_calls";
  return reason;
}

/** The text blocks of `content`, in order; null when a block is malformed. */
function textOf(content: JsonArray): string | null {
  const parts = new Array<string>();
  for (let i = 0; i < content.items.length; i++) {
    if (!content.items[i].isObject()) return null;
    const block = content.items[i].asObject();
    const type = block.get("type");
    if (type === null || !type.isString()) return null;
    if (type.asString().value != "text") continue;
    const text = block.get("text");
    if (text === null || !text.isString()) return null;
    parts.push(text.asString().value);
  }
  return parts.join("");
}

/** Calls the Messages API and reads the text blocks, stop_reason and usage. */
export function invokeAnthropic(params: LlmParams): Outcome {
  const headers = new JsonObject()
    .setString("x-api-key", API_KEY)
    .setString("anthropic-version", API_VERSION);
  const reply = post(params, params.baseUrl + "/v1/messages", headers, requestBody(params));
  if (reply.failure !== null) return new Outcome(null, reply.failure);
  if (reply.status < 200 || reply.status > 299) return new Outcome(null, statusFailure(params, reply));
  const parsed = parseJsonText(reply.body);
  if (!parsed.ok || !parsed.value!.isObject()) {
    return new Outcome(null, badResponse(params, reply, "the body is not a JSON object"));
  }
  const root = parsed.value!.asObject();
  const content = root.get("content");
  const text = content !== null && content.isArray() ? textOf(content.asArray()) : null;
  if (text === null) return new Outcome(null, badResponse(params, reply, "content is not an array of blocks"));
  const stop = root.get("stop_reason");
  const reason = stop !== null && stop.isString() ? stop.asString().value : "unknown";
  if (reason == "refusal") {
    const details = baseDetails(params).setString("finish_reason", reason);
    return new Outcome(null, new Failure(CONTENT_BLOCKED, "the model refused to answer", details));
  }
  const usage = root.get("usage");
  const usageObject: JsonObject | null = usage !== null && usage.isObject() ? usage.asObject() : null;
  const inputTokens = usageObject !== null ? tokenCount(usageObject.get("input_tokens")) : -1;
  const outputTokens = usageObject !== null ? tokenCount(usageObject.get("output_tokens")) : -1;
  if (inputTokens < 0 || outputTokens < 0) {
    return new Outcome(null, badResponse(params, reply, "usage.input_tokens or usage.output_tokens is missing"));
  }
  return Outcome.ok(new Completion(text, inputTokens, outputTokens, finishReasonOf(reason)));
}
