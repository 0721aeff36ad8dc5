// A strict RFC 8259 parser over UTF-8 bytes. It works on bytes, not on a
// decoded string, so that error positions are byte offsets into exactly what
// the host sent, and so that invalid UTF-8 is refused instead of replaced.
// AssemblyScript has no exceptions: the first error is recorded and every
// caller unwinds by returning null.
import {
  JSON_DEPTH_MAX,
  JsonArray,
  JsonBool,
  JsonNull,
  JsonNumber,
  JsonObject,
  JsonString,
  JsonValue,
} from "./json";

/** The parsed value, or the reason and byte position of the first error. */
export class JsonParseResult {
  constructor(
    public readonly value: JsonValue | null,
    public readonly error: string,
    public readonly position: i32,
  ) {}

  get ok(): bool { return this.value !== null; }
}

/** Parses one JSON document (surrounding whitespace allowed) from UTF-8 bytes. */
export function parseJson(bytes: Uint8Array): JsonParseResult {
  const parser = new Parser(bytes);
  let value = parser.parseValue(0);
  if (value !== null) {
    parser.skipWhitespace();
    if (parser.position < bytes.length) value = parser.fail("unexpected data after the JSON value");
  }
  if (value === null) return new JsonParseResult(null, parser.error, parser.errorPosition);
  return new JsonParseResult(value, "", -1);
}

/** Parses JSON text; positions in errors are byte offsets into its UTF-8 form. */
export function parseJsonText(text: string): JsonParseResult {
  return parseJson(Uint8Array.wrap(String.UTF8.encode(text)));
}

const QUOTE: u8 = 0x22;
const BACKSLASH: u8 = 0x5c;

class Parser {
  position: i32 = 0;
  error: string = "";
  errorPosition: i32 = -1;
  // Code units of the string being parsed; reused so strings cost one copy.
  private units: Array<u16> = [];

  constructor(private readonly bytes: Uint8Array) {}

  fail(reason: string): JsonValue | null {
    if (this.errorPosition < 0) {
      this.error = reason;
      this.errorPosition = this.position;
    }
    return null;
  }

  private peek(): i32 {
    return this.position < this.bytes.length ? <i32>this.bytes[this.position] : -1;
  }

  skipWhitespace(): void {
    let c = this.peek();
    while (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) {
      this.position++;
      c = this.peek();
    }
  }

  /** `depth` is the number of containers around the value. */
  parseValue(depth: i32): JsonValue | null {
    this.skipWhitespace();
    const c = this.peek();
    if (c < 0) return this.fail("unexpected end of input");
    if (c == 0x7b) return this.parseObject(depth + 1);
    if (c == 0x5b) return this.parseArray(depth + 1);
    if (c == QUOTE) {
      const text = this.parseString();
      return text === null ? null : new JsonString(text);
    }
    if (c == 0x74) return this.parseLiteral("true", new JsonBool(true));
    if (c == 0x66) return this.parseLiteral("false", new JsonBool(false));
    if (c == 0x6e) return this.parseLiteral("null", new JsonNull());
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
    return this.fail("unexpected character");
  }

  private parseLiteral(word: string, value: JsonValue): JsonValue | null {
    for (let i = 0; i < word.length; i++) {
      if (this.peek() != word.charCodeAt(i)) return this.fail("invalid literal");
      this.position++;
    }
    return value;
  }

  private parseObject(depth: i32): JsonValue | null {
    if (depth > JSON_DEPTH_MAX) return this.fail("nested deeper than 100 levels");
    this.position++;
    const object = new JsonObject();
    this.skipWhitespace();
    if (this.peek() == 0x7d) {
      this.position++;
      return object;
    }
    while (true) {
      this.skipWhitespace();
      if (this.peek() != QUOTE) return this.fail("expected a string key");
      const key = this.parseString();
      if (key === null) return null;
      this.skipWhitespace();
      if (this.peek() != 0x3a) return this.fail("expected ':'");
      this.position++;
      const value = this.parseValue(depth);
      if (value === null) return null;
      object.set(key, value);
      this.skipWhitespace();
      const c = this.peek();
      this.position++;
      if (c == 0x7d) return object;
      if (c != 0x2c) {
        this.position--;
        return this.fail("expected ',' or '}'");
      }
    }
  }

  private parseArray(depth: i32): JsonValue | null {
    if (depth > JSON_DEPTH_MAX) return this.fail("nested deeper than 100 levels");
    this.position++;
    const array = new JsonArray();
    this.skipWhitespace();
    if (this.peek() == 0x5d) {
      this.position++;
      return array;
    }
    while (true) {
      const item = this.parseValue(depth);
      if (item === null) return null;
      array.push(item);
      this.skipWhitespace();
      const c = this.peek();
      this.position++;
      if (c == 0x5d) return array;
      if (c != 0x2c) {
        this.position--;
        return this.fail("expected ',' or ']'");
      }
    }
  }

  private digits(): i32 {
    const start = this.position;
    let c = this.peek();
    while (c >= 0x30 && c <= 0x39) {
      this.position++;
      c = this.peek();
    }
    return this.position - start;
  }

  private parseNumber(): JsonValue | null {
    const start = this.position;
    if (this.peek() == 0x2d) this.position++;
    if (this.peek() == 0x30) {
      this.position++;
    } else if (this.digits() == 0) {
      return this.fail("invalid number");
    }
    if (this.peek() == 0x2e) {
      this.position++;
      if (this.digits() == 0) return this.fail("expected a digit after '.'");
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.position++;
      const sign = this.peek();
      if (sign == 0x2b || sign == 0x2d) this.position++;
      if (this.digits() == 0) return this.fail("expected a digit in the exponent");
    }
    const lexeme = String.UTF8.decodeUnsafe(
      this.bytes.dataStart + <usize>start,
      <usize>(this.position - start),
    );
    return new JsonNumber(lexeme);
  }

  /** Parses the string at the current quote; null (with error set) if invalid. */
  parseString(): string | null {
    this.position++;
    const units = this.units;
    units.length = 0;
    while (true) {
      const c = this.peek();
      if (c < 0) {
        this.fail("unterminated string");
        return null;
      }
      if (c == QUOTE) break;
      if (c < 0x20) {
        this.fail("control character in string");
        return null;
      }
      const ok = c == BACKSLASH
        ? this.parseEscape()
        : c < 0x80
        ? this.pushAscii(c)
        : this.parseUtf8(c);
      if (!ok) return null;
    }
    this.position++;
    return String.UTF16.decodeUnsafe(units.dataStart, <usize>units.length << 1);
  }

  private pushAscii(c: i32): bool {
    this.units.push(<u16>c);
    this.position++;
    return true;
  }

  private hexDigit(): i32 {
    const c = this.peek();
    this.position++;
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
    if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
    this.position--;
    return -1;
  }

  private parseEscape(): bool {
    this.position++;
    const c = this.peek();
    this.position++;
    let unit: i32 = -1;
    if (c == QUOTE || c == BACKSLASH || c == 0x2f) unit = c;
    else if (c == 0x62) unit = 0x08;
    else if (c == 0x66) unit = 0x0c;
    else if (c == 0x6e) unit = 0x0a;
    else if (c == 0x72) unit = 0x0d;
    else if (c == 0x74) unit = 0x09;
    else if (c == 0x75) {
      unit = 0;
      for (let i = 0; i < 4; i++) {
        const digit = this.hexDigit();
        if (digit < 0) {
          this.fail("expected four hex digits after \\u");
          return false;
        }
        unit = (unit << 4) | digit;
      }
    } else {
      this.position--;
      this.fail("invalid escape");
      return false;
    }
    // Lone surrogates from \u escapes are kept, as JSON.parse keeps them.
    this.units.push(<u16>unit);
    return true;
  }

  private continuation(offset: i32, low: i32, high: i32): i32 {
    const index = this.position + offset;
    if (index >= this.bytes.length) return -1;
    const b = <i32>this.bytes[index];
    return b >= low && b <= high ? b & 0x3f : -1;
  }

  /** Decodes one multi-byte UTF-8 sequence, refusing overlong and surrogate forms. */
  private parseUtf8(lead: i32): bool {
    let count = 0;
    let low = 0x80;
    let high = 0xbf;
    let point = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
      count = 1;
      point = lead & 0x1f;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      count = 2;
      point = lead & 0x0f;
      if (lead == 0xe0) low = 0xa0;
      if (lead == 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      count = 3;
      point = lead & 0x07;
      if (lead == 0xf0) low = 0x90;
      if (lead == 0xf4) high = 0x8f;
    } else {
      this.fail("invalid UTF-8");
      return false;
    }
    for (let i = 1; i <= count; i++) {
      const bits = i == 1 ? this.continuation(i, low, high) : this.continuation(i, 0x80, 0xbf);
      if (bits < 0) {
        this.fail("invalid UTF-8");
        return false;
      }
      point = (point << 6) | bits;
    }
    this.position += count + 1;
    if (point >= 0x10000) {
      point -= 0x10000;
      this.units.push(<u16>(0xd800 + (point >> 10)));
      this.units.push(<u16>(0xdc00 + (point & 0x3ff)));
    } else {
      this.units.push(<u16>point);
    }
    return true;
  }
}
