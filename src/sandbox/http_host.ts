import { z } from "zod";
import { AosError, toAosError } from "../errors/mod.ts";
import { canonicalJson, type Json } from "../store/mod.ts";
import type { HostCallJournal } from "./host_calls.ts";
import type { GuardedHttpClient, OutboundRequest } from "./http_client.ts";
import { idempotencyKey, withIdempotencyKey } from "./idempotency_key.ts";

/** What a call's HTTP may do: from the skill's manifest. */
export interface HttpCallPolicy {
  allowedHosts: readonly string[];
  permissions: readonly string[];
}

/** The host side of skill HTTP: the guarded client and the host's secrets. */
export interface HttpGateway {
  client: GuardedHttpClient;
  /** Secret values by name; skills reference them as `{{secret:NAME}}`. */
  secrets: Readonly<Record<string, string>>;
}

/** What `aos_http` answers, and what the log records: a response or an error. */
export type HttpAnswer =
  | ({ ok: true } & Record<string, Json>)
  | {
    ok: false;
    error: { code: string; message: string; details: Record<string, Json> };
  };

const requestSchema = z.object({
  method: z.string().min(1).max(16).default("GET"),
  url: z.string().min(1).max(8192),
  headers: z.record(z.string().max(256), z.string().max(16_384)).default({}),
  body: z.string().nullable().default(null),
  timeout_ms: z.number().int().min(1).max(600_000).optional(),
}).strict();

/**
 * Largest host answer handed to a guest, in bytes of JSON. It must fit the
 * Extism kernel's buffer budget (the sandbox sizes that at 16 MiB with its
 * default output cap) next to the call's input and output.
 */
export const HOST_ANSWER_BYTES_MAX = 12 * 1024 * 1024;

const SECRET_REFERENCE = /\{\{secret:([A-Za-z0-9_]{1,64})\}\}/g;

/** Validates a guest's request; a malformed one fails the step (HOST_CALL_INVALID). */
export function parseHttpRequest(value: unknown): OutboundRequest {
  const parsed = requestSchema.safeParse(value);
  if (!parsed.success) {
    throw new AosError("HOST_CALL_INVALID", "the HTTP request is not valid", {
      details: {
        issues: parsed.error.issues.map((issue) =>
          `${issue.path.join(".")}: ${issue.message}`
        ),
      },
    });
  }
  const { timeout_ms, ...request } = parsed.data;
  return timeout_ms === undefined ? request : { ...request, timeout_ms };
}

function resolveSecrets(
  request: OutboundRequest,
  policy: HttpCallPolicy,
  gateway: HttpGateway,
): OutboundRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = value.replace(
      SECRET_REFERENCE,
      (_match, secret: string) => {
        const known = Object.hasOwn(gateway.secrets, secret);
        if (!known || !policy.permissions.includes(`secrets:${secret}`)) {
          throw new AosError(
            "HTTP_SECRET_UNKNOWN",
            `secret ${secret} is ${
              known
                ? "not granted to this skill"
                : "not configured on this host"
            }`,
            { details: { secret, permission: `secrets:${secret}` } },
          );
        }
        return gateway.secrets[secret]!;
      },
    );
  }
  return { ...request, headers };
}

// Trace propagation is a property of the live exchange only: the recorded
// request stays as the guest made it, so replay compares the same bytes.
function withTraceparent(
  request: OutboundRequest,
  traceparent: string | undefined,
): OutboundRequest {
  if (traceparent === undefined) return request;
  const names = Object.keys(request.headers).map((name) => name.toLowerCase());
  if (names.includes("traceparent")) return request;
  return { ...request, headers: { ...request.headers, traceparent } };
}

/** Replaces every secret value in `text` with its reference. */
function redact(text: string, gateway: HttpGateway): string {
  let out = text;
  for (const [name, value] of Object.entries(gateway.secrets)) {
    if (value.length >= 4) out = out.replaceAll(value, `{{secret:${name}}}`);
  }
  return out;
}

/**
 * Answers one HTTP host call through the journal: the request is recorded
 * with its secret references unresolved (so the log never holds a secret,
 * and replay compares the same request), secret values are put in only for
 * the live exchange, and any secret value the server echoes back is redacted
 * before the answer is recorded and handed to the guest, live or replayed.
 * Transport and policy failures are answers too (`ok: false`), recorded so
 * replay gives the skill the same failure.
 */
export async function answerHttp(
  journal: HostCallJournal,
  request: OutboundRequest,
  context: {
    policy: HttpCallPolicy;
    gateway: HttpGateway | undefined;
    /** Sent as `traceparent` unless the guest set one; never recorded. */
    traceparent?: string | undefined;
    /**
     * The run, step and attempt making the call: with the call's index they
     * give the `Idempotency-Key` sent unless the guest set one; never
     * recorded. Absent: no key is sent.
     */
    effect?: { run_id: string; step: string; attempt: number } | undefined;
  },
): Promise<HttpAnswer> {
  const answer = await journal.answer(
    "http",
    request as unknown as Json,
    async (index) => {
      const { policy, gateway } = context;
      try {
        if (gateway === undefined) {
          throw new AosError(
            "HTTP_HOST_NOT_ALLOWED",
            "outbound HTTP is disabled on this host",
          );
        }
        let live = withTraceparent(
          resolveSecrets(request, policy, gateway),
          context.traceparent,
        );
        if (context.effect !== undefined) {
          live = withIdempotencyKey(
            live,
            idempotencyKey({ ...context.effect, index }),
          );
        }
        const response = await gateway.client.request(
          live,
          {
            allowedHosts: policy.allowedHosts,
          },
        );
        const headers: Record<string, string> = {};
        for (
          const [name, value] of Object.entries(response.headers)
        ) headers[name] = redact(value, gateway);
        const body = response.body_encoding === "utf8"
          ? redact(response.body, gateway)
          : response.body;
        const answer = {
          ok: true,
          ...response,
          headers,
          body,
        } as unknown as Json;
        // The answer reaches the guest through the Extism kernel's buffers;
        // JSON escaping can make it several times the body's size.
        const answerBytes = canonicalJson(answer).length;
        if (answerBytes > HOST_ANSWER_BYTES_MAX) {
          throw new AosError(
            "HTTP_RESPONSE_TOO_LARGE",
            `the response is ${answerBytes} bytes as JSON; the cap is ${HOST_ANSWER_BYTES_MAX}`,
            {
              details: {
                answer_bytes: answerBytes,
                limit_bytes: HOST_ANSWER_BYTES_MAX,
                status: response.status,
              },
            },
          );
        }
        return answer;
      } catch (error) {
        const failure = toAosError(error);
        return { ok: false, error: failure.toJSON() } as unknown as Json;
      }
    },
  );
  return answer as unknown as HttpAnswer;
}
