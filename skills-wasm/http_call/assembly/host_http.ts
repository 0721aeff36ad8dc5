// aos_http on bytes: request and answer cross the kernel eight bytes per
// call and are parsed from UTF-8 directly, which matters for bodies of
// several megabytes (the shared httpJson copies byte by byte and decodes the
// answer to a string first).
import { Memory } from "@extism/as-pdk";
import { length } from "@extism/as-pdk/lib/env";

@external("extism:host/user", "aos_http")
declare function aos_http(request: u64): u64;

/** Sends `requestJson` to the host and returns its answer as UTF-8 JSON bytes. */
export function httpAnswerBytes(requestJson: string): Uint8Array {
  const bytes = Uint8Array.wrap(String.UTF8.encode(requestJson));
  const request = Memory.allocate(<u64>bytes.length);
  request.store(bytes);
  const offset = aos_http(request.offset);
  request.free();
  const answer = new Memory(offset, length(offset));
  const answerBytes = answer.toUint8Array();
  answer.free();
  return answerBytes;
}
