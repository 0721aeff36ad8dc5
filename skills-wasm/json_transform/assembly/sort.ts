// sort: the elements of an array in the order of compare.ts, by themselves
// or by the value at `by`; ascending or descending, and stable either way
// (equal elements keep their input order).
import { JsonArray, JsonObject, JsonValue } from "../../_lib/json";
import { compareNumbers, compareValues } from "./compare";
import { invalidParams, invalidPath, Outcome, pathNotFound, succeeded, typeMismatch } from "./outcome";
import { parsePath, resolvePath } from "./path";

/** The sort key of every element, numbers read once as f64. */
class SortKeys {
  readonly values: Array<JsonValue> = [];
  readonly numbers: Array<f64> = [];

  constructor(public readonly descending: bool) {}

  add(value: JsonValue): void {
    this.values.push(value);
    this.numbers.push(value.isNumber() ? value.asNumber().toF64() : 0);
  }

  compare(a: i32, b: i32): i32 {
    const left = this.values[a];
    const right = this.values[b];
    const order = left.isNumber() && right.isNumber()
      ? compareNumbers(this.numbers[a], this.numbers[b])
      : compareValues(left, right);
    return this.descending ? -order : order;
  }
}

export function sort(params: JsonObject, input: JsonValue): Outcome {
  const byValue = params.get("by");
  if (byValue !== null && !byValue.isString()) return invalidParams("by", "a string");
  const orderValue = params.get("order");
  let order = "asc";
  if (orderValue !== null) {
    order = orderValue.isString() ? orderValue.asString().value : "";
    if (order != "asc" && order != "desc") return invalidParams("order", "asc or desc");
  }
  const path = byValue !== null ? parsePath(byValue.asString().value) : null;
  if (path !== null && !path.ok) return invalidPath(path, "by");
  if (!input.isArray()) return typeMismatch("sort", "array", input);

  const items = input.asArray().items;
  const keys = new SortKeys(order == "desc");
  for (let i = 0; i < items.length; i++) {
    const key = path !== null ? resolvePath(path, items[i]) : items[i];
    if (key === null) return pathNotFound(path!, items[i], i);
    keys.add(key);
  }
  const sorted = mergeSort(items.length, keys);
  const result = new JsonArray();
  for (let i = 0; i < sorted.length; i++) result.push(items[sorted[i]]);
  return succeeded(result);
}

/** Element indexes in order: a bottom-up merge sort, stable because ties take the left run. */
function mergeSort(length: i32, keys: SortKeys): Array<i32> {
  let from = new Array<i32>(length);
  for (let i = 0; i < length; i++) from[i] = i;
  let to = new Array<i32>(length);
  for (let width = 1; width < length; width <<= 1) {
    for (let low = 0; low < length; low += width << 1) {
      const middle = min(low + width, length);
      const high = min(low + (width << 1), length);
      let i = low;
      let j = middle;
      let k = low;
      while (i < middle && j < high) to[k++] = keys.compare(from[j], from[i]) < 0 ? from[j++] : from[i++];
      while (i < middle) to[k++] = from[i++];
      while (j < high) to[k++] = from[j++];
    }
    const swap = from;
    from = to;
    to = swap;
  }
  return from;
}
