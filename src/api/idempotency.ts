import { AosError } from "../errors/mod.ts";
import {
  canonicalJson,
  type JsonObject,
  sha256Hex,
  type Store,
} from "../store/mod.ts";

/** How long a used `Idempotency-Key` is remembered: 24 hours. */
export const IDEMPOTENCY_RETENTION_MS_DEFAULT = 24 * 3_600_000;

/**
 * How long a claim may stay pending before another request with the key may
 * take it over (the first request's process died while accepting).
 */
export const IDEMPOTENCY_LOCK_MS = 60_000;

/** The identity of a request under a key: sha256 of its canonical JSON. */
export function requestFingerprint(request: unknown): string {
  return sha256Hex(canonicalJson(request as JsonObject));
}

/** A request's claim on its tenant's key, at `nowMs`, kept `retentionMs`. */
export interface KeyClaimRequest {
  tenant: string;
  key: string;
  fingerprint: string;
  nowMs: number;
  retentionMs: number;
}

/** What `claimKey` found. */
export type KeyClaim =
  | { kind: "new" }
  | { kind: "replay"; response: JsonObject; runId: string | null };

/**
 * Claims `key` for a request, following the IETF Idempotency-Key draft:
 * a fresh key is claimed (`new`); the same key with the same request gets
 * the first response again (`replay`); with a different request it is
 * IDEMPOTENCY_KEY_REUSED (422); while the first is still being accepted it
 * is IDEMPOTENCY_KEY_IN_PROGRESS (409, `Retry-After`).
 */
export async function claimKey(
  store: Store,
  claim: KeyClaimRequest,
): Promise<KeyClaim> {
  const answer = await store.claimIdempotencyKey({
    tenant: claim.tenant,
    key: claim.key,
    fingerprint: claim.fingerprint,
    nowMs: claim.nowMs,
    lockedUntilMs: claim.nowMs + IDEMPOTENCY_LOCK_MS,
    expiresAtMs: claim.nowMs + claim.retentionMs,
  });
  if (answer.claimed) return { kind: "new" };
  const { entry } = answer;
  if (entry.fingerprint !== claim.fingerprint) {
    throw new AosError(
      "IDEMPOTENCY_KEY_REUSED",
      "this Idempotency-Key was already used with a different request",
      { details: { idempotency_key: claim.key } },
    );
  }
  if (entry.state === "pending" || entry.response === null) {
    throw new AosError(
      "IDEMPOTENCY_KEY_IN_PROGRESS",
      "a request with this Idempotency-Key is still being accepted",
      { details: { idempotency_key: claim.key, retry_after_s: 1 } },
    );
  }
  return { kind: "replay", response: entry.response, runId: entry.run_id };
}

/**
 * `act` once per key (`claimKey`): a new key is claimed and `act` run;
 * the same key with the same request gets the first response again
 * (`replayed`). When `act` fails the claim is given up, so a retry of the
 * request is a first try; if even that fails, the claim lapses after its
 * lock and a retry takes it. Completing the key is `act`'s (or the
 * caller's) part: a run completes it in the transaction that creates it.
 */
export async function onceForKey(
  store: Store,
  claim: KeyClaimRequest,
  act: () => Promise<JsonObject>,
): Promise<{ response: JsonObject; replayed: boolean }> {
  const claimed = await claimKey(store, claim);
  if (claimed.kind === "replay") {
    return { response: claimed.response, replayed: true };
  }
  try {
    return { response: await act(), replayed: false };
  } catch (error) {
    await store.releaseIdempotencyKey(
      claim.tenant,
      claim.key,
      claim.fingerprint,
    ).catch(() => {});
    throw error;
  }
}
