import assert from "node:assert/strict";
import initWabt from "wabt";
import { AosError } from "../errors/mod.ts";
import {
  allInstructionKindsModule,
  compileWat,
  WAT_FEATURES,
} from "../../tests/support/hostile_modules.ts";
import { encodeSigned, WasmReader } from "./_wasm_bytes.ts";
import {
  emit,
  OP,
  prefixedCode,
  readValueType,
  walkExpression,
} from "./_wasm_instructions.ts";
import { parseModule } from "./module_inspector.ts";
import { instrumentMemoryGrow } from "./module_rewrite.ts";

/** Every instruction code in every function body of a module. */
function codesOf(bytes: Uint8Array): Set<number> {
  const code = parseModule(bytes).sections.find((entry) => entry.id === 10)!;
  const reader = new WasmReader(bytes, code.contentStart, code.end);
  const codes = new Set<number>();
  const count = reader.u32();
  for (let index = 0; index < count; index++) {
    const body = reader.sub(reader.u32());
    const groups = body.u32();
    for (let group = 0; group < groups; group++) {
      body.u32();
      readValueType(body);
    }
    walkExpression(body, (code) => codes.add(code));
    assert.ok(body.done, `body ${index} has bytes after its end`);
  }
  return codes;
}

Deno.test("walkExpression() steps through every immediate kind of the accepted instruction set", async () => {
  const codes = codesOf(await allInstructionKindsModule());
  const misc = (sub: number) => prefixedCode(0xfc, sub);
  const simd = (sub: number) => prefixedCode(0xfd, sub);
  const expected: [string, number][] = [
    ["block", 0x02],
    ["loop", 0x03],
    ["if", 0x04],
    ["else", 0x05],
    ["br_if", 0x0d],
    ["br_table", 0x0e],
    ["return", 0x0f],
    ["call", 0x10],
    ["call_indirect", 0x11],
    ["select t", 0x1c],
    ["global.set", 0x24],
    ["table.get", 0x25],
    ["table.set", 0x26],
    ["i64.load", 0x29],
    ["i32.load16_s", 0x2e],
    ["i64.store32", 0x3e],
    ["memory.size", 0x3f],
    ["memory.grow", 0x40],
    ["i64.const", 0x42],
    ["f32.const", 0x43],
    ["f64.const", 0x44],
    ["i32.extend16_s", 0xc1],
    ["i64.extend8_s", 0xc2],
    ["ref.null", 0xd0],
    ["ref.is_null", 0xd1],
    ["ref.func", 0xd2],
    ["i64.trunc_sat_f64_s", misc(6)],
    ["memory.init", misc(8)],
    ["data.drop", misc(9)],
    ["memory.copy", misc(10)],
    ["memory.fill", misc(11)],
    ["table.init", misc(12)],
    ["elem.drop", misc(13)],
    ["table.copy", misc(14)],
    ["table.grow", misc(15)],
    ["table.size", misc(16)],
    ["table.fill", misc(17)],
    ["v128.load", simd(0x00)],
    ["v128.load16x4_s", simd(0x03)],
    ["v128.load8_splat", simd(0x07)],
    ["v128.store", simd(0x0b)],
    ["v128.const", simd(0x0c)],
    ["i8x16.shuffle", simd(0x0d)],
    ["i8x16.extract_lane_u", simd(0x16)],
    ["i32x4.replace_lane", simd(0x1c)],
    ["v128.load32_lane", simd(0x56)],
    ["v128.store64_lane", simd(0x5b)],
    ["v128.load64_zero", simd(0x5d)],
    ["i8x16.popcnt", simd(0x62)],
    ["f64x2.nearest", simd(0x94)],
    ["i32x4.dot_i16x8_s", simd(0xba)],
  ];
  const missing = expected.filter(([, code]) => !codes.has(code));
  assert.deepEqual(missing, [], "the fixture no longer covers these");
});

function refused(bytes: number[], message: RegExp, offset: number): void {
  assert.throws(
    () => walkExpression(new WasmReader(new Uint8Array(bytes))),
    (error) => {
      assert.ok(error instanceof AosError);
      assert.equal(error.code, "MODULE_INVALID");
      assert.match(error.message, message);
      assert.equal(error.details.offset, offset);
      return true;
    },
  );
}

Deno.test("walkExpression() refuses instructions it cannot inspect, naming the opcode and offset", () => {
  const cannot = /uses instructions AOS cannot inspect/;
  refused([0x01, 0x12, 0x00, 0x0b], cannot, 1); // return_call (tail calls)
  refused([0x06, 0x40, 0x0b, 0x0b], /opcode 0x06/, 0); // try (exceptions)
  refused([0x14, 0x00, 0x0b], /opcode 0x14/, 0); // call_ref
  refused([0xfb, 0x00, 0x0b], /opcode 0xfb/, 0); // GC
  refused([0xfe, 0x10, 0x02, 0x00, 0x0b], /opcode 0xfe/, 0); // atomics
  refused([0xfd, 0x80, 0x02, 0x0b], /opcode 0xfd 256/, 0); // relaxed SIMD
  refused([0xfd, 0x9a, 0x01, 0x0b], /opcode 0xfd 154/, 0); // a SIMD hole
  refused([0xfc, 0x12, 0x0b], /opcode 0xfc 18/, 0);
  refused([0x41, 0x00], /unexpected end of data/, 2);
  refused([0x41, 0x80, 0x80, 0x80, 0x80, 0x70, 0x0b], /overflows 32 bits/, 1);
  refused([0x02, 0x63, 0x00, 0x0b, 0x0b], /block type/, 1); // (ref null func)
  refused([0x1c, 0x01, 0x6e, 0x0b], /value type/, 2); // anyref
  refused([0xd0, 0x6e, 0x0b], /heap type/, 1);
});

Deno.test("walkExpression() stops at the end that closes the expression", () => {
  // block … end, then the expression's own end; the trailing byte is not read.
  const reader = new WasmReader(
    new Uint8Array([0x02, 0x40, 0x01, 0x0b, 0x0b, 0xff]),
  );
  const seen: number[] = [];
  walkExpression(reader, (code) => seen.push(code));
  assert.deepEqual(seen, [0x02, 0x01, 0x0b, 0x0b]);
  assert.equal(reader.offset, 5);
});

Deno.test("instrumentMemoryGrow() leaves a real 600 KB emscripten module (wabt itself) working", async () => {
  // wabt instantiates its embedded module with WebAssembly.instantiate;
  // swap in the instrumented bytes for one fresh wabt instance.
  const instantiate = WebAssembly.instantiate;
  const memories: WebAssembly.Memory[] = [];
  WebAssembly.instantiate = (async (
    source: unknown,
    imports?: WebAssembly.Imports,
  ) => {
    const bytes = new Uint8Array(source as ArrayBuffer);
    const result = await instantiate(
      instrumentMemoryGrow(bytes, parseModule(bytes)),
      imports,
    );
    for (const value of Object.values(result.instance.exports)) {
      if (value instanceof WebAssembly.Memory) memories.push(value);
    }
    return result;
  }) as typeof WebAssembly.instantiate;
  let wabt;
  try {
    wabt = await initWabt();
  } finally {
    WebAssembly.instantiate = instantiate;
  }
  assert.equal(memories.length, 1);
  const pagesBefore = memories[0]!.buffer.byteLength / 65_536;
  // Big enough that wabt's heap grows. (Emscripten grows it from JavaScript,
  // not with memory.grow: this checks every other instruction under load.)
  const functions = Array.from(
    { length: 100_000 },
    (_, index) =>
      `(func (result i32) (i32.add (i32.const ${index}) (i32.const 1)))`,
  );
  const zoo = new URL(
    "../../tests/fixtures/hostile/all_instruction_kinds.wat",
    import.meta.url,
  );
  for (
    const text of [
      await Deno.readTextFile(zoo),
      `(module ${functions.join("\n")})`,
    ]
  ) {
    const parsed = wabt.parseWat("test.wat", text, WAT_FEATURES);
    try {
      assert.deepEqual(
        new Uint8Array(parsed.toBinary({}).buffer),
        await compileWat(text),
      );
    } finally {
      parsed.destroy();
    }
  }
  assert.ok(memories[0]!.buffer.byteLength / 65_536 > pagesBefore);
});

Deno.test("encodeSigned() writes the LEB128 that WasmReader.signed() reads back", () => {
  const values = [
    0,
    1,
    -1,
    63,
    64,
    -64,
    -65,
    127,
    128,
    65_536,
    2 ** 31 - 1,
    -(2 ** 31),
    // signed() is exact up to about 2^52; encodeSigned() goes to 2^53.
    2 ** 40,
    -(2 ** 40),
  ];
  for (const value of values) {
    const bytes = new Uint8Array(encodeSigned(value));
    const reader = new WasmReader(bytes);
    assert.equal(reader.signed(64), value);
    assert.ok(reader.done, `${value}: ${bytes}`);
  }
  assert.deepEqual(encodeSigned(-1), [0x7f]);
  assert.deepEqual(encodeSigned(64), [0xc0, 0x00]);
  assert.throws(() => encodeSigned(0.5), RangeError);
});

Deno.test("emit encodes instructions the walker reads back as themselves", () => {
  const misc = (sub: number) => prefixedCode(0xfc, sub);
  const cases: [number[], number][] = [
    [emit.call(300), 0x10],
    [emit.localGet(2), 0x20],
    [emit.localSet(2), 0x21],
    [emit.globalGet(128), 0x23],
    [emit.globalSet(128), 0x24],
    [emit.memorySize(1), 0x3f],
    [emit.memoryGrow(1), 0x40],
    [emit.i32Const(-1), 0x41],
    [emit.i64Const(65_536), 0x42],
    [emit.memoryCopy(0, 1), misc(10)],
    [emit.memoryFill(0), misc(11)],
    [[...emit.if(), OP.end], 0x04],
    ...[0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f].map((
      type,
    ): [number[], number] => [emit.zero(type), emit.zero(type)[0]!]),
  ];
  for (const [instruction, code] of cases) {
    const seen: [number, number][] = [];
    const bytes = new Uint8Array([...instruction, OP.end]);
    walkExpression(new WasmReader(bytes), (found, start) => {
      seen.push([found, start]);
    });
    assert.deepEqual(seen[0], [
      code === 0xfd ? prefixedCode(0xfd, 12) : code,
      0,
    ]);
    assert.equal(seen.at(-1)![1], bytes.length - 1, `${instruction}`);
  }
});
