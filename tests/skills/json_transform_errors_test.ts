// Every failure json_transform reports, with its catalog code and details.
import assert from "node:assert/strict";
import {
  callSkill,
  callSkillText,
  expectError,
  expectOutput,
  openPlugin,
  skillModule,
} from "./_harness.ts";

const wasm = await skillModule("skills-wasm/json_transform");

const document = {
  name: "Zoë 😀",
  items: [{ id: 1 }, { id: 2, tags: ["a", "b"] }, { id: 3 }],
  "display name": "spaced",
};

Deno.test("json_transform reports missing paths with the last prefix that resolved", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const cases: [string, string][] = [
      ["$.nope", "$"],
      ["$.items[1].tags[2]", "$.items[1].tags"],
      ["$.items[-4]", "$.items"],
      ["$.name.length", "$.name"],
      ["$['display name'][0]", "$['display name']"],
      ["$.items.id", "$.items"],
    ];
    for (const [path, at] of cases) {
      const outcome = await callSkill(plugin, {
        op: "extract",
        input: document,
        path,
      });
      assert.deepEqual(expectError(outcome, "ERR_JSON_PATH_NOT_FOUND"), {
        path,
        at,
      }, path);
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform rejects malformed paths with the offending position", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const cases: [string, number][] = [
      ["", 0],
      ["a.b", 0],
      ["$a", 1],
      ["$.", 2],
      ["$..a", 2],
      ["$[", 2],
      ["$[x]", 2],
      ["$[1", 3],
      ["$['a'", 5],
      ["$['a]", 5],
      ["$['a\\b']", 5],
      ["$[01]", 2],
      ["$[-0]", 3],
      ["$[1234567890]", 11],
      ["$.a b", 3],
    ];
    for (const [path, position] of cases) {
      const outcome = await callSkill(plugin, {
        op: "extract",
        input: document,
        path,
      });
      assert.deepEqual(expectError(outcome, "ERR_JSON_INVALID_PATH"), {
        path,
        position,
      }, path);
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform names the missing or mistyped param", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const cases: [unknown, string][] = [
      [[1, 2], "params"],
      ["text", "params"],
      [{ op: "extract", path: "$" }, "input"],
      [{ op: "extract", input: {} }, "path"],
      [{ op: "extract", input: {}, path: 1 }, "path"],
      [{ op: "pick", input: {} }, "keys"],
      [{ op: "omit", input: {}, keys: "a" }, "keys"],
      [{ op: "pick", input: {}, keys: ["a", 1] }, "keys"],
      [{ op: "map", input: [] }, "path"],
      [{ op: "map", input: [], path: ["$"] }, "path"],
      [{ op: "map", input: [], path: "$", missing: "drop" }, "missing"],
      [{ op: "map", input: [], path: "$", missing: null }, "missing"],
      [{ op: "filter", input: [] }, "where"],
      [{ op: "filter", input: [], where: [] }, "where"],
      [
        { op: "filter", input: [], where: { op: "eq", value: 1 } },
        "where.path",
      ],
      [
        { op: "filter", input: [], where: { path: "$", op: "like" } },
        "where.op",
      ],
      [{ op: "filter", input: [], where: { path: "$", op: "EQ" } }, "where.op"],
      [
        { op: "filter", input: [], where: { path: "$", op: "eq" } },
        "where.value",
      ],
      [
        { op: "filter", input: [], where: { path: "$", op: "contains" } },
        "where.value",
      ],
      [{
        op: "filter",
        input: [],
        where: { path: "$", op: "lte", value: null },
      }, "where.value"],
      [
        { op: "filter", input: [], where: { path: "$", op: "gt", value: [1] } },
        "where.value",
      ],
      [{
        op: "filter",
        input: [],
        where: { path: "$", op: "startswith", value: 1 },
      }, "where.value"],
      [{
        op: "filter",
        input: [],
        where: { path: "$", op: "endswith", value: {} },
      }, "where.value"],
      [{
        op: "filter",
        input: [],
        where: { path: "$", op: "exists", value: 1 },
      }, "where.value"],
      [{ op: "merge", input: {} }, "with"],
      [{ op: "merge", input: {}, with: [] }, "with"],
      [{ op: "merge", input: {}, with: {}, deep: "yes" }, "deep"],
      [{ op: "flatten", input: [], depth: -1 }, "depth"],
      [{ op: "flatten", input: [], depth: 1.5 }, "depth"],
      [{ op: "flatten", input: [], depth: "2" }, "depth"],
      [{ op: "flatten", input: [], depth: null }, "depth"],
      [{ op: "sort", input: [], by: 1 }, "by"],
      [{ op: "sort", input: [], order: "up" }, "order"],
      [{ op: "sort", input: [], order: null }, "order"],
    ];
    for (const [params, field] of cases) {
      const details = expectError(
        await callSkill(plugin, params),
        "ERR_JSON_INVALID_PARAMS",
      );
      assert.equal(details.field, field, JSON.stringify(params));
      assert.equal(typeof details.expected, "string");
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform refuses unknown or missing ops", async () => {
  const plugin = await openPlugin(wasm);
  try {
    for (const op of ["nope", "EXTRACT", 5, null, undefined]) {
      const details = expectError(
        await callSkill(plugin, { op, input: {} }),
        "ERR_JSON_UNKNOWN_OP",
      );
      assert.deepEqual(details, {
        op: op ?? null,
        allowed: [
          "extract",
          "filter",
          "flatten",
          "map",
          "merge",
          "omit",
          "pick",
          "sort",
        ],
      });
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform pick and omit need an object input", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const cases: [unknown, string][] = [
      [[1], "array"],
      ["s", "string"],
      [null, "null"],
      [1, "number"],
      [
        true,
        "boolean",
      ],
    ];
    for (const [input, actual] of cases) {
      for (const op of ["pick", "omit"]) {
        const outcome = await callSkill(plugin, { op, input, keys: ["a"] });
        assert.deepEqual(expectError(outcome, "ERR_JSON_TYPE_MISMATCH"), {
          expected: "object",
          actual,
        });
      }
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform refuses input that is not JSON, with the byte position", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const encoder = new TextEncoder();
    const cases: [string | Uint8Array, number][] = [
      ["not json", 1],
      ['{"op":"extract"', 15],
      ['{"op":"extract"} x', 17],
      ['{"op":"pick","input":{},"keys":[],}', 34],
      ['{"op":"é\u0001"}', 9],
      ['{"op":01}', 7],
      ['{"a":"\\x"}', 7],
      [
        new Uint8Array([
          ...encoder.encode('{"op":"'),
          0xff,
          ...encoder.encode('"}'),
        ]),
        7,
      ],
      [
        new Uint8Array([
          ...encoder.encode('{"op":"'),
          0xed,
          0xa0,
          0x80,
          ...encoder.encode('"}'),
        ]),
        7,
      ],
      ["", 0],
    ];
    for (const [input, position] of cases) {
      const outcome = await callSkillText(plugin, input);
      const details = expectError(outcome, "ERR_JSON_INVALID_INPUT");
      assert.equal(details.position, position, String(input));
      assert.equal(typeof details.reason, "string");
    }
  } finally {
    await plugin.close();
  }
});

function nested(depth: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}

Deno.test("json_transform accepts 100 levels of nesting and refuses 101", async () => {
  const plugin = await openPlugin(wasm);
  try {
    // The params object is the first level, so the input may nest 99 more.
    const deepest = nested(99);
    const ok = await callSkill(plugin, {
      op: "extract",
      input: deepest,
      path: "$",
    });
    assert.deepEqual(expectOutput(ok).result, deepest);
    for (const depth of [100, 1000]) {
      const outcome = await callSkill(plugin, {
        op: "extract",
        input: nested(depth),
        path: "$",
      });
      const details = expectError(outcome, "ERR_JSON_INVALID_INPUT");
      assert.match(String(details.reason), /deeper than 100/);
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform map, filter, flatten and sort need an array, merge an object", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const needArray: Record<string, unknown>[] = [
      { op: "map", path: "$" },
      { op: "filter", where: { path: "$", op: "exists" } },
      { op: "flatten" },
      { op: "sort", by: "$.a" },
    ];
    const inputs: [unknown, string][] = [
      [{ a: [1] }, "object"],
      ["[1]", "string"],
      [null, "null"],
      [1, "number"],
      [false, "boolean"],
    ];
    for (const [input, actual] of inputs) {
      for (const params of needArray) {
        const outcome = await callSkill(plugin, { ...params, input });
        assert.deepEqual(expectError(outcome, "ERR_JSON_TYPE_MISMATCH"), {
          expected: "array",
          actual,
        }, `${params.op} ${actual}`);
      }
    }
    const merge = await callSkill(plugin, {
      op: "merge",
      input: [{}],
      with: {},
    });
    assert.deepEqual(expectError(merge, "ERR_JSON_TYPE_MISMATCH"), {
      expected: "object",
      actual: "array",
    });
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform names the param of a malformed path", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const cases: [Record<string, unknown>, string, string, number][] = [
      [{ op: "map", path: "name" }, "path", "name", 0],
      [
        { op: "filter", where: { path: "$[", op: "exists" } },
        "where.path",
        "$[",
        2,
      ],
      [{ op: "sort", by: "$.a b" }, "by", "$.a b", 3],
    ];
    for (const [params, field, path, position] of cases) {
      const outcome = await callSkill(plugin, { ...params, input: [] });
      assert.deepEqual(expectError(outcome, "ERR_JSON_INVALID_PATH"), {
        field,
        path,
        position,
      });
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform map and sort name the element a path is missing from", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const input = [{ a: { b: [1, 2] } }, { a: { b: [3] } }, { a: 1 }];
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ op: "map", path: "$.a.b[1]" }, { at: "$.a.b", index: 1 }],
      [{ op: "map", path: "$.a.b[0]", missing: "error" }, {
        at: "$.a",
        index: 2,
      }],
      [{ op: "sort", by: "$.a.b" }, { at: "$.a", index: 2 }],
      [{ op: "sort", by: "$.c", order: "desc" }, { at: "$", index: 0 }],
    ];
    for (const [params, expected] of cases) {
      const outcome = await callSkill(plugin, { ...params, input });
      assert.deepEqual(expectError(outcome, "ERR_JSON_PATH_NOT_FOUND"), {
        ...expected,
        path: params.path ?? params.by,
      });
    }
  } finally {
    await plugin.close();
  }
});

/** Params of exactly `bytes` UTF-8 bytes whose transform is small. */
function paramsOfSize(bytes: number): string {
  const shell = '{"op":"pick","input":{"pad":""},"keys":[]}';
  return shell.replace('""', `"${"x".repeat(bytes - shell.length)}"`);
}

Deno.test("json_transform accepts params of 10 MiB and refuses one byte more", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const limit = 10 * 1024 * 1024;
    const ok = await callSkillText(plugin, paramsOfSize(limit));
    assert.deepEqual(expectOutput(ok).result, {});
    const outcome = await callSkillText(plugin, paramsOfSize(limit + 1));
    assert.deepEqual(expectError(outcome, "ERR_JSON_INVALID_INPUT"), {
      bytes: limit + 1,
      limit_bytes: limit,
    });
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform accepts arrays of 100000 elements and refuses longer ones, with their path", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const items = (length: number) => new Array(length).fill(0);
    const ok = await callSkill(plugin, {
      op: "map",
      input: items(100_000),
      path: "$",
    });
    assert.equal((expectOutput(ok).result as unknown[]).length, 100_000);
    const cases: [unknown, string][] = [
      [{ op: "map", input: items(100_001), path: "$" }, "$.input"],
      [
        { op: "extract", input: { "it's b": [[], items(100_001)] }, path: "$" },
        "$.input['it\\'s b'][1]",
      ],
      [
        { op: "extract", input: [{ "ok": [items(100_002)] }], path: "$" },
        "$.input[0].ok[0]",
      ],
      [{ op: "pick", input: {}, keys: items(100_001).map(String) }, "$.keys"],
    ];
    for (const [params, at] of cases) {
      const details = expectError(
        await callSkill(plugin, params),
        "ERR_JSON_INVALID_INPUT",
      );
      assert.equal(details.at, at);
      assert.equal(details.limit_items, 100_000);
      assert.ok((details.length as number) > 100_000);
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("json_transform flatten refuses a result longer than the array limit", async () => {
  const plugin = await openPlugin(wasm);
  try {
    const items = (length: number) => new Array(length).fill(0);
    const ok = await callSkill(plugin, {
      op: "flatten",
      input: [items(60_000), items(40_000)],
    });
    assert.equal((expectOutput(ok).result as unknown[]).length, 100_000);
    const outcome = await callSkill(plugin, {
      op: "flatten",
      input: [items(60_000), [items(40_001)]],
      depth: 2,
    });
    assert.deepEqual(expectError(outcome, "ERR_JSON_INVALID_INPUT"), {
      at: "$.input",
      length: 100_001,
      limit_items: 100_000,
    });
  } finally {
    await plugin.close();
  }
});
