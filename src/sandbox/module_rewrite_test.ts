import assert from "node:assert/strict";
import { join } from "node:path";
import createPlugin, { type CallContext, type Plugin } from "@extism/extism";
import { AosError } from "../errors/mod.ts";
import { buildSkills, PROJECT_ROOT } from "../skills/build.ts";
import {
  allInstructionKindsModule,
  compileWat,
  HOSTILE_MODULE_NAMES,
  hostileModule,
  type HostileModuleName,
  MALFORMED_MODULES,
  MINIMAL_MODULE,
} from "../../tests/support/hostile_modules.ts";
import { inspectModule, type ModuleInfo } from "./module_inspector.ts";
import type { ModulePolicy } from "./module_policy.ts";
import {
  capMemory,
  hardenModule,
  instrumentMemoryGrow,
  PROBE_EXPORT,
} from "./module_rewrite.ts";

const POLICY: ModulePolicy = {
  entrypoint: "run",
  permissions: [],
  memoryMaxPages: 16,
  moduleMaxBytes: 1 << 20,
};

/** Section contents by id, custom sections by name. */
function sectionBytes(
  bytes: Uint8Array,
  info: ModuleInfo,
): Map<string, string> {
  return new Map(
    info.sections.map((section) => [
      section.id === 0 ? `custom:${section.name}` : String(section.id),
      bytes.subarray(section.contentStart, section.end).join(","),
    ]),
  );
}

function unchangedExcept(before: Uint8Array, after: Uint8Array, ids: string[]) {
  const old = sectionBytes(before, inspectModule(before));
  const now = sectionBytes(after, inspectModule(after));
  for (const [id, content] of old) {
    if (!ids.includes(id)) assert.equal(now.get(id), content, `section ${id}`);
  }
}

function refusedWith(work: () => unknown, code: string, message?: RegExp) {
  assert.throws(work, (error) => {
    assert.ok(error instanceof AosError, String(error));
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

Deno.test("capMemory() lowers or adds the maximum and leaves every other section byte-identical", async () => {
  for (
    const [memory, expected] of [
      ["1", 16],
      ["1 8", 8],
      ["2 100", 16],
      ["16", 16],
    ] as const
  ) {
    const bytes = await compileWat(`(module
      (memory (export "memory") ${memory})
      (data (i32.const 0) "kept")
      (func (export "run") (result i32) (i32.const 0)))`);
    const capped = capMemory(bytes, inspectModule(bytes), 16);
    const info = inspectModule(capped);
    assert.equal(info.memories[0]!.maxPages, expected, memory);
    assert.equal(info.memories[0]!.minPages, Number(memory.split(" ")[0]));
    unchangedExcept(bytes, capped, ["5"]);
  }
});

Deno.test("capMemory() refuses a memory that starts above the cap and keeps a module without memory", async () => {
  const big = await hostileModule("declares_huge_memory");
  refusedWith(
    () => capMemory(big, inspectModule(big), 16),
    "MODULE_MEMORY_TOO_LARGE",
  );
  assert.equal(
    capMemory(MINIMAL_MODULE, inspectModule(MINIMAL_MODULE), 16),
    MINIMAL_MODULE,
  );
});

Deno.test("instrumentMemoryGrow() appends at the end of every index space and keeps every other section", async () => {
  const bytes = await hostileModule("well_behaved");
  const before = inspectModule(bytes);
  const after = inspectModule(instrumentMemoryGrow(bytes, before));
  assert.deepEqual(after.types.slice(0, before.types.length), before.types);
  assert.deepEqual(after.imports, before.imports);
  assert.equal(after.functionCount, before.functionCount + 2);
  assert.equal(after.globalCount, before.globalCount + 1);
  assert.deepEqual(after.exports.slice(0, -1), before.exports);
  assert.deepEqual(after.exports.at(-1), {
    name: PROBE_EXPORT,
    kind: "function",
    index: before.importedFunctionCount + before.functionCount + 1,
  });
  unchangedExcept(bytes, instrumentMemoryGrow(bytes, before), [
    "1",
    "3",
    "6",
    "7",
    "10",
  ]);
});

Deno.test("instrumentMemoryGrow() creates the sections a bare module lacks, in order", async () => {
  for (const text of ["(module)", "(module (memory 1))"]) {
    const bytes = await compileWat(text);
    const info = inspectModule(
      instrumentMemoryGrow(bytes, inspectModule(bytes)),
    );
    assert.deepEqual(info.exports.map((entry) => entry.name), [PROBE_EXPORT]);
    assert.equal(info.functionCount, text.includes("memory") ? 2 : 1);
    assert.equal(info.globalCount, 1);
  }
  const minimal = inspectModule(
    instrumentMemoryGrow(MINIMAL_MODULE, inspectModule(MINIMAL_MODULE)),
  );
  // `run: () -> i32` already has the probe's type: no type is added.
  assert.equal(minimal.types.length, 1);
});

type Exports = Record<string, (...args: number[]) => unknown>;

function outcome(exports: Exports, name: string, args: number[]): unknown {
  try {
    return exports[name]!(...args);
  } catch (error) {
    return `trap: ${(error as Error).message}`;
  }
}

Deno.test("instrumentMemoryGrow() preserves the behaviour of every instruction kind", async () => {
  const bytes = await allInstructionKindsModule();
  const hardened = instrumentMemoryGrow(bytes, inspectModule(bytes));
  const original = new WebAssembly.Instance(new WebAssembly.Module(bytes))
    .exports as Exports;
  const rewritten = new WebAssembly.Instance(new WebAssembly.Module(hardened))
    .exports as Exports;
  const calls: [string, number[]][] = [
    ["grow", [1]],
    ["grow", [0]],
    ["grow_and_size", [1]],
    ["branches", [0]],
    ["branches", [1]],
    ["branches", [7]],
    ["multi_value", [4]],
    ["indirect", [21]],
    ["numbers", [1e30]],
    ["numbers", [-3.7]],
    ["select_typed", [0]],
    ["bulk", []],
    ["tables", []],
    ["simd", []],
  ];
  for (const [name, args] of calls) {
    assert.deepEqual(
      outcome(rewritten, name, args),
      outcome(original, name, args),
      `${name}(${args})`,
    );
  }
  assert.equal(outcome(rewritten, PROBE_EXPORT, []), 0);
  // Memory is at 3 pages of its declared 4: growing by 5 fails in both.
  assert.equal(outcome(original, "grow", [5]), -1);
  assert.equal(outcome(rewritten, "grow", [5]), -1);
  assert.equal(outcome(rewritten, PROBE_EXPORT, []), "trap: unreachable");
  assert.equal(outcome(rewritten, PROBE_EXPORT, []), 0, "the probe clears");
});

Deno.test("instrumentMemoryGrow() refuses reserved export names and instructions it cannot inspect", async () => {
  for (const name of [PROBE_EXPORT, "__aos_other"]) {
    const bytes = await compileWat(
      `(module (func (export "${name}") (result i32) (i32.const 0)))`,
    );
    refusedWith(
      () => instrumentMemoryGrow(bytes, inspectModule(bytes)),
      "MODULE_INVALID",
      /reserved for AOS/,
    );
  }
  const tail = await compileWat(
    `(module (func $f (export "run") (result i32) (return_call $f)))`,
    { features: { tail_call: true } },
  );
  refusedWith(
    () => hardenModule(tail, POLICY),
    "MODULE_INVALID",
    /cannot inspect: opcode 0x12 \(at byte \d+\)/,
  );
});

const REFUSED: Partial<Record<HostileModuleName, string>> = {
  wasi_import: "MODULE_IMPORT_FORBIDDEN",
  unknown_import: "MODULE_IMPORT_FORBIDDEN",
  start_loop: "MODULE_START_FORBIDDEN",
  declares_huge_memory: "MODULE_MEMORY_TOO_LARGE",
  no_entrypoint: "MODULE_ENTRYPOINT_MISSING",
};

Deno.test("hardenModule() refuses hostile and malformed modules with their codes and hardens the rest", async () => {
  for (const name of HOSTILE_MODULE_NAMES) {
    const bytes = await hostileModule(name);
    const code = REFUSED[name];
    if (code !== undefined) {
      refusedWith(() => hardenModule(bytes, POLICY), code);
      continue;
    }
    const { info } = hardenModule(bytes, POLICY);
    assert.equal(info.memories[0]!.maxPages, POLICY.memoryMaxPages, name);
    assert.ok(info.exports.some((entry) => entry.name === PROBE_EXPORT));
  }
  for (const { bytes } of Object.values(MALFORMED_MODULES)) {
    refusedWith(() => hardenModule(bytes, POLICY), "MODULE_INVALID");
  }
  // The size check comes first: oversized garbage is too large, not invalid.
  refusedWith(
    () => hardenModule(new Uint8Array(POLICY.moduleMaxBytes + 1), POLICY),
    "MODULE_TOO_LARGE",
  );
});

// Deterministic xorshift, so a failure can be replayed from its seed.
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

Deno.test("hardenModule() answers mutated modules with a hardened module or a MODULE_* refusal, never INTERNAL", async () => {
  const originals: [Uint8Array, string][] = [
    [await allInstructionKindsModule(), "grow"],
    [await hostileModule("bad_host_pointers"), "run"],
    // all_instruction_kinds writes tables, which the state reset refuses;
    // this one gives the reset's rewrite (memory.size, globals, wrappers)
    // mutants to survive.
    [
      await compileWat(`(module (memory (export "memory") 1 4)
        (global $wide (mut i64) (i64.const 1))
        (global $vector (mut v128) (v128.const i32x4 0 0 0 0))
        (global $fixed f32 (f32.const 0))
        (func (export "_initialize") (global.set $wide (i64.const 2)))
        (func (export "size") (result i32) (memory.size))
        (func (export "run") (param i32) (result i32)
          (drop (memory.grow (local.get 0)))
          (global.set $wide (i64.add (global.get $wide) (i64.const 1)))
          (global.set $vector (i32x4.splat (memory.size)))
          (memory.size)))`),
      "run",
    ],
  ];
  const seed = 7_041_977;
  const next = random(seed);
  let hardened = 0;
  for (let round = 0; round < 1500; round++) {
    const [original, entrypoint] = originals[round % originals.length]!;
    const copy = original.slice();
    copy[Math.floor(next() * copy.length)] = Math.floor(next() * 256);
    try {
      hardenModule(copy, { ...POLICY, entrypoint, memoryMaxPages: 4 });
      hardened++;
    } catch (error) {
      assert.ok(
        error instanceof AosError && error.code.startsWith("MODULE_"),
        `seed ${seed}, round ${round}: ${error}`,
      );
    }
  }
  assert.ok(hardened > 0, "no mutation survived; the property tests nothing");
});

/** A plugin the way the sandbox runs skills: worker thread, no WASI. */
function openPlugin(data: Uint8Array): Promise<Plugin> {
  return createPlugin({ wasm: [{ data }] }, {
    useWasi: false,
    runInWorker: true,
    nodeWorkerArgs: { execArgv: [] },
    functions: {
      "extism:host/user": {
        aos_now: () => 1n,
        aos_random: (context: CallContext, count: bigint) =>
          context.store(new Uint8Array(Number(count))),
      },
    },
  });
}

type CallOutcome =
  | { ok: true; text: string }
  | { ok: false; message: string; isError: boolean };

async function call(
  plugin: Plugin,
  name: string,
  input: string = "",
): Promise<CallOutcome> {
  try {
    const output = await plugin.call(name, input);
    return { ok: true, text: output?.text() ?? "" };
  } catch (error) {
    // In worker mode a trap rejects with a plain { message } object.
    const message = String((error as { message?: unknown }).message);
    return { ok: false, message, isError: error instanceof Error };
  }
}

async function withPlugins(
  modules: Uint8Array[],
  work: (plugins: Plugin[]) => Promise<void>,
): Promise<void> {
  const plugins = await Promise.all(modules.map(openPlugin));
  try {
    await work(plugins);
  } finally {
    await Promise.all(plugins.map((plugin) => plugin.close()));
  }
}

async function builtSkill(dir: string): Promise<Uint8Array> {
  const [built] = await buildSkills([join(PROJECT_ROOT, dir)], {
    ifStale: true,
  });
  return await Deno.readFile(built!.wasmPath);
}

const SKILL_INPUTS: [string, unknown[]][] = [
  ["skills-wasm/json_transform", [
    { op: "extract", input: { a: [1, 2, { b: "c" }] }, path: "$.a[-1].b" },
    { op: "pick", input: { a: 1, b: 2 }, keys: ["a"] },
    { op: "omit", input: { a: 1, b: [true, null] }, keys: ["a"] },
    { op: "extract", input: {}, path: "nope" },
    "{not json",
  ]],
  ["tests/fixtures/skills/nonce", [{ label: "x", bytes: 4 }, { label: 5 }]],
  ["tests/fixtures/skills/spin", [
    { iterations: 1000, value: "v" },
    { iterations: 0, value: [1, {}] },
  ]],
];

Deno.test("hardened built skills give Extism the same outputs as the originals", async () => {
  for (const [dir, inputs] of SKILL_INPUTS) {
    const original = await builtSkill(dir);
    const { bytes } = hardenModule(original, {
      ...POLICY,
      memoryMaxPages: 256,
    });
    await withPlugins([original, bytes], async ([before, after]) => {
      for (const input of inputs) {
        const text = typeof input === "string" ? input : JSON.stringify(input);
        const expected = await call(before!, "run", text);
        assert.deepEqual(await call(after!, "run", text), expected, text);
        assert.deepEqual(await call(after!, PROBE_EXPORT), {
          ok: true,
          text: "",
        });
      }
    });
  }
});

Deno.test("a hardened skill stops at its memory cap, and __aos_probe tells that from other traps", async () => {
  const original = await builtSkill("skills-wasm/json_transform");
  const { bytes } = hardenModule(original, POLICY);
  const items = Array.from({ length: 60_000 }, (_, i) => ({ i, s: "xxxx" }));
  const input = JSON.stringify({ op: "extract", input: items, path: "$[-1]" });
  await withPlugins([original, bytes], async ([before, after]) => {
    const whole = await call(before!, "run", input);
    assert.equal(whole.ok, true);
    assert.deepEqual(JSON.parse(whole.text!).result, { i: 59999, s: "xxxx" });
    // 1.4 MB of input cannot even be read into 16 pages (1 MiB).
    const capped = await call(after!, "run", input);
    assert.equal(capped.ok, false);
    assert.equal((await call(after!, PROBE_EXPORT)).ok, false);
    // The instance survived the trap and still serves small inputs.
    const small = JSON.stringify({ op: "extract", input: [1], path: "$[0]" });
    const served = await call(after!, "run", small);
    assert.equal(served.ok, true);
    assert.equal(JSON.parse(served.text!).result, 1);
  });
});

Deno.test("__aos_probe traps after memory_bomb's failed call and passes after well_behaved and unreachable", async () => {
  const modules = await Promise.all(
    (["memory_bomb", "well_behaved", "unreachable"] as const).map(async (
      name,
    ) => hardenModule(await hostileModule(name), POLICY).bytes),
  );
  await withPlugins(modules, async ([bomb, good, trap]) => {
    const trapped = { ok: false, message: "unreachable", isError: false };
    assert.deepEqual(await call(bomb!, "run"), trapped);
    assert.deepEqual(await call(bomb!, PROBE_EXPORT), trapped);
    assert.equal((await call(bomb!, PROBE_EXPORT)).ok, true, "probing clears");
    assert.deepEqual(await call(bomb!, "run"), trapped);
    assert.deepEqual(await call(bomb!, PROBE_EXPORT), trapped);

    for (let round = 0; round < 2; round++) {
      assert.deepEqual(await call(good!, "run", "echo"), {
        ok: true,
        text: "echo",
      });
      assert.equal((await call(good!, PROBE_EXPORT)).ok, true);
      assert.deepEqual(await call(trap!, "run"), trapped);
      assert.equal((await call(trap!, PROBE_EXPORT)).ok, true);
    }
  });
});
