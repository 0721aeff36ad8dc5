/**
 * Values as JSON: a value's text, as PostgreSQL writes it under the session
 * options of `_sql_driver.ts`, converted by its type.
 *
 * @module
 */
import type { Json } from "../../store/mod.ts";
import { BOX, type TypeInfo, typeInfo } from "./_sql_types.ts";

/** Reads one value's text. */
export type Converter = (text: string) => Json;

const text: Converter = (value) => value;
const integer: Converter = (value) => Number(value);
const float: Converter = (value) => {
  const number = Number(value);
  return Number.isFinite(number) ? number : value;
};
const CONVERTERS: Record<string, Converter> = {
  bool: (value) => value === "t",
  int2: integer,
  int4: integer,
  oid: integer,
  float4: float,
  float8: float,
  json: (value) => JSON.parse(value),
  jsonb: (value) => JSON.parse(value),
  bytea: (value) => base64(value),
  timestamp: (value) => isoTimestamp(value),
  timestamptz: (value) => isoTimestamp(value),
};

/** How a value of type `oid`, as PostgreSQL writes it, becomes JSON. */
export function converterFor(
  oid: number,
  types: Map<number, TypeInfo>,
  depth = 0,
): Converter {
  const info = typeInfo(oid, types);
  if (info === undefined || depth > 8) return text;
  if (info.base !== 0) return converterFor(info.base, types, depth + 1);
  // box[] separates elements with ';' and is left as PostgreSQL writes it.
  if (info.element !== 0 && info.element !== BOX && info.name.startsWith("_")) {
    const element = converterFor(info.element, types, depth + 1);
    return (value) => mapArray(parseArrayLiteral(value), element);
  }
  return CONVERTERS[info.name] ?? text;
}

/** Nested arrays of element text (null for NULL). */
export type TextArray = (string | null | TextArray)[];

function mapArray(items: TextArray, convert: Converter): Json[] {
  return items.map((item) =>
    item === null
      ? null
      : Array.isArray(item)
      ? mapArray(item, convert)
      : convert(item)
  );
}

/**
 * `{1,"a b",NULL,{2,3}}` → nested arrays of element text (null for NULL).
 * Throws on text PostgreSQL would not write, rather than loop or guess.
 */
export function parseArrayLiteral(literal: string): TextArray {
  // Non-default bounds come first: "[0:1]={1,2}".
  let position = literal.startsWith("[") ? literal.indexOf("=") + 1 : 0;
  const malformed = () =>
    new Error(
      `malformed array literal at ${position}: ${literal.slice(0, 100)}`,
    );
  const parse = (): TextArray => {
    if (literal[position] !== "{") throw malformed();
    const items: TextArray = [];
    position++;
    if (literal[position] === "}") {
      position++;
      return items;
    }
    while (position < literal.length) {
      if (literal[position] === "{") {
        items.push(parse());
      } else if (literal[position] === '"') {
        let value = "";
        position++;
        while (position < literal.length && literal[position] !== '"') {
          if (literal[position] === "\\") position++;
          value += literal[position++] ?? "";
        }
        position++;
        items.push(value);
      } else {
        const end = literal.slice(position).search(/[,}]/);
        if (end < 0) throw malformed();
        const value = literal.slice(position, position + end).trim();
        position += end;
        items.push(value === "NULL" ? null : value);
      }
      const separator = literal[position++];
      if (separator === "}") return items;
      if (separator !== ",") throw malformed();
    }
    throw malformed();
  };
  return parse();
}

/** "2024-01-02 03:04:05.123456+00" → "2024-01-02T03:04:05.123456Z". */
function isoTimestamp(value: string): string {
  const match =
    /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::\d\d){0,2})?$/
      .exec(value);
  if (match === null) return value; // infinity, -infinity, BC dates
  const [, date, time, offset] = match;
  if (offset === undefined) return `${date}T${time}`;
  if (offset === "+00") return `${date}T${time}Z`;
  return `${date}T${time}${offset.length === 3 ? `${offset}:00` : offset}`;
}

function base64(hex: string): string {
  const digits = hex.startsWith("\\x") ? hex.slice(2) : hex;
  let binary = "";
  for (let index = 0; index < digits.length; index += 2) {
    binary += String.fromCharCode(parseInt(digits.slice(index, index + 2), 16));
  }
  return btoa(binary);
}
