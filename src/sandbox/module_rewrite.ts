import { AosError } from "../errors/mod.ts";
import {
  concatBytes,
  encodeName,
  encodeU32,
  moduleInvalid,
  WasmReader,
} from "./_wasm_bytes.ts";
import { MEMORY_GROW } from "./_wasm_instructions.ts";
import {
  addStateReset,
  type GrowHooks,
  INSTANTIATION_EXPORTS,
} from "./_wasm_reset.ts";
import {
  appendToVector,
  encodeBody,
  rebuildModule,
  rewriteCode,
  TypeTable,
} from "./_wasm_sections.ts";
import {
  inspectModule,
  type ModuleInfo,
  parseModule,
} from "./module_inspector.ts";
import {
  checkModule,
  checkModuleSize,
  type ModulePolicy,
} from "./module_policy.ts";

/**
 * The export hardening adds: `() -> i32`. Called after a failed call, it
 * traps when a `memory.grow` failed (at the memory cap) during that call,
 * and returns normally otherwise. The flag it reads is cleared when each
 * call begins (and by the probe itself), so it only describes the latest
 * call. The probe does not reset the instance's state.
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
 * the engine and no state passes from one call to the next: the size check,
 * inspection, policy check, memory cap, `memory.grow` instrumentation and
 * state reset (`_wasm_reset.ts`), in that order. Throws the AosError of the
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
  if (INSTANTIATION_EXPORTS.has(policy.entrypoint)) {
    throw new AosError(
      "MODULE_INVALID",
      `the entrypoint "${policy.entrypoint}" also runs when the module is ` +
        "loaded, so AOS could not reset the skill's state before its calls",
      { details: { entrypoint: policy.entrypoint } },
    );
  }
  const capped = capMemory(bytes, original, policy.memoryMaxPages);
  const cappedInfo = parseModule(capped);
  const instrumented = instrumentMemoryGrow(capped, cappedInfo);
  const reset = addStateReset(
    instrumented,
    parseModule(instrumented),
    growHooks(cappedInfo),
  );
  try {
    return { bytes: reset, info: inspectModule(reset) };
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
  const { growFunction, probeFunction, oomGlobal } = growHooks(info);
  const types = new TypeTable(info.types);
  const growType = growFunction === undefined
    ? undefined
    : types.indexOf([I32], [I32]);
  const probeType = types.indexOf([], [I32]);
  const flag = encodeU32(oomGlobal);

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
    [
      10,
      rewriteCode(bytes, section(10), {
        instruction: (code, start, end) =>
          code === MEMORY_GROW
            ? growCall(bytes, start, end, growFunction)
            : undefined,
        added: bodies,
      }),
    ],
  ]);
  if (types.added.length > 0) {
    contents.set(1, appendToVector(bytes, section(1), types.added));
  }
  return rebuildModule(bytes, info.sections, contents);
}

/**
 * Where `instrumentMemoryGrow` puts what it appends to a module described by
 * `info`: the grow function (with memory) then the probe after the last
 * function, the flag after the last global.
 */
function growHooks(info: ModuleInfo): GrowHooks {
  const hasMemory = info.memories.length + info.importedMemories.length > 0;
  const firstNew = info.importedFunctionCount + info.functionCount;
  return {
    growFunction: hasMemory ? firstNew : undefined,
    probeFunction: firstNew + (hasMemory ? 1 : 0),
    oomGlobal: info.importedGlobalCount + info.globalCount,
  };
}

/** `call growFunction`, in place of the `memory.grow` at [start, end). */
function growCall(
  bytes: Uint8Array,
  start: number,
  end: number,
  growFunction: number | undefined,
): number[] {
  if (growFunction === undefined) {
    throw moduleInvalid("memory.grow in a module without memory", start);
  }
  if (new WasmReader(bytes, start + 1, end).u32() !== 0) {
    throw moduleInvalid("memory.grow of a memory other than 0", start);
  }
  return [CALL, ...encodeU32(growFunction)];
}

// (func (param i32) (result i32) (local i32)
//   (local.tee 1 (memory.grow (local.get 0)))
//   (if (i32.eq (i32.const -1)) (then (global.set $oom (i32.const 1))))
//   (local.get 1))
function growBody(flag: number[]): Uint8Array {
  // deno-fmt-ignore
  return encodeBody([[1, I32]], [
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
  return encodeBody([], [
    0x23, ...flag, 0x04, 0x40,
    0x41, 0x00, 0x24, ...flag, 0x00, 0x0b,
    0x41, 0x00, 0x0b,
  ]);
}
