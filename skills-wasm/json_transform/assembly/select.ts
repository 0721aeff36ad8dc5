// The 1.0 operations, unchanged: extract a value by path, pick or omit keys.
import { JsonObject, JsonValue } from "../../_lib/json";
import { invalidParams, invalidPath, Outcome, pathNotFound, succeeded, typeMismatch } from "./outcome";
import { parsePath, resolvePath } from "./path";

export function extract(params: JsonObject, input: JsonValue): Outcome {
  const pathValue = params.get("path");
  if (pathValue === null || !pathValue.isString()) return invalidParams("path", "a string");
  const path = parsePath(pathValue.asString().value);
  if (!path.ok) return invalidPath(path, null);
  const value = resolvePath(path, input);
  if (value === null) return pathNotFound(path, input, -1);
  return succeeded(value);
}

export function pickOrOmit(pick: bool, params: JsonObject, input: JsonValue): Outcome {
  const keysValue = params.get("keys");
  if (keysValue === null || !keysValue.isArray()) return invalidParams("keys", "an array of strings");
  const keys = keysValue.asArray().items;
  for (let i = 0; i < keys.length; i++) {
    if (!keys[i].isString()) return invalidParams("keys", "an array of strings");
  }
  if (!input.isObject()) return typeMismatch(pick ? "pick" : "omit", "object", input);
  const source = input.asObject();
  const result = new JsonObject();
  if (pick) {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i].asString().value;
      const value = source.get(key);
      if (value !== null) result.set(key, value);
    }
  } else {
    const sourceKeys = source.sortedKeys();
    for (let i = 0; i < sourceKeys.length; i++) result.set(sourceKeys[i], source.get(sourceKeys[i])!);
    for (let i = 0; i < keys.length; i++) result.delete(keys[i].asString().value);
  }
  return succeeded(result);
}
