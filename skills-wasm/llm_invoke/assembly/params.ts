// The step's params, checked once: every later stage may trust them. Any
// problem is ERR_LLM_INVALID_PROMPT naming the field; the price-table check
// of the model comes after, in index.ts.
import {
  JsonArray,
  JsonNumber,
  JsonObject,
  JsonString,
  JsonValue,
  parseJson,
} from "../../_lib/json";
import { Failure, INVALID_PROMPT } from "./failure";

export const ADAPTERS: Array<string> = ["anthropic", "openai", "stub"];
export const ROLES: Array<string> = ["assistant", "system", "user"];
const KNOWN_PARAMS: Array<string> = [
  "adapter", "base_url", "max_tokens", "messages", "model", "prompt", "seed", "stop",
  "system_prompt", "temperature", "timeout_ms",
];

export const OPENAI_BASE_URL = "https://api.openai.com";
export const ANTHROPIC_BASE_URL = "https://api.anthropic.com";
/** HTTP timeout when the params give none: below the manifest's 60 s call limit. */
export const TIMEOUT_MS_DEFAULT: i64 = 50_000;
export const TIMEOUT_MS_MAX: i64 = 55_000;
export const MAX_TOKENS_MAX: i64 = 1_000_000;
export const STOP_SEQUENCES_MAX: i32 = 4;
const BASE_URL_CHARS_MAX: i32 = 2048;
// Integers the params may hold stay within JavaScript's safe range.
const SEED_ABS_MAX: i64 = 9_007_199_254_740_991;

export class Message {
  constructor(public readonly role: string, public readonly content: string) {}
}

/** Validated params. */
export class LlmParams {
  adapter: string = "stub";
  model: string = "";
  /** The conversation, without system_prompt. */
  messages: Array<Message> = [];
  /** "" when not given. */
  systemPrompt: string = "";
  /** Without a trailing slash; the provider's public URL by default. */
  baseUrl: string = "";
  /** Kept as the number the host sent, so it reaches the provider unchanged. */
  temperature: JsonNumber | null = null;
  /** -1 when not given. */
  maxTokens: i64 = -1;
  seed: JsonNumber | null = null;
  stop: Array<string> = [];
  timeoutMs: i64 = TIMEOUT_MS_DEFAULT;

  /** system_prompt (as a leading system message) followed by the messages. */
  conversation(): Array<Message> {
    if (this.systemPrompt.length == 0) return this.messages;
    const all = new Array<Message>();
    all.push(new Message("system", this.systemPrompt));
    for (let i = 0; i < this.messages.length; i++) all.push(this.messages[i]);
    return all;
  }
}

/** The params, or why they are invalid. */
export class ParamsResult {
  constructor(public readonly params: LlmParams | null, public readonly failure: Failure | null) {}
}

function invalid(field: string, expected: string): ParamsResult {
  const details = new JsonObject().setString("expected", expected).setString("field", field);
  return new ParamsResult(null, new Failure(INVALID_PROMPT, "param '" + field + "' must be " + expected, details));
}

/** The integer a JSON number's lexeme spells, or i64.MIN_VALUE if it is not one in [min, max]. */
export function integerOf(value: JsonNumber, min: i64, max: i64): i64 {
  const text = value.lexeme;
  const negative = text.length > 0 && text.charCodeAt(0) == 0x2d;
  const start = negative ? 1 : 0;
  const digits = text.length - start;
  if (digits < 1 || digits > 16) return i64.MIN_VALUE;
  if (digits > 1 && text.charCodeAt(start) == 0x30) return i64.MIN_VALUE;
  let result: i64 = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return i64.MIN_VALUE;
    result = result * 10 + <i64>(c - 0x30);
  }
  if (negative) result = -result;
  return result < min || result > max ? i64.MIN_VALUE : result;
}

function hasText(s: string): bool {
  return s.trim().length > 0;
}

/** Parses and checks the step's params (UTF-8 JSON bytes). */
export function parseParams(bytes: Uint8Array): ParamsResult {
  const parsed = parseJson(bytes);
  if (!parsed.ok) return invalid("params", "JSON (" + parsed.error + " at byte " + parsed.position.toString() + ")");
  const root = parsed.value!;
  if (!root.isObject()) return invalid("params", "an object");
  const object = root.asObject();
  const keys = object.sortedKeys();
  for (let i = 0; i < keys.length; i++) {
    if (!KNOWN_PARAMS.includes(keys[i])) return invalid(keys[i], "absent (unknown param)");
  }
  const params = new LlmParams();
  const adapter = object.get("adapter");
  if (adapter !== null) {
    if (!adapter.isString() || !ADAPTERS.includes(adapter.asString().value)) {
      return invalid("adapter", "one of anthropic, openai, stub");
    }
    params.adapter = adapter.asString().value;
  }
  const model = object.get("model");
  if (model === null || !model.isString() || !hasText(model.asString().value)) {
    return invalid("model", "a non-empty string");
  }
  params.model = model.asString().value;
  const problem = readPrompt(object, params);
  if (problem !== null) return problem;
  const tuning = readTuning(object, params);
  if (tuning !== null) return tuning;
  const transport = readTransport(object, params);
  if (transport !== null) return transport;
  return new ParamsResult(params, null);
}

function readPrompt(object: JsonObject, params: LlmParams): ParamsResult | null {
  const prompt = object.get("prompt");
  const messages = object.get("messages");
  if ((prompt === null) == (messages === null)) return invalid("prompt", "given when messages is not (exactly one of prompt and messages)");
  if (prompt !== null) {
    if (!prompt.isString() || !hasText(prompt.asString().value)) return invalid("prompt", "a non-empty string");
    params.messages.push(new Message("user", prompt.asString().value));
  } else {
    const problem = readMessages(messages!, params);
    if (problem !== null) return problem;
  }
  const system = object.get("system_prompt");
  if (system !== null) {
    if (!system.isString()) return invalid("system_prompt", "a string");
    params.systemPrompt = system.asString().value;
  }
  return null;
}

function readMessages(value: JsonValue, params: LlmParams): ParamsResult | null {
  const expected = "a non-empty array of {role: system|user|assistant, content: non-empty string}";
  if (!value.isArray()) return invalid("messages", expected);
  const items = value.asArray().items;
  if (items.length == 0) return invalid("messages", expected);
  for (let i = 0; i < items.length; i++) {
    const field = "messages[" + i.toString() + "]";
    if (!items[i].isObject()) return invalid(field, expected);
    const item = items[i].asObject();
    const role = item.get("role");
    const content = item.get("content");
    const keys = item.sortedKeys();
    if (keys.length != 2 || role === null || content === null) return invalid(field, expected);
    if (!role.isString() || !ROLES.includes(role.asString().value)) return invalid(field + ".role", "system, user or assistant");
    if (!content.isString() || !hasText(content.asString().value)) return invalid(field + ".content", "a non-empty string");
    params.messages.push(new Message(role.asString().value, content.asString().value));
  }
  return null;
}

function readTuning(object: JsonObject, params: LlmParams): ParamsResult | null {
  const temperature = object.get("temperature");
  if (temperature !== null) {
    const t = temperature.isNumber() ? temperature.asNumber().toF64() : -1.0;
    if (!(t >= 0.0 && t <= 2.0)) return invalid("temperature", "a number from 0 to 2");
    params.temperature = temperature.asNumber();
  }
  const maxTokens = object.get("max_tokens");
  if (maxTokens !== null) {
    const n = maxTokens.isNumber() ? integerOf(maxTokens.asNumber(), 1, MAX_TOKENS_MAX) : i64.MIN_VALUE;
    if (n == i64.MIN_VALUE) return invalid("max_tokens", "an integer from 1 to " + MAX_TOKENS_MAX.toString());
    params.maxTokens = n;
  }
  const seed = object.get("seed");
  if (seed !== null) {
    const n = seed.isNumber() ? integerOf(seed.asNumber(), -SEED_ABS_MAX, SEED_ABS_MAX) : i64.MIN_VALUE;
    if (n == i64.MIN_VALUE) return invalid("seed", "a safe integer");
    params.seed = seed.asNumber();
  }
  const stop = object.get("stop");
  if (stop !== null) {
    const expected = "a non-empty string or an array of at most " + STOP_SEQUENCES_MAX.toString() +
      " non-empty strings";
    const items = new Array<JsonValue>();
    if (stop.isArray()) {
      const all = stop.asArray().items;
      for (let i = 0; i < all.length; i++) items.push(all[i]);
    } else {
      items.push(stop);
    }
    if (items.length > STOP_SEQUENCES_MAX) return invalid("stop", expected);
    for (let i = 0; i < items.length; i++) {
      if (!items[i].isString() || items[i].asString().value.length == 0) return invalid("stop", expected);
      params.stop.push(items[i].asString().value);
    }
  }
  return null;
}

function readTransport(object: JsonObject, params: LlmParams): ParamsResult | null {
  params.baseUrl = params.adapter == "anthropic" ? ANTHROPIC_BASE_URL : OPENAI_BASE_URL;
  const baseUrl = object.get("base_url");
  if (baseUrl !== null) {
    const expected = "an http(s) URL without query or fragment";
    if (!baseUrl.isString()) return invalid("base_url", expected);
    let url = baseUrl.asString().value;
    const scheme = url.startsWith("https://") ? 8 : url.startsWith("http://") ? 7 : -1;
    if (scheme < 0 || url.length <= scheme || url.length > BASE_URL_CHARS_MAX) return invalid("base_url", expected);
    if (url.includes("?") || url.includes("#")) return invalid("base_url", expected);
    while (url.endsWith("/")) url = url.substring(0, url.length - 1);
    params.baseUrl = url;
  }
  const timeout = object.get("timeout_ms");
  if (timeout !== null) {
    const n = timeout.isNumber() ? integerOf(timeout.asNumber(), 1, TIMEOUT_MS_MAX) : i64.MIN_VALUE;
    if (n == i64.MIN_VALUE) return invalid("timeout_ms", "an integer from 1 to " + TIMEOUT_MS_MAX.toString());
    params.timeoutMs = n;
  }
  return null;
}

/** The conversation as a JSON array of {content, role}. */
export function messagesJson(messages: Array<Message>): JsonArray {
  const array = new JsonArray();
  for (let i = 0; i < messages.length; i++) {
    array.push(new JsonObject().setString("content", messages[i].content).setString("role", messages[i].role));
  }
  return array;
}

/** The stop sequences as a JSON array of strings. */
export function stopJson(stop: Array<string>): JsonArray {
  const array = new JsonArray();
  for (let i = 0; i < stop.length; i++) array.push(new JsonString(stop[i]));
  return array;
}
