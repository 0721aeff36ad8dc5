// Decoders of the sections the inspector reports on, filling a ParseState;
// split from module_inspector.ts, which owns the types and the entry points.
import type { WasmReader } from "./_wasm_bytes.ts";
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
