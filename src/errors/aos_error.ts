import { catalogEntry, type ErrorCategory } from "./catalog.ts";
import { type ErrorCode, isErrorCode } from "./codes.ts";

/** JSON-safe details attached to an error. */
export type ErrorDetails = Record<string, unknown>;

/** The wire form of an error: what crosses a worker, Wasm or HTTP boundary. */
export interface ErrorJson {
  code: ErrorCode;
  message: string;
  details: ErrorDetails;
}

/** The form stored in a run's log: the wire form plus what the catalog says. */
export interface RecordedError extends ErrorJson {
  category: ErrorCategory;
  retryable: boolean;
}

/** Options of an `AosError`. */
export interface AosErrorOptions {
  details?: ErrorDetails;
  cause?: unknown;
}

/**
 * An error with a catalog code. Category and retryability come from the
 * catalog, never from the throw site, so one code always means one thing.
 */
export class AosError extends Error {
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  readonly retryable: boolean;
  readonly httpStatus: number;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: AosErrorOptions = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    const entry = catalogEntry(code);
    this.name = "AosError";
    this.code = code;
    this.category = entry.category;
    this.retryable = entry.retryable;
    this.httpStatus = entry.http_status;
    this.details = options.details ?? {};
  }

  /** The wire form. */
  toJSON(): ErrorJson {
    return { code: this.code, message: this.message, details: this.details };
  }

  /** The form recorded in a run's log. */
  toRecorded(): RecordedError {
    return {
      ...this.toJSON(),
      category: this.category,
      retryable: this.retryable,
    };
  }

  /** Rebuilds an error from its wire form; an unknown code becomes `fallback`. */
  static fromJSON(
    value: unknown,
    fallback: ErrorCode = "INTERNAL",
  ): AosError {
    if (typeof value !== "object" || value === null) {
      return new AosError(fallback, String(value));
    }
    const record = value as Record<string, unknown>;
    const message = typeof record.message === "string"
      ? record.message
      : "no message";
    const details = typeof record.details === "object" &&
        record.details !== null && !Array.isArray(record.details)
      ? record.details as ErrorDetails
      : {};
    if (isErrorCode(record.code)) {
      return new AosError(record.code, message, { details });
    }
    return new AosError(fallback, message, {
      details: { ...details, reported_code: record.code ?? null },
    });
  }
}

/** Wraps anything thrown into an `AosError`, keeping the original as `cause`. */
export function toAosError(
  error: unknown,
  fallback: ErrorCode = "INTERNAL",
): AosError {
  if (error instanceof AosError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AosError(fallback, message, { cause: error });
}
