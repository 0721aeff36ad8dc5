import { AosError } from "../errors/mod.ts";
import { moduleInvalid, WasmReader } from "./_wasm_bytes.ts";
import { newParseState, readSection } from "./_wasm_section_decoders.ts";

/** What an import or export refers to. */
export type ExternalKind = "function" | "table" | "memory" | "global" | "tag";

/** One import of a module. */
export interface ModuleImport {
  module: string;
  name: string;
  kind: ExternalKind;
}

/** One export of a module; `index` is in the index space of its kind. */
export interface ModuleExport {
  name: string;
  kind: ExternalKind;
  index: number;
}

/** The limits of a linear memory, in 64 KiB pages. */
export interface MemoryLimits {
  minPages: number;
  maxPages: number | undefined;
  shared: boolean;
  memory64: boolean;
}

/** A function signature as value type bytes (0x7f = i32, …). */
export interface FunctionType {
  params: readonly number[];
  results: readonly number[];
}

/** Where a section lies: its id byte at `start`, its content from `contentStart` to `end`. */
export interface SectionRange {
  id: number;
  start: number;
  contentStart: number;
  end: number;
  /** The name of a custom section (id 0). */
  name?: string;
}

/** What `inspectModule` learned about a module. */
export interface ModuleInfo {
  byteLength: number;
  types: readonly FunctionType[];
  imports: readonly ModuleImport[];
  exports: readonly ModuleExport[];
  hasStart: boolean;
  startFunctionIndex: number | undefined;
  /** Memories the module defines (imported ones are in `importedMemories`). */
  memories: readonly MemoryLimits[];
  importedMemories: readonly MemoryLimits[];
  tableCount: number;
  importedFunctionCount: number;
  /** Functions the module defines. */
  functionCount: number;
  importedGlobalCount: number;
  /** Globals the module defines. */
  globalCount: number;
  /** Bytes of the code section's content. */
  codeSizeBytes: number;
  sections: readonly SectionRange[];
}

/** Section ids in the order the binary format requires (13: tags). */
export const SECTION_ORDER: readonly number[] = [
  1,
  2,
  3,
  4,
  5,
  13,
  6,
  7,
  8,
  9,
  12,
  10,
  11,
];

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const VERSION = [0x01, 0x00, 0x00, 0x00];
const HEADER_BYTES = 8;

/**
 * Parses a module's binary without running anything: header, sections (in
 * order, each at most once), imports, exports, start, memories, counts and
 * section ranges, with every length and integer bounds-checked. Then V8
 * compiles it, so anything V8 refuses is MODULE_INVALID too, and its view of
 * the imports and exports must agree with ours.
 *
 * @example
 * ```ts
 * const info = inspectModule(await Deno.readFile("skill.wasm"));
 * info.imports; // [{ module: "extism:host/env", name: "alloc", kind: "function" }, …]
 * ```
 */
export function inspectModule(bytes: Uint8Array): ModuleInfo {
  const info = parseModule(bytes);
  let compiled: WebAssembly.Module;
  try {
    compiled = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (error) {
    throw new AosError(
      "MODULE_INVALID",
      `the module does not validate: ${String((error as Error).message)}`,
      { cause: error },
    );
  }
  crossCheck(info, compiled);
  return info;
}

function crossCheck(info: ModuleInfo, compiled: WebAssembly.Module): void {
  const ours = JSON.stringify([
    info.imports.map(({ module, name, kind }) => [module, name, kind]),
    info.exports.map(({ name, kind }) => [name, kind]),
  ]);
  const v8 = JSON.stringify([
    WebAssembly.Module.imports(compiled).map(({ module, name, kind }) => [
      module,
      name,
      kind,
    ]),
    WebAssembly.Module.exports(compiled).map(({ name, kind }) => [name, kind]),
  ]);
  if (ours !== v8) {
    throw new AosError(
      "MODULE_INVALID",
      "the module's imports or exports read differently by AOS and by V8",
      { details: { aos: ours.slice(0, 2000), v8: v8.slice(0, 2000) } },
    );
  }
}

/**
 * The decoding half of `inspectModule`, without V8's validation; for code
 * that has already validated these bytes (the rewriter's intermediate steps).
 */
export function parseModule(bytes: Uint8Array): ModuleInfo {
  const reader = new WasmReader(bytes);
  readHeader(reader);
  const state = newParseState(bytes.length);
  let lastRank = -1;
  while (!reader.done) {
    const start = reader.offset;
    const id = reader.byte();
    const length = reader.u32();
    const contentStart = reader.offset;
    if (length > reader.remaining) {
      reader.fail(
        `section ${id} announces ${length} bytes, ${reader.remaining} left`,
        start,
      );
    }
    const content = reader.sub(length);
    const section: SectionRange = {
      id,
      start,
      contentStart,
      end: reader.offset,
    };
    if (id === 0) {
      section.name = content.name();
    } else {
      const rank = SECTION_ORDER.indexOf(id);
      if (id === 13) {
        reader.fail(
          "uses exception handling (a tag section), which AOS does not support",
          start,
        );
      }
      if (rank === -1) reader.fail(`unknown section id ${id}`, start);
      if (rank <= lastRank) {
        reader.fail(`section ${id} is duplicated or out of order`, start);
      }
      lastRank = rank;
      readSection(id, content, state);
      if (!content.done) {
        content.fail(`section ${id} has ${content.remaining} unread bytes`);
      }
    }
    state.sections.push(section);
  }
  if (state.functionCount !== state.bodyCount) {
    throw moduleInvalid(
      `${state.functionCount} functions declared, ${state.bodyCount} bodies`,
      bytes.length,
    );
  }
  return {
    byteLength: state.byteLength,
    types: state.types,
    imports: state.imports,
    exports: state.exports,
    hasStart: state.startFunctionIndex !== undefined,
    startFunctionIndex: state.startFunctionIndex,
    memories: state.memories,
    importedMemories: state.importedMemories,
    tableCount: state.tableCount,
    importedFunctionCount: state.importedFunctionCount,
    functionCount: state.functionCount,
    importedGlobalCount: state.importedGlobalCount,
    globalCount: state.globalCount,
    codeSizeBytes: state.codeSizeBytes,
    sections: state.sections,
  };
}

function readHeader(reader: WasmReader): void {
  if (reader.remaining < HEADER_BYTES) {
    reader.fail(`${reader.remaining} bytes is too short for a module header`);
  }
  if (MAGIC.some((byte, index) => reader.bytes[index] !== byte)) {
    reader.fail("not a WebAssembly module (bad magic number)", 0);
  }
  if (VERSION.some((byte, index) => reader.bytes[4 + index] !== byte)) {
    reader.fail("unsupported WebAssembly version (only 1 is)", 4);
  }
  reader.skip(HEADER_BYTES);
}
