// Behaviour of the test fixture skills (nonce, spin) that the runtime's own
// tests rely on, called through the real Extism JS SDK.
import assert from "node:assert/strict";
import createPlugin, { type CallContext } from "@extism/extism";
import {
  type CallResult,
  callSkill,
  canonical,
  expectError,
  expectOutput,
  HOST_NOW_MS,
  importModules,
  openPlugin,
  runWithoutSdk,
  sectionIds,
  skillModule,
} from "./_harness.ts";

const nonce = await skillModule("tests/fixtures/skills/nonce");
const spin = await skillModule("tests/fixtures/skills/spin");

function invalidField(outcome: CallResult): unknown {
  return expectError(outcome, "SKILL_INPUT_INVALID").field;
}

/** spin's checksum computed independently of the module. */
function spinChecksum(iterations: number): number {
  const mix = new Uint32Array(256);
  let x = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    mix[i] = x;
  }
  let hash = 2166136261;
  for (let i = 0; i < iterations; i++) {
    hash = Math.imul((hash ^ mix[i & 255]! ^ i) >>> 0, 16777619) >>> 0;
  }
  return hash;
}

Deno.test("fixture modules import only the kernel and aos_* and have no start section", () => {
  assert.deepEqual(importModules(nonce), [
    "extism:host/env",
    "extism:host/user",
  ]);
  assert.deepEqual(importModules(spin), ["extism:host/env"]);
  const userImports = WebAssembly.Module.imports(
    new WebAssembly.Module(nonce as Uint8Array<ArrayBuffer>),
  )
    .filter((entry) => entry.module === "extism:host/user").map((entry) =>
      entry.name
    ).sort();
  assert.deepEqual(userImports, ["aos_now", "aos_random"]);
  for (const wasm of [nonce, spin]) {
    assert.ok(!sectionIds(wasm).includes(8), "start section");
  }
});

Deno.test("nonce returns the host's time and random bytes", async () => {
  const plugin = await openPlugin(nonce);
  try {
    assert.deepEqual(
      expectOutput(await callSkill(plugin, { label: 'a "b" é' })),
      {
        label: 'a "b" é',
        now_ms: Number(HOST_NOW_MS),
        random_hex: "ab".repeat(8),
      },
    );
    for (const bytes of [1, 64]) {
      const output = expectOutput(
        await callSkill(plugin, { label: "x", bytes }),
      );
      assert.equal(output.random_hex, "ab".repeat(bytes));
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("nonce asks for the time once, then for the random bytes", async () => {
  const calls: string[] = [];
  const plugin = await createPlugin({ wasm: [{ data: nonce }] }, {
    useWasi: false,
    runInWorker: true,
    nodeWorkerArgs: { execArgv: [] },
    functions: {
      "extism:host/user": {
        aos_now: () => {
          calls.push("aos_now");
          return 42n;
        },
        aos_random: (context: CallContext, n: bigint) => {
          calls.push(`aos_random(${n})`);
          return context.store(
            Uint8Array.from({ length: Number(n) }, (_, i) => i),
          );
        },
      },
    },
  });
  try {
    const output = expectOutput(
      await callSkill(plugin, { label: "l", bytes: 3 }),
    );
    assert.deepEqual(output, { label: "l", now_ms: 42, random_hex: "000102" });
    assert.deepEqual(calls, ["aos_now", "aos_random(3)"]);
  } finally {
    await plugin.close();
  }
});

Deno.test("nonce refuses a missing label and out-of-range byte counts", async () => {
  const plugin = await openPlugin(nonce);
  try {
    assert.equal(invalidField(await callSkill(plugin, {})), "label");
    assert.equal(invalidField(await callSkill(plugin, { label: 7 })), "label");
    for (const bytes of [0, 65, 1.5, "8", null]) {
      assert.equal(
        invalidField(await callSkill(plugin, { label: "x", bytes })),
        "bytes",
      );
    }
  } finally {
    await plugin.close();
  }
});

Deno.test("spin is deterministic and echoes its value canonically", async () => {
  const plugin = await openPlugin(spin);
  const other = await openPlugin(spin);
  try {
    const value = { z: [1, "ü"], a: { y: null, b: true } };
    for (const iterations of [0, 1, 1000, 123457]) {
      const first = expectOutput(
        await callSkill(plugin, { iterations, value }),
      );
      const again = expectOutput(await callSkill(other, { iterations, value }));
      assert.deepEqual(first, { checksum: spinChecksum(iterations), value });
      assert.deepEqual(again, first);
    }
  } finally {
    await plugin.close();
    await other.close();
  }
});

Deno.test("spin's checksum shows the SDK runs _initialize before the first call", async () => {
  // spin mixes with a table built by the module's start code. Through the
  // SDK the checksum matches the reference; on a bare instance whose
  // _initialize was skipped it does not, so the reference check is real.
  const input = JSON.stringify({ iterations: 1000, value: 0 });
  const expected = canonical({ checksum: spinChecksum(1000), value: 0 });
  assert.equal(runWithoutSdk(spin, input, { initialize: true }), expected);
  let skipped: string;
  try {
    skipped = runWithoutSdk(spin, input, { initialize: false });
  } catch (error) {
    skipped = String(error); // a trap is as good a proof as a wrong checksum
  }
  assert.notEqual(skipped, expected);
  const plugin = await openPlugin(spin);
  try {
    const outcome = await callSkill(plugin, { iterations: 1000, value: 0 });
    assert.equal(outcome.ok && outcome.text, expected);
  } finally {
    await plugin.close();
  }
});

Deno.test("spin refuses bad iteration counts and a missing value", async () => {
  const plugin = await openPlugin(spin);
  try {
    for (const iterations of [-1, 1.5, 1e9 + 1, "10", null]) {
      assert.equal(
        invalidField(await callSkill(plugin, { iterations, value: 1 })),
        "iterations",
      );
    }
    assert.equal(
      invalidField(await callSkill(plugin, { iterations: 1 })),
      "value",
    );
    assert.equal(invalidField(await callSkill(plugin, [1])), "params");
  } finally {
    await plugin.close();
  }
});
