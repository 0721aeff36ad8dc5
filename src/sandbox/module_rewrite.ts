import { AosError } from "../errors/mod.ts";
import {
  concatBytes,
  encodeName,
  encodeU32,
  WasmReader,
} from "./_wasm_bytes.ts";
import {
  MEMORY_GROW,
  readValueType,
  walkExpression,
} from "./_wasm_instructions.ts";
import { appendToVector, rebuildModule } from "./_wasm_sections.ts";
import {
  type FunctionType,
  inspectModule,
  type ModuleInfo,
  parseModule,
  type SectionRange,
} from "./module_inspector.ts";
import {
  checkModule,
  checkModuleSize,
  type ModulePolicy,
} from "./module_policy.ts";

/**
 * The export hardening adds: `() -> i32`. Called after a failed call, it
 * traps when a `memory.grow` failed (at the memory cap) since it was last
 * called, and returns normally otherwise. Each call clears the flag, so a
 * host that reuses an instance should also call it after successful calls:
 * a guest that survived a failed grow would otherwise make a later,
 * unrelated trap look like the cap.
 */
export const PROBE_EXPORT = "__aos_probe";

/** Exports starting with this are AOS's; a module may not define any. */
export const RESERVED_EXPORT_PREFIX = "__aos_";

/** Most pages a 32-bit memory can have (4 GiB). */
export const MEMORY_PAGES_MAX = 65_536;

const I32 = 0x7f;
const CALL = 0x10;

/** A module made safe to load, and what it now is. */
export interface HardenedModule {
  bytes: Uint8Array<ArrayBuffer>;
  /** The inspection of the hardened bytes (memory capped, probe exported). */
  info: ModuleInfo;
}

/**
 * Checks a module against `policy` and rewrites it so its limits hold inside
 * the engine: the size check, inspection, policy check, memory cap and
 * `memory.grow` instrumentation, in that order. Throws the AosError of the
 * first check that fails.
 *
 * @example
 * ```ts
 * const { bytes } = hardenModule(wasm, {
 *   entrypoint: "run",
 *   permissions: [],
 *   memoryMaxPages: 16 * 16,
 *   moduleMaxBytes: 8 << 20,
 * });
 * // Load `bytes` instead of `wasm`; after a failed call, call "__aos_probe":
 * // if it traps, the memory cap caused the failure.
 * ```
 */
export function hardenModule(
  bytes: Uint8Array,
  policy: ModulePolicy,
): HardenedModule {
  checkModuleSize(bytes.length, policy);
  const original = inspectModule(bytes);
  checkModule(original, policy);
  const capped = capMemory(bytes, original, policy.memoryMaxPages);
  const instrumented = instrumentMemoryGrow(capped, parseModule(capped));
  try {
    return { bytes: instrumented, info: inspectModule(instrumented) };
  } catch (error) {
    throw new AosError(
      "INTERNAL",
      "hardening produced a module that does not validate",
      { cause: error },
    );
  }
}

/**
 * Rewrites the memory section so each defined memory's maximum is at most
 * `maxPages` (adding a maximum where there was none). Extism's own memory
 * option does not bound a module's linear memory; this declaration does.
 * Everything but the memory section stays byte-identical.
 */
export function capMemory(
  bytes: Uint8Array,
  info: ModuleInfo,
  maxPages: number,
): Uint8Array {
  if (
    !Number.isInteger(maxPages) || maxPages < 0 || maxPages > MEMORY_PAGES_MAX
  ) {
    throw new RangeError(
      `maxPages must be an integer in 0..${MEMORY_PAGES_MAX}`,
    );
  }
  const section = info.sections.find((entry) => entry.id === 5);
  if (section === undefined) return bytes;
  const entries = info.memories.map((memory) => {
    if (memory.shared || memory.memory64) {
      throw new AosError(
        "MODULE_INVALID",
        "only unshared 32-bit memories can be capped",
        { details: { shared: memory.shared, memory64: memory.memory64 } },
      );
    }
    if (memory.minPages > maxPages) {
      throw new AosError(
        "MODULE_MEMORY_TOO_LARGE",
        `the module's memory starts at ${memory.minPages} pages; the cap is ${maxPages}`,
        { details: { min_pages: memory.minPages, limit_pages: maxPages } },
      );
    }
    const max = Math.min(memory.maxPages ?? maxPages, maxPages);
    return [0x01, ...encodeU32(memory.minPages), ...encodeU32(max)];
  });
  const content = concatBytes([encodeU32(entries.length), ...entries]);
  return rebuildModule(bytes, info.sections, new Map([[5, content]]));
}

/**
 * Replaces every `memory.grow` with a call to an appended function that
 * grows and, on failure, sets an appended global; appends the exported
 * `__aos_probe` that reports (by trapping) and clears that flag. New
 * functions, types and the global go at the end of their index spaces, so no
 * existing index changes. Refuses modules that export `__aos_*` names or use
 * instructions the walker does not know.
 */
export function instrumentMemoryGrow(
  bytes: Uint8Array,
  info: ModuleInfo,
): Uint8Array<ArrayBuffer> {
  const reserved = info.exports.find((entry) =>
    entry.name.startsWith(RESERVED_EXPORT_PREFIX)
  );
  if (reserved !== undefined) {
    throw new AosError(
      "MODULE_INVALID",
      `the module exports "${reserved.name}"; names starting with ` +
        `"${RESERVED_EXPORT_PREFIX}" are reserved for AOS`,
      { details: { export: reserved.name } },
    );
  }
  const section = (id: number) =>
    info.sections.find((entry) => entry.id === id);
  const hasMemory = info.memories.length + info.importedMemories.length > 0;
  const types = new TypeTable(info.types);
  const growType = hasMemory ? types.indexOf([I32], [I32]) : undefined;
  const probeType = types.indexOf([], [I32]);
  const firstNew = info.importedFunctionCount + info.functionCount;
  const growFunction = hasMemory ? firstNew : undefined;
  const probeFunction = firstNew + (hasMemory ? 1 : 0);
  const flag = encodeU32(info.importedGlobalCount + info.globalCount);

  const bodies = [probeBody(flag)];
  const declarations = [encodeU32(probeType)];
  if (growType !== undefined) {
    bodies.unshift(growBody(flag));
    declarations.unshift(encodeU32(growType));
  }
  const contents = new Map<number, Uint8Array>([
    [3, appendToVector(bytes, section(3), declarations)],
    [6, appendToVector(bytes, section(6), [[I32, 0x01, 0x41, 0x00, 0x0b]])],
    [
      7,
      appendToVector(bytes, section(7), [[
        ...encodeName(PROBE_EXPORT),
        0x00,
        ...encodeU32(probeFunction),
      ]]),
    ],
    [10, rewriteCode(bytes, section(10), growFunction, bodies)],
  ]);
  if (types.added.length > 0) {
    contents.set(1, appendToVector(bytes, section(1), types.added));
  }
  return rebuildModule(bytes, info.sections, contents);
}

/** The module's function types, plus the ones instrumentation appends. */
class TypeTable {
  readonly #known: string[];
  readonly added: number[][] = [];

  constructor(types: readonly FunctionType[]) {
    this.#known = types.map((type) => JSON.stringify(type));
  }

  indexOf(params: number[], results: number[]): number {
    const key = JSON.stringify({ params, results });
    const found = this.#known.indexOf(key);
    if (found !== -1) return found;
    this.#known.push(key);
    this.added.push([
      0x60,
      ...encodeU32(params.length),
      ...params,
      ...encodeU32(results.length),
      ...results,
    ]);
    return this.#known.length - 1;
  }
}

// (func (param i32) (result i32) (local i32)
//   (local.tee 1 (memory.grow (local.get 0)))
//   (if (i32.eq (i32.const -1)) (then (global.set $oom (i32.const 1))))
//   (local.get 1))
function growBody(flag: number[]): Uint8Array {
  // deno-fmt-ignore
  return withSize([
    0x01, 0x01, I32,
    0x20, 0x00, MEMORY_GROW, 0x00, 0x22, 0x01,
    0x41, 0x7f, 0x46,
    0x04, 0x40, 0x41, 0x01, 0x24, ...flag, 0x0b,
    0x20, 0x01, 0x0b,
  ]);
}

// (func (result i32)
//   (if (global.get $oom) (then (global.set $oom (i32.const 0)) unreachable))
//   (i32.const 0))
function probeBody(flag: number[]): Uint8Array {
  // deno-fmt-ignore
  return withSize([
    0x00,
    0x23, ...flag, 0x04, 0x40,
    0x41, 0x00, 0x24, ...flag, 0x00, 0x0b,
    0x41, 0x00, 0x0b,
  ]);
}

function withSize(body: number[]): Uint8Array<ArrayBuffer> {
  return concatBytes([encodeU32(body.length), body]);
}

/**
 * The code section with each `memory.grow` replaced by `call growFunction`
 * and `added` bodies appended. Every body is walked, so an instruction the
 * walker does not know refuses the module; untouched bodies are copied.
 */
function rewriteCode(
  bytes: Uint8Array,
  section: SectionRange | undefined,
  growFunction: number | undefined,
  added: readonly Uint8Array[],
): Uint8Array<ArrayBuffer> {
  if (section === undefined) {
    return concatBytes([encodeU32(added.length), ...added]);
  }
  const reader = new WasmReader(bytes, section.contentStart, section.end);
  const count = reader.u32();
  const chunks: (Uint8Array | number[])[] = [
    encodeU32(count + added.length),
  ];
  for (let index = 0; index < count; index++) {
    const entryStart = reader.offset;
    const size = reader.u32();
    const bodyStart = reader.offset;
    const body: WasmReader = reader.sub(size);
    const locals = body.count(2);
    for (let group = 0; group < locals; group++) {
      body.u32();
      readValueType(body);
    }
    const grows: [number, number][] = [];
    walkExpression(body, (code, start, end) => {
      if (code === MEMORY_GROW) grows.push([start, end]);
    });
    if (!body.done) body.fail(`function body ${index} continues after its end`);
    if (grows.length === 0) {
      chunks.push(bytes.subarray(entryStart, body.end));
      continue;
    }
    if (growFunction === undefined) {
      body.fail("memory.grow in a module without memory", grows[0]![0]);
    }
    const call = [CALL, ...encodeU32(growFunction)];
    const pieces: (Uint8Array | number[])[] = [];
    let from = bodyStart;
    for (const [start, end] of grows) {
      if (new WasmReader(bytes, start + 1, end).u32() !== 0) {
        body.fail("memory.grow of a memory other than 0", start);
      }
      pieces.push(bytes.subarray(from, start), call);
      from = end;
    }
    pieces.push(bytes.subarray(from, body.end));
    const rewritten = concatBytes(pieces);
    chunks.push(concatBytes([encodeU32(rewritten.length), rewritten]));
  }
  return concatBytes([...chunks, ...added]);
}
