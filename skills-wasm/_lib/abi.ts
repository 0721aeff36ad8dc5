// The skill ABI (v1) on the guest side: params in, canonical JSON out, and
// failures as `{code, message, details}` through the Extism kernel.
import { Host } from "@extism/as-pdk";
import {
  alloc,
  error_set,
  log_error,
  output_set,
  store_u64,
  store_u8,
} from "@extism/as-pdk/lib/env";
import { quote } from "./json";

// Set once abort starts, so an abort raised while reporting (e.g. out of
// memory while building the message) traps at once instead of recursing.
let aborting = false;

/** The step's params exactly as the host sent them (UTF-8 JSON bytes). */
export function readInputBytes(): Uint8Array {
  // Every entrypoint starts here. Instances are reused, so an abort flag
  // left by an earlier call that trapped must not silence this call's abort.
  aborting = false;
  return Host.input();
}

/** The step's params as text. */
export function readInput(): string {
  return String.UTF8.decode(readInputBytes().buffer);
}

/**
 * Copies `bytes` into a fresh kernel block and returns its offset. The block
 * has exactly the byte length: the JS SDK hands the whole block to the host
 * and ignores the length given to output_set, so the size must be right here
 * (as-pdk's Host.outputString sizes it by UTF-16 length, which breaks
 * non-ASCII output).
 */
function storeBlock(bytes: ArrayBuffer): u64 {
  const length = <u64>bytes.byteLength;
  const offset = alloc(length);
  const source = changetype<usize>(bytes);
  let i: u64 = 0;
  // Every store is a call into the kernel, so copy eight bytes per call.
  for (; i + 8 <= length; i += 8) store_u64(offset + i, load<u64>(source + <usize>i));
  for (; i < length; i++) store_u8(offset + i, load<u8>(source + <usize>i));
  return offset;
}

/** Sets the step's output to `json` (UTF-8, correct byte length). */
export function writeOutput(json: string): void {
  const bytes = String.UTF8.encode(json);
  output_set(storeBlock(bytes), <u64>bytes.byteLength);
}

/** The error document the host rebuilds into a catalog error. */
export function errorJson(code: string, message: string, detailsJson: string): string {
  // Keys in canonical (sorted) order: code, details, message.
  return "{\"code\":" + quote(code) + ",\"details\":" + detailsJson + ",\"message\":" +
    quote(message) + "}";
}

/**
 * Reports a skill failure and returns the entrypoint's failure status (1).
 * `detailsJson` must already be canonical JSON (build it with stringify).
 */
export function fail(code: string, message: string, detailsJson: string): i32 {
  error_set(storeBlock(String.UTF8.encode(errorJson(code, message, detailsJson))));
  return 1;
}

/**
 * The module's `abort` (compiled with `--use abort=skills-wasm/_lib/abi/skillAbort`),
 * so no `env.abort` import exists. Reports SKILL_ABORTED through error_set,
 * also logs it at error level (when a call traps, the JS SDK drops the
 * error block, and the log line is the only copy that reaches the host),
 * then traps: AssemblyScript code after an abort must not continue.
 */
export function skillAbort(
  message: string | null,
  fileName: string | null,
  lineNumber: u32,
  columnNumber: u32,
): void {
  if (aborting) unreachable();
  aborting = true;
  const details = "{\"column\":" + columnNumber.toString() + ",\"file\":" +
    quote(fileName !== null ? fileName : "") + ",\"line\":" + lineNumber.toString() + "}";
  const json = errorJson("SKILL_ABORTED", message !== null ? message : "abort", details);
  const bytes = String.UTF8.encode(json);
  log_error(storeBlock(bytes));
  error_set(storeBlock(bytes));
  unreachable();
}
