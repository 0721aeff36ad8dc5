import assert from "node:assert/strict";
import { jsonDiff } from "./json_diff.ts";

Deno.test("jsonDiff() lists changed, added and removed values by JSON Pointer", () => {
  const { differences, truncated } = jsonDiff(
    { a: 1, b: [1, 2], c: { "x/y": "old" }, gone: true },
    { a: 2, b: [1], c: { "x/y": "new" }, extra: null },
  );
  assert.equal(truncated, false);
  assert.deepEqual(differences, [
    { path: "/a", op: "changed", expected: 1, actual: 2 },
    { path: "/b/1", op: "removed", expected: 2 },
    { path: "/c/x~1y", op: "changed", expected: "old", actual: "new" },
    { path: "/extra", op: "added", actual: null },
    { path: "/gone", op: "removed", expected: true },
  ]);
});

Deno.test("jsonDiff() reports nothing for equal values and the root for a kind change", () => {
  assert.deepEqual(jsonDiff({ a: [1, { b: null }] }, { a: [1, { b: null }] }), {
    differences: [],
    truncated: false,
  });
  assert.deepEqual(jsonDiff([1], { 0: 1 }).differences, [
    { path: "", op: "changed", expected: [1], actual: { 0: 1 } },
  ]);
  assert.deepEqual(jsonDiff(null, {}).differences, [
    { path: "", op: "changed", expected: null, actual: {} },
  ]);
});

Deno.test("jsonDiff() stops at differencesMax and says it truncated", () => {
  const left = Array.from({ length: 10 }, (_, i) => i);
  const right = left.map((n) => n + 1);
  const { differences, truncated } = jsonDiff(left, right, {
    differencesMax: 3,
  });
  assert.equal(differences.length, 3);
  assert.equal(truncated, true);
  assert.deepEqual(differences[2], {
    path: "/2",
    op: "changed",
    expected: 2,
    actual: 3,
  });
});
