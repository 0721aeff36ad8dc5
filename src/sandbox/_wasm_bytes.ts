// Bounds-checked reading and LEB128 encoding of WebAssembly binaries, shared
// by the module inspector and the rewriter. Every failure is MODULE_INVALID
// with the byte offset where decoding stopped.
import { AosError, type ErrorDetails } from "../errors/mod.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** MODULE_INVALID naming the byte offset where decoding failed. */
export function moduleInvalid(
  message: string,
  offset: number,
  details: ErrorDetails = {},
): AosError {
  return new AosError(
    "MODULE_INVALID",
    `${message} (at byte ${offset})`,
    { details: { ...details, offset } },
  );
}

/** A cursor over `bytes[offset, end)` that never reads past `end`. */
export class WasmReader {
  readonly bytes: Uint8Array;
  readonly end: number;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    this.bytes = bytes;
    this.offset = offset;
    this.end = end;
  }

  get done(): boolean {
    return this.offset >= this.end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  fail(message: string, at = this.offset, details?: ErrorDetails): never {
    throw moduleInvalid(message, at, details);
  }

  byte(): number {
    if (this.offset >= this.end) this.fail("unexpected end of data");
    return this.bytes[this.offset++]!;
  }

  skip(length: number): void {
    if (length > this.remaining) {
      this.fail(`${length} bytes announced, ${this.remaining} left`);
    }
    this.offset += length;
  }

  /** A reader over the next `length` bytes; this reader moves past them. */
  sub(length: number): WasmReader {
    const start = this.offset;
    this.skip(length);
    return new WasmReader(this.bytes, start, start + length);
  }

  /** An unsigned LEB128 of at most 32 bits. */
  u32(): number {
    const start = this.offset;
    let result = 0;
    for (let index = 0; index < 5; index++) {
      const byte = this.byte();
      if (index === 4 && (byte & 0xf0) !== 0) {
        this.fail("LEB128 integer overflows 32 bits", start);
      }
      result += (byte & 0x7f) * 2 ** (7 * index);
      if ((byte & 0x80) === 0) return result;
    }
    return this.fail("LEB128 integer overflows 32 bits", start);
  }

  /** An unsigned LEB128 of at most 64 bits; refused past 2^53. */
  u64(): number {
    const start = this.offset;
    let result = 0n;
    for (let index = 0; index < 10; index++) {
      const byte = this.byte();
      if (index === 9 && (byte & 0xfe) !== 0) {
        this.fail("LEB128 integer overflows 64 bits", start);
      }
      result |= BigInt(byte & 0x7f) << BigInt(7 * index);
      if ((byte & 0x80) === 0) {
        if (result > BigInt(Number.MAX_SAFE_INTEGER)) {
          this.fail("64-bit integer too large for AOS", start);
        }
        return Number(result);
      }
    }
    return this.fail("LEB128 integer overflows 64 bits", start);
  }

  /**
   * A signed LEB128 of at most `bits` bits. The value is exact up to 2^53,
   * which covers every use but skipping an `i64.const`.
   */
  signed(bits: 32 | 33 | 64): number {
    const start = this.offset;
    const bytesMax = Math.ceil(bits / 7);
    let result = 0;
    for (let index = 0; index < bytesMax; index++) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** (7 * index);
      if (index === bytesMax - 1) {
        // The unused high bits of the last byte must repeat the sign bit.
        const used = bits - 7 * index;
        const unused = 0x7f & ~((1 << used) - 1);
        const sign = byte & (1 << (used - 1));
        if ((byte & 0x80) !== 0 || (byte & unused) !== (sign ? unused : 0)) {
          this.fail(`LEB128 integer overflows ${bits} bits`, start);
        }
      }
      if ((byte & 0x80) === 0) {
        const width = 7 * (index + 1);
        return (byte & 0x40) !== 0 ? result - 2 ** width : result;
      }
    }
    return this.fail(`LEB128 integer overflows ${bits} bits`, start);
  }

  /** A vector length, refused when the remaining bytes cannot hold it. */
  count(itemBytesMin = 1): number {
    const start = this.offset;
    const count = this.u32();
    if (count * itemBytesMin > this.remaining) {
      this.fail(`vector of ${count} items cannot fit in its section`, start);
    }
    return count;
  }

  /** A UTF-8 name. */
  name(): string {
    const start = this.offset;
    const length = this.u32();
    const from = this.offset;
    this.skip(length);
    try {
      return utf8.decode(this.bytes.subarray(from, from + length));
    } catch {
      return this.fail("name is not valid UTF-8", start);
    }
  }
}

/** The unsigned LEB128 encoding of `value` (0 ≤ value < 2^32). */
export function encodeU32(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`${value} is not a u32`);
  }
  const out: number[] = [];
  let rest = value;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    out.push(byte);
  } while (rest > 0);
  return out;
}

/** The signed LEB128 encoding of a safe integer (for `i32.const`, `i64.const`). */
export function encodeSigned(value: number): number[] {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${value} is not a safe integer`);
  }
  const out: number[] = [];
  let rest = BigInt(value);
  for (;;) {
    const byte = Number(rest & 0x7fn);
    rest >>= 7n;
    const done = (rest === 0n && (byte & 0x40) === 0) ||
      (rest === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** A name as the binary format stores it: length, then UTF-8 bytes. */
export function encodeName(text: string): number[] {
  const bytes = encoder.encode(text);
  return [...encodeU32(bytes.length), ...bytes];
}

/** Concatenates byte chunks. */
export function concatBytes(
  chunks: readonly (Uint8Array | readonly number[])[],
): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
