// Behaviour of the built json_transform module, called through the real
// Extism JS SDK exactly as the sandbox calls it.
import assert from "node:assert/strict";
import createPlugin from "@extism/extism";
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

const resultOf = (outcome: CallResult) => expectOutput(outcome).result;

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
      '{"result":{"b":2,"c":{"y":[1],"z":0},"é":"x"}}',
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
      assert.equal(outcome.ok && outcome.text, canonical({ result: value }));
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
