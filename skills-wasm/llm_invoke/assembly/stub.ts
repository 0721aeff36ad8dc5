// The stub adapter: a deterministic stand-in for a model, for plans, tests
// and dry runs. No host calls: the answer is a function of the conversation,
// the model and the seed only.
import { JsonNull, JsonObject, JsonValue, stringify } from "../../_lib/json";
import { sha256HexOfString } from "../../_lib/sha256";
import { Completion, Outcome } from "./failure";
import { LlmParams, Message, messagesJson } from "./params";

export const STUB_PREFIX = "stub answer ";
const DIGEST_HEX_CHARS: i32 = 16;

/** The stub's token rule: a token per started 4 bytes of UTF-8. */
export function stubTokens(text: string): i64 {
  return (<i64>String.UTF8.byteLength(text) + 3) / 4;
}

function conversationTokens(messages: Array<Message>): i64 {
  let bytes: i64 = 0;
  for (let i = 0; i < messages.length; i++) bytes += <i64>String.UTF8.byteLength(messages[i].content);
  return (bytes + 3) / 4;
}

/**
 * "stub answer " and the first 16 hex digits of the sha256 of the canonical
 * JSON {"messages":[{content,role}...],"model","seed"} (system_prompt as a
 * leading system message, seed null when not given). A stop sequence cuts
 * the answer where it first occurs; max_tokens cuts it to 4 bytes a token
 * (finish_reason "length"). temperature does not change it.
 */
export function invokeStub(params: LlmParams): Outcome {
  const conversation = params.conversation();
  const seed: JsonValue = params.seed !== null ? params.seed! : new JsonNull();
  const key = new JsonObject()
    .set("messages", messagesJson(conversation))
    .setString("model", params.model)
    .set("seed", seed);
  let content = STUB_PREFIX + sha256HexOfString(stringify(key)).substring(0, DIGEST_HEX_CHARS);
  let finishReason = "stop";
  let cut = content.length;
  for (let i = 0; i < params.stop.length; i++) {
    const at = content.indexOf(params.stop[i]);
    if (at >= 0 && at < cut) cut = at;
  }
  content = content.substring(0, cut);
  // The content is ASCII, so 4 bytes a token is 4 characters a token.
  if (params.maxTokens >= 0 && stubTokens(content) > params.maxTokens) {
    content = content.substring(0, <i32>(params.maxTokens * 4));
    finishReason = "length";
  }
  return Outcome.ok(new Completion(content, conversationTokens(conversation), stubTokens(content), finishReason));
}
