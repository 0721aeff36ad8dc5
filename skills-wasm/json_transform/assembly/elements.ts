// map (a path applied to every element) and flatten (arrays of arrays into
// one array, like JavaScript's Array.prototype.flat).
import { JSON_DEPTH_MAX, JsonArray, JsonNull, JsonObject, JsonValue } from "../../_lib/json";
import { ARRAY_ITEMS_MAX, flattenedTooLong } from "./limits";
import { invalidParams, invalidPath, Outcome, pathNotFound, succeeded, typeMismatch } from "./outcome";
import { parsePath, resolvePath } from "./path";

const MISSING_MODES = ["error", "null", "skip"];

export function map(params: JsonObject, input: JsonValue): Outcome {
  const pathValue = params.get("path");
  if (pathValue === null || !pathValue.isString()) return invalidParams("path", "a string");
  const missingValue = params.get("missing");
  let missing = "error";
  if (missingValue !== null) {
    missing = missingValue.isString() ? missingValue.asString().value : "";
    if (!MISSING_MODES.includes(missing)) return invalidParams("missing", "one of error, null, skip");
  }
  const path = parsePath(pathValue.asString().value);
  if (!path.ok) return invalidPath(path, "path");
  if (!input.isArray()) return typeMismatch("map", "array", input);

  const items = input.asArray().items;
  const result = new JsonArray();
  for (let i = 0; i < items.length; i++) {
    const value = resolvePath(path, items[i]);
    if (value !== null) {
      result.push(value);
    } else if (missing == "null") {
      result.push(new JsonNull());
    } else if (missing == "error") {
      return pathNotFound(path, items[i], i);
    }
  }
  return succeeded(result);
}

export function flatten(params: JsonObject, input: JsonValue): Outcome {
  const depthValue = params.get("depth");
  let depth = 1;
  if (depthValue !== null) {
    const given = depthValue.isNumber() ? depthValue.asNumber().toF64() : -1;
    if (!(given >= 0 && given == Math.floor(given))) return invalidParams("depth", "a non-negative integer");
    // Nothing nests deeper than the parser allows, so larger depths flatten fully.
    depth = given > <f64>JSON_DEPTH_MAX ? JSON_DEPTH_MAX : <i32>given;
  }
  if (!input.isArray()) return typeMismatch("flatten", "array", input);

  // Counted before anything is copied: the result obeys the array limit too.
  const length = flatLength(input.asArray(), depth);
  if (length > <i64>ARRAY_ITEMS_MAX) return flattenedTooLong(length);
  const result = new JsonArray();
  appendFlat(input.asArray(), depth, result);
  return succeeded(result);
}

function flatLength(array: JsonArray, depth: i32): i64 {
  const items = array.items;
  let length: i64 = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    length += depth > 0 && item.isArray() ? flatLength(item.asArray(), depth - 1) : 1;
  }
  return length;
}

function appendFlat(array: JsonArray, depth: i32, result: JsonArray): void {
  const items = array.items;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (depth > 0 && item.isArray()) appendFlat(item.asArray(), depth - 1, result);
    else result.push(item);
  }
}
