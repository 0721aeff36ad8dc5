import assert from "node:assert/strict";
import { colourOf, escapeXml, flameGraphSvg } from "./_flame_graph.ts";
import type { CallTreeNode } from "./profile_summary.ts";

// root (1000 µs) → main (900: 300 itself, work 599.5, tiny 0.5) and idle (100).
const TREE: CallTreeNode = {
  frame: "(root) :0",
  us: 1000,
  children: [
    {
      frame: "main src/x.ts:1",
      us: 900,
      children: [
        { frame: "work<T> npm:zod/a.js:3", us: 599.5, children: [] },
        { frame: "tiny src/x.ts:9", us: 0.5, children: [] },
      ],
    },
    { frame: "(idle) :0", us: 100, children: [] },
  ],
};

/** The drawn boxes: [tooltip, x, width]. */
function boxes(svg: string): [string, number, number][] {
  return [
    ...svg.matchAll(
      /<title>([^<]*)<\/title><rect x="([\d.]+)" y="\d+" width="([\d.]+)"/g,
    ),
  ].map((match) => [match[1]!, Number(match[2]), Number(match[3])]);
}

Deno.test("flameGraphSvg() draws each frame as wide as its time, callees beside each other, and leaves out frames under the threshold", () => {
  const svg = flameGraphSvg(TREE, { title: "runs <SQLite>", width: 1000 });
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.match(svg, /runs &#60;SQLite&#62;/);
  assert.deepEqual(
    boxes(svg).map(([title, x, width]) => [title, x, Math.round(width)]),
    [
      ["(root) :0 (100.00%, 1.0 ms)", 0, 1000],
      ["main src/x.ts:1 (90.00%, 0.9 ms)", 0, 900],
      ["work&#60;T&#62; npm:zod/a.js:3 (59.95%, 0.6 ms)", 0, 599],
      ["(idle) :0 (10.00%, 0.1 ms)", 900, 100],
    ],
  );
  // A box is below its callees: the root is the lowest row.
  const rows = [...svg.matchAll(/<rect x="[\d.]+" y="(\d+)"/g)].map((match) =>
    Number(match[1])
  );
  assert.ok(rows[0]! > rows[1]! && rows[1]! > rows[2]!);
  assert.equal(rows[3], rows[1]);
  // The tiny frame (0.05%) is drawn only when the threshold allows it.
  const all = flameGraphSvg(TREE, { title: "t", width: 1000, minShare: 0.05 });
  assert.equal(boxes(all).length, 5);
});

Deno.test("colourOf() tells AOS's frames from packages', Deno's and the engine's", () => {
  const colours = [
    "main src/x.ts:1",
    "receive actors/run_actor.ts:115",
    "json npm:hono/dist/context.js:336",
    "Hash ext:deno_node/internal/crypto/hash.ts:1",
    "(garbage collector) :0",
    "run :0",
  ].map(colourOf);
  assert.equal(colours[0], colours[1]);
  assert.equal(new Set(colours).size, 5);
  assert.equal(escapeXml(`a&b<c>"d'`), "a&#38;b&#60;c&#62;&#34;d&#39;");
});
