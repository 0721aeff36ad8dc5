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
    ];
    for (const [params, field] of cases) {
      const details = expectError(
        await callSkill(plugin, params),
        "ERR_JSON_INVALID_PARAMS",
      );
      assert.equal(details.field, field, JSON.stringify(params));
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
        allowed: ["extract", "omit", "pick"],
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
