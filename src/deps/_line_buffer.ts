/** Where a line buffer writes: `Deno.stdout`, `Deno.stderr`, or a test's sink. */
export interface LineSink {
  /** Writes some of `bytes` (maybe not all) and returns how many. */
  writeSync(bytes: Uint8Array): number;
}

// A burst that logs this much in one event-loop turn is written at once
// rather than held: the buffer stays small whatever the rate.
const PENDING_CHARS_MAX = 64 * 1024;

const encoder = new TextEncoder();

/**
 * Lines held until the end of the event-loop turn, then written in one
 * `writeSync`: a busy node logs several lines per run, and a system call per
 * line was most of what logging cost. The write stays synchronous so that
 * `flush()` can always finish it, on exit and on a fatal error, with every
 * line in the order it was logged.
 */
export class LineBuffer {
  readonly #sink: LineSink;
  #pending: string[] = [];
  #pendingChars = 0;
  #scheduled = false;

  constructor(sink: LineSink) {
    this.#sink = sink;
  }

  /** Holds `line` (with its newline) until the turn ends or the buffer is full. */
  push(line: string): void {
    this.#pending.push(line);
    this.#pendingChars += line.length;
    if (this.#pendingChars >= PENDING_CHARS_MAX) {
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      // After the turn's I/O, like the store's group commit: one write for
      // every line the turn logged.
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Writes every held line now. */
  flush(): void {
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
