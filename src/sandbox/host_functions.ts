import type { CallContext } from "@extism/extism";
import { AosError } from "../errors/mod.ts";
import type { Clock, RandomSource } from "../deps/mod.ts";
import type { HostCallJournal } from "./host_calls.ts";

/** Largest `aos_random` request, in bytes. */
export const RANDOM_BYTES_MAX = 4096;

/** Per-call context the host functions reach through Extism's `hostContext`. */
export interface CallState {
  journal: HostCallJournal;
  /** The first error a host function raised; it explains the guest's failure. */
  failure: AosError | undefined;
}

type HostFunction = (
  context: CallContext,
  ...args: bigint[]
) => Promise<bigint>;

function guarded(
  body: (
    state: CallState,
    context: CallContext,
    ...args: bigint[]
  ) => Promise<bigint>,
): HostFunction {
  return async (context, ...args) => {
    const state = context.hostContext<CallState>();
    try {
      return await body(state, context, ...args);
    } catch (error) {
      const failure = error instanceof AosError
        ? error
        : new AosError("INTERNAL", `host function failed: ${String(error)}`, {
          cause: error,
        });
      state.failure ??= failure;
      throw failure;
    }
  };
}

/**
 * The `extism:host/user` functions of ABI v1. Every answer goes through the
 * call's journal, so it is recorded before the guest sees it and served from
 * the log on replay.
 */
export function hostFunctions(
  deps: { clock: Clock; random: RandomSource },
): Record<string, HostFunction> {
  return {
    aos_now: guarded(async (state) => {
      const nowMs = await state.journal.answer(
        "now",
        null,
        () => deps.clock.nowMs(),
      );
      return BigInt(nowMs as number);
    }),
    aos_random: guarded(async (state, context, count) => {
      const bytes = Number(count);
      if (!Number.isInteger(bytes) || bytes < 1 || bytes > RANDOM_BYTES_MAX) {
        throw new AosError(
          "HOST_CALL_INVALID",
          `aos_random asked for ${count} bytes; the limit is 1..${RANDOM_BYTES_MAX}`,
          {
            details: { function: "aos_random", bytes: String(count) },
          },
        );
      }
      const hex = await state.journal.answer(
        "random",
        { bytes },
        () => toHex(deps.random.bytes(bytes)),
      );
      return context.store(fromHex(hex as string));
    }),
  };
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}

function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let index = 0; index < bytes.length; index++) {
    bytes[index] = parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  }
  return bytes;
}
