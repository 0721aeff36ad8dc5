// The AOS host functions. They are the only way a skill may learn the time or
// get randomness: the host records every answer in the run's log and serves
// it back on replay, which is what keeps a re-executed step byte-identical.
import { Memory } from "@extism/as-pdk";

@external("extism:host/user", "aos_now")
declare function aos_now(): i64;

@external("extism:host/user", "aos_random")
declare function aos_random(n: i64): i64;

/** Milliseconds since the Unix epoch, as recorded by the host. */
export function nowMs(): i64 {
  return aos_now();
}

/** `n` random bytes, as recorded by the host. */
export function randomBytes(n: i32): Uint8Array {
  assert(n >= 0, "randomBytes: negative length");
  const memory = new Memory(<u64>aos_random(<i64>n), <u64>n);
  const bytes = memory.toUint8Array();
  memory.free();
  return bytes;
}

const HEX_DIGITS = "0123456789abcdef";

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  const parts = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = <i32>bytes[i];
    parts[i] = HEX_DIGITS.charAt(b >> 4) + HEX_DIGITS.charAt(b & 15);
  }
  return parts.join("");
}
