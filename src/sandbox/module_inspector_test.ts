import assert from "node:assert/strict";
import { join } from "node:path";
import { AosError } from "../errors/mod.ts";
import { PROJECT_ROOT } from "../skills/build.ts";
import {
  compileWat,
  hostileModule,
  MALFORMED_MODULES,
  MINIMAL_MODULE,
} from "../../tests/support/hostile_modules.ts";
import { inspectModule, parseModule } from "./module_inspector.ts";

const TRANSFORM = join(
  PROJECT_ROOT,
  "skills-wasm",
  "json_transform",
  "json_transform.wasm",
);

function invalidAt(bytes: Uint8Array, offset: number | undefined): void {
  assert.throws(() => inspectModule(bytes), (error) => {
    assert.ok(error instanceof AosError, String(error));
    assert.equal(error.code, "MODULE_INVALID");
    if (offset !== undefined) {
      assert.equal(error.details.offset, offset, error.message);
      assert.match(error.message, new RegExp(`at byte ${offset}\\)`));
    }
    return true;
  });
}

Deno.test("inspectModule() reports the imports, exports, memory and sections of a built skill", async () => {
  const bytes = await Deno.readFile(TRANSFORM);
  const info = inspectModule(bytes);
  assert.equal(info.byteLength, bytes.length);
  assert.ok(info.imports.length > 0);
  for (const entry of info.imports) {
    assert.equal(entry.module, "extism:host/env");
    assert.equal(entry.kind, "function");
  }
  assert.deepEqual(
    info.exports.map(({ name, kind }) => [name, kind]),
    [["run", "function"], ["memory", "memory"], ["_initialize", "function"]],
  );
  assert.equal(info.hasStart, false);
  assert.deepEqual(info.memories, [
    { minPages: 1, maxPages: undefined, shared: false, memory64: false },
  ]);
  assert.deepEqual(info.importedMemories, []);
  assert.equal(info.importedFunctionCount, info.imports.length);
  assert.ok(info.functionCount > 10);
  // Sections tile the file after the header, in order.
  let end = 8;
  for (const section of info.sections) {
    assert.equal(section.start, end);
    end = section.end;
  }
  assert.equal(end, bytes.length);
  const code = info.sections.find((section) => section.id === 10)!;
  assert.equal(info.codeSizeBytes, code.end - code.contentStart);
});

Deno.test("inspectModule() refuses malformed binaries as MODULE_INVALID at the offending byte", () => {
  for (const [name, { bytes, offset }] of Object.entries(MALFORMED_MODULES)) {
    try {
      invalidAt(bytes, offset);
    } catch (error) {
      throw new Error(`malformed module ${name}: ${error}`);
    }
  }
  assert.equal(inspectModule(MINIMAL_MODULE).exports[0]!.name, "run");
});

Deno.test("inspectModule() reports a start function, custom sections and imported kinds", async () => {
  const start = inspectModule(await hostileModule("start_loop"));
  assert.equal(start.hasStart, true);
  assert.equal(start.startFunctionIndex, 1);

  const bytes = await compileWat(`(module
    (import "env" "mem" (memory 2 10))
    (import "env" "table" (table 1 funcref))
    (import "env" "g" (global i32))
    (import "env" "f" (func))
    (global i32 (global.get 0))
    (func $own)
    (export "own" (func $own)))`);
  const named = new Uint8Array([...bytes, 0x00, 0x04, 0x03, 0x61, 0x6f, 0x73]);
  const info = inspectModule(named);
  assert.deepEqual(
    info.imports.map((entry) => entry.kind),
    ["memory", "table", "global", "function"],
  );
  assert.deepEqual(info.importedMemories, [
    { minPages: 2, maxPages: 10, shared: false, memory64: false },
  ]);
  assert.deepEqual(info.memories, []);
  assert.equal(info.importedFunctionCount, 1);
  assert.equal(info.importedGlobalCount, 1);
  assert.equal(info.globalCount, 1);
  assert.deepEqual(info.exports, [{ name: "own", kind: "function", index: 1 }]);
  assert.equal(info.sections.at(-1)!.name, "aos");
});

Deno.test("inspectModule() reads shared and 64-bit memory limits", async () => {
  const shared = await compileWat(`(module (memory 1 4 shared))`, {
    features: { threads: true },
  });
  assert.deepEqual(inspectModule(shared).memories, [
    { minPages: 1, maxPages: 4, shared: true, memory64: false },
  ]);
  const wide = await compileWat(`(module (memory i64 3))`, {
    features: { memory64: true },
  });
  assert.deepEqual(inspectModule(wide).memories, [
    { minPages: 3, maxPages: undefined, shared: false, memory64: true },
  ]);
});

Deno.test("inspectModule() refuses types and sections it cannot inspect", async () => {
  const tags = await compileWat(`(module (tag $oops) (func (export "run")))`, {
    features: { exceptions: true },
  });
  invalidAt(tags, undefined);
  assert.throws(
    () => parseModule(tags),
    /exception handling \(a tag section\)/,
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

Deno.test("inspectModule() answers every truncation and byte flip with a module or MODULE_INVALID", async () => {
  const original = await hostileModule("bad_host_pointers");
  const seed = 20_260_101;
  const next = random(seed);
  const cases: Uint8Array[] = [];
  for (let length = 0; length < original.length; length++) {
    cases.push(original.subarray(0, length));
  }
  for (let round = 0; round < 500; round++) {
    const copy = original.slice();
    const flips = 1 + Math.floor(next() * 3);
    for (let flip = 0; flip < flips; flip++) {
      copy[Math.floor(next() * copy.length)] = Math.floor(next() * 256);
    }
    cases.push(copy);
  }
  for (const [index, bytes] of cases.entries()) {
    try {
      inspectModule(bytes);
    } catch (error) {
      assert.ok(
        error instanceof AosError && error.code === "MODULE_INVALID",
        `seed ${seed}, case ${index}: ${error}`,
      );
    }
  }
});
