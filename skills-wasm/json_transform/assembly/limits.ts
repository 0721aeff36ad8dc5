// The limits json_transform enforces beyond the parser's 100 levels of
// nesting, so that a call's memory and time stay bounded by its params.
import { JsonNumber, JsonObject, JsonValue } from "../../_lib/json";
import { failed, Outcome } from "./outcome";

/** Largest params document (the input travels inside it), in UTF-8 bytes. */
export const INPUT_BYTES_MAX: i32 = 10 * 1024 * 1024;
/** Most elements of any array in the params, or of a flattened result. */
export const ARRAY_ITEMS_MAX: i32 = 100_000;

export function inputTooLarge(bytes: i32): Outcome {
  const details = new JsonObject()
    .set("bytes", JsonNumber.fromI64(bytes))
    .set("limit_bytes", JsonNumber.fromI64(INPUT_BYTES_MAX));
  const message = "the params are " + bytes.toString() + " bytes, over the limit of " +
    INPUT_BYTES_MAX.toString() + " bytes";
  return failed("ERR_JSON_INVALID_INPUT", message, details);
}

/** ERR_JSON_INVALID_INPUT for an array of `length` elements at `at` (a path). */
function arrayTooLong(at: string, length: i32): Outcome {
  const details = new JsonObject()
    .setString("at", at)
    .set("length", JsonNumber.fromI64(length))
    .set("limit_items", JsonNumber.fromI64(ARRAY_ITEMS_MAX));
  const message = "the array at " + at + " has " + length.toString() + " elements, over the limit of " +
    ARRAY_ITEMS_MAX.toString();
  return failed("ERR_JSON_INVALID_INPUT", message, details);
}

/** ERR_JSON_INVALID_INPUT: flattening `$.input` would give `length` elements. */
export function flattenedTooLong(length: i64): Outcome {
  const details = new JsonObject()
    .setString("at", "$.input")
    .set("length", JsonNumber.fromI64(length))
    .set("limit_items", JsonNumber.fromI64(ARRAY_ITEMS_MAX));
  const message = "flattening $.input gives " + length.toString() + " elements, over the limit of " +
    ARRAY_ITEMS_MAX.toString();
  return failed("ERR_JSON_INVALID_INPUT", message, details);
}

/** The first array (in canonical order) longer than the limit, or null when none is. */
export function checkArrays(params: JsonValue): Outcome | null {
  const steps = new Array<string>();
  const length = oversizedLength(params, steps);
  if (length < 0) return null;
  steps.reverse();
  return arrayTooLong("$" + steps.join(""), length);
}

/** The length of the first oversized array inside `value`, or -1; `steps` gets its path, innermost first. */
function oversizedLength(value: JsonValue, steps: Array<string>): i32 {
  if (value.isArray()) {
    const items = value.asArray().items;
    if (items.length > ARRAY_ITEMS_MAX) return items.length;
    for (let i = 0; i < items.length; i++) {
      const length = oversizedLength(items[i], steps);
      if (length >= 0) {
        steps.push("[" + i.toString() + "]");
        return length;
      }
    }
  } else if (value.isObject()) {
    const object = value.asObject();
    const keys = object.sortedKeys();
    for (let i = 0; i < keys.length; i++) {
      const length = oversizedLength(object.get(keys[i])!, steps);
      if (length >= 0) {
        steps.push(memberStep(keys[i]));
        return length;
      }
    }
  }
  return -1;
}

/** `.name` when the path syntax allows it, else `['name']` with \ and ' escaped. */
function memberStep(key: string): string {
  let plain = key.length > 0;
  for (let i = 0; plain && i < key.length; i++) {
    const unit = key.charCodeAt(i);
    plain = !(unit == 0x2e || unit == 0x5b || unit == 0x5d || unit == 0x27 || unit == 0x22 || unit <= 0x20);
  }
  if (plain) return "." + key;
  return "['" + key.replaceAll("\\", "\\\\").replaceAll("'", "\\'") + "']";
}
