import assert from "node:assert/strict";
import { join } from "node:path";
import createPlugin, { type CallContext, type Plugin } from "@extism/extism";
import { AosError } from "../errors/mod.ts";
import { buildSkills, PROJECT_ROOT } from "../skills/build.ts";
import {
  compileWat,
  MINIMAL_MODULE,
} from "../../tests/support/hostile_modules.ts";
import { addStateReset } from "./_wasm_reset.ts";
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

function harden(bytes: Uint8Array, memoryMaxPages = 16): Uint8Array {
  return hardenModule(bytes, { ...POLICY, memoryMaxPages }).bytes;
}

/** The module hardened the way it was before the reset existed. */
function capAndInstrument(bytes: Uint8Array, memoryMaxPages: number) {
  const capped = capMemory(bytes, inspectModule(bytes), memoryMaxPages);
  return instrumentMemoryGrow(capped, inspectModule(capped));
}

function refusedWith(work: () => unknown, code: string, message?: RegExp) {
  assert.throws(work, (error) => {
    assert.ok(error instanceof AosError, String(error));
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

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

// --- Structure ---------------------------------------------------------------

/** Section contents by id, custom sections by name. */
function sectionBytes(bytes: Uint8Array, info: ModuleInfo) {
  return new Map(
    info.sections.map((section) => [
      section.id === 0 ? `custom:${section.name}` : String(section.id),
      bytes.subarray(section.contentStart, section.end).join(","),
    ]),
  );
}

async function builtSkill(dir: string): Promise<Uint8Array> {
  const [built] = await buildSkills([join(PROJECT_ROOT, dir)], {
    ifStale: true,
  });
  return await Deno.readFile(built!.wasmPath);
}

Deno.test("hardenModule() adds the reset by appending, repointing exports and keeping every other section", async () => {
  const original = await builtSkill("skills-wasm/json_transform");
  const before = capAndInstrument(original, 64);
  const beforeInfo = inspectModule(before);
  const { bytes, info } = hardenModule(original, {
    ...POLICY,
    memoryMaxPages: 64,
  });
  const old = sectionBytes(before, beforeInfo);
  const now = sectionBytes(bytes, info);
  for (const [id, content] of old) {
    if (!["1", "3", "5", "6", "7", "10"].includes(id)) {
      assert.equal(now.get(id), content, `section ${id}`);
    }
  }
  assert.deepEqual(info.memories, [
    beforeInfo.memories[0],
    { minPages: 0, maxPages: 64, shared: false, memory64: false },
  ]);
  assert.deepEqual(
    info.types.slice(0, beforeInfo.types.length),
    beforeInfo.types,
  );
  // $aos_enter and one wrapper ("run"); _initialize and the probe stay.
  assert.equal(info.functionCount, beforeInfo.functionCount + 2);
  const firstNew = beforeInfo.importedFunctionCount + beforeInfo.functionCount;
  const exports = (module: ModuleInfo) =>
    module.exports.map(({ name, kind }) => [name, kind]);
  assert.deepEqual(exports(info), exports(beforeInfo));
  for (const entry of info.exports) {
    const was = beforeInfo.exports.find((other) => other.name === entry.name)!;
    assert.equal(
      entry.index,
      entry.name === "run" ? firstNew + 1 : was.index,
      entry.name,
    );
  }
  // $aos_pages, $aos_snapshotted and a shadow per mutable global but the flag.
  assert.equal(
    info.globalCount,
    beforeInfo.globalCount + 2 + (beforeInfo.globalCount - 1),
  );
});

Deno.test("hardenModule() resets modules without memory, globals or sections of their own", async () => {
  const modules = [
    MINIMAL_MODULE,
    await compileWat(`(module
      (global $g (mut i64) (i64.const 5))
      (func (export "run") (result i64)
        (global.set $g (i64.add (global.get $g) (i64.const 1)))
        (global.get $g)))`),
    await compileWat(`(module (memory 0 2)
      (func (export "run") (result i32)
        (i32.add (memory.grow (i32.const 1)) (memory.size))))`),
  ];
  const expected = [0, 6n, 1];
  for (const [index, bytes] of modules.entries()) {
    const exports = new WebAssembly.Instance(
      new WebAssembly.Module(harden(bytes) as Uint8Array<ArrayBuffer>),
    ).exports as Record<string, () => unknown>;
    for (let call = 0; call < 3; call++) {
      assert.equal(exports.run!(), expected[index], `module ${index}`);
    }
  }
});

Deno.test("hardenModule() wraps a function once, and not under the names Extism runs when loading", async () => {
  const bytes = await compileWat(`(module
    (global $count (mut i32) (i32.const 0))
    (func $bump (export "run") (export "_initialize") (export "again")
      (result i32)
      (global.set $count (i32.add (global.get $count) (i32.const 1)))
      (global.get $count)))`);
  const { info } = hardenModule(bytes, POLICY);
  const index = (name: string) =>
    info.exports.find((entry) => entry.name === name)!.index;
  assert.equal(index("_initialize"), 0);
  assert.ok(index("run") > index(PROBE_EXPORT));
  assert.equal(index("again"), index("run"));
  const exports = instantiate(harden(bytes));
  assert.deepEqual([exports.run!(), exports.again!(), exports.run!()], [
    2,
    2,
    2,
  ]);
});

// --- Behaviour, in-process ---------------------------------------------------

// Observes the state a call starts from, then changes all of it: globals of
// every type, a memory cell, a word at `at`, the last word before and after
// growing by `pages`, and the size.
const OBSERVER = `(module
  (memory (export "memory") 2 6)
  (global $count (mut i32) (i32.const 0))
  (global $wide (mut i64) (i64.const 0))
  (global $real (mut f64) (f64.const 0))
  (global $vector (mut v128) (v128.const i32x4 0 0 0 0))
  (global $function (mut funcref) (ref.null func))
  (global $fixed i32 (i32.const 9))
  (elem declare func $seven)
  (func $seven (result i32) (i32.const 7))
  (func (export "_initialize")
    (global.set $count (i32.const 100))
    (i32.store (i32.const 64) (i32.const 1000))
    (drop (memory.grow (i32.const 1))))
  (func $last (result i32)
    (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 4)))
  (func (export "run") (param $pages i32) (param $at i32)
    (result i32 i32 i32 i32 i32 i32 i32 i32 i64 f64 i32 i32)
    (local $size i32) (local $count i32) (local $cell i32) (local $end i32)
    (local $word i32) (local $grown i32)
    (local.set $size (memory.size))
    (local.set $count (global.get $count))
    (local.set $cell (i32.load (i32.const 64)))
    (local.set $end (i32.load (call $last)))
    (local.set $at (i32.rem_u (local.get $at) (call $last)))
    (local.set $word (i32.load (local.get $at)))
    (local.set $grown (memory.grow (local.get $pages)))
    (local.get $size) (local.get $count) (local.get $cell) (local.get $end)
    (local.get $word) (local.get $grown) (memory.size) (i32.load (call $last))
    (global.get $wide) (global.get $real)
    (i32x4.extract_lane 1 (global.get $vector))
    (i32.add (ref.is_null (global.get $function)) (global.get $fixed))
    (global.set $count (i32.add (local.get $count) (i32.const 1)))
    (global.set $wide (i64.add (global.get $wide) (i64.const 3)))
    (global.set $real (f64.add (global.get $real) (f64.const 0.5)))
    (global.set $vector (i32x4.add (global.get $vector) (i32x4.splat (i32.const 2))))
    (global.set $function (ref.func $seven))
    (i32.store (i32.const 64) (i32.add (local.get $cell) (i32.const 1)))
    (i32.store (local.get $at) (i32.const 0x5eed))
    (i32.store (call $last) (i32.const -1))))`;

type Exports = Record<string, (...args: number[]) => unknown>;

function instantiate(bytes: Uint8Array): Exports {
  const exports = new WebAssembly.Instance(
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>),
  ).exports as Exports;
  exports._initialize!();
  return exports;
}

function outcome(exports: Exports, name: string, args: number[]): unknown {
  try {
    return exports[name]!(...args);
  } catch (error) {
    return `trap: ${(error as Error).message}`;
  }
}

Deno.test("a hardened instance answers every call like a fresh instance of the original", async () => {
  const original = await compileWat(OBSERVER);
  const reused = instantiate(harden(original, 6));
  const seed = 90_210;
  const next = random(seed);
  let failedGrows = 0;
  for (let call = 0; call < 60; call++) {
    const args = [Math.floor(next() * 5), Math.floor(next() * 2 ** 31)];
    const fresh = outcome(instantiate(original), "run", args);
    const result = outcome(reused, "run", args);
    assert.deepEqual(result, fresh, `seed ${seed}, call ${call} (${args})`);
    // Growing by 4 from 3 pages passes the maximum of 6, and only that fails.
    const failed = (result as number[])[5] === -1;
    if (failed) failedGrows++;
    if (call % 2 === 1) {
      // Probed every other call: the flag describes the latest call only.
      assert.equal(outcome(reused, PROBE_EXPORT, []) !== 0, failed);
    }
  }
  assert.ok(failedGrows > 0 && failedGrows < 60, "grow failures not covered");
});

Deno.test("a hardened instance does not trap on an access past its virtual end (the documented difference)", async () => {
  const original = await compileWat(`(module (memory 1 4)
    (func (export "_initialize"))
    (func (export "run") (param $pages i32) (result i32)
      (drop (memory.grow (local.get $pages)))
      (i32.load (i32.const 0x30000))))`);
  const reused = instantiate(harden(original));
  assert.equal(
    outcome(reused, "run", [0]),
    "trap: memory access out of bounds",
  );
  assert.equal(outcome(reused, "run", [3]), 0);
  // Memory is really 4 pages now, virtually 1 again: the load does not trap,
  // and reads the zero the reset left there.
  assert.equal(outcome(reused, "run", [0]), 0);
  assert.equal(
    outcome(instantiate(original), "run", [0]),
    "trap: memory access out of bounds",
  );
});

// --- Refusals ----------------------------------------------------------------

Deno.test("hardenModule() refuses modules that could change a table or drop a segment", async () => {
  const refused: [string, string][] = [
    ["table.set", "(table.set $t (i32.const 0) (ref.null func))"],
    ["table.grow", "(drop (table.grow $t (ref.null func) (i32.const 1)))"],
    [
      "table.fill",
      "(table.fill $t (i32.const 0) (ref.null func) (i32.const 1))",
    ],
    [
      "table.copy",
      "(table.copy $t $t (i32.const 0) (i32.const 1) (i32.const 1))",
    ],
    [
      "table.init",
      "(table.init $t $e (i32.const 0) (i32.const 0) (i32.const 1))",
    ],
    ["elem.drop", "(elem.drop $e)"],
    ["data.drop", "(data.drop $d)"],
  ];
  const module = (body: string) =>
    compileWat(`(module (memory 1) (table $t 2 funcref)
      (elem $e func $f) (data $d "x")
      (func $f (export "run") (result i32) ${body} (i32.const 0)))`);
  for (const [name, body] of refused) {
    const bytes = await module(body);
    refusedWith(
      () => harden(bytes),
      "MODULE_INVALID",
      new RegExp(`function 0 uses ${name}: .* \\(at byte \\d+\\)`),
    );
  }
  // Reading tables and copying passive data in are fine.
  harden(
    await module(`(drop (table.get $t (i32.const 0))) (drop (table.size $t))
    (memory.init $d (i32.const 0) (i32.const 0) (i32.const 1))`),
  );
});

Deno.test("hardenModule() refuses an entrypoint that Extism runs when loading", async () => {
  const bytes = await compileWat(`(module
    (func (export "_initialize")) (func (export "_start"))
    (func (export "hs_init")) (func (export "run") (result i32) (i32.const 0)))`);
  for (const entrypoint of ["_initialize", "_start", "hs_init"]) {
    refusedWith(
      () => hardenModule(bytes, { ...POLICY, entrypoint }),
      "MODULE_INVALID",
      new RegExp(`"${entrypoint}" also runs when the module is loaded`),
    );
  }
});

Deno.test("addStateReset() refuses mutable imported globals and more than one memory, and keeps constants", async () => {
  // No grow instrumentation here: global 2 stands in for its flag.
  const hooks = { growFunction: undefined, probeFunction: -1, oomGlobal: 2 };
  const reset = async (text: string) => {
    const bytes = await compileWat(text, {
      features: { mutable_globals: true, multi_memory: true },
    });
    return addStateReset(bytes, inspectModule(bytes), hooks);
  };
  await assert.rejects(
    () => reset(`(module (import "env" "g" (global (mut i32))))`),
    /imports mutable global env\.g; AOS .* cannot reset an imported global/,
  );
  await assert.rejects(
    () => reset(`(module (memory 1) (memory 1))`),
    /at most one memory/,
  );
  await assert.rejects(
    () => reset(`(module (import "env" "m" (memory 1)))`),
    /at most one memory/,
  );
  const kept = await reset(`(module (import "env" "g" (global i32))
    (global $copy (mut i32) (global.get 0))
    (global $flag (mut i32) (i32.const 0))
    (func (export "bump") (result i32)
      (global.set $copy (i32.add (global.get $copy) (i32.const 1)))
      (global.get $copy)))`);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(kept), {
    env: { g: new WebAssembly.Global({ value: "i32" }, 42) },
  });
  const bump = instance.exports.bump as () => number;
  assert.deepEqual([bump(), bump(), bump()], [43, 43, 43]);
});

// --- Through Extism, the way the sandbox runs skills ------------------------

/** A plugin the way the sandbox runs skills: worker thread, no WASI. */
function openPlugin(data: Uint8Array): Promise<Plugin> {
  return createPlugin({ wasm: [{ data }] }, {
    useWasi: false,
    runInWorker: true,
    nodeWorkerArgs: { execArgv: [] },
    timeoutMs: 5000,
    functions: {
      "extism:host/user": {
        aos_now: () => 1n,
        aos_random: (context: CallContext, count: bigint) =>
          context.store(new Uint8Array(Number(count))),
      },
    },
  });
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

type CallOutcome = { ok: true; text: string } | { ok: false; message: string };

async function call(
  plugin: Plugin,
  name: string,
  input = "",
): Promise<CallOutcome> {
  try {
    const output = await plugin.call(name, input);
    return { ok: true, text: output?.text() ?? "" };
  } catch (error) {
    // In worker mode a trap rejects with a plain { message } object.
    return { ok: false, message: String((error as Error).message) };
  }
}

async function calls(plugin: Plugin, count: number, input = "") {
  const outcomes: CallOutcome[] = [];
  for (let index = 0; index < count; index++) {
    outcomes.push(await call(plugin, "run", input));
  }
  return outcomes;
}

const ok = (text: string): CallOutcome => ({ ok: true, text });

// Copies `length` bytes at `pointer` into the output, through the kernel.
const OUTPUT = `
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (func $output (param $pointer i32) (param $length i32)
    (local $block i64) (local $index i32)
    (local.set $block (call $alloc (i64.extend_i32_u (local.get $length))))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $index) (local.get $length)))
      (call $store_u8
        (i64.add (local.get $block) (i64.extend_i32_u (local.get $index)))
        (i32.load8_u (i32.add (local.get $pointer) (local.get $index))))
      (local.set $index (i32.add (local.get $index) (i32.const 1)))
      (br $copy)))
    (call $output_set (local.get $block) (i64.extend_i32_u (local.get $length))))`;

Deno.test("a stateful module gives the same output on every call once hardened", async () => {
  const original = await compileWat(`(module ${OUTPUT}
    (memory (export "memory") 1)
    (global $count (mut i32) (i32.const 0))
    (func (export "run") (result i32)
      (global.set $count (i32.add (global.get $count) (i32.const 1)))
      (i32.store8 (i32.const 100) (i32.add (i32.load8_u (i32.const 100)) (i32.const 1)))
      (i32.store8 (i32.const 200) (i32.add (global.get $count) (i32.const 48)))
      (i32.store8 (i32.const 201) (i32.add (i32.load8_u (i32.const 100)) (i32.const 48)))
      (call $output (i32.const 200) (i32.const 2))
      (i32.const 0)))`);
  await withPlugins([original, harden(original)], async ([before, after]) => {
    assert.deepEqual(await calls(before!, 3), [ok("11"), ok("22"), ok("33")]);
    assert.deepEqual(await calls(after!, 3), [ok("11"), ok("11"), ok("11")]);
  });
});

Deno.test("a hardened module starts each call at its initial size, with the memory it grew zeroed", async () => {
  // Grows to 3 pages when smaller, then reports the size it started with and
  // whether a cell in page 2 was already written ("A") or not ("z").
  const original = await compileWat(`(module ${OUTPUT}
    (memory (export "memory") 1 16)
    (func (export "run") (result i32) (local $size i32)
      (local.set $size (memory.size))
      (if (i32.lt_u (local.get $size) (i32.const 3))
        (then (if (i32.eq (memory.grow (i32.sub (i32.const 3) (local.get $size)))
                          (i32.const -1))
          (then unreachable))))
      (i32.store8 (i32.const 200) (i32.add (local.get $size) (i32.const 48)))
      (i32.store8 (i32.const 201)
        (select (i32.const 65) (i32.const 122) (i32.load8_u (i32.const 0x20010))))
      (i32.store8 (i32.const 0x20010) (i32.const 65))
      (call $output (i32.const 200) (i32.const 2))
      (i32.const 0)))`);
  await withPlugins([original, harden(original)], async ([before, after]) => {
    assert.deepEqual(await calls(before!, 3), [ok("1z"), ok("3A"), ok("3A")]);
    assert.deepEqual(await calls(after!, 3), [ok("1z"), ok("1z"), ok("1z")]);
  });
});

Deno.test("after a call fails at the memory cap, __aos_probe says so and the next call succeeds", async () => {
  // Input "1": grow a page at a time until the cap, then trap. Otherwise grow
  // one page and report the size the call started with.
  const original = await compileWat(`(module ${OUTPUT}
    (memory (export "memory") 1)
    (func (export "run") (result i32) (local $size i32)
      (local.set $size (memory.size))
      (if (i32.eq (call $input_load_u8 (i64.const 0)) (i32.const 49))
        (then (loop $grow
          (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
          unreachable))
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
      (i32.store8 (i32.const 200) (i32.add (local.get $size) (i32.const 48)))
      (call $output (i32.const 200) (i32.const 1))
      (i32.const 0)))`);
  const trapped = { ok: false, message: "unreachable" };
  await withPlugins([harden(original, 4)], async ([plugin]) => {
    for (const probeAfterFailure of [true, false, true]) {
      assert.deepEqual(await call(plugin!, "run", "1"), trapped);
      if (probeAfterFailure) {
        assert.deepEqual(await call(plugin!, PROBE_EXPORT), trapped);
      }
      assert.deepEqual(await call(plugin!, "run", "0"), ok("1"));
      assert.deepEqual(await call(plugin!, PROBE_EXPORT), ok(""));
    }
  });
});

// --- The real skills ----------------------------------------------------------

/** A JSON document of about `bytes` bytes for json_transform. */
function document(bytes: number, op: "extract" | "pick"): string {
  const items = [];
  for (let size = 0, i = 0; size < bytes; i++) {
    const item = { i, name: `item-${i}`, tags: ["a", "b"], even: i % 2 === 0 };
    size += JSON.stringify(item).length + 1;
    items.push(item);
  }
  return JSON.stringify(
    op === "pick"
      ? { op, input: { items, other: 1 }, keys: ["other"] }
      : { op, input: { items }, path: `$.items[${items.length >> 1}]` },
  );
}

/** json_transform inputs: a large document every 20th call, small otherwise. */
function jsonTransformInputs(count: number, next: () => number): string[] {
  const large = [
    document(2_000_000, "extract"),
    document(1_000_000, "pick"),
    document(1_500_000, "extract"),
  ];
  return Array.from({ length: count }, (_, index) => {
    if (index % 20 === 3) return large[(index / 20 | 0) % large.length]!;
    const n = Math.floor(next() * 1000);
    const small = [
      { op: "extract", input: { a: [n, { b: `v${n}` }] }, path: "$.a[-1].b" },
      { op: "pick", input: { a: n, b: [n, n], c: null }, keys: ["b", "z"] },
      { op: "omit", input: { a: n, b: "x".repeat(n) }, keys: ["b"] },
      { op: "extract", input: [n], path: "$[1]" },
      { op: "nope" },
    ];
    const input = small[n % small.length]!;
    return n % 37 === 0 ? "{not json" : JSON.stringify(input);
  });
}

/** The fewest pages a fresh hardened instance needs to serve `input`. */
async function pagesNeeded(module: Uint8Array, input: string) {
  let [low, high] = [16, 2048];
  while (low < high) {
    const pages = (low + high) >> 1;
    let served = false;
    await withPlugins([harden(module, pages)], async ([plugin]) => {
      served = (await call(plugin!, "run", input)).ok;
    });
    if (served) high = pages;
    else low = pages + 1;
  }
  return low;
}

Deno.test("hardened json_transform matches the original over 200 calls on one instance, at the cap one large call needs", async () => {
  const original = await builtSkill("skills-wasm/json_transform");
  const seed = 4_242;
  const inputs = jsonTransformInputs(200, random(seed));
  const largest = inputs.reduce((a, b) => b.length > a.length ? b : a);
  const pages = await pagesNeeded(original, largest);
  assert.ok(pages < 2048, "the search did not find the pages needed");
  // Each call starts from the snapshot, so every large call fits in the
  // pages the first one needed: had the heap crept, a later one would fail.
  await withPlugins(
    [original, harden(original, pages), capAndInstrument(original, pages)],
    async ([before, after, unreset]) => {
      // The control: the same cap without the reset, until it first fails.
      let unresetFailed = false;
      for (const [index, input] of inputs.entries()) {
        const expected = await call(before!, "run", input);
        const outcome = await call(after!, "run", input);
        assert.deepEqual(outcome, expected, `seed ${seed}, call ${index}`);
        if (index % 20 === 3) {
          assert.ok(expected.ok, `large input ${index} fails`);
          unresetFailed ||= !(await call(unreset!, "run", input)).ok;
        }
      }
      assert.ok(unresetFailed, "the cap is too loose to show creeping");
    },
  );
});

Deno.test("hardened nonce and spin match the originals over 200 calls on one instance", async () => {
  const next = random(77);
  const cases: [string, () => unknown][] = [
    ["tests/fixtures/skills/nonce", () => {
      const n = Math.floor(next() * 80);
      return n % 9 === 0 ? { bytes: n } : { label: `l${n}`, bytes: n };
    }],
    ["tests/fixtures/skills/spin", () => {
      const n = Math.floor(next() * 5000);
      return { iterations: n, value: n % 2 === 0 ? [n, { k: "v" }] : `${n}` };
    }],
  ];
  for (const [dir, input] of cases) {
    const original = await builtSkill(dir);
    await withPlugins([original, harden(original, 64)], async ([a, b]) => {
      for (let index = 0; index < 200; index++) {
        const text = JSON.stringify(input());
        const expected = await call(a!, "run", text);
        assert.deepEqual(
          await call(b!, "run", text),
          expected,
          `${dir} ${text}`,
        );
      }
    });
  }
});
