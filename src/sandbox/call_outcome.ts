/**
 * What a skill's call came to: its output bytes as a step outcome (limits,
 * UTF-8 JSON, the sha256 the log records), or what Extism threw as an error
 * of the catalog.
 *
 * @module
 */
import type { StepOutcome } from "../../actors/run_ports.ts";
import { AosError } from "../errors/mod.ts";
import { type Json, sha256Hex } from "../store/mod.ts";
import { checkOutputLimits, type OutputLimits } from "./output_limits.ts";

/** How Extism prefixes an error the guest reported itself. */
export const GUEST_ERROR_PREFIX = "Plugin-originated error: ";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** True when the guest reported the error itself (it can be reused). */
export function isGuestError(error: unknown): boolean {
  return messageOf(error).startsWith(GUEST_ERROR_PREFIX);
}

// In worker mode a trapped call rejects with a plain { message } object.
function messageOf(error: unknown): string {
  if (typeof error === "object" && error !== null && "message" in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

/** A call's output bytes as the step's outcome. */
export function parseOutput(
  bytes: Uint8Array | undefined,
  limits: OutputLimits,
): StepOutcome {
  if (bytes === undefined || bytes.length === 0) {
    return {
      ok: false,
      error: new AosError(
        "SANDBOX_OUTPUT_INVALID",
        "the skill returned no output",
      ).toRecorded(),
    };
  }
  const breach = checkOutputLimits(bytes, limits);
  if (breach !== undefined) return { ok: false, error: breach.toRecorded() };
  let output: Json;
  try {
    output = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    return {
      ok: false,
      error: new AosError(
        "SANDBOX_OUTPUT_INVALID",
        "the skill's output is not UTF-8 JSON",
        {
          cause: error,
          details: { bytes: bytes.length },
        },
      ).toRecorded(),
    };
  }
  return { ok: true, output, output_sha256: sha256Hex(bytes) };
}

/**
 * Maps what Extism threw to a catalog error. `guestLog` is the guest's last
 * error log line: skills log their abort reason there before trapping.
 */
export function classifyCallError(
  error: unknown,
  guestLog?: string,
): AosError {
  const message = messageOf(error);
  if (message.startsWith(GUEST_ERROR_PREFIX)) {
    const text = message.slice(GUEST_ERROR_PREFIX.length);
    try {
      return AosError.fromJSON(JSON.parse(text), "SKILL_ERROR");
    } catch {
      return new AosError("SKILL_ERROR", text.slice(0, 2000));
    }
  }
  if (error instanceof AosError) return error;
  if (message.includes("call canceled due to timeout")) {
    return new AosError(
      "SANDBOX_TIMEOUT",
      "the skill exceeded its time limit",
      { cause: error },
    );
  }
  const aborted = parseAbort(guestLog);
  if (aborted !== undefined) return aborted;
  // The kernel refuses allocations past its budget and logs why.
  if (guestLog?.startsWith("memory limit exceeded")) {
    return new AosError(
      "SANDBOX_OUTPUT_TOO_LARGE",
      `the skill tried to allocate past the host's buffer budget: ${guestLog}`,
    );
  }
  return new AosError(
    "SANDBOX_TRAP",
    `the skill trapped: ${message.slice(0, 500)}`,
    { cause: error },
  );
}

function parseAbort(line: string | undefined): AosError | undefined {
  if (line === undefined) return undefined;
  try {
    const reported = JSON.parse(line);
    if (reported?.code === "SKILL_ABORTED") return AosError.fromJSON(reported);
  } catch {
    // not an abort report: the trap stands as it is
  }
  return undefined;
}
