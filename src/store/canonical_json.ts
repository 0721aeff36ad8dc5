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
  return write(value, "$");
}

function write(value: unknown, path: string): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) {
        throw new TypeError(`canonicalJson: ${value} at ${path} is not JSON`);
      }
      return JSON.stringify(value);
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return writeArray(value, path);
      return writeObject(value as Record<string, unknown>, path);
    default:
      throw new TypeError(
        `canonicalJson: ${typeof value} at ${path} is not JSON`,
      );
  }
}

function writeArray(items: unknown[], path: string): string {
  let out = "[";
  for (let index = 0; index < items.length; index++) {
    if (index > 0) out += ",";
    out += write(items[index], `${path}[${index}]`);
  }
  return out + "]";
}

function writeObject(object: Record<string, unknown>, path: string): string {
  const prototype = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError(`canonicalJson: a non-plain object at ${path}`);
  }
  const keys = Object.keys(object).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const item = object[key];
    // undefined members are absent, as optional properties are in TypeScript.
    if (item === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += JSON.stringify(key) + ":" + write(item, `${path}.${key}`);
  }
  return out + "}";
}

/** Parses JSON text and re-serialises it canonically. */
export function canonicalizeText(text: string): string {
  return canonicalJson(JSON.parse(text));
}
