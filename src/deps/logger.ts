import { LineBuffer } from "./_line_buffer.ts";

/** Severity of a log line; lines below the configured level are dropped. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
};

/** Structured fields of a log line (run id, step, tenant, …). */
export type LogFields = Record<string, unknown>;

/** Writes one JSON object a line; the only way AOS reports what it does. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
  /** Writes out any lines still held; loggers that hold none need not have it. */
  flush?(): void;
}

// The process's two streams, each buffered once for every logger writing to
// it, and written out however the process ends: `unload` (the event loop
// ran dry, or `Deno.exit`), an uncaught error, an unhandled rejection. An
// error-level line is written at once, with everything held before it.
let streams: { out: LineBuffer; err: LineBuffer } | undefined;

function processStreams(): { out: LineBuffer; err: LineBuffer } {
  if (streams !== undefined) return streams;
  const opened = {
    out: new LineBuffer(Deno.stdout),
    err: new LineBuffer(Deno.stderr),
  };
  streams = opened;
  const flushAll = () => {
    opened.out.flush();
    opened.err.flush();
  };
  globalThis.addEventListener("unload", flushAll);
  globalThis.addEventListener("error", flushAll);
  globalThis.addEventListener("unhandledrejection", flushAll);
  return opened;
}

/**
 * A logger writing JSON lines to stdout (debug, info) and stderr (warn,
 * error). Lines are held briefly and written together (`LineBuffer`),
 * error lines at once with everything held before them.
 */
export function jsonLogger(level: LogLevel, nowMs: () => number): Logger {
  const { out, err } = processStreams();
  const flush = () => {
    out.flush();
    err.flush();
  };
  return {
    enabled: (wanted) => RANK[wanted] >= RANK[level],
    log(wanted, event, fields = {}) {
      if (RANK[wanted] < RANK[level]) return;
      const line = JSON.stringify({
        ts: isoTime(nowMs()),
        level: wanted,
        event,
        ...fields,
      });
      if (RANK[wanted] < RANK.warn) {
        out.push(line + "\n");
      } else {
        err.push(line + "\n");
        if (wanted === "error") flush();
      }
    },
    flush,
  };
}

// `Date.prototype.toISOString` took about 1.4 µs, most of a line's cost; a
// busy node logs several lines a run, nearly all in a second it already
// wrote. The text up to the seconds is kept, and only the milliseconds are
// written anew.
let isoSecond = Number.NaN;
let isoPrefix = "";

/** `new Date(ms).toISOString()`, the same text, for a whole number of ms. */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms)) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const iso = new Date(ms).toISOString();
    isoSecond = second;
    isoPrefix = iso.slice(0, -4);
    return iso;
  }
  const millis = ms - second * 1000;
  return `${isoPrefix}${
    millis < 10 ? "00" : millis < 100 ? "0" : ""
  }${millis}Z`;
}

/** A logger that keeps lines in memory, for tests. */
export class MemoryLogger implements Logger {
  readonly lines: ({ level: LogLevel; event: string } & LogFields)[] = [];
  enabled(): boolean {
    return true;
  }
  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    this.lines.push({ level, event, ...fields });
  }
}

/** A logger that drops everything. */
export const silentLogger: Logger = { enabled: () => false, log: () => {} };
