import {
  type ApiAnswer,
  type ApiRequest,
  callApi,
  type ClientOptions,
} from "./client.ts";

/** Requests retried on 409/429/503 with `Retry-After` before giving up. */
const ATTEMPTS_MAX = 10;
/** Longest wait between tries, whatever Retry-After says. */
const RETRY_WAIT_MS_MAX = 30_000;

/**
 * Sends a request that carries an `Idempotency-Key` (so a repeat does
 * nothing twice) and sends it again while the server says it is busy: a
 * full node (429), a store away (503) or the key's first try still in
 * flight (409), each with `Retry-After`. Tells stderr of each wait, naming
 * the command.
 */
export async function callApiRetrying(
  client: ClientOptions,
  request: ApiRequest & { headers: { "idempotency-key": string } },
  command: string,
): Promise<ApiAnswer> {
  for (let attempt = 1;; attempt++) {
    const answer = await callApi(client, request);
    const busy = [409, 429, 503].includes(answer.status) &&
      answer.headers.has("retry-after");
    if (!busy || attempt >= ATTEMPTS_MAX) return answer;
    const waitMs = Math.min(
      RETRY_WAIT_MS_MAX,
      Math.max(0, Number(answer.headers.get("retry-after")) || 1) * 1000,
    );
    const code = (answer.body.error as { code?: string } | undefined)?.code;
    console.error(
      `${command}: ${code ?? answer.status}; retrying in ${
        waitMs / 1000
      }s (attempt ${attempt}/${ATTEMPTS_MAX})`,
    );
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}
