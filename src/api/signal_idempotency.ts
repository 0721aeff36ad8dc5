import { canonicalJson, type JsonObject, sha256Hex } from "../store/mod.ts";
import type { Store } from "../store/mod.ts";
import { type KeyClaimRequest, onceForKey } from "./idempotency.ts";

/**
 * The id of the signal request an `Idempotency-Key` names: every try of
 * the key sends its signal under this id, and the run records an id once
 * (`SignalReceived.request`), so a try that finds the signal recorded by an
 * earlier one whose answer was lost records nothing.
 */
export function signalRequestId(tenant: string, key: string): string {
  return `key_${sha256Hex(canonicalJson([tenant, key])).slice(0, 40)}`;
}

/**
 * Sends a signal once per `Idempotency-Key` (`onceForKey`), then completes
 * the key with the answer. A try that took over a claim whose request died
 * is sent under the same request id (`signalRequestId`), so it records
 * nothing the first one recorded.
 */
export async function sendOnce(
  store: Store,
  options: KeyClaimRequest & {
    runId: string;
    send: () => Promise<JsonObject>;
  },
): Promise<{ response: JsonObject; replayed: boolean }> {
  const { tenant, key, fingerprint } = options;
  const sent = await onceForKey(store, options, options.send);
  if (sent.replayed) return sent;
  await store.completeIdempotencyKey({
    tenant,
    key,
    fingerprint,
    run_id: options.runId,
    response: sent.response,
  });
  return sent;
}
