// Modules written to harm the host, for the sandbox's tests. The WAT sources
// live in tests/fixtures/hostile/ and are compiled with wabt when asked for;
// malformed binaries, which no text can express, are built here byte by byte.
// Nothing is cached on disk.
import initWabt from "wabt";

/** The WAT fixtures, by file name without `.wat`. */
export const HOSTILE_MODULE_NAMES = [
  "well_behaved",
  "infinite_loop",
  "start_loop",
  "memory_bomb",
  "huge_output",
  "stack_overflow",
  "unreachable",
  "wasi_import",
  "unknown_import",
  "bad_host_pointers",
  "not_json",
  "deep_json",
  "declares_huge_memory",
  "no_entrypoint",
] as const;

/** The name of a WAT fixture. */
export type HostileModuleName = typeof HOSTILE_MODULE_NAMES[number];

const FIXTURES = new URL("../fixtures/hostile/", import.meta.url);

/** The post-MVP features the fixtures and ad-hoc test modules may use. */
export const WAT_FEATURES = {
  bulk_memory: true,
  multi_value: true,
  mutable_globals: true,
  reference_types: true,
  sat_float_to_int: true,
  sign_extension: true,
  simd: true,
};

let wabt: ReturnType<typeof initWabt> | undefined;

/** Compiles WebAssembly text to a binary with wabt. */
export async function compileWat(
  text: string,
  options: { name?: string; features?: Record<string, boolean> } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  wabt ??= initWabt();
  const parsed = (await wabt).parseWat(
    options.name ?? "inline.wat",
    text,
    options.features ?? WAT_FEATURES,
  );
  try {
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

/** The binary of a WAT fixture. */
export async function hostileModule(
  name: HostileModuleName,
): Promise<Uint8Array<ArrayBuffer>> {
  const text = await Deno.readTextFile(new URL(`${name}.wat`, FIXTURES));
  return await compileWat(text, { name: `${name}.wat` });
}

/**
 * A module using every kind of instruction immediate the rewriter's walker
 * accepts, with deterministic exports; for checking that hardening changes
 * no behaviour but memory.grow's bookkeeping.
 */
export async function allInstructionKindsModule(): Promise<
  Uint8Array<ArrayBuffer>
> {
  const name = "all_instruction_kinds.wat";
  const text = await Deno.readTextFile(new URL(name, FIXTURES));
  return await compileWat(text, { name });
}

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
// type 0: () -> i32
const TYPES = [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f];
const FUNCTIONS = [0x03, 0x02, 0x01, 0x00];
// export "run" = function 0
const EXPORTS = [0x07, 0x07, 0x01, 0x03, 0x72, 0x75, 0x6e, 0x00, 0x00];
// body: no locals, i32.const 0, end
const CODE = [0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x00, 0x0b];

/**
 * Malformed binaries, each with the byte offset at which the inspector must
 * stop (`undefined` where only V8's validation can tell).
 */
export const MALFORMED_MODULES: Readonly<
  Record<string, { bytes: Uint8Array; offset: number | undefined }>
> = Object.freeze({
  empty: { bytes: new Uint8Array(), offset: 0 },
  truncated_header: { bytes: new Uint8Array(HEADER.slice(0, 5)), offset: 0 },
  bad_magic: {
    bytes: new Uint8Array([0x00, 0x61, 0x73, 0x6e, 1, 0, 0, 0]),
    offset: 0,
  },
  bad_version: {
    bytes: new Uint8Array([...HEADER.slice(0, 4), 2, 0, 0, 0]),
    offset: 4,
  },
  // The type section claims 100 bytes; 5 follow.
  section_past_end: {
    bytes: new Uint8Array([
      ...HEADER,
      0x01,
      0x64,
      0x01,
      0x60,
      0x00,
      0x01,
      0x7f,
    ]),
    offset: 8,
  },
  // A section length whose LEB128 runs to six bytes.
  leb_overflow: {
    bytes: new Uint8Array([
      ...HEADER,
      0x01,
      0x80,
      0x80,
      0x80,
      0x80,
      0x80,
      0x00,
    ]),
    offset: 9,
  },
  // The 5th byte of a u32 may carry only 4 bits.
  leb_too_large: {
    bytes: new Uint8Array([...HEADER, 0x01, 0xff, 0xff, 0xff, 0xff, 0x1f]),
    offset: 9,
  },
  duplicate_section: {
    bytes: new Uint8Array([...HEADER, ...TYPES, ...TYPES]),
    offset: 8 + TYPES.length,
  },
  out_of_order: {
    bytes: new Uint8Array([...HEADER, ...TYPES, ...EXPORTS, ...FUNCTIONS]),
    offset: 8 + TYPES.length + EXPORTS.length,
  },
  unknown_section: {
    bytes: new Uint8Array([...HEADER, 0x0e, 0x01, 0x00]),
    offset: 8,
  },
  // A name that is not UTF-8 (the export's).
  bad_name: {
    bytes: new Uint8Array([
      ...HEADER,
      ...TYPES,
      ...FUNCTIONS,
      0x07,
      0x07,
      0x01,
      0x03,
      0xff,
      0xfe,
      0xfd,
      0x00,
      0x00,
      ...CODE,
    ]),
    offset: 8 + TYPES.length + FUNCTIONS.length + 3,
  },
  // Structurally sound, but `i32.add` has nothing to add: V8 refuses it.
  invalid_body: {
    bytes: new Uint8Array([
      ...HEADER,
      ...TYPES,
      ...FUNCTIONS,
      ...EXPORTS,
      0x0a,
      0x05,
      0x01,
      0x03,
      0x00,
      0x6a,
      0x0b,
    ]),
    offset: undefined,
  },
});

/** A minimal valid module exporting `run: () -> i32`, for comparison. */
export const MINIMAL_MODULE: Uint8Array = new Uint8Array([
  ...HEADER,
  ...TYPES,
  ...FUNCTIONS,
  ...EXPORTS,
  ...CODE,
]);
