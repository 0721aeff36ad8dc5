// Makes every call into a module start from the state the instance had when
// its first call began, right after `_initialize`: pooled instances serve
// steps of different runs and tenants, and nothing may pass from one call to
// the next (a leak between tenants, and output that depends on which
// instance served the call, which replay cannot reproduce).
//
// On a module already capped and grow-instrumented, the rewrite adds:
// - `$aos_snap`, a second memory holding a copy of memory 0, and a shadow
//   global per mutable global, both filled when the first call begins;
// - `$aos_enter`, called by a wrapper around every exported function before
//   the function itself: on the first call it takes the snapshot, on every
//   later one it copies memory 0 and the globals back and zeroes the pages
//   grown since; then it clears the out-of-memory flag, so that flag (and
//   `__aos_probe`) only ever describes the current call;
// - a virtual size for memory 0, which cannot shrink after a restore:
//   `memory.size` reads `$aos_pages`, and the grow function first moves
//   `$aos_pages` over pages that are already there (and zeroed) before it
//   grows for real. Allocators that find the heap's end with `memory.size`
//   (AssemblyScript's TLSF) thus start every call where the snapshot left
//   them, instead of creeping towards the cap.
//
// What a guest can tell: loads, stores and bulk operations are checked
// against the real size, so an access past the virtual end that a fresh
// instance would trap on does not trap here. Only a buggy guest does that,
// and whatever it writes there is zeroed before the next call.
//
// Refused, because their effects outlive a call and are not restored: table
// writes, `elem.drop`, `data.drop` (a dropped segment stays dropped, which
// changes what `memory.init` does next time), mutable imported globals and
// imported or multiple memories.
//
// One file past the usual length: the generated functions and the rewrite
// that assigns their indices change together.
import { AosError } from "../errors/mod.ts";
import { encodeU32, moduleInvalid, WasmReader } from "./_wasm_bytes.ts";
import { emit, MEMORY_SIZE, OP, prefixedCode } from "./_wasm_instructions.ts";
import {
  type ExportEntry,
  type ModuleDetails,
  readModuleDetails,
} from "./_wasm_section_decoders.ts";
import {
  appendToVector,
  encodeBody,
  type InstructionRewrite,
  rebuildModule,
  repointExports,
  rewriteCode,
  TypeTable,
} from "./_wasm_sections.ts";
import type { ModuleInfo } from "./module_inspector.ts";

/**
 * Exports Extism calls while instantiating. They are not wrapped, so the
 * snapshot includes their work; and they cannot be entrypoints, or their
 * calls would not be reset.
 */
export const INSTANTIATION_EXPORTS: ReadonlySet<string> = new Set([
  "_initialize",
  "_start",
  "hs_init",
]);

/** What the grow instrumentation appended, which the reset builds on. */
export interface GrowHooks {
  /** The function every `memory.grow` now calls; absent without memory. */
  growFunction: number | undefined;
  /** `__aos_probe`: it reads the flag, so it is not wrapped. */
  probeFunction: number;
  /** The global a failed grow sets. */
  oomGlobal: number;
}

const I32 = 0x7f;
const I64 = 0x7e;
const MUTABLE = 0x01;
const PAGES_MAX = 65_536;

const TABLE_WRITE = "a table written in one call would carry state into " +
  "the next";
const SEGMENT_DROP = "a dropped segment stays dropped for every later call";
const REFUSED_INSTRUCTIONS: ReadonlyMap<number, readonly [string, string]> =
  new Map([
    [0x26, ["table.set", TABLE_WRITE]],
    [prefixedCode(0xfc, 9), ["data.drop", SEGMENT_DROP]],
    [prefixedCode(0xfc, 12), ["table.init", TABLE_WRITE]],
    [prefixedCode(0xfc, 13), ["elem.drop", SEGMENT_DROP]],
    [prefixedCode(0xfc, 14), ["table.copy", TABLE_WRITE]],
    [prefixedCode(0xfc, 15), ["table.grow", TABLE_WRITE]],
    [prefixedCode(0xfc, 17), ["table.fill", TABLE_WRITE]],
  ]);

/** Global indices of the reset's state. */
interface Layout {
  oom: number;
  /** `$aos_pages`, memory 0's virtual size; absent without memory. */
  pages: number | undefined;
  /** `$aos_snapshotted`: 1 once the first call took the snapshot. */
  snapshotted: number;
  /** `[global, its shadow]` for every mutable global but the flag. */
  shadows: (readonly [number, number])[];
}

/**
 * Rewrites a grow-instrumented module so that every exported function but
 * `__aos_probe` and INSTANTIATION_EXPORTS first restores the state of the
 * instance's first call (see the top of this file). No index changes:
 * functions, globals and a memory are appended, and exports are pointed at
 * appended wrappers. Refuses, as MODULE_INVALID, modules whose state could
 * outlive a call in a way the reset cannot undo.
 */
export function addStateReset(
  bytes: Uint8Array,
  info: ModuleInfo,
  hooks: GrowHooks,
): Uint8Array<ArrayBuffer> {
  const details = readModuleDetails(bytes, info.sections);
  checkResettable(info, details);
  const { layout, globals } = planGlobals(info, details, hooks);
  const types = new TypeTable(info.types);
  const enter = info.importedFunctionCount + info.functionCount;
  const declarations = [encodeU32(types.indexOf([], []))];
  const bodies = [enterBody(layout)];
  // One wrapper per function, even when exported under several names.
  const wrappers = new Map<number, number>();
  const wrapped = (entry: ExportEntry) =>
    entry.kind === 0 && entry.index !== hooks.probeFunction &&
    !INSTANTIATION_EXPORTS.has(entry.name);
  for (const entry of details.exports) {
    if (!wrapped(entry) || wrappers.has(entry.index)) continue;
    const type = details.functionTypes[entry.index]!;
    wrappers.set(entry.index, enter + bodies.length);
    declarations.push(encodeU32(type));
    bodies.push(wrapperBody(enter, entry.index, info.types[type]!.params));
  }
  const replaced = new Map<number, Uint8Array>();
  if (hooks.growFunction !== undefined && layout.pages !== undefined) {
    const body = hooks.growFunction - info.importedFunctionCount;
    replaced.set(body, growBody(layout.pages, layout.oom));
  }
  const section = (id: number) =>
    info.sections.find((entry) => entry.id === id);
  const contents = new Map<number, Uint8Array>([
    [3, appendToVector(bytes, section(3), declarations)],
    [6, appendToVector(bytes, section(6), globals)],
    [
      10,
      rewriteCode(bytes, section(10), {
        instruction: resetInstruction(bytes, info, layout.pages),
        replaced,
        added: bodies,
      }),
    ],
  ]);
  const memory = info.memories[0];
  if (memory !== undefined) {
    // $aos_snap: empty until the first call, never larger than memory 0.
    const limits = [0x01, 0x00, ...encodeU32(memory.maxPages ?? PAGES_MAX)];
    contents.set(5, appendToVector(bytes, section(5), [limits]));
  }
  if (section(7) !== undefined) {
    const indexOf = (entry: ExportEntry) =>
      wrapped(entry) ? wrappers.get(entry.index)! : entry.index;
    contents.set(7, repointExports(bytes, details.exports, indexOf));
  }
  if (types.added.length > 0) {
    contents.set(1, appendToVector(bytes, section(1), types.added));
  }
  return rebuildModule(bytes, info.sections, contents);
}

function checkResettable(info: ModuleInfo, details: ModuleDetails): void {
  if (info.importedMemories.length > 0 || info.memories.length > 1) {
    throw new AosError(
      "MODULE_INVALID",
      "AOS resets a skill's memory before each call, and can do so only " +
        "for modules with at most one memory, defined by the module itself",
      {
        details: {
          memories: info.memories.length,
          imported_memories: info.importedMemories.length,
        },
      },
    );
  }
  const global = details.mutableImportedGlobals[0];
  if (global !== undefined) {
    throw new AosError(
      "MODULE_INVALID",
      `the module imports mutable global ${global}; AOS resets a skill's ` +
        "state before each call and cannot reset an imported global",
      { details: { import: global } },
    );
  }
}

/**
 * The globals the reset appends after the module's (the flag included):
 * `$aos_pages` (with memory), `$aos_snapshotted`, then one shadow per
 * mutable global but the flag, which is cleared instead of restored.
 */
function planGlobals(
  info: ModuleInfo,
  details: ModuleDetails,
  hooks: GrowHooks,
): { layout: Layout; globals: number[][] } {
  const memory = info.memories[0];
  const first = info.importedGlobalCount + info.globalCount;
  const mutable = details.globals
    .map((global, index) => ({
      ...global,
      index: info.importedGlobalCount + index,
    }))
    .filter((global) => global.mutable && global.index !== hooks.oomGlobal);
  const shadowFirst = first + (memory === undefined ? 1 : 2);
  const layout: Layout = {
    oom: hooks.oomGlobal,
    pages: memory === undefined ? undefined : first,
    snapshotted: shadowFirst - 1,
    shadows: mutable.map((
      global,
      order,
    ) => [global.index, shadowFirst + order]),
  };
  const global = (type: number, init: number[]) => [
    type,
    MUTABLE,
    ...init,
    OP.end,
  ];
  const globals = [
    ...(memory === undefined
      ? []
      : [global(I32, emit.i32Const(memory.minPages))]),
    global(I32, emit.i32Const(0)),
    ...mutable.map(({ type }) => global(type, emit.zero(type))),
  ];
  return { layout, globals };
}

/** Replaces `memory.size` and refuses instructions with lasting effects. */
function resetInstruction(
  bytes: Uint8Array,
  info: ModuleInfo,
  pages: number | undefined,
): InstructionRewrite {
  return (code, start, end, body) => {
    const refused = REFUSED_INSTRUCTIONS.get(code);
    if (refused !== undefined) {
      const [name, reason] = refused;
      const index = info.importedFunctionCount + body;
      throw moduleInvalid(
        `function ${index} uses ${name}: ${reason}, and AOS resets only a ` +
          "skill's memory and globals before each call",
        start,
        { instruction: name, function_index: index },
      );
    }
    if (code !== MEMORY_SIZE) return undefined;
    if (pages === undefined) {
      throw moduleInvalid("memory.size in a module without memory", start);
    }
    if (new WasmReader(bytes, start + 1, end).u32() !== 0) {
      throw moduleInvalid("memory.size of a memory other than 0", start);
    }
    return emit.globalGet(pages);
  };
}

// --- Generated code ---------------------------------------------------------

const { localGet, localSet, globalGet, globalSet, i32Const } = emit;

/**
 * `operation(offset, length)` over the bytes of pages [from, to), in two
 * halves: 65,536 pages are 2^32 bytes, one more than an i32 can hold.
 */
function overPages(
  from: number[],
  to: number[],
  middle: number,
  operation: (offset: number[], length: number[]) => number[],
): number[] {
  const bytesOf = (pages: number[]) => [...pages, ...i32Const(16), OP.i32Shl];
  const mid = localGet(middle);
  // deno-fmt-ignore
  return [
    ...from, ...to, OP.i32Add, ...i32Const(1), OP.i32ShrU, ...localSet(middle),
    ...operation(bytesOf(from), bytesOf([...mid, ...from, OP.i32Sub])),
    ...operation(bytesOf(mid), bytesOf([...to, ...mid, OP.i32Sub])),
  ];
}

// (func $aos_enter (local $real i32) (local $snap i32) (local $mid i32)
//   (global.set $oom (i32.const 0))
//   (local.set $real (memory.size 0))
//   (if (global.get $snapshotted)
//     (then                                      ;; restore
//       (local.set $snap (memory.size $aos_snap))
//       (memory.copy 0 $aos_snap …pages [0, $snap)…)
//       (memory.fill 0 …pages [$snap, $real)… 0)
//       (global.set $pages (local.get $snap))
//       (global.set $g (global.get $g_shadow)) …)
//     (else                                      ;; snapshot
//       (if (i32.eq (i32.const -1)
//             (memory.grow $aos_snap (i32.sub $real (memory.size $aos_snap))))
//         (then (global.set $oom (i32.const 1)) unreachable))
//       (memory.copy $aos_snap 0 …pages [0, $real)…)
//       (global.set $pages (local.get $real))
//       (global.set $g_shadow (global.get $g)) …
//       (global.set $snapshotted (i32.const 1)))))
function enterBody(layout: Layout): Uint8Array<ArrayBuffer> {
  const [real, snap, mid] = [0, 1, 2];
  const restore: number[] = [];
  const snapshot: number[] = [];
  if (layout.pages !== undefined) {
    const copy =
      (to: number, from: number) => (offset: number[], length: number[]) => [
        ...offset,
        ...offset,
        ...length,
        ...emit.memoryCopy(to, from),
      ];
    const zero = (offset: number[], length: number[]) => [
      ...offset,
      ...i32Const(0),
      ...length,
      ...emit.memoryFill(0),
    ];
    // deno-fmt-ignore
    restore.push(
      ...emit.memorySize(1), ...localSet(snap),
      ...overPages(i32Const(0), localGet(snap), mid, copy(0, 1)),
      ...overPages(localGet(snap), localGet(real), mid, zero),
      ...localGet(snap), ...globalSet(layout.pages),
    );
    // deno-fmt-ignore
    snapshot.push(
      ...localGet(real), ...emit.memorySize(1), OP.i32Sub,
      ...emit.memoryGrow(1), ...i32Const(-1), OP.i32Eq,
      ...emit.if(), ...i32Const(1), ...globalSet(layout.oom),
      OP.unreachable, OP.end,
      ...overPages(i32Const(0), localGet(real), mid, copy(1, 0)),
      ...localGet(real), ...globalSet(layout.pages),
    );
  }
  for (const [global, shadow] of layout.shadows) {
    restore.push(...globalGet(shadow), ...globalSet(global));
    snapshot.push(...globalGet(global), ...globalSet(shadow));
  }
  snapshot.push(...i32Const(1), ...globalSet(layout.snapshotted));
  const withMemory = layout.pages !== undefined;
  // deno-fmt-ignore
  return encodeBody(withMemory ? [[3, I32]] : [], [
    ...i32Const(0), ...globalSet(layout.oom),
    ...(withMemory ? [...emit.memorySize(0), ...localSet(real)] : []),
    ...globalGet(layout.snapshotted),
    ...emit.if(), ...restore, OP.else, ...snapshot, OP.end,
    OP.end,
  ]);
}

// (func $aos_grow (param $delta i32) (result i32)
//   (local $old i32) (local $real i32) (local $new i64)
//   (local.set $old (global.get $pages))
//   (local.set $new (i64.add (i64.extend_i32_u $old) (i64.extend_i32_u $delta)))
//   (local.set $real (memory.size 0))
//   (if (i64.le_u $new (i64.extend_i32_u $real))   ;; there, and zeroed
//     (then (global.set $pages (i32.wrap_i64 $new)) (return $old)))
//   (if (i64.le_u $new (i64.const 65536))
//     (then (if (i32.ne (i32.const -1)
//                 (memory.grow 0 (i32.sub (i32.wrap_i64 $new) $real)))
//       (then (global.set $pages (i32.wrap_i64 $new)) (return $old)))))
//   (global.set $oom (i32.const 1))
//   (i32.const -1))
function growBody(pages: number, oom: number): Uint8Array<ArrayBuffer> {
  const [delta, old, real, wanted] = [0, 1, 2, 3];
  // deno-fmt-ignore
  const accept = [
    ...localGet(wanted), OP.i32WrapI64, ...globalSet(pages),
    ...localGet(old), OP.return,
  ];
  // deno-fmt-ignore
  return encodeBody([[2, I32], [1, I64]], [
    ...globalGet(pages), ...localSet(old),
    ...localGet(old), OP.i64ExtendI32U,
    ...localGet(delta), OP.i64ExtendI32U, OP.i64Add, ...localSet(wanted),
    ...emit.memorySize(0), ...localSet(real),
    ...localGet(wanted), ...localGet(real), OP.i64ExtendI32U, OP.i64LeU,
    ...emit.if(), ...accept, OP.end,
    ...localGet(wanted), ...emit.i64Const(PAGES_MAX), OP.i64LeU,
    ...emit.if(),
      ...localGet(wanted), OP.i32WrapI64, ...localGet(real), OP.i32Sub,
      ...emit.memoryGrow(0), ...i32Const(-1), OP.i32Ne,
      ...emit.if(), ...accept, OP.end,
    OP.end,
    ...i32Const(1), ...globalSet(oom),
    ...i32Const(-1),
    OP.end,
  ]);
}

// (func (param …) (result …) (call $aos_enter) (call $original (local.get …)…))
function wrapperBody(
  enter: number,
  original: number,
  params: readonly number[],
): Uint8Array<ArrayBuffer> {
  return encodeBody([], [
    ...emit.call(enter),
    ...params.flatMap((_, index) => localGet(index)),
    ...emit.call(original),
    OP.end,
  ]);
}
