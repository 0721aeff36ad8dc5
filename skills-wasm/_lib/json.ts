// JSON for skills: a value tree, a strict RFC 8259 parser and the canonical
// serializer the host uses for its log (src/store/canonical_json.ts). Output
// bytes must equal what the host would write for the same value, because
// step outputs are hashed and compared byte for byte on replay.

/** Containers may nest this deep; deeper input is refused, not recursed into. */
export const JSON_DEPTH_MAX: i32 = 100;

export enum JsonKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** A parsed JSON value; `kind` says which subclass it is. */
export class JsonValue {
  constructor(public readonly kind: JsonKind) {}

  /** The name a JSON Schema would use for this value's type. */
  typeName(): string {
    switch (this.kind) {
      case JsonKind.Null: return "null";
      case JsonKind.Bool: return "boolean";
      case JsonKind.Number: return "number";
      case JsonKind.String: return "string";
      case JsonKind.Array: return "array";
      default: return "object";
    }
  }

  isString(): bool { return this.kind == JsonKind.String; }
  isNumber(): bool { return this.kind == JsonKind.Number; }
  isArray(): bool { return this.kind == JsonKind.Array; }
  isObject(): bool { return this.kind == JsonKind.Object; }

  // The casts below are checked by kind first; a wrong cast is a bug in the
  // skill, and the assert turns it into SKILL_ABORTED rather than bad memory.
  asString(): JsonString {
    assert(this.kind == JsonKind.String, "not a JSON string");
    return changetype<JsonString>(this);
  }
  asNumber(): JsonNumber {
    assert(this.kind == JsonKind.Number, "not a JSON number");
    return changetype<JsonNumber>(this);
  }
  asArray(): JsonArray {
    assert(this.kind == JsonKind.Array, "not a JSON array");
    return changetype<JsonArray>(this);
  }
  asObject(): JsonObject {
    assert(this.kind == JsonKind.Object, "not a JSON object");
    return changetype<JsonObject>(this);
  }
}

export class JsonNull extends JsonValue {
  constructor() { super(JsonKind.Null); }
}

export class JsonBool extends JsonValue {
  constructor(public readonly value: bool) { super(JsonKind.Bool); }
}

/**
 * A number kept as its lexeme: v1 operations never compute numbers, and the
 * host sends JavaScript-formatted numbers, so echoing the lexeme reproduces
 * the host's canonical form without a float-to-text algorithm here.
 */
export class JsonNumber extends JsonValue {
  constructor(public readonly lexeme: string) { super(JsonKind.Number); }

  toF64(): f64 { return parseFloat(this.lexeme); }

  /** A number from an integer, written as JavaScript would write it. */
  static fromI64(value: i64): JsonNumber { return new JsonNumber(value.toString()); }
}

export class JsonString extends JsonValue {
  constructor(public readonly value: string) { super(JsonKind.String); }
}

export class JsonArray extends JsonValue {
  readonly items: Array<JsonValue> = [];
  constructor() { super(JsonKind.Array); }

  push(item: JsonValue): JsonArray {
    this.items.push(item);
    return this;
  }
}

export class JsonObject extends JsonValue {
  // Map keeps the first insertion position and the last value, like JSON.parse.
  private readonly entries: Map<string, JsonValue> = new Map();
  constructor() { super(JsonKind.Object); }

  has(key: string): bool { return this.entries.has(key); }

  /** The member's value, or null when the key is absent. */
  get(key: string): JsonValue | null {
    return this.entries.has(key) ? this.entries.get(key) : null;
  }

  set(key: string, value: JsonValue): JsonObject {
    this.entries.set(key, value);
    return this;
  }

  setString(key: string, value: string): JsonObject {
    return this.set(key, new JsonString(value));
  }

  delete(key: string): void { this.entries.delete(key); }

  /** Keys in canonical order: UTF-16 code units, as Array.prototype.sort. */
  sortedKeys(): Array<string> {
    const keys = this.entries.keys();
    // AssemblyScript's default string comparator compares UTF-16 code units.
    keys.sort();
    return keys;
  }
}

/** Canonical JSON text of `value`: sorted keys, no whitespace, JS escaping. */
export function stringify(value: JsonValue): string {
  const out = new Array<string>();
  writeValue(value, out);
  return out.join("");
}

/** `s` as a JSON string literal, escaped exactly like JSON.stringify. */
export function quote(s: string): string {
  const out = new Array<string>();
  writeString(s, out);
  return out.join("");
}

function writeValue(value: JsonValue, out: Array<string>): void {
  switch (value.kind) {
    case JsonKind.Null: out.push("null"); break;
    case JsonKind.Bool:
      out.push(changetype<JsonBool>(value).value ? "true" : "false");
      break;
    case JsonKind.Number: out.push(changetype<JsonNumber>(value).lexeme); break;
    case JsonKind.String: writeString(changetype<JsonString>(value).value, out); break;
    case JsonKind.Array: writeArray(changetype<JsonArray>(value), out); break;
    default: writeObject(changetype<JsonObject>(value), out);
  }
}

function writeArray(array: JsonArray, out: Array<string>): void {
  out.push("[");
  const items = array.items;
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out.push(",");
    writeValue(items[i], out);
  }
  out.push("]");
}

function writeObject(object: JsonObject, out: Array<string>): void {
  out.push("{");
  const keys = object.sortedKeys();
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) out.push(",");
    const key = keys[i];
    writeString(key, out);
    out.push(":");
    writeValue(object.get(key)!, out);
  }
  out.push("}");
}

const HEX_DIGITS = "0123456789abcdef";

function unicodeEscape(unit: i32): string {
  return "\\u" +
    HEX_DIGITS.charAt((unit >> 12) & 15) + HEX_DIGITS.charAt((unit >> 8) & 15) +
    HEX_DIGITS.charAt((unit >> 4) & 15) + HEX_DIGITS.charAt(unit & 15);
}

/** The escape JSON.stringify writes for `unit`, or null to copy it as is. */
function escapeFor(s: string, i: i32): string | null {
  const unit = s.charCodeAt(i);
  if (unit == 0x22) return "\\\"";
  if (unit == 0x5c) return "\\\\";
  if (unit < 0x20) {
    if (unit == 0x08) return "\\b";
    if (unit == 0x09) return "\\t";
    if (unit == 0x0a) return "\\n";
    if (unit == 0x0c) return "\\f";
    if (unit == 0x0d) return "\\r";
    return unicodeEscape(unit);
  }
  if (unit < 0xd800 || unit > 0xdfff) return null;
  // Well-formed JSON.stringify (ES2019) escapes only unpaired surrogates.
  if (unit <= 0xdbff && i + 1 < s.length) {
    const next = s.charCodeAt(i + 1);
    if (next >= 0xdc00 && next <= 0xdfff) return null;
  }
  if (unit >= 0xdc00 && i > 0) {
    const previous = s.charCodeAt(i - 1);
    if (previous >= 0xd800 && previous <= 0xdbff) return null;
  }
  return unicodeEscape(unit);
}

function writeString(s: string, out: Array<string>): void {
  out.push("\"");
  let copiedTo = 0;
  for (let i = 0; i < s.length; i++) {
    const escape = escapeFor(s, i);
    if (escape === null) continue;
    if (i > copiedTo) out.push(s.substring(copiedTo, i));
    out.push(escape);
    copiedTo = i + 1;
  }
  out.push(copiedTo == 0 ? s : s.substring(copiedTo));
  out.push("\"");
}

export { JsonParseResult, parseJson, parseJsonText } from "./json_parse";
