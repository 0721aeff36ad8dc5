import { canonicalJson, type JsonObject, sha256Hex } from "../store/mod.ts";
import type { Store } from "../store/mod.ts";
import { claimKey } from "./idempotency.ts";

/**
 * The id of the signal request an `Idempotency-Key` names: every try of
 * the key sends its signal under this id, and the run records an id once
 * (`SignalReceived.request`), so a try that finds the signal recorded by an
 * earlier one whose answer was lost records nothing.
 */
export function signalRequestId(tenant: string, key: string): string {
  return `key_${sha256Hex(canonicalJson([tenant, key])).slice(0, 40)}`;
}

/** Whether the run's log holds the signal of request `request`. */
export async function signalRecorded(
  store: Store,
  runId: string,
  request: string,
): Promise<boolean> {
  return (await store.readLog(runId)).some((record) =>
    record.type === "SignalReceived" && record.body.request === request
  );
}

/**
 * Sends a signal once per `Idempotency-Key`, as `POST /v1/runs` accepts a
 * run once per key: a new key is claimed, the signal sent, and the key
 * completed with the answer; the same key with the same request gets that
 * answer again (`replayed`); with another request it is
 * IDEMPOTENCY_KEY_REUSED, while the first is still being sent
 * IDEMPOTENCY_KEY_IN_PROGRESS. A send that fails frees the key. A try that
 * took over a claim whose request died is sent under the same request id
 * (`signalRequestId`), so it records nothing the first one recorded.
 */
export async function sendOnce(
  store: Store,
  options: {
    tenant: string;
    key: string;
    fingerprint: string;
    nowMs: number;
    retentionMs: number;
    runId: string;
    send: () => Promise<JsonObject>;
  },
): Promise<{ response: JsonObject; replayed: boolean }> {
  const { tenant, key, fingerprint } = options;
  const claim = await claimKey(store, {
    tenant,
    key,
    fingerprint,
    nowMs: options.nowMs,
    retentionMs: options.retentionMs,
  });
  if (claim.kind === "replay") {
    return { response: claim.response, replayed: true };
  }
  let response: JsonObject;
  try {
    response = await options.send();
  } catch (error) {
    // Nothing recorded: free the key for a retry of this request. If even
    // that fails, the claim lapses after its lock and a retry takes it.
    await store.releaseIdempotencyKey(tenant, key, fingerprint).catch(
      () => {},
    );
    throw error;
  }
  await store.completeIdempotencyKey({
    tenant,
    key,
    fingerprint,
    run_id: options.runId,
    response,
  });
  return { response, replayed: false };
}
