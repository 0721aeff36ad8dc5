// The SQL host service. A skill needs the `sql` permission (or `sql:write`)
// to import `aos_sql`; the host runs one parameterised statement against a
// datasource it configures, records the answer in the run's log and serves
// it back on replay, so a replayed step needs no database.
import { Memory } from "@extism/as-pdk";
import { length } from "@extism/as-pdk/lib/env";

@external("extism:host/user", "aos_sql")
declare function aos_sql(request: u64): u64;

/**
 * Sends `requestJson` (`{datasource, sql, params, timeout_ms?, row_limit?}`)
 * to the host's sql service and returns its answer as UTF-8 JSON bytes:
 * `{"ok":true,"columns",...}`, or `{"ok":false,"error":{code,message,details}}`
 * when the statement failed or the host has no sql service. Bytes cross the
 * kernel in one block each way: answers can hold a megabyte of rows.
 */
export function sqlAnswerBytes(requestJson: string): Uint8Array {
  const bytes = Uint8Array.wrap(String.UTF8.encode(requestJson));
  const request = Memory.allocate(<u64>bytes.length);
  request.store(bytes);
  const offset = aos_sql(request.offset);
  request.free();
  const answer = new Memory(offset, length(offset));
  const answerBytes = answer.toUint8Array();
  answer.free();
  return answerBytes;
}
