// The instruction walker: knows the immediates of every instruction AOS
// accepts, so it can step through a function body without guessing. Accepted:
// the MVP, sign extension, saturating conversions, bulk memory and table
// instructions (0xFC), reference types, multi-value block types, fixed-width
// SIMD (0xFD 0..255) and multi-memory memargs. Refused as "cannot inspect":
// exception handling, tail calls, typed function references, GC (0xFB),
// threads (0xFE) and relaxed SIMD, whose results are not deterministic.
// At the end, encoders for the few instructions the rewriter generates.
import { encodeSigned, encodeU32, type WasmReader } from "./_wasm_bytes.ts";

/** Called for each instruction; prefixed ones come as `prefix << 16 | sub`. */
export type InstructionVisitor = (
  code: number,
  start: number,
  end: number,
) => void;

/** The opcode of `memory.size`; its immediate is a memory index. */
export const MEMORY_SIZE = 0x3f;

/** The opcode of `memory.grow`; its immediate is a memory index. */
export const MEMORY_GROW = 0x40;

/** A prefixed instruction's code as the visitor receives it. */
export function prefixedCode(prefix: number, sub: number): number {
  return prefix * 0x10000 + sub;
}

const enum Immediate {
  Unknown,
  None,
  End,
  Block,
  Index,
  TwoIndices,
  BranchTable,
  SelectTypes,
  MemoryArgument,
  MemoryArgumentLane,
  Lane,
  I32,
  I64,
  Bytes4,
  Bytes8,
  Bytes16,
  HeapType,
  Prefix,
}

/** The value types AOS accepts: numbers, v128, funcref, externref. */
export const VALUE_TYPES: ReadonlySet<number> = new Set([
  0x7f,
  0x7e,
  0x7d,
  0x7c,
  0x7b,
  0x70,
  0x6f,
]);

const EMPTY_BLOCK = 0x40;

function table(
  size: number,
  ranges: [number, number, Immediate][],
): Uint8Array {
  const kinds = new Uint8Array(size);
  for (const [from, to, kind] of ranges) kinds.fill(kind, from, to + 1);
  return kinds;
}

const SINGLE = table(256, [
  [0x00, 0x01, Immediate.None],
  [0x02, 0x04, Immediate.Block],
  [0x05, 0x05, Immediate.None],
  [0x0b, 0x0b, Immediate.End],
  [0x0c, 0x0d, Immediate.Index],
  [0x0e, 0x0e, Immediate.BranchTable],
  [0x0f, 0x0f, Immediate.None],
  [0x10, 0x10, Immediate.Index],
  [0x11, 0x11, Immediate.TwoIndices],
  [0x1a, 0x1b, Immediate.None],
  [0x1c, 0x1c, Immediate.SelectTypes],
  [0x20, 0x26, Immediate.Index],
  [0x28, 0x3e, Immediate.MemoryArgument],
  [0x3f, 0x40, Immediate.Index],
  [0x41, 0x41, Immediate.I32],
  [0x42, 0x42, Immediate.I64],
  [0x43, 0x43, Immediate.Bytes4],
  [0x44, 0x44, Immediate.Bytes8],
  [0x45, 0xc4, Immediate.None],
  [0xd0, 0xd0, Immediate.HeapType],
  [0xd1, 0xd1, Immediate.None],
  [0xd2, 0xd2, Immediate.Index],
  [0xfc, 0xfd, Immediate.Prefix],
]);

const MISC = table(18, [
  [0, 7, Immediate.None],
  [8, 8, Immediate.TwoIndices],
  [9, 9, Immediate.Index],
  [10, 10, Immediate.TwoIndices],
  [11, 11, Immediate.Index],
  [12, 12, Immediate.TwoIndices],
  [13, 13, Immediate.Index],
  [14, 14, Immediate.TwoIndices],
  [15, 17, Immediate.Index],
]);

// Opcodes 0x5e..0xff of SIMD are all immediate-free, except these holes.
const SIMD_RESERVED = [
  0x9a,
  0xa2,
  0xa5,
  0xa6,
  0xaf,
  0xb0,
  0xb2,
  0xb3,
  0xb4,
  0xbb,
  0xc2,
  0xc5,
  0xc6,
  0xcf,
  0xd0,
  0xd2,
  0xd3,
  0xd4,
  0xe2,
  0xee,
];

const SIMD = table(256, [
  [0x00, 0x0b, Immediate.MemoryArgument],
  [0x0c, 0x0d, Immediate.Bytes16],
  [0x0e, 0x14, Immediate.None],
  [0x15, 0x22, Immediate.Lane],
  [0x23, 0x53, Immediate.None],
  [0x54, 0x5b, Immediate.MemoryArgumentLane],
  [0x5c, 0x5d, Immediate.MemoryArgument],
  [0x5e, 0xff, Immediate.None],
]);
for (const reserved of SIMD_RESERVED) SIMD[reserved] = Immediate.Unknown;

function hex(value: number): string {
  return `0x${value.toString(16).padStart(2, "0")}`;
}

/**
 * Walks one expression (a function body after its locals, or a constant
 * expression) through its final `end`, calling `visit` for every
 * instruction. An instruction AOS does not know is MODULE_INVALID.
 */
export function walkExpression(
  reader: WasmReader,
  visit?: InstructionVisitor,
): void {
  let depth = 1;
  while (depth > 0) {
    const start = reader.offset;
    const opcode = reader.byte();
    let code = opcode;
    let kind = SINGLE[opcode]! as Immediate;
    if (kind === Immediate.Prefix) {
      const sub = reader.u32();
      code = prefixedCode(opcode, sub);
      const kinds = opcode === 0xfc ? MISC : SIMD;
      kind = sub < kinds.length ? kinds[sub]! : Immediate.Unknown;
      if (kind === Immediate.Unknown) {
        reader.fail(
          `uses instructions AOS cannot inspect: opcode ${hex(opcode)} ${sub}`,
          start,
          { opcode: `${hex(opcode)} ${sub}` },
        );
      }
    }
    switch (kind) {
      case Immediate.Unknown:
        return reader.fail(
          `uses instructions AOS cannot inspect: opcode ${hex(opcode)}`,
          start,
          { opcode: hex(opcode) },
        );
      case Immediate.None:
        break;
      case Immediate.End:
        depth--;
        break;
      case Immediate.Block:
        readBlockType(reader);
        depth++;
        break;
      case Immediate.Index:
        reader.u32();
        break;
      case Immediate.TwoIndices:
        reader.u32();
        reader.u32();
        break;
      case Immediate.BranchTable: {
        const count = reader.count();
        for (let index = 0; index <= count; index++) reader.u32();
        break;
      }
      case Immediate.SelectTypes: {
        const count = reader.count();
        for (let index = 0; index < count; index++) readValueType(reader);
        break;
      }
      case Immediate.MemoryArgument:
        readMemoryArgument(reader);
        break;
      case Immediate.MemoryArgumentLane:
        readMemoryArgument(reader);
        reader.byte();
        break;
      case Immediate.Lane:
        reader.byte();
        break;
      case Immediate.I32:
        reader.signed(32);
        break;
      case Immediate.I64:
        reader.signed(64);
        break;
      case Immediate.Bytes4:
        reader.skip(4);
        break;
      case Immediate.Bytes8:
        reader.skip(8);
        break;
      case Immediate.Bytes16:
        reader.skip(16);
        break;
      case Immediate.HeapType:
        readHeapType(reader);
        break;
    }
    visit?.(code, start, reader.offset);
  }
}

/** A value type AOS accepts, or MODULE_INVALID. */
export function readValueType(reader: WasmReader): number {
  const start = reader.offset;
  const type = reader.byte();
  if (!VALUE_TYPES.has(type)) {
    reader.fail(`uses a value type AOS cannot inspect (${hex(type)})`, start);
  }
  return type;
}

function readBlockType(reader: WasmReader): void {
  const start = reader.offset;
  const first = reader.bytes[start];
  if (
    first === EMPTY_BLOCK || (first !== undefined && VALUE_TYPES.has(first))
  ) {
    reader.offset++;
    return;
  }
  if (reader.signed(33) < 0) {
    reader.fail(`uses a block type AOS cannot inspect (${hex(first!)})`, start);
  }
}

function readHeapType(reader: WasmReader): void {
  const start = reader.offset;
  const type = reader.byte();
  if (type !== 0x70 && type !== 0x6f) {
    reader.fail(`uses a heap type AOS cannot inspect (${hex(type)})`, start);
  }
}

function readMemoryArgument(reader: WasmReader): void {
  const flags = reader.u32();
  // Bit 6 of the alignment field announces a memory index (multi-memory).
  if ((flags & 0x40) !== 0) reader.u32();
  reader.u64();
}

// --- Writing instructions, for the code the rewriter generates --------------

/** Opcodes without immediates that generated code uses. */
export const OP = Object.freeze({
  unreachable: 0x00,
  else: 0x05,
  end: 0x0b,
  return: 0x0f,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i64LeU: 0x58,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i64Add: 0x7c,
  i32WrapI64: 0xa7,
  i64ExtendI32U: 0xad,
});

/** Encoders of the instructions with immediates that generated code uses. */
export const emit = Object.freeze({
  /** `if` without parameters or results. */
  if: (): number[] => [0x04, EMPTY_BLOCK],
  call: (index: number): number[] => [0x10, ...encodeU32(index)],
  localGet: (index: number): number[] => [0x20, ...encodeU32(index)],
  localSet: (index: number): number[] => [0x21, ...encodeU32(index)],
  globalGet: (index: number): number[] => [0x23, ...encodeU32(index)],
  globalSet: (index: number): number[] => [0x24, ...encodeU32(index)],
  memorySize: (memory: number): number[] => [MEMORY_SIZE, ...encodeU32(memory)],
  memoryGrow: (memory: number): number[] => [MEMORY_GROW, ...encodeU32(memory)],
  i32Const: (value: number): number[] => [0x41, ...encodeSigned(value)],
  i64Const: (value: number): number[] => [0x42, ...encodeSigned(value)],
  memoryCopy: (to: number, from: number): number[] => [
    0xfc,
    ...encodeU32(10),
    ...encodeU32(to),
    ...encodeU32(from),
  ],
  memoryFill: (memory: number): number[] => [
    0xfc,
    ...encodeU32(11),
    ...encodeU32(memory),
  ],
  /** The constant expression (without `end`) of a type's zero or null. */
  zero: (type: number): number[] => {
    switch (type) {
      case 0x7f:
        return emit.i32Const(0);
      case 0x7e:
        return emit.i64Const(0);
      case 0x7d:
        return [0x43, ...new Array(4).fill(0)];
      case 0x7c:
        return [0x44, ...new Array(8).fill(0)];
      case 0x7b:
        return [0xfd, ...encodeU32(12), ...new Array(16).fill(0)];
      default:
        return [0xd0, type]; // ref.null funcref or externref
    }
  },
});
