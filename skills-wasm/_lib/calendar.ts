// The calendar host service. A skill needs the `calendar` permission to
// import `aos_calendar`; the host answers from the service it was given
// (the in-memory mock calendar), records the answer in the run's log and
// serves it back on replay, so a replayed step writes nothing.
import { Memory } from "@extism/as-pdk";
import { length } from "@extism/as-pdk/lib/env";

@external("extism:host/user", "aos_calendar")
declare function aos_calendar(request: u64): u64;

/**
 * Sends `requestJson` (e.g. `{"op":"put",...}`) to the host's calendar
 * service and returns its answer as UTF-8 JSON bytes: `{"ok":true,...}`, or
 * `{"ok":false,"error":{code,message,details}}` when the service refused the
 * request or the host has no calendar service.
 */
export function calendarCall(requestJson: string): Uint8Array {
  const request = Memory.allocateString(requestJson);
  const offset = aos_calendar(request.offset);
  request.free();
  const answer = new Memory(offset, length(offset));
  const bytes = answer.toUint8Array();
  answer.free();
  return bytes;
}
