// The channel between the main thread and a plugin's worker: one growable
// SharedArrayBuffer with a small header and a data area, handed back and
// forth with Atomics. A postMessage costs a serialization and a trip through
// both event loops each way; a call here is a memcpy and a futex wake, which
// is what keeps a warm call in the tens of microseconds.
//
// Exactly one side owns the buffer at a time, and the state word says which:
// the main thread writes CALL and ANSWER, the worker writes HOST and DONE,
// and only the owner reads or writes anything else (growing included). So
// there are no torn reads, and the only synchronization is the state word.
//
//   main:   IDLE ─CALL→          ─ANSWER→          ... (reads DONE) → IDLE
//   worker:        (runs) ─HOST→          (runs) ─DONE→

/** Word indices of the header (an Int32Array over its first bytes). */
export const WORD = {
  /** Whose turn it is; a `STATE` value. */
  state: 0,
  /** CALL: entrypoint name length. HOST: function index. DONE/ANSWER: kind. */
  kind: 1,
  /** Bytes in the data area. */
  length: 2,
  /** HOST: how many arguments. */
  argc: 3,
  /** HOST: bit i set when argument i is a JS number (i32, f32, f64), else a bigint (i64). */
  numbers: 4,
  /** HOST: how many byte segments follow in the data area. */
  segments: 5,
  /**
   * Microseconds (mod 2^32) the worker has spent in calls, host waits
   * included. Only the worker writes it, atomically, whoever owns the
   * buffer; the main thread only reads it, to size the pool.
   */
  busy: 6,
  /**
   * CALL: 0 for one call; n for a batch of n calls, whose entrypoint names
   * and inputs are the data area's segments, two per call. HOST: which call
   * of the batch asks. DONE: results in the data area (a batch).
   */
  calls: 7,
} as const;

/** Values of the state word. */
export const STATE = {
  IDLE: 0,
  CALL: 1,
  HOST: 2,
  ANSWER: 3,
  DONE: 4,
} as const;

/** DONE kinds: how a call ended. */
export const DONE = {
  /** The data area holds the output. */
  OUTPUT: 0,
  /** The guest set no output. */
  NO_OUTPUT: 1,
  /** The data area holds `{ message, guest_error }` as JSON. */
  FAILED: 2,
} as const;

/**
 * A batch's results, as data-area segments: for each call run, its DONE kind
 * (one byte, then the call's duration in µs as a little-endian u32) and its
 * output, or for a failed call `{ message, guest_error }` as JSON. The worker
 * stops at a call that fails: the calls after it have no result.
 */
export const RESULT_HEAD_BYTES = 5;

/** ANSWER kinds: what a host function returned. */
export const ANSWER = {
  /** A value (bigint or number) in argument slot 0. */
  VALUE: 0,
  VOID: 2,
  /** Bytes in the data area, to store in kernel memory; their address is the result. */
  STORED: 3,
  /** The host function failed; the data area holds its message. */
  FAILED: 4,
  /** `fetch` only: `{ status, headers }` JSON then the body, as two segments. */
  RESPONSE: 5,
} as const;

/** Most arguments a host function call carries; the kernel's take at most two. */
export const ARGUMENTS_MAX = 8;

const HEADER_BYTES = 32;
const ARGUMENTS_OFFSET = HEADER_BYTES;
const DATA_OFFSET = ARGUMENTS_OFFSET + ARGUMENTS_MAX * 8;
const INITIAL_BYTES = 64 * 1024;

/** A segment of a HOST or ANSWER payload: bytes, or absent (an invalid block). */
export type Segment = Uint8Array | null;

/** Creates the shared buffer of one worker, able to grow to carry `dataBytesMax`. */
export function channelBuffer(dataBytesMax: number): SharedArrayBuffer {
  return new SharedArrayBuffer(INITIAL_BYTES, {
    maxByteLength: DATA_OFFSET + dataBytesMax,
  });
}

/** One side's view of the shared buffer. */
export class Channel {
  readonly buffer: SharedArrayBuffer;
  readonly header: Int32Array;
  // Length-tracking views: they follow the buffer as it grows.
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #encoder = new TextEncoder();

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.#bytes = new Uint8Array(buffer);
    this.#view = new DataView(buffer);
  }

  get state(): number {
    return Atomics.load(this.header, WORD.state);
  }

  /** Hands the buffer to the other side. */
  publish(state: number): void {
    Atomics.store(this.header, WORD.state, state);
    Atomics.notify(this.header, WORD.state);
  }

  /** Blocks this thread while the state is `state` (workers only). */
  blockWhile(state: number): number {
    let current = this.state;
    while (current === state) {
      Atomics.wait(this.header, WORD.state, state);
      current = this.state;
    }
    return current;
  }

  /** Resolves once the state is no longer `state`, or when woken. */
  async waitWhile(state: number): Promise<void> {
    const waited = Atomics.waitAsync(this.header, WORD.state, state);
    if (waited.async) await waited.value;
  }

  /** Wakes a main-thread `waitWhile`, e.g. after the worker died. */
  wake(): void {
    Atomics.notify(this.header, WORD.state);
  }

  /** Makes room for `bytes` in the data area; throws past the buffer's maximum. */
  reserve(bytes: number): void {
    const needed = DATA_OFFSET + bytes;
    if (needed <= this.buffer.byteLength) return;
    if (needed > this.buffer.maxByteLength) {
      throw new RangeError(
        `${bytes} bytes do not fit the worker channel (at most ${
          this.buffer.maxByteLength - DATA_OFFSET
        })`,
      );
    }
    // Double, so a run of growing payloads costs few grows.
    const doubled = Math.min(
      2 * this.buffer.byteLength,
      this.buffer.maxByteLength,
    );
    this.buffer.grow(Math.max(needed, doubled));
  }

  /** Writes `data` as the whole data area. */
  writeData(data: Uint8Array): void {
    this.reserve(data.length);
    this.#bytes.set(data, DATA_OFFSET);
    this.header[WORD.length] = data.length;
  }

  /** Writes `text` as UTF-8 at `offset` of the data area; returns its length. */
  writeText(text: string, offset = 0): number {
    const start = DATA_OFFSET + offset;
    // UTF-8 takes at most 3 bytes per UTF-16 unit; encoding in place saves
    // a copy unless that bound would not fit.
    if (start + 3 * text.length > this.buffer.maxByteLength) {
      const bytes = this.#encoder.encode(text);
      this.reserve(offset + bytes.length);
      this.#bytes.set(bytes, start);
      return bytes.length;
    }
    this.reserve(offset + 3 * text.length);
    const { written } = this.#encoder.encodeInto(
      text,
      this.#bytes.subarray(start, start + 3 * text.length),
    );
    return written;
  }

  /** Copies `length` bytes of the data area from `offset` into a new array. */
  readData(offset: number, length: number): Uint8Array<ArrayBuffer> {
    const start = DATA_OFFSET + offset;
    return this.#bytes.slice(start, start + length);
  }

  /** Writes segments (each: i32 length, -1 when absent, then the bytes). */
  writeSegments(segments: readonly Segment[]): void {
    let total = 0;
    for (const segment of segments) total += 4 + (segment?.length ?? 0);
    this.reserve(total);
    let offset = DATA_OFFSET;
    for (const segment of segments) {
      this.#view.setInt32(offset, segment === null ? -1 : segment.length, true);
      offset += 4;
      if (segment !== null) {
        this.#bytes.set(segment, offset);
        offset += segment.length;
      }
    }
    this.header[WORD.segments] = segments.length;
    this.header[WORD.length] = total;
  }

  /** Reads the segments `writeSegments` wrote. */
  readSegments(): (Uint8Array<ArrayBuffer> | null)[] {
    const segments: (Uint8Array<ArrayBuffer> | null)[] = [];
    let offset = DATA_OFFSET;
    for (let index = 0; index < this.header[WORD.segments]!; index++) {
      const length = this.#view.getInt32(offset, true);
      offset += 4;
      if (length < 0) {
        segments.push(null);
        continue;
      }
      segments.push(this.#bytes.slice(offset, offset + length));
      offset += length;
    }
    return segments;
  }

  /** Writes argument `index` (a number travels as a float64, exactly). */
  setArgument(index: number, value: bigint | number): void {
    const offset = ARGUMENTS_OFFSET + index * 8;
    const numbers = this.header[WORD.numbers]!;
    if (typeof value === "bigint") {
      this.#view.setBigInt64(offset, value, true);
      this.header[WORD.numbers] = numbers & ~(1 << index);
    } else {
      this.#view.setFloat64(offset, value, true);
      this.header[WORD.numbers] = numbers | (1 << index);
    }
  }

  /** Reads argument `index` as `setArgument` wrote it. */
  argument(index: number): bigint | number {
    const offset = ARGUMENTS_OFFSET + index * 8;
    return (this.header[WORD.numbers]! & (1 << index)) !== 0
      ? this.#view.getFloat64(offset, true)
      : this.#view.getBigInt64(offset, true);
  }
}
