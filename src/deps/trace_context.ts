import { createHash } from "node:crypto";

/** A W3C trace context (`traceparent`): whose trace a run belongs to. */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits of the caller's span, not all zero. */
  parentId: string;
  /** Two hex digits; bit 0 is "sampled". */
  flags: string;
}

const TRACEPARENT =
  /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/**
 * Parses a `traceparent` header. Following the W3C recommendation, a header
 * that is not valid is ignored (undefined), never an error: the run starts a
 * trace of its own. Versions after 00 are read by their 00 prefix.
 */
export function parseTraceparent(
  header: string | null | undefined,
): TraceContext | undefined {
  if (header === null || header === undefined || header.length > 512) {
    return undefined;
  }
  const match = TRACEPARENT.exec(header.trim());
  if (match === null) return undefined;
  const [, version, traceId, parentId, flags, rest] = match;
  if (version === "ff" || (version === "00" && rest !== undefined)) {
    return undefined;
  }
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId: traceId!, parentId: parentId!, flags: flags! };
}

/** The header text of a trace context (version 00). */
export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.parentId}-${context.flags}`;
}

/**
 * The trace id of a run: the one its submitter sent, or else one derived
 * from the run id, so every log line of a run carries a trace id without
 * drawing randomness.
 */
export function runTraceId(runId: string, traceparent: string | null): string {
  const given = parseTraceparent(traceparent);
  if (given !== undefined) return given.traceId;
  const digits = runId.replace(/[^0-9a-f]/g, "").slice(-32).padStart(32, "0");
  return digits === ZERO_TRACE ? "0".repeat(31) + "1" : digits;
}

/**
 * The `traceparent` of an outbound call made on a run's behalf: the run's
 * trace, a span id derived from `spanKey` (the call's identity, so the same
 * call always gets the same span), and the submitter's flags (00 if none).
 */
export function childTraceparent(
  runId: string,
  traceparent: string | null,
  spanKey: string,
): string {
  const given = parseTraceparent(traceparent);
  let parentId = createHash("sha256").update(spanKey).digest("hex").slice(
    0,
    16,
  );
  if (parentId === ZERO_SPAN) parentId = "0".repeat(15) + "1";
  return formatTraceparent({
    traceId: runTraceId(runId, traceparent),
    parentId,
    flags: given?.flags ?? "00",
  });
}
