// Behaviour of the built json_transform module, called through the real
// Extism JS SDK exactly as the sandbox calls it. Every successful call is
// checked for canonical bytes and for result_hash, recomputed here.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import createPlugin, { type Plugin } from "@extism/extism";
import {
  type CallResult,
  callSkill,
  callSkillText,
  canonical,
  expectOutput,
  importModules,
  openPlugin,
  sectionIds,
  skillModule,
} from "./_harness.ts";

const wasm = await skillModule("skills-wasm/json_transform");

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The output bytes json_transform must write for `result`. */
function outputText(result: unknown): string {
  return canonical({ result, result_hash: sha256Hex(canonical(result)) });
}

/** The result, after checking the output's keys, bytes and result_hash. */
function resultOf(outcome: CallResult): unknown {
  const output = expectOutput(outcome);
  assert.deepEqual(Object.keys(output), ["result", "result_hash"]);
  assert.equal(outcome.ok && outcome.text, outputText(output.result));
  return output.result;
}

async function transform(plugin: Plugin, params: unknown): Promise<unknown> {
  return resultOf(await callSkill(plugin, params));
}

/** A seeded xorshift generator in [0, 1); the seed is in every message. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const document = {
  name: "Zoë 😀",
  items: [{ id: 1 }, { id: 2, tags: ["a", "b"] }, { id: 3 }],
  "display name": "spaced",
  "it's": { 'say "hi"': true },
};

Deno.test("json_transform imports only the Extism kernel and has no start section", () => {
  assert.deepEqual(importModules(wasm), ["extism:host/env"]);
  assert.ok(!sectionIds(wasm).includes(8), "module has a start section");
});

Deno.test("json_transform extract follows dotted, quoted and index steps", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const cases: [string, unknown][] = [
      ["$", document],
      ["$.name", "Zoë 😀"],
      ["$.items[1].tags[0]", "a"],
      ["$.items[-1]", { id: 3 }],
      ["$.items[-3].id", 1],
      ["$['display name']", "spaced"],
      [`$["it's"]['say "hi"']`, true],
      [`$['it\\'s']["say \\"hi\\""]`, true],
    ];
    for (const [path, expected] of cases) {
      const result = resultOf(
        await callSkill(plugin, { op: "extract", input: document, path }),
      );
      assert.deepEqual(result, expected, path);
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform pick and omit keep or drop keys and sort the rest", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const input = { b: 2, a: 1, c: { z: 0, y: [1] }, "é": "x" };
    const pick = { op: "pick", input, keys: ["c", "a", "missing"] };
    assert.deepEqual(resultOf(await callSkill(plugin, pick)), {
      a: 1,
      c: { y: [1], z: 0 },
    });
    const omit = { op: "omit", input, keys: ["a", "missing"] };
    const omitted = await callSkill(plugin, omit);
    assert.deepEqual(resultOf(omitted), {
      b: 2,
      c: { y: [1], z: 0 },
      "é": "x",
    });
    assert.equal(
      omitted.ok && omitted.text,
      '{"result":{"b":2,"c":{"y":[1],"z":0},"é":"x"},' +
        '"result_hash":"cc694cad0e7bf0d5d285879e7cf1c64830b1a80fcd0a18a809d5cba4d84a0698"}',
    );
    assert.deepEqual(
      resultOf(await callSkill(plugin, { op: "pick", input, keys: [] })),
      {},
    );
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform writes values exactly as canonical JSON.stringify would", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const values: unknown[] = [
      'quote " backslash \\ slash / controls \b\f\n\r\t \u0000 \u001f \u007f',
      "line sep \u2028 para \u2029 bmp \uffff astral 😀 𝄞",
      "lone high \ud800 lone low \udc00 reversed \udc00\ud800 pair \ud83d\ude00",
      {
        "": 0,
        b: 1,
        a: 2,
        B: 3,
        aa: 4,
        "é": 5,
        "😀": 6,
        "\uffff": 7,
        "\ud800": 8,
      },
      [
        0,
        -0,
        1.5,
        -2.25e-7,
        1e21,
        123456789012345680000,
        0.1,
        true,
        false,
        null,
      ],
      { nested: [[], {}, [{}], { "x": [null] }] },
    ];
    for (const value of values) {
      const outcome = await callSkill(plugin, {
        op: "extract",
        input: value,
        path: "$",
      });
      assert.deepEqual(resultOf(outcome), JSON.parse(JSON.stringify(value)));
      assert.equal(outcome.ok && outcome.text, outputText(value));
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform keeps the last of duplicate keys, like JSON.parse", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const input =
      '{"op":"extract","input":{"a":1,"b":0,"a":{"c":2}},"path":"$"}';
    assert.deepEqual(resultOf(await callSkillText(plugin, input)), {
      a: { c: 2 },
      b: 0,
    });
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform reclaims memory across calls on one instance", async () => {
  // In-process, so the test can read the instance's linear memory size.
  const plugin = await createPlugin({ wasm: [{ data: wasm }] }, {
    useWasi: false,
  });
  try {
    const input = Array.from(
      { length: 5000 },
      (_, i) => ({ id: i, name: `item ${i} ✓` }),
    );
    for (let call = 0; call < 60; call++) {
      const outcome = await callSkill(plugin, {
        op: "extract",
        input,
        path: "$[-1]",
      });
      assert.deepEqual(resultOf(outcome), { id: 4999, name: "item 4999 ✓" });
    }
    const instance = await plugin.getInstance();
    const memory = instance.exports.memory as WebAssembly.Memory;
    // Sixty calls allocate far more than this; without collection it would grow past it.
    assert.ok(
      memory.buffer.byteLength <= 16 * 2 ** 20,
      `memory grew to ${memory.buffer.byteLength}`,
    );
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform result_hash is the sha256 of the canonical result, across block boundaries", async () => {
  const plugin = await openPlugin(wasm);
  try {
    // Canonical lengths 2 to 142 bytes cross the 55/56/64-byte padding cases twice.
    for (let length = 0; length <= 140; length++) {
      for (const unit of ["x", "é", "😀"]) {
        const value = unit.repeat(length);
        const outcome = await callSkill(plugin, {
          op: "extract",
          input: value,
          path: "$",
        });
        assert.equal(
          outcome.ok && outcome.text,
          outputText(value),
          `${unit} × ${length}`,
        );
      }
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform map applies a path to every element", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const input = [
      { name: "Zoë 😀", tags: ["a", "b"] },
      { name: 2, tags: [] },
      { tags: ["c"] },
    ];
    const cases: [Record<string, unknown>, unknown][] = [
      [{ path: "$.tags", missing: "error" }, [["a", "b"], [], ["c"]]],
      [{ path: "$.name", missing: "null" }, ["Zoë 😀", 2, null]],
      [{ path: "$.name", missing: "skip" }, ["Zoë 😀", 2]],
      [{ path: "$.tags[-1]", missing: "skip" }, ["b", "c"]],
      [{ path: "$['tags'][0]", missing: "null" }, ["a", null, "c"]],
      [{ path: "$" }, input],
    ];
    for (const [params, expected] of cases) {
      assert.deepEqual(
        await transform(plugin, { op: "map", input, ...params }),
        expected,
        JSON.stringify(params),
      );
    }
    assert.deepEqual(
      await transform(plugin, { op: "map", input: [], path: "$.x" }),
      [],
    );
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform merge lays `with` over the input, shallow or deep", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const input = { a: { x: 1, y: { p: [1, 2] } }, b: "keep", "😀": { z: 0 } };
    const overlay = { a: { y: { q: null }, w: [] }, c: 3, "😀": 1 };
    assert.deepEqual(
      await transform(plugin, { op: "merge", input, with: overlay }),
      {
        a: { y: { q: null }, w: [] },
        b: "keep",
        c: 3,
        "😀": 1,
      },
    );
    assert.deepEqual(
      await transform(plugin, {
        op: "merge",
        input,
        with: overlay,
        deep: true,
      }),
      {
        a: { x: 1, y: { p: [1, 2], q: null }, w: [] },
        b: "keep",
        c: 3,
        "😀": 1,
      },
    );
    const arrays = {
      op: "merge",
      input: { l: [1, 2, 3] },
      with: { l: [9] },
      deep: true,
    };
    assert.deepEqual(await transform(plugin, arrays), { l: [9] });
    assert.deepEqual(
      await transform(plugin, {
        op: "merge",
        input: {},
        with: {},
        deep: false,
      }),
      {},
    );
  } finally {
    await plugin.close();
  }
});

function randomNested(next: () => number, depth: number): unknown[] {
  return Array.from({ length: Math.floor(next() * 4) }, (_, i) => {
    const roll = next();
    if (depth > 0 && roll < 0.5) return randomNested(next, depth - 1);
    return roll < 0.8 ? i : { i };
  });
}

Deno.test("json_transform flatten matches Array.prototype.flat on random nested arrays", async () => {
  const plugin = await openPlugin(wasm);
  const seed = 20_250_101;
  const next = random(seed);
  try {
    assert.deepEqual(
      await transform(plugin, { op: "flatten", input: [[1, [2]], 3] }),
      [1, [2], 3],
    );
    for (let run = 0; run < 200; run++) {
      const input = randomNested(next, 4);
      const depth = Math.floor(next() * 4);
      const result = await transform(plugin, { op: "flatten", input, depth });
      assert.deepEqual(
        result,
        input.flat(depth),
        `seed ${seed}, run ${run}: depth ${depth} of ${JSON.stringify(input)}`,
      );
    }
    const deep = await transform(plugin, {
      op: "flatten",
      input: [[[[[1]]]]],
      depth: 1e6,
    });
    assert.deepEqual(deep, [1]);
  } finally {
    await plugin.close();
  }
});

// --- The order of sort and filter, written independently of the skill ------

function typeRank(value: unknown): number {
  if (value === null) return 0;
  if (Array.isArray(value)) return 4;
  return { boolean: 1, number: 2, string: 3 }[typeof value as string] ?? 5;
}

/** null < booleans < numbers < strings < arrays < objects; JavaScript's < within a type. */
function compareJson(a: unknown, b: unknown): number {
  const rank = typeRank(a);
  if (rank !== typeRank(b)) return rank < typeRank(b) ? -1 : 1;
  if (rank === 4 || rank === 5) {
    const entries = (value: unknown) =>
      Array.isArray(value)
        ? value
        : Object.keys(value as object).sort().flatMap((key) => [
          key,
          (value as Record<string, unknown>)[key],
        ]);
    const [left, right] = [entries(a), entries(b)];
    for (let i = 0; i < Math.min(left.length, right.length); i++) {
      const order = compareJson(left[i], right[i]);
      if (order !== 0) return order;
    }
    return Math.sign(left.length - right.length);
  }
  return (a as number) < (b as number)
    ? -1
    : (a as number) > (b as number)
    ? 1
    : 0;
}

const STRINGS = ["", "a", "B", "b", "é", "😀", "ｚ", "ab", "a😀", "😀b"];
const NUMBERS = [
  0,
  -1,
  1,
  2,
  1.5,
  -2.25e-7,
  1e21,
  0.1,
  0.30000000000000004,
  123456789.123,
];

function randomValue(next: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]) =>
    list[Math.floor(next() * list.length)]!;
  const roll = next();
  if (roll < 0.05) return null;
  if (roll < 0.15) return next() < 0.5;
  if (roll < 0.45) {
    return next() < 0.3 ? (next() - 0.5) * 2 ** (next() * 60) : pick(NUMBERS);
  }
  if (roll < 0.75 || depth === 0) return pick(STRINGS);
  const items = Array.from(
    { length: Math.floor(next() * 3) },
    () => randomValue(next, depth - 1),
  );
  if (roll < 0.88) return items;
  return Object.fromEntries(items.map((item, i) => [pick(STRINGS) + i, item]));
}

Deno.test("json_transform sort agrees with a stable reference sort on random values", async () => {
  const plugin = await openPlugin(wasm);
  const seed = 4_711;
  const next = random(seed);
  try {
    for (let run = 0; run < 150; run++) {
      const input = Array.from(
        { length: Math.floor(next() * 20) },
        () => randomValue(next, 2),
      );
      const order = next() < 0.5 ? "asc" : "desc";
      const direction = order === "asc" ? 1 : -1;
      const expected = [...input].sort((a, b) => direction * compareJson(a, b));
      const result = await transform(plugin, { op: "sort", input, order });
      assert.deepEqual(
        result,
        JSON.parse(JSON.stringify(expected)),
        `seed ${seed}, run ${run}`,
      );
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform sort is stable by a path, up to the 100000-element limit", async () => {
  const plugin = await openPlugin(wasm);
  const next = random(99);
  try {
    const input = Array.from(
      { length: 100_000 },
      (_, i) => ({ i, k: Math.floor(next() * 50) }),
    );
    const ascending = await transform(plugin, { op: "sort", input, by: "$.k" });
    assert.deepEqual(ascending, [...input].sort((a, b) => a.k - b.k));
    const descending = await transform(plugin, {
      op: "sort",
      input,
      by: "$.k",
      order: "desc",
    });
    assert.deepEqual(descending, [...input].sort((a, b) => b.k - a.k));
  } finally {
    await plugin.close();
  }
});

function resolveKey(element: unknown): unknown {
  return typeof element === "object" && element !== null &&
      !Array.isArray(element)
    ? (element as Record<string, unknown>).k
    : undefined;
}

/** filter's semantics, written independently: types never match across, a missing path only for exists. */
function referenceMatch(op: string, value: unknown, element: unknown): boolean {
  const target = resolveKey(element);
  if (op === "exists") return (target !== undefined) === (value ?? true);
  if (target === undefined) return false;
  if (op === "contains") {
    if (typeof target === "string") {
      return typeof value === "string" && target.includes(value);
    }
    if (Array.isArray(target)) {
      return target.some((item) => compareJson(item, value) === 0);
    }
    if (typeRank(target) === 5) {
      return typeof value === "string" &&
        Object.hasOwn(target as object, value);
    }
    return false;
  }
  if (typeRank(target) !== typeRank(value)) return false;
  const order = compareJson(target, value);
  switch (op) {
    case "eq":
      return order === 0;
    case "ne":
      return order !== 0;
    case "gt":
      return order > 0;
    case "gte":
      return order >= 0;
    case "lt":
      return order < 0;
    case "lte":
      return order <= 0;
    case "startswith":
      return (target as string).startsWith(value as string);
    default:
      return (target as string).endsWith(value as string);
  }
}

function randomWhereValue(op: string, next: () => number): unknown {
  for (;;) {
    const value = randomValue(next, 1);
    if (op === "exists") {
      return next() < 0.3
        ? undefined
        : typeof value === "boolean"
        ? value
        : next() < 0.5;
    }
    if (["startswith", "endswith"].includes(op) && typeof value !== "string") {
      continue;
    }
    if (
      ["gt", "gte", "lt", "lte"].includes(op) &&
      !["number", "string"].includes(typeof value)
    ) continue;
    return value;
  }
}

Deno.test("json_transform filter agrees with a reference on random conditions", async () => {
  const plugin = await openPlugin(wasm);
  const seed = 1_234;
  const next = random(seed);
  const ops = [
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "startswith",
    "endswith",
    "exists",
  ];
  try {
    for (let run = 0; run < 300; run++) {
      const op = ops[run % ops.length]!;
      const value = randomWhereValue(op, next);
      const input = Array.from({ length: 12 }, () => {
        const roll = next();
        if (roll < 0.1) return {};
        if (roll < 0.15) return randomValue(next, 1);
        // Often the where value itself, so equal values are common.
        return {
          k: roll < 0.35 && value !== undefined ? value : randomValue(next, 2),
        };
      });
      const where = value === undefined
        ? { path: "$.k", op }
        : { path: "$.k", op, value };
      const expected = input.filter((element) =>
        referenceMatch(op, value, element)
      );
      const result = await transform(plugin, { op: "filter", input, where });
      assert.deepEqual(
        result,
        JSON.parse(JSON.stringify(expected)),
        `seed ${seed}, run ${run}: ${JSON.stringify(where)}`,
      );
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform compares numbers by value but keeps their lexemes", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const sorted = await callSkillText(
      plugin,
      '{"op":"sort","input":[1e2,1.0,-0,5E-1,0]}',
    );
    const result = "[-0,0,5E-1,1.0,1e2]";
    assert.equal(
      sorted.ok && sorted.text,
      `{"result":${result},"result_hash":"${sha256Hex(result)}"}`,
    );
    const filtered = await callSkillText(
      plugin,
      '{"op":"filter","input":[{"n":1.0},{"n":10e-1},{"n":2}],"where":{"path":"$.n","op":"eq","value":1}}',
    );
    const matches = '[{"n":1.0},{"n":10e-1}]';
    assert.equal(
      filtered.ok && filtered.text,
      `{"result":${matches},"result_hash":"${sha256Hex(matches)}"}`,
    );
  } finally {
    await plugin.close();
  }
});
