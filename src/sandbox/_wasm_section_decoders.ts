// Decoders of the sections the inspector reports on, filling a ParseState;
// split from module_inspector.ts, which owns the types and the entry points.
// Below them, `readModuleDetails` decodes what the rewriter needs beyond that.
import { WasmReader } from "./_wasm_bytes.ts";
import { readValueType, walkExpression } from "./_wasm_instructions.ts";
import type {
  ExternalKind,
  MemoryLimits,
  ModuleInfo,
} from "./module_inspector.ts";

const KINDS: readonly ExternalKind[] = [
  "function",
  "table",
  "memory",
  "global",
  "tag",
];

/** ModuleInfo under construction, plus what only parsing needs. */
export type ParseState =
  & {
    -readonly [K in keyof ModuleInfo]: ModuleInfo[K] extends
      readonly (infer T)[] ? T[]
      : ModuleInfo[K];
  }
  & { bodyCount: number };

/** An empty ParseState for a module of `byteLength` bytes. */
export function newParseState(byteLength: number): ParseState {
  return {
    byteLength,
    types: [],
    imports: [],
    exports: [],
    hasStart: false,
    startFunctionIndex: undefined,
    memories: [],
    importedMemories: [],
    tableCount: 0,
    importedFunctionCount: 0,
    functionCount: 0,
    importedGlobalCount: 0,
    globalCount: 0,
    codeSizeBytes: 0,
    sections: [],
    bodyCount: 0,
  };
}

/** Decodes section `id` from `reader` (its content) into `state`. */
export function readSection(
  id: number,
  reader: WasmReader,
  state: ParseState,
): void {
  switch (id) {
    case 1:
      return readTypes(reader, state);
    case 2:
      return readImports(reader, state);
    case 3:
      state.functionCount = reader.count();
      for (let index = 0; index < state.functionCount; index++) reader.u32();
      return;
    case 4:
      state.tableCount = reader.count();
      for (let index = 0; index < state.tableCount; index++) {
        readTableType(reader);
      }
      return;
    case 5: {
      const count = reader.count();
      for (let index = 0; index < count; index++) {
        state.memories.push(readLimits(reader));
      }
      return;
    }
    case 6:
      state.globalCount = reader.count();
      for (let index = 0; index < state.globalCount; index++) {
        readGlobalType(reader);
        walkExpression(reader);
      }
      return;
    case 7:
      return readExports(reader, state);
    case 8:
      state.startFunctionIndex = reader.u32();
      return;
    case 10:
      return readCode(reader, state);
    case 12:
      reader.u32();
      return;
    default:
      // Elements (9) and data (11) are left to V8's validation: nothing in
      // them matters to the policy, and the rewriter copies them unchanged.
      reader.skip(reader.remaining);
  }
}

function readTypes(reader: WasmReader, state: ParseState): void {
  const count = reader.count(3);
  for (let index = 0; index < count; index++) {
    const start = reader.offset;
    const form = reader.byte();
    if (form !== 0x60) {
      reader.fail(
        `type ${index} is not a function type (0x${form.toString(16)}); ` +
          "GC types are not supported",
        start,
      );
    }
    const params = readValueTypes(reader);
    const results = readValueTypes(reader);
    state.types.push({ params, results });
  }
}

function readValueTypes(reader: WasmReader): number[] {
  const count = reader.count();
  const types: number[] = [];
  for (let index = 0; index < count; index++) types.push(readValueType(reader));
  return types;
}

function readImports(reader: WasmReader, state: ParseState): void {
  const count = reader.count(4);
  for (let index = 0; index < count; index++) {
    const module = reader.name();
    const name = reader.name();
    const start = reader.offset;
    const kind = KINDS[reader.byte()];
    switch (kind) {
      case "function":
        reader.u32();
        state.importedFunctionCount++;
        break;
      case "table":
        readTableType(reader);
        break;
      case "memory":
        state.importedMemories.push(readLimits(reader));
        break;
      case "global":
        readGlobalType(reader);
        state.importedGlobalCount++;
        break;
      case "tag":
        reader.byte();
        reader.u32();
        break;
      default:
        reader.fail(`import ${module}.${name} has an unknown kind`, start);
    }
    state.imports.push({ module, name, kind });
  }
}

function readExports(reader: WasmReader, state: ParseState): void {
  const count = reader.count(3);
  const names = new Set<string>();
  for (let index = 0; index < count; index++) {
    const start = reader.offset;
    const name = reader.name();
    const kind = KINDS[reader.byte()];
    if (kind === undefined) {
      reader.fail(`export ${name} has an unknown kind`, start);
    }
    if (names.has(name)) reader.fail(`export ${name} is duplicated`, start);
    names.add(name);
    state.exports.push({ name, kind, index: reader.u32() });
  }
}

function readCode(reader: WasmReader, state: ParseState): void {
  state.codeSizeBytes = reader.remaining;
  state.bodyCount = reader.count();
  for (let index = 0; index < state.bodyCount; index++) {
    const size = reader.u32();
    if (size === 0) reader.fail(`function body ${index} is empty`);
    reader.skip(size);
  }
}

function readTableType(reader: WasmReader): void {
  const start = reader.offset;
  const type = reader.byte();
  if (type !== 0x70 && type !== 0x6f) {
    reader.fail(
      `table element type 0x${type.toString(16)} is not supported`,
      start,
    );
  }
  const limits = readLimits(reader);
  if (limits.shared || limits.memory64) {
    reader.fail("shared or 64-bit tables are not supported", start);
  }
}

function readGlobalType(reader: WasmReader): void {
  readValueType(reader);
  const start = reader.offset;
  const mutability = reader.byte();
  if (mutability > 1) reader.fail("global mutability must be 0 or 1", start);
}

/** Limits flags: bit 0 a maximum, bit 1 shared, bit 2 64-bit. */
function readLimits(reader: WasmReader): MemoryLimits {
  const start = reader.offset;
  const flags = reader.byte();
  if (flags > 0x07) {
    reader.fail(
      `limits flags 0x${flags.toString(16)} are not supported`,
      start,
    );
  }
  const memory64 = (flags & 0x04) !== 0;
  const read = () => memory64 ? reader.u64() : reader.u32();
  const minPages = read();
  const maxPages = (flags & 0x01) !== 0 ? read() : undefined;
  return { minPages, maxPages, shared: (flags & 0x02) !== 0, memory64 };
}

// --- What ModuleInfo leaves out, for the rewriter ---------------------------

/** One export entry and where its bytes are. */
export interface ExportEntry {
  name: string;
  /** 0 function, 1 table, 2 memory, 3 global. */
  kind: number;
  index: number;
  /** Where the entry starts, and where its index starts. */
  start: number;
  indexStart: number;
}

/** One global a module defines. */
export interface GlobalEntry {
  type: number;
  mutable: boolean;
}

/** The details of a parsed module a rewrite needs beyond ModuleInfo. */
export interface ModuleDetails {
  /** The type index of every function, imported ones first. */
  functionTypes: number[];
  /** Imported globals, by `module.name`, that are mutable. */
  mutableImportedGlobals: string[];
  /** The globals the module defines. */
  globals: GlobalEntry[];
  exports: ExportEntry[];
}

/**
 * Function types, global types and export positions of a module whose
 * `sections` have already been parsed (so lengths are known to fit).
 */
export function readModuleDetails(
  bytes: Uint8Array,
  sections: readonly { id: number; contentStart: number; end: number }[],
): ModuleDetails {
  const details: ModuleDetails = {
    functionTypes: [],
    mutableImportedGlobals: [],
    globals: [],
    exports: [],
  };
  for (const section of sections) {
    const reader = new WasmReader(bytes, section.contentStart, section.end);
    switch (section.id) {
      case 2:
        readImportDetails(reader, details);
        break;
      case 3:
        for (let count = reader.u32(); count > 0; count--) {
          details.functionTypes.push(reader.u32());
        }
        break;
      case 6:
        for (let count = reader.u32(); count > 0; count--) {
          const type = readValueType(reader);
          details.globals.push({ type, mutable: reader.byte() === 1 });
          walkExpression(reader);
        }
        break;
      case 7:
        for (let count = reader.u32(); count > 0; count--) {
          const start = reader.offset;
          const name = reader.name();
          const kind = reader.byte();
          const indexStart = reader.offset;
          const index = reader.u32();
          details.exports.push({ name, kind, index, start, indexStart });
        }
        break;
    }
  }
  return details;
}

function readImportDetails(reader: WasmReader, details: ModuleDetails): void {
  for (let count = reader.u32(); count > 0; count--) {
    const name = `${reader.name()}.${reader.name()}`;
    const start = reader.offset;
    switch (reader.byte()) {
      case 0:
        details.functionTypes.push(reader.u32());
        break;
      case 1:
        readTableType(reader);
        break;
      case 2:
        readLimits(reader);
        break;
      case 3:
        readValueType(reader);
        if (reader.byte() === 1) details.mutableImportedGlobals.push(name);
        break;
      default:
        reader.fail(`import ${name} has a kind AOS cannot rewrite`, start);
    }
  }
}
