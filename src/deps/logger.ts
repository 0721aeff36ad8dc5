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
}

/** A logger writing JSON lines to stdout (debug, info) and stderr (warn, error). */
export function jsonLogger(level: LogLevel, nowMs: () => number): Logger {
  const encoder = new TextEncoder();
  return {
    enabled: (wanted) => RANK[wanted] >= RANK[level],
    log(wanted, event, fields = {}) {
      if (RANK[wanted] < RANK[level]) return;
      const line = JSON.stringify({
        ts: new Date(nowMs()).toISOString(),
        level: wanted,
        event,
        ...fields,
      });
      const stream = RANK[wanted] >= RANK.warn ? Deno.stderr : Deno.stdout;
      stream.writeSync(encoder.encode(line + "\n"));
    },
  };
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
