// One total order over JSON values, shared by sort and filter:
// null < false < true < numbers < strings < arrays < objects. Numbers compare
// as f64 (so 1, 1.0 and 1e0 are equal), strings by UTF-16 code units, arrays
// element by element (a prefix first), objects as their members in key order.
import { JsonArray, JsonBool, JsonKind, JsonObject, JsonValue } from "../../_lib/json";

/** -1, 0 or 1 as `a` sorts before, with or after `b`. */
export function compareValues(a: JsonValue, b: JsonValue): i32 {
  // JsonKind's declaration order is the type order above.
  if (a.kind != b.kind) return a.kind < b.kind ? -1 : 1;
  switch (a.kind) {
    case JsonKind.Null: return 0;
    case JsonKind.Bool: return compareBools(changetype<JsonBool>(a).value, changetype<JsonBool>(b).value);
    case JsonKind.Number: return compareNumbers(a.asNumber().toF64(), b.asNumber().toF64());
    case JsonKind.String: return compareStrings(a.asString().value, b.asString().value);
    case JsonKind.Array: return compareArrays(a.asArray(), b.asArray());
    default: return compareObjects(a.asObject(), b.asObject());
  }
}

/** Deep equality under the same order: numbers by value, keys in any order. */
export function valuesEqual(a: JsonValue, b: JsonValue): bool {
  return compareValues(a, b) == 0;
}

export function compareNumbers(a: f64, b: f64): i32 {
  // JSON has no NaN; -0 and 0 compare equal, as in JavaScript.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** By UTF-16 code units, as JavaScript's `<` on strings. */
export function compareStrings(a: string, b: string): i32 {
  return a.localeCompare(b);
}

function compareBools(a: bool, b: bool): i32 {
  return a == b ? 0 : a ? 1 : -1;
}

function compareArrays(a: JsonArray, b: JsonArray): i32 {
  const left = a.items;
  const right = b.items;
  const common = min(left.length, right.length);
  for (let i = 0; i < common; i++) {
    const order = compareValues(left[i], right[i]);
    if (order != 0) return order;
  }
  return left.length < right.length ? -1 : left.length > right.length ? 1 : 0;
}

function compareObjects(a: JsonObject, b: JsonObject): i32 {
  const leftKeys = a.sortedKeys();
  const rightKeys = b.sortedKeys();
  const common = min(leftKeys.length, rightKeys.length);
  for (let i = 0; i < common; i++) {
    const byKey = compareStrings(leftKeys[i], rightKeys[i]);
    if (byKey != 0) return byKey;
    const byValue = compareValues(a.get(leftKeys[i])!, b.get(rightKeys[i])!);
    if (byValue != 0) return byValue;
  }
  return leftKeys.length < rightKeys.length ? -1 : leftKeys.length > rightKeys.length ? 1 : 0;
}
