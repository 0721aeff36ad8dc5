import type { CallContext } from "@extism/extism";
import { AosError, toAosError } from "../errors/mod.ts";
import type { Clock, RandomSource } from "../deps/mod.ts";
import { canonicalJson, type Json } from "../store/mod.ts";
import type { HostCallJournal } from "./host_calls.ts";
import { idempotencyKey } from "./idempotency_key.ts";
import {
  answerHttp,
  HOST_ANSWER_BYTES_MAX,
  type HttpCallPolicy,
  type HttpGateway,
  parseHttpRequest,
} from "./http_host.ts";

/** Largest `aos_random` request, in bytes. */
export const RANDOM_BYTES_MAX = 4096;

/** Largest request a guest may hand to `aos_http`, in bytes. */
export const HTTP_REQUEST_BYTES_MAX = 11 * 1024 * 1024;

/**
 * A host-side service reached through one recorded host function (SQL, the
 * mock calendar). `answer` does the live work; its result (or error, as
 * `{ ok: false, error }`) is recorded and replayed like every host answer,
 * so it must be JSON and must not contain secrets.
 */
export interface HostService {
  answer(request: unknown, context: HostServiceContext): Promise<Json>;
}

/** Who is calling a host service: the skill's grants and the step's identity. */
export interface HostServiceContext {
  permissions: readonly string[];
  run_id: string;
  step: string;
  /**
   * The call's idempotency key (`idempotencyKey`: its run, step, attempt
   * and index), the same on every node that re-executes the attempt; a
   * service that changes the world applies a key once. Absent when the host
   * does not say whose effects the call makes.
   */
  effect_key?: string | undefined;
}

/** Optional services, by host function. */
export interface HostServices {
  sql?: HostService;
  calendar?: HostService;
}

/** Per-call context the host functions reach through Extism's `hostContext`. */
export interface CallState {
  journal: HostCallJournal;
  /** The first error a host function raised; it explains the guest's failure. */
  failure: AosError | undefined;
  http: {
    policy: HttpCallPolicy;
    gateway: HttpGateway | undefined;
    /** W3C trace context sent on outbound HTTP of this call. */
    traceparent?: string | undefined;
    /** Whose effects this call makes: seeds each request's `Idempotency-Key`. */
    effect?: { run_id: string; step: string; attempt: number } | undefined;
  };
  services: HostServices;
  /** The run and step this call executes, for services that key side effects by them. */
  identity: { run_id: string; step: string };
}

/** Largest request to a host service, in bytes. */
export const SERVICE_REQUEST_BYTES_MAX = 1024 * 1024;

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

function readGuestJson(
  context: CallContext,
  offset: bigint,
  limitBytes: number,
  what: string,
): unknown {
  const block = context.read(offset);
  if (block === null) {
    throw new AosError(
      "HOST_CALL_INVALID",
      `${what}: ${offset} is not a memory block`,
      { details: { offset: String(offset) } },
    );
  }
  const bytes = block.bytes();
  if (bytes.length > limitBytes) {
    throw new AosError(
      "HOST_CALL_INVALID",
      `${what}: ${bytes.length} bytes is over the limit of ${limitBytes}`,
      {
        details: { bytes: bytes.length, limit_bytes: limitBytes },
      },
    );
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new AosError(
      "HOST_CALL_INVALID",
      `${what}: the argument is not JSON`,
      { cause: error },
    );
  }
}

/**
 * The `extism:host/user` functions of ABI v1. Every answer goes through the
 * call's journal, so it is recorded before the guest sees it and served from
 * the log on replay. The module's imports were checked against its
 * permissions before it was loaded, so a function is only reachable by
 * skills granted it.
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
          { details: { function: "aos_random", bytes: String(count) } },
        );
      }
      const hex = await state.journal.answer(
        "random",
        { bytes },
        () => toHex(deps.random.bytes(bytes)),
      );
      return context.store(fromHex(hex as string));
    }),
    aos_sql: guarded((state, context, offset) =>
      answerService("sql", state, context, offset)
    ),
    aos_calendar: guarded((state, context, offset) =>
      answerService("calendar", state, context, offset)
    ),
    aos_http: guarded(async (state, context, offset) => {
      const request = parseHttpRequest(
        readGuestJson(context, offset, HTTP_REQUEST_BYTES_MAX, "aos_http"),
      );
      const answer = await answerHttp(state.journal, request, state.http);
      // Canonical bytes: live and replayed answers must be byte-identical.
      return context.store(canonicalJson(answer));
    }),
  };
}

/**
 * Answers a call to a host service through the journal. The request is
 * recorded as the guest sent it; an unavailable service or a failure of the
 * service is an `ok: false` answer, recorded so replay repeats it.
 */
async function answerService(
  kind: "sql" | "calendar",
  state: CallState,
  context: CallContext,
  offset: bigint,
): Promise<bigint> {
  const request = readGuestJson(
    context,
    offset,
    SERVICE_REQUEST_BYTES_MAX,
    `aos_${kind}`,
  ) as Json;
  const answer = await state.journal.answer(kind, request, async (index) => {
    const service = state.services[kind];
    try {
      if (service === undefined) {
        throw new AosError(
          "HOST_CALL_INVALID",
          `this host offers no ${kind} service`,
          { details: { service: kind } },
        );
      }
      const effect = state.http.effect;
      const answer = await service.answer(request, {
        permissions: state.http.policy.permissions,
        run_id: state.identity.run_id,
        step: state.identity.step,
        ...(effect === undefined
          ? {}
          : { effect_key: idempotencyKey({ ...effect, index }) }),
      });
      const answerBytes = canonicalJson(answer).length;
      if (answerBytes > HOST_ANSWER_BYTES_MAX) {
        throw new AosError(
          "HOST_CALL_INVALID",
          `the ${kind} answer is ${answerBytes} bytes; the cap is ${HOST_ANSWER_BYTES_MAX}`,
          {
            details: {
              answer_bytes: answerBytes,
              limit_bytes: HOST_ANSWER_BYTES_MAX,
            },
          },
        );
      }
      return answer;
    } catch (error) {
      return {
        ok: false,
        error: toAosError(error).toJSON(),
      } as unknown as Json;
    }
  });
  return context.store(canonicalJson(answer));
}

/**
 * A `fetch` for Extism's own `http_request`, so skills built with any Extism
 * PDK take the same guarded, recorded path as `aos_http`. Extism hands no
 * call context to `fetch`, so the pool gives each instance a slot holding
 * the state of the call it is running.
 */
export function recordedFetch(slot: { state: unknown }): typeof fetch {
  return async (input, init = {}) => {
    const state = slot.state as CallState;
    const body = init.body === undefined || init.body === null
      ? null
      : new TextDecoder().decode(init.body as Uint8Array);
    const request = parseHttpRequest({
      method: init.method ?? "GET",
      url: String(input instanceof Request ? input.url : input),
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body,
    });
    const answer = await answerHttp(state.journal, request, state.http);
    if (!answer.ok) {
      const failure = AosError.fromJSON(answer.error);
      state.failure ??= failure;
      throw failure;
    }
    const status = answer.status as number;
    const bytes = answer.body_encoding === "base64"
      ? Uint8Array.from(
        atob(answer.body as string),
        (char) => char.charCodeAt(0),
      )
      : new TextEncoder().encode(answer.body as string);
    const nullBody = [101, 204, 205, 304].includes(status);
    return new Response(nullBody ? null : bytes, {
      status,
      headers: answer.headers as Record<string, string>,
    });
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
