// The success document {"result":…,"result_hash":"…"} built as UTF-8 bytes:
// the result is serialized and encoded once, hashed, and copied into the
// kernel block, with no second UTF-16 copy of a result that may be megabytes.
import { alloc, output_set, store_u64, store_u8 } from "@extism/as-pdk/lib/env";
import { JsonValue, stringify } from "../../_lib/json";
import { sha256Hex } from "../../_lib/sha256";

const PREFIX = "{\"result\":";
const HASH_KEY = ",\"result_hash\":\"";
const SUFFIX = "\"}";

/** Canonical JSON of {result, result_hash} (keys sorted) in UTF-8. */
export function outputDocument(result: JsonValue): Uint8Array {
  const resultBytes = Uint8Array.wrap(String.UTF8.encode(stringify(result)));
  const tail = HASH_KEY + sha256Hex(resultBytes) + SUFFIX;
  const document = new Uint8Array(PREFIX.length + resultBytes.length + tail.length);
  copyAscii(PREFIX, document, 0);
  document.set(resultBytes, PREFIX.length);
  copyAscii(tail, document, PREFIX.length + resultBytes.length);
  return document;
}

function copyAscii(text: string, target: Uint8Array, offset: i32): void {
  for (let i = 0; i < text.length; i++) target[offset + i] = <u8>text.charCodeAt(i);
}

/**
 * Sets the step's output to `bytes`, in a kernel block of exactly their
 * length (the JS SDK hands the whole block to the host), as _lib/abi's
 * writeOutput does for text.
 */
export function writeOutputBytes(bytes: Uint8Array): void {
  const length = <u64>bytes.length;
  const offset = alloc(length);
  const source = bytes.dataStart;
  let i: u64 = 0;
  // Every store is a call into the kernel, so copy eight bytes per call.
  for (; i + 8 <= length; i += 8) store_u64(offset + i, load<u64>(source + <usize>i));
  for (; i < length; i++) store_u8(offset + i, load<u8>(source + <usize>i));
  output_set(offset, length);
}
