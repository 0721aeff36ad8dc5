import { AosError } from "../errors/mod.ts";

/** Host-side caps on what a skill may return. */
export interface OutputLimits {
  /** Most bytes of output (default 4 MiB). */
  bytesMax: number;
  /** Deepest nesting of arrays and objects (default 256). */
  depthMax: number;
}

/** Defaults of `OutputLimits`. */
export const DEFAULT_OUTPUT_LIMITS: OutputLimits = {
  bytesMax: 4 * 1024 * 1024,
  depthMax: 256,
};

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The deepest nesting in JSON text, found by scanning bytes (strings and
 * their escapes skipped) without building anything, and giving up as soon
 * as `stopAt` is passed. It runs before `JSON.parse`, because parsing,
 * logging or re-serialising a document nested tens of thousands of levels
 * deep overflows the stack.
 */
export function jsonDepth(bytes: Uint8Array, stopAt = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index];
    if (inString) {
      if (byte === BACKSLASH) index++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > stopAt) return deepest;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
  return deepest;
}

/** The limit `output` breaks, as a catalog error; undefined when within limits. */
export function checkOutputLimits(
  output: Uint8Array,
  limits: OutputLimits,
): AosError | undefined {
  if (output.length > limits.bytesMax) {
    return new AosError(
      "SANDBOX_OUTPUT_TOO_LARGE",
      `the skill returned ${output.length} bytes; the cap is ${limits.bytesMax}`,
      { details: { bytes: output.length, limit_bytes: limits.bytesMax } },
    );
  }
  if (jsonDepth(output, limits.depthMax) > limits.depthMax) {
    return new AosError(
      "SANDBOX_OUTPUT_TOO_DEEP",
      `the skill's output nests deeper than ${limits.depthMax} levels`,
      { details: { limit_depth: limits.depthMax } },
    );
  }
  return undefined;
}
