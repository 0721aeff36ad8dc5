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
  // Values already in canonical shape (every object's keys in order, as in
  // anything parsed from canonical text: records read back from a store or a
  // log file) are written by the engine's own serialiser, which then writes
  // exactly the bytes `write` would; anything else takes the general path.
  if (inCanonicalShape(value, 0)) return JSON.stringify(value);
  // Values built in the process (a record's body, a step's input) are
  // mostly in canonical shape but for a few objects: those are copied
  // with their keys in order and the engine's serialiser writes the rest,
  // in one string instead of one per member.
  const ordered = inCanonicalOrder(value, 0);
  if (ordered !== NOT_ORDERED) return JSON.stringify(ordered);
  try {
    return write(value);
  } catch (error) {
    if (error !== NOT_JSON) throw error;
    // The walk does not carry paths (they would be built for every value of
    // every record); the rare refusal finds its path again.
    throw new TypeError(
      `canonicalJson: ${notJsonMessage(firstNotJson(value)!)}`,
    );
  }
}

// Deeper values take the general path, whose recursion reports them.
const SHAPE_DEPTH_MAX = 64;

/**
 * True when `JSON.stringify(value)` is the canonical JSON of `value`: plain
 * objects whose keys (as `Object.keys` lists them, which is the order
 * `JSON.stringify` writes) are already sorted, finite numbers, and no member
 * or item that `JSON.stringify` would drop or turn into `null` where
 * `canonicalJson` throws. Undefined object members are fine: both omit them.
 */
function inCanonicalShape(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (value === null) return true;
      if (depth >= SHAPE_DEPTH_MAX) return false;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
          if (!inCanonicalShape(value[index], depth + 1)) return false;
        }
        return true;
      }
      if (!isPlain(value)) return false;
      const object = value as Record<string, unknown>;
      const keys = Object.keys(object);
      for (let index = 0; index < keys.length; index++) {
        const key = keys[index]!;
        if (index > 0 && !(keys[index - 1]! < key)) return false;
        const item = object[key];
        if (item !== undefined && !inCanonicalShape(item, depth + 1)) {
          return false;
        }
      }
      return true;
    }
    default:
      return false;
  }
}

const NOT_ORDERED = Symbol("not ordered");

// A key JavaScript objects list before all others, in numeric order
// (`Object.keys`, `JSON.stringify`): no copy can put it in string order.
const INDEX_KEY = /^(?:0|[1-9][0-9]*)$/;

/**
 * `value` with every plain object whose keys are out of order replaced by
 * a copy in order (the rest shared), so that `JSON.stringify` writes its
 * canonical JSON; NOT_ORDERED when that is not so for some part of it (a
 * value `canonicalJson` refuses, an object with an index-like key out of
 * order, one too deep), which the general path then writes or refuses.
 */
function inCanonicalOrder(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : NOT_ORDERED;
    case "object": {
      if (value === null) return value;
      if (depth >= SHAPE_DEPTH_MAX) return NOT_ORDERED;
      if (Array.isArray(value)) {
        let copy: unknown[] | undefined;
        for (let index = 0; index < value.length; index++) {
          const item = value[index];
          // JSON.stringify writes null for these; canonicalJson refuses.
          if (item === undefined) return NOT_ORDERED;
          const ordered = inCanonicalOrder(item, depth + 1);
          if (ordered === NOT_ORDERED) return NOT_ORDERED;
          if (ordered !== item) {
            copy ??= value.slice();
            copy[index] = ordered;
          }
        }
        return copy ?? value;
      }
      if (!isPlain(value)) return NOT_ORDERED;
      const object = value as Record<string, unknown>;
      const keys = Object.keys(object);
      let sorted = true;
      let changed = false;
      const items: unknown[] = new Array(keys.length);
      for (let index = 0; index < keys.length; index++) {
        const key = keys[index]!;
        if (index > 0 && !(keys[index - 1]! < key)) sorted = false;
        const item = object[key];
        // Absent, as JSON.stringify and canonicalJson both leave it.
        if (item === undefined) continue;
        const ordered = inCanonicalOrder(item, depth + 1);
        if (ordered === NOT_ORDERED) return NOT_ORDERED;
        if (ordered !== item) changed = true;
        items[index] = ordered;
      }
      if (sorted && !changed) return value;
      const order = keys.map((_, index) => index);
      if (!sorted) order.sort((a, b) => keys[a]! < keys[b]! ? -1 : 1);
      const copy: Record<string, unknown> = {};
      for (const index of order) {
        const key = keys[index]!;
        // An index-like key comes first whatever the order (it is in order
        // when its neighbours say so), and an assignment to "__proto__"
        // would set the copy's prototype: the general path writes those.
        if (key === "__proto__" || (!sorted && INDEX_KEY.test(key))) {
          return NOT_ORDERED;
        }
        if (items[index] !== undefined) copy[key] = items[index];
      }
      return copy;
    }
    default:
      return NOT_ORDERED;
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

/** Where a value stops being JSON (`firstNotJson`). */
export interface NotJson {
  /** The keys and indices from the root down to the part. */
  path: (string | number)[];
  /** The part itself (undefined for an array hole). */
  value: unknown;
  /**
   * Why: a number that is not finite, an object that is not plain, an array
   * hole, or a value of a type JSON does not have.
   */
  reason: "not_finite" | "not_plain" | "hole" | "type";
}

/**
 * The first part of `value` that JSON cannot hold, members in the order
 * they were set; undefined when it is all JSON. A member whose value is
 * undefined is skipped, as `canonicalJson` writes nothing for it, unless
 * `refuseUndefinedMembers`. The path is built on the way out: checking a
 * value that is JSON allocates nothing.
 */
export function firstNotJson(
  value: unknown,
  options: { refuseUndefinedMembers?: boolean } = {},
): NotJson | undefined {
  const found = notJsonIn(value, options.refuseUndefinedMembers === true);
  found?.path.reverse();
  return found;
}

// The part found starts an empty path, which each level adds its key or
// index to as the recursion returns.
function notJsonIn(
  value: unknown,
  refuseUndefined: boolean,
): NotJson | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value)
        ? undefined
        : { path: [], value, reason: "not_finite" };
    case "object": {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
          const found: NotJson | undefined = index in value
            ? notJsonIn(value[index], refuseUndefined)
            : { path: [], value: undefined, reason: "hole" };
          if (found !== undefined) {
            found.path.push(index);
            return found;
          }
        }
        return undefined;
      }
      if (!isPlain(value)) return { path: [], value, reason: "not_plain" };
      const object = value as Record<string, unknown>;
      for (const key in object) {
        if (object[key] === undefined && !refuseUndefined) continue;
        const found = notJsonIn(object[key], refuseUndefined);
        if (found !== undefined) {
          found.path.push(key);
          return found;
        }
      }
      return undefined;
    }
    default:
      return { path: [], value, reason: "type" };
  }
}

/** `canonicalJson`'s account of what it refused, and where (`$.a[0].b`). */
function notJsonMessage(found: NotJson): string {
  const at = "$" +
    found.path.map((part) =>
      typeof part === "number" ? `[${part}]` : `.${part}`
    ).join("");
  switch (found.reason) {
    case "not_finite":
      return `${found.value} at ${at} is not JSON`;
    case "not_plain":
      return `a non-plain object at ${at}`;
    default:
      return `${typeof found.value} at ${at} is not JSON`;
  }
}

/** Parses JSON text and re-serialises it canonically. */
export function canonicalizeText(text: string): string {
  return canonicalJson(JSON.parse(text));
}

/**
 * `canonicalJson(a) === canonicalJson(b)`, without writing either when they
 * are equal in structure: same keys (undefined members being absent), equal
 * strings, numbers and booleans, arrays of the same length. Anything else
 * (a difference, or a value JSON cannot hold) is decided by writing both,
 * so the answer, and an error on non-JSON, are those of `canonicalJson`.
 */
export function sameCanonicalJson(a: unknown, b: unknown): boolean {
  return sameShape(a, b, 0) ||
    canonicalJson(a) === canonicalJson(b);
}

function sameShape(a: unknown, b: unknown, depth: number): boolean {
  if (typeof a !== typeof b) return false;
  switch (typeof a) {
    case "string":
    case "boolean":
      return a === b;
    case "number":
      return a === b && Number.isFinite(a);
    case "object":
      break;
    default:
      return false;
  }
  if (a === null || b === null) return a === b;
  if (depth >= SHAPE_DEPTH_MAX) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let index = 0; index < a.length; index++) {
      if (!sameShape(a[index], b[index], depth + 1)) return false;
    }
    return true;
  }
  if (Array.isArray(b) || !isPlain(a) || !isPlain(b as object)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let members = 0;
  for (const key of Object.keys(left)) {
    const item = left[key];
    if (item === undefined) continue;
    members++;
    if (!Object.hasOwn(right, key)) return false;
    if (!sameShape(item, right[key], depth + 1)) return false;
  }
  for (const key of Object.keys(right)) {
    if (right[key] !== undefined) members--;
  }
  return members === 0;
}
