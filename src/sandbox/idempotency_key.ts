/**
 * The idempotency key of an outbound effect. A host call that was sent but
 * not yet recorded when its node died is sent again by whichever node
 * re-executes the step; no recording scheme can close that window alone.
 * What closes it is a key the receiving server honours: the re-executed
 * attempt asks for the same host calls in the same order, so a key derived
 * from the call's position is the same on every node that sends it, and a
 * server that applies an effect once per key applies it once.
 *
 * @module
 */
import { canonicalJson, sha256Hex } from "../store/mod.ts";
import type { OutboundRequest } from "./http_client.ts";

/** The header that carries the key on outbound HTTP. */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";

/** Where one host call sits: the run, the step, its attempt, its index in the attempt. */
export interface EffectPosition {
  run_id: string;
  step: string;
  /** The step's attempt, from 1; a retry is a new attempt and a new effect. */
  attempt: number;
  /** The host call's index within the attempt, from 0 (every kind counts). */
  index: number;
}

// Bump only with a documented reason: every key a running system has sent
// would change, and effect servers would take re-sent calls as new ones.
const DERIVATION = "aos-effect-v1";

/**
 * `aos1-` and the sha256 (hex) of the canonical JSON array
 * `["aos-effect-v1", run_id, step, attempt, index]`: 69 characters, letters,
 * digits and one hyphen, so it fits any header and any key column. The
 * array keeps the parts apart whatever characters a step id holds.
 *
 * @example
 * ```ts
 * const key = idempotencyKey({ run_id: "r1", step: "pay", attempt: 1, index: 0 });
 * // the same string on every node, for every re-execution of that attempt
 * ```
 */
export function idempotencyKey(position: EffectPosition): string {
  const { run_id, step, attempt, index } = position;
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be a positive integer, not ${attempt}`);
  }
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`index must be a non-negative integer, not ${index}`);
  }
  const parts = canonicalJson([DERIVATION, run_id, step, attempt, index]);
  return `aos1-${sha256Hex(parts)}`;
}

/**
 * The live request with `Idempotency-Key: key` added, unless the guest set
 * the header itself (any case): a skill that speaks an API's own key scheme
 * keeps it. Like `traceparent`, the header belongs to the live exchange
 * only; the recorded request stays as the guest made it, so logs recorded
 * before keys existed replay unchanged.
 */
export function withIdempotencyKey(
  request: OutboundRequest,
  key: string,
): OutboundRequest {
  const wanted = IDEMPOTENCY_KEY_HEADER.toLowerCase();
  const names = Object.keys(request.headers).map((name) => name.toLowerCase());
  if (names.includes(wanted)) return request;
  return {
    ...request,
    headers: { ...request.headers, [IDEMPOTENCY_KEY_HEADER]: key },
  };
}
