// merge: the input object with the members of `with` laid over it. Shallow
// by default; with deep: true, members that are objects on both sides are
// merged in turn. Anything else from `with` (arrays included) replaces.
import { JsonBool, JsonKind, JsonObject, JsonValue } from "../../_lib/json";
import { invalidParams, Outcome, succeeded, typeMismatch } from "./outcome";

export function merge(params: JsonObject, input: JsonValue): Outcome {
  const overlay = params.get("with");
  if (overlay === null || !overlay.isObject()) return invalidParams("with", "an object");
  const deepValue = params.get("deep");
  if (deepValue !== null && deepValue.kind != JsonKind.Bool) return invalidParams("deep", "a boolean");
  const deep = deepValue !== null && changetype<JsonBool>(deepValue).value;
  if (!input.isObject()) return typeMismatch("merge", "object", input);
  return succeeded(mergeObjects(input.asObject(), overlay.asObject(), deep));
}

/** A new object; neither argument changes. Recursion is bounded by the parser's depth limit. */
function mergeObjects(base: JsonObject, overlay: JsonObject, deep: bool): JsonObject {
  const result = new JsonObject();
  const baseKeys = base.sortedKeys();
  for (let i = 0; i < baseKeys.length; i++) result.set(baseKeys[i], base.get(baseKeys[i])!);
  const keys = overlay.sortedKeys();
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const value = overlay.get(key)!;
    const existing = result.get(key);
    if (deep && existing !== null && existing.isObject() && value.isObject()) {
      result.set(key, mergeObjects(existing.asObject(), value.asObject(), true));
    } else {
      result.set(key, value);
    }
  }
  return result;
}
