import assert from "node:assert/strict";
import { SeededRandom } from "../deps/random.ts";
import { canonicalJson, sameCanonicalJson } from "./canonical_json.ts";

// Values of every JSON kind with keys in any order, so some take the engine's
// serialiser (keys already sorted) and some the general path.
function randomValue(random: SeededRandom, depth: number): unknown {
  const [kind, a, b] = random.bytes(3);
  switch (depth > 3 ? kind! % 4 : kind! % 7) {
    case 0:
      return null;
    case 1:
      return a! % 2 === 0;
    case 2:
      return [0, -0, 1.5, -3, 1e21, 2 ** 53, 0.1][a! % 7]!;
    case 3:
      return ["", "a", "é", "\u2028", '"\\', "\ud800", "10", "9"][a! % 8]!;
    case 4:
      return Array.from(
        { length: a! % 4 },
        () => randomValue(random, depth + 1),
      );
    default: {
      const keys = ["b", "a", "10", "9", "é", "Z", "aa", "_"];
      const object: Record<string, unknown> = {};
      for (let index = 0; index < a! % 5; index++) {
        object[keys[(b! + index * 3) % keys.length]!] = randomValue(
          random,
          depth + 1,
        );
      }
      if (b! % 5 === 0) object.gone = undefined;
      return object;
    }
  }
}

Deno.test("canonicalJson() writes the same bytes for a value and for its parsed canonical text", () => {
  const random = new SeededRandom(11);
  for (let round = 0; round < 2000; round++) {
    const value = randomValue(random, 0);
    const text = canonicalJson(value);
    // Parsed canonical text has its keys in order: the engine's serialiser
    // writes it, and must agree byte for byte with the general path.
    assert.equal(canonicalJson(JSON.parse(text)), text);
  }
});

Deno.test("canonicalJson() sorts keys the engine would write in another order", () => {
  assert.equal(canonicalJson({ 9: 1, 10: 2 }), '{"10":2,"9":1}');
  assert.equal(
    canonicalJson({ b: 1, a: { d: 1, c: 2 } }),
    '{"a":{"c":2,"d":1},"b":1}',
  );
  assert.equal(canonicalJson({ a: 1, b: undefined }), '{"a":1}');
  assert.equal(canonicalJson({ a: -0 }), '{"a":0}');
});

Deno.test("canonicalJson() refuses what JSON cannot hold, sorted keys or not", () => {
  assert.throws(() => canonicalJson({ a: [undefined] }), TypeError);
  assert.throws(() => canonicalJson({ a: [1, , 2] }), TypeError);
  assert.throws(() => canonicalJson({ a: NaN }), TypeError);
  assert.throws(() => canonicalJson({ a: Infinity }), TypeError);
  assert.throws(() => canonicalJson({ a: new Date(0) }), TypeError);
  assert.throws(() => canonicalJson({ a: () => 1 }), TypeError);
  assert.throws(() => canonicalJson({ a: 1n }), TypeError);
});

Deno.test("canonicalJson() writes deep values", () => {
  let deep: unknown = 1;
  for (let level = 0; level < 200; level++) deep = { a: [deep] };
  const text = canonicalJson(deep);
  assert.equal(text.length, 200 * '{"a":[]}'.length + 1);
  assert.equal(canonicalJson(JSON.parse(text)), text);
});

Deno.test("sameCanonicalJson() answers as comparing the canonical texts does", () => {
  const random = new SeededRandom(12);
  let equal = 0;
  for (let round = 0; round < 3000; round++) {
    const a = randomValue(random, 0);
    // Half the pairs are copies in another key order, half unrelated values.
    const b = round % 2 === 0
      ? JSON.parse(JSON.stringify(a) ?? "null")
      : randomValue(random, 0);
    const expected = canonicalJson(a) === canonicalJson(b);
    assert.equal(sameCanonicalJson(a, b), expected);
    if (expected) equal++;
  }
  assert.ok(equal > 1000 && equal < 3000);
  assert.equal(sameCanonicalJson({ a: 1, b: undefined }, { a: 1 }), true);
  assert.equal(sameCanonicalJson({ a: 1 }, { a: 1, b: undefined }), true);
  assert.equal(sameCanonicalJson({ a: 0 }, { a: -0 }), true);
  assert.equal(sameCanonicalJson({ a: [1] }, { a: { 0: 1 } }), false);
  assert.equal(sameCanonicalJson({ a: null }, { a: {} }), false);
  assert.throws(() => sameCanonicalJson({ a: NaN }, { a: NaN }), TypeError);
  assert.throws(
    () => sameCanonicalJson({ a: Infinity }, { a: Infinity }),
    TypeError,
  );
});

// The definition, written plainly: keys sorted by UTF-16 code units at every
// depth, undefined members left out, everything else as JSON.stringify
// writes it.
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const object = value as Record<string, unknown>;
    return `{${
      Object.keys(object).sort().filter((key) => object[key] !== undefined)
        .map((key) => `${JSON.stringify(key)}:${reference(object[key])}`)
        .join(",")
    }}`;
  }
  return JSON.stringify(value);
}

Deno.test("canonicalJson() writes what the definition writes, for values built in any key order", () => {
  const random = new SeededRandom(29);
  for (let round = 0; round < 3000; round++) {
    const value = randomValue(random, 0);
    assert.equal(canonicalJson(value), reference(value));
    // The same inside an object whose keys are out of order, so that the
    // value is reached through a copy of its parent.
    const wrapped = { z: value, a: [value], m: { y: 1, b: value } };
    assert.equal(canonicalJson(wrapped), reference(wrapped));
  }
  const proto = JSON.parse('{"b":1,"__proto__":{"d":2,"c":1},"a":0}');
  assert.equal(canonicalJson(proto), '{"__proto__":{"c":1,"d":2},"a":0,"b":1}');
  const bare = Object.assign(Object.create(null), { b: 1, a: { d: 1, c: 0 } });
  assert.equal(canonicalJson(bare), '{"a":{"c":0,"d":1},"b":1}');
  assert.equal(
    canonicalJson({ b: [{ y: 1, x: 2 }], 2: "two", 1: "one", a: null }),
    '{"1":"one","2":"two","a":null,"b":[{"x":2,"y":1}]}',
  );
  assert.equal(
    canonicalJson({ b: 1, a: { 10: 1, 9: 2 } }),
    '{"a":{"10":1,"9":2},"b":1}',
  );
  assert.throws(() => canonicalJson({ b: 1, a: [undefined] }), TypeError);
  assert.throws(() => canonicalJson({ b: 1, a: { c: NaN } }), TypeError);
});
