import assert from "node:assert/strict";
import { jsonSchema, notJson } from "./json_value.ts";
import { planSchema } from "./plan.ts";

Deno.test("notJson() passes every JSON value, however nested", () => {
  const bare = Object.create(null);
  bare.k = [1];
  const values: unknown[] = [
    null,
    true,
    0,
    -1.5e300,
    "",
    "é\u2028",
    [],
    {},
    [[[]], { a: [null, { b: "c" }] }],
    JSON.parse('{"__proto__":{"x":1},"constructor":2}'),
    bare,
  ];
  for (const value of values) assert.equal(notJson(value), undefined);
});

Deno.test("notJson() names the first part that is not JSON, and the path to it", () => {
  class Point {
    x = 1;
  }
  const table: [unknown, (string | number)[], RegExp][] = [
    [NaN, [], /NaN is not a JSON number/],
    [{ a: [1, { b: Infinity }] }, ["a", 1, "b"], /Infinity/],
    [{ a: -Infinity }, ["a"], /-Infinity/],
    [{ a: undefined }, ["a"], /undefined is not a JSON value/],
    [[1, () => 1], [1], /function/],
    [{ n: 1n }, ["n"], /bigint/],
    [{ s: Symbol("s") }, ["s"], /symbol/],
    [{ d: new Date(0) }, ["d"], /plain objects/],
    [{ m: new Map() }, ["m"], /plain objects/],
    [[new Point()], [0], /plain objects/],
    // deno-lint-ignore no-sparse-arrays
    [{ h: [1, , 3] }, ["h", 1], /hole/],
  ];
  for (const [value, path, message] of table) {
    const bad = notJson(value);
    assert.deepEqual(bad?.path, path, String(message));
    assert.match(bad!.message, message);
  }
});

Deno.test("jsonSchema passes a JSON value on as it is and reports where one is not", () => {
  const value = { a: [1, { b: "c" }] };
  const parsed = jsonSchema.safeParse(value);
  assert.equal(parsed.success && parsed.data, value);
  // Inside a plan, the issue's path runs from the plan's root.
  const plan = planSchema.safeParse({
    steps: [{ id: "a", skill: "s", params: { x: [1, { y: Infinity }] } }],
  });
  assert.equal(plan.success, false);
  assert.deepEqual(plan.error?.issues.map((issue) => issue.path), [
    ["steps", 0, "params", "x", 1, "y"],
  ]);
});
