/** Any value that survives a JSON round trip unchanged. */
export type Json =
  | null
  | boolean
  | number
  | string
  | Json[]
  | { [key: string]: Json };

/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/**
 * Serialises `value` as canonical JSON: object keys sorted by UTF-16 code
 * units (JavaScript's default sort), no whitespace, strings and numbers as
 * `JSON.stringify` writes them. Equal values always give equal bytes, which is
 * what makes record hashes and byte-identical replay meaningful.
 *
 * Throws a TypeError on values JSON cannot hold (undefined, functions,
 * bigint, NaN, Infinity) instead of silently dropping them as
 * `JSON.stringify` would.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, "x"] }); // '{"a":[true,"x"],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  try {
    return write(value);
  } catch (error) {
    if (error !== NOT_JSON) throw error;
    // The walk does not carry paths (they would be built for every value of
    // every record); the rare refusal finds its path again.
    throw new TypeError(`canonicalJson: ${notJsonAt(value, "$")}`);
  }
}

const NOT_JSON = new Error("not JSON");

function write(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw NOT_JSON;
      return JSON.stringify(value);
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return writeArray(value);
      return writeObject(value as Record<string, unknown>);
    default:
      throw NOT_JSON;
  }
}

function writeArray(items: unknown[]): string {
  let out = "[";
  for (let index = 0; index < items.length; index++) {
    if (index > 0) out += ",";
    out += write(items[index]);
  }
  return out + "]";
}

function writeObject(object: Record<string, unknown>): string {
  if (!isPlain(object)) throw NOT_JSON;
  const keys = Object.keys(object).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const item = object[key];
    // undefined members are absent, as optional properties are in TypeScript.
    if (item === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += JSON.stringify(key) + ":" + write(item);
  }
  return out + "}";
}

function isPlain(object: object): boolean {
  const prototype = Object.getPrototypeOf(object);
  return prototype === Object.prototype || prototype === null;
}

/** What the first value JSON cannot hold is, and where, in `write`'s order. */
function notJsonAt(value: unknown, path: string): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value)
        ? undefined
        : `${value} at ${path} is not JSON`;
    case "object": {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
          const found = notJsonAt(value[index], `${path}[${index}]`);
          if (found !== undefined) return found;
        }
        return undefined;
      }
      if (!isPlain(value)) return `a non-plain object at ${path}`;
      const object = value as Record<string, unknown>;
      for (const key of Object.keys(object).sort()) {
        if (object[key] === undefined) continue;
        const found = notJsonAt(object[key], `${path}.${key}`);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    default:
      return `${typeof value} at ${path} is not JSON`;
  }
}

/** Parses JSON text and re-serialises it canonically. */
export function canonicalizeText(text: string): string {
  return canonicalJson(JSON.parse(text));
}
