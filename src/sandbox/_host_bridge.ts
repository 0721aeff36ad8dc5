// The main-thread side of host functions for plugins in workers. The guest's
// call arrives as arguments plus the bytes of the kernel blocks it points
// at; the same `hostFunctions` that would serve an in-thread plugin answer
// it through a stand-in for Extism's CallContext, and whatever they store
// travels back to be stored in the worker's kernel.
import type { CallContext } from "@extism/extism";
import type { Clock, RandomSource } from "../deps/mod.ts";
import { AosError } from "../errors/mod.ts";
import type { ForwardedFunction } from "./_plugin_worker.ts";
import {
  type CallState,
  hostFunctions,
  recordedFetch,
} from "./host_functions.ts";

/** What the main thread hands back to a guest's host call. */
export type HostAnswer =
  | { kind: "value"; value: bigint | number }
  | { kind: "void" }
  | { kind: "stored"; bytes: Uint8Array }
  | { kind: "failed"; message: string }
  | { kind: "response"; meta: Uint8Array; body: Uint8Array };

type Handler = (
  args: readonly (bigint | number)[],
  segments: readonly (Uint8Array<ArrayBuffer> | null)[],
  state: CallState,
) => Promise<HostAnswer>;

// Which arguments of each forwarded function are block addresses.
const BLOCK_ARGUMENTS: Readonly<Record<string, readonly number[]>> = {
  aos_http: [0],
  aos_sql: [0],
  aos_calendar: [0],
};

const USER_NAMESPACE = "extism:host/user";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The host functions a worker forwards, in the order the worker indexes
 * them, and their main-thread handlers.
 */
export class HostBridge {
  readonly functions: readonly ForwardedFunction[];
  readonly fetchIndex: number;
  readonly #handlers: readonly Handler[];

  constructor(deps: { clock: Clock; random: RandomSource }) {
    const functions: ForwardedFunction[] = [];
    const handlers: Handler[] = [];
    for (const [name, body] of Object.entries(hostFunctions(deps))) {
      const blocks = BLOCK_ARGUMENTS[name] ?? [];
      functions.push({ namespace: USER_NAMESPACE, name, blocks });
      handlers.push((args, segments, state) =>
        answerThroughContext(body, args, blocks, segments, state)
      );
    }
    this.fetchIndex = functions.length;
    functions.push({ namespace: "", name: "fetch", blocks: [] });
    handlers.push(answerFetch);
    this.functions = functions;
    this.#handlers = handlers;
  }

  /**
   * Answers host call `index`. A host function that throws an AosError has
   * explained the guest's failure: it becomes the call's failure, as it
   * would for a plugin in this thread.
   */
  async answer(
    index: number,
    args: readonly (bigint | number)[],
    segments: readonly (Uint8Array<ArrayBuffer> | null)[],
    state: CallState,
  ): Promise<HostAnswer> {
    const handler = this.#handlers[index];
    try {
      if (handler === undefined) {
        throw new AosError("INTERNAL", `no host function ${index}`);
      }
      return await handler(args, segments, state);
    } catch (error) {
      if (error instanceof AosError) state.failure ??= error;
      const message = error instanceof Error ? error.message : String(error);
      return { kind: "failed", message };
    }
  }
}

type ContextFunction = (
  context: CallContext,
  ...args: bigint[]
) => Promise<bigint>;

async function answerThroughContext(
  body: ContextFunction,
  args: readonly (bigint | number)[],
  blocks: readonly number[],
  segments: readonly (Uint8Array<ArrayBuffer> | null)[],
  state: CallState,
): Promise<HostAnswer> {
  let stored: Uint8Array | undefined;
  const context = {
    hostContext: () => state,
    read(address: bigint | number) {
      const position = blocks.findIndex((block) => args[block] === address);
      const bytes = position < 0 ? null : segments[position] ?? null;
      return bytes === null ? null : { bytes: () => bytes };
    },
    store(value: string | Uint8Array): bigint {
      if (stored !== undefined) {
        throw new AosError("INTERNAL", "a host function stored twice");
      }
      stored = typeof value === "string" ? encoder.encode(value) : value;
      return STORED_ADDRESS;
    },
  };
  const result = await body(
    context as unknown as CallContext,
    ...args as bigint[],
  );
  if (stored !== undefined) return { kind: "stored", bytes: stored };
  return result === undefined
    ? { kind: "void" }
    : { kind: "value", value: result };
}

// Stands for "the block the worker will store"; only returned with bytes.
const STORED_ADDRESS = -1n;

async function answerFetch(
  _args: readonly (bigint | number)[],
  segments: readonly (Uint8Array<ArrayBuffer> | null)[],
  state: CallState,
): Promise<HostAnswer> {
  const request = JSON.parse(decoder.decode(segments[0] ?? undefined));
  const body = segments[1];
  const response = await recordedFetch({ state })(request.url, {
    method: request.method,
    headers: request.headers,
    ...(body === null || body === undefined ? {} : { body }),
  });
  const meta = { status: response.status, headers: [...response.headers] };
  return {
    kind: "response",
    meta: encoder.encode(JSON.stringify(meta)),
    body: new Uint8Array(await response.arrayBuffer()),
  };
}
