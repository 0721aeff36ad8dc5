import assert from "node:assert/strict";
import { callTree, foldedStacks, treeLines } from "./profile_summary.ts";

// root → main → (work, work split by V8 into two nodes, and idle); samples
// 10 µs each: 3 in main itself, 4 + 2 in work, 1 in idle.
const frame = (functionName: string) => ({
  functionName,
  url: "file:///app/src/x.ts",
  lineNumber: 0,
});
const PROFILE = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 5] },
    { id: 2, callFrame: frame("main"), children: [3, 4] },
    { id: 3, callFrame: frame("work") },
    { id: 4, callFrame: frame("work") },
    { id: 5, callFrame: frame("(idle)") },
  ],
  samples: [2, 2, 2, 3, 3, 3, 3, 4, 4, 5],
  timeDeltas: Array(10).fill(10),
};

Deno.test("callTree() merges one frame's nodes under a parent and sums time up the tree", () => {
  const tree = callTree(PROFILE);
  assert.equal(tree.us, 100);
  assert.deepEqual(
    tree.children.map((child) => [child.frame, child.us]),
    [["main src/x.ts:1", 90], ["(idle) src/x.ts:1", 10]],
  );
  assert.deepEqual(
    tree.children[0]!.children.map((child) => [child.frame, child.us]),
    [["work src/x.ts:1", 60]],
  );
  assert.deepEqual(treeLines(tree, 50), [
    "100.0%  (root) src/x.ts:1",
    " 90.0%    main src/x.ts:1",
    " 60.0%      work src/x.ts:1",
  ]);
});

Deno.test("foldedStacks() gives each path its self time", () => {
  assert.deepEqual(foldedStacks(callTree(PROFILE)), [
    "(root) src/x.ts:1;main src/x.ts:1 30",
    "(root) src/x.ts:1;main src/x.ts:1;work src/x.ts:1 60",
    "(root) src/x.ts:1;(idle) src/x.ts:1 10",
  ]);
});
