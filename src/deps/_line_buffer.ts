/** Where a line buffer writes: `Deno.stdout`, `Deno.stderr`, or a test's sink. */
export interface LineSink {
  /** Writes some of `bytes` (maybe not all) and returns how many. */
  writeSync(bytes: Uint8Array): number;
}

// Lines wait at most this long: a busy node's event loop turns far more
// often than that, so a write carries the lines of many turns.
const HOLD_MS = 10;

// This much held is written at once: the buffer stays small whatever the
// rate.
const PENDING_CHARS_MAX = 64 * 1024;

const encoder = new TextEncoder();

/**
 * Lines held for up to 10 ms (or 64 KB), then written in one `writeSync`: a
 * busy node logs several lines per run, and a system call per line (each
 * waking the reader of the pipe) was most of what logging cost. The write
 * stays synchronous so that `flush()` can always finish it, on exit and on a
 * fatal error, with every line in the order it was logged; an asynchronous
 * write still under way then could be neither awaited nor repeated.
 */
export class LineBuffer {
  readonly #sink: LineSink;
  #pending: string[] = [];
  #pendingChars = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(sink: LineSink) {
    this.#sink = sink;
  }

  /** Holds `line` (with its newline) until it is written with others. */
  push(line: string): void {
    this.#pending.push(line);
    this.#pendingChars += line.length;
    if (this.#pendingChars >= PENDING_CHARS_MAX) {
      this.flush();
    } else if (this.#timer === undefined) {
      const timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, HOLD_MS);
      // Held lines never keep a process alive: its end flushes them.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Writes every held line now. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.length === 0) return;
    const bytes = encoder.encode(this.#pending.join(""));
    this.#pending = [];
    this.#pendingChars = 0;
    let written = 0;
    while (written < bytes.length) {
      written += this.#sink.writeSync(bytes.subarray(written));
    }
  }
}
