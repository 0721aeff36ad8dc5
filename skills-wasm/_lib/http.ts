// Outbound HTTP through the host. A skill needs the `http` permission to
// import `aos_http`; the host checks every URL (SSRF guard, the manifest's
// allowed_hosts), records the answer in the run's log and serves it back on
// replay, so a replayed step never sends a request.
import { Memory } from "@extism/as-pdk";
import { length } from "@extism/as-pdk/lib/env";

@external("extism:host/user", "aos_http")
declare function aos_http(request: u64): u64;

/**
 * Sends `requestJson` (`{method, url, headers, body, timeout_ms}`) and
 * returns the host's answer as JSON text: `{"ok":true,"status",...}` or
 * `{"ok":false,"error":{code,message,details}}`.
 */
export function httpJson(requestJson: string): string {
  const request = Memory.allocateString(requestJson);
  const offset = aos_http(request.offset);
  request.free();
  const answer = new Memory(offset, length(offset));
  const text = answer.toString();
  answer.free();
  return text;
}
