/**
 * The outbound HTTP client of the sandbox: every request a skill makes goes
 * through the SSRF guard, connects only to an address the guard checked, and
 * is bounded in time, size and redirects.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Dispatcher } from "undici";
import { type Clock, liveClock } from "../deps/mod.ts";
import { AosError } from "../errors/mod.ts";
import { decodingPlan, readBody } from "./_http_body.ts";
import {
  discard,
  encodeBody,
  exchangeError,
  first,
  type Hop,
  pinnedAgent,
  REDIRECT_STATUSES,
  redirected,
  redirectUrl,
  undici,
} from "./_http_exchange.ts";
import {
  requestHeaders,
  requestMethod,
  responseHeaders,
} from "./_http_headers.ts";
import {
  type CheckedTarget,
  checkTarget,
  describeUrl,
  type HttpPolicy,
  liveResolver,
  type LoopbackTarget,
  type Resolver,
} from "./ssrf_guard.ts";

/** The version in the default `user-agent`. */
export const AOS_VERSION = "0.1.0";

/** A request as a skill asks for it (the JSON of `aos_http`). */
export interface OutboundRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  /** Whole-exchange limit; capped by the client's `timeoutMsMax`. */
  timeout_ms?: number;
}

/** A response as recorded in the log and handed to the skill. */
export interface OutboundResponse {
  status: number;
  /** Lower-case names, sorted; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Decoded (gzip, deflate, br undone); base64 when not valid UTF-8. */
  body: string;
  body_encoding: "utf8" | "base64";
  /** The final URL, after redirects. */
  url: string;
}

/** Options of `GuardedHttpClient`. */
export interface GuardedHttpClientOptions {
  /** Defaults to `liveResolver()` (the system's DNS). */
  resolver?: Resolver;
  /** Most bytes of a request body and of a decoded response body; 10 MiB. */
  bodyMaxBytes?: number;
  /** Most redirects followed; 5. */
  redirectsMax?: number;
  /** Ceiling on a request's `timeout_ms`, and its default; 30000. */
  timeoutMsMax?: number;
  /** Host-side loopback exceptions; none by default (see `checkTarget`). */
  loopbackAllowlist?: readonly LoopbackTarget[];
  /** Whether public hosts may be called; true by default (see `checkTarget`). */
  externalEnabled?: boolean;
  /** Reads time for timeouts; defaults to the live clock. */
  clock?: Clock;
  /** Defaults to `aos/<AOS_VERSION>`. */
  userAgent?: string;
  /**
   * Trusted CA certificates (PEM) for https, replacing the default roots;
   * for tests and private CAs. Defaults to the runtime's roots.
   */
  ca?: string | readonly string[];
}

type Exchange =
  | { kind: "response"; response: OutboundResponse }
  | { kind: "redirect"; status: number; location: URL };

/**
 * Makes the HTTP requests of skills. Each hop (the first request and every
 * redirect) is checked by the SSRF guard and sent through its own undici
 * `Agent`, whose `connect.lookup` answers with the checked addresses only,
 * so no DNS answer the guard did not see is ever connected to. Redirects are
 * followed by hand and re-checked; response bodies are decoded while
 * streaming and capped after decoding.
 *
 * @example
 * ```ts
 * const client = new GuardedHttpClient({ timeoutMsMax: 10_000 });
 * const response = await client.request(
 *   { method: "GET", url: "https://api.example.com/v1", headers: {}, body: null },
 *   { allowedHosts: ["api.example.com"] },
 * );
 * ```
 */
export class GuardedHttpClient {
  readonly #resolver: Resolver;
  readonly #externalEnabled: boolean;
  readonly #bodyMaxBytes: number;
  readonly #redirectsMax: number;
  readonly #timeoutMsMax: number;
  readonly #loopbackAllowlist: readonly LoopbackTarget[];
  readonly #clock: Clock;
  readonly #userAgent: string;
  readonly #ca: string | readonly string[] | undefined;

  constructor(options: GuardedHttpClientOptions = {}) {
    this.#resolver = options.resolver ?? liveResolver();
    this.#externalEnabled = options.externalEnabled ?? true;
    this.#bodyMaxBytes = options.bodyMaxBytes ?? 10 * 1024 * 1024;
    this.#redirectsMax = options.redirectsMax ?? 5;
    this.#timeoutMsMax = options.timeoutMsMax ?? 30_000;
    this.#loopbackAllowlist = options.loopbackAllowlist ?? [];
    this.#clock = options.clock ?? liveClock;
    this.#userAgent = options.userAgent ?? `aos/${AOS_VERSION}`;
    this.#ca = options.ca;
    assert(Number.isSafeInteger(this.#bodyMaxBytes) && this.#bodyMaxBytes > 0);
    assert(Number.isSafeInteger(this.#redirectsMax) && this.#redirectsMax >= 0);
    assert(Number.isFinite(this.#timeoutMsMax) && this.#timeoutMsMax > 0);
    for (const entry of this.#loopbackAllowlist) {
      assert(
        Number.isInteger(entry.port) && entry.port > 0 && entry.port < 65536,
      );
    }
  }

  /**
   * Sends a request on behalf of a skill with the manifest's policy.
   *
   * @throws {AosError} `HTTP_URL_INVALID` (bad URL, method or header),
   * `HOST_CALL_INVALID` (body over the cap, bad `timeout_ms`), the guard's
   * `HTTP_HOST_NOT_ALLOWED`, `HTTP_ADDRESS_FORBIDDEN`, `HTTP_DNS_FAILED`,
   * and `HTTP_CONNECT_FAILED`, `HTTP_TIMEOUT`, `HTTP_RESPONSE_TOO_LARGE`,
   * `HTTP_REDIRECT_LIMIT`.
   */
  async request(
    request: OutboundRequest,
    policy: HttpPolicy,
  ): Promise<OutboundResponse> {
    const timeoutMs = this.#timeoutMs(request.timeout_ms);
    let hop = this.#firstHop(request);
    const controller = new AbortController();
    let finished = false;
    let timedOut = false;
    const timer = this.#clock.delay(timeoutMs);
    timer.done.then(() => {
      if (finished) return;
      timedOut = true;
      controller.abort();
    });
    try {
      for (let redirects = 0;; redirects++) {
        const target = await checkTarget(hop.url, policy, {
          resolver: this.#resolver,
          loopbackAllowlist: this.#loopbackAllowlist,
          externalEnabled: this.#externalEnabled,
          signal: controller.signal,
        });
        const result = await this.#exchange(target, hop, controller.signal);
        if (result.kind === "response") return result.response;
        if (redirects >= this.#redirectsMax) {
          throw new AosError(
            "HTTP_REDIRECT_LIMIT",
            `more than ${this.#redirectsMax} redirects`,
            {
              details: {
                url: describeUrl(target.url),
                status: result.status,
                limit: this.#redirectsMax,
              },
            },
          );
        }
        hop = redirected(hop, result, target.url);
      }
    } catch (error) {
      if (!timedOut) throw error;
      throw new AosError(
        "HTTP_TIMEOUT",
        `the request did not finish within ${timeoutMs} ms`,
        {
          details: { url: safeDescribeUrl(hop.url), timeout_ms: timeoutMs },
          cause: error,
        },
      );
    } finally {
      finished = true;
      timer.cancel();
    }
  }

  #timeoutMs(requested: number | undefined): number {
    if (requested === undefined) return this.#timeoutMsMax;
    if (!Number.isFinite(requested) || requested <= 0) {
      throw new AosError(
        "HOST_CALL_INVALID",
        "timeout_ms must be a positive number",
        { details: { function: "aos_http", limit: this.#timeoutMsMax } },
      );
    }
    return Math.min(requested, this.#timeoutMsMax);
  }

  #firstHop(request: OutboundRequest): Hop {
    const body = request.body;
    if (body !== null && Buffer.byteLength(body) > this.#bodyMaxBytes) {
      throw new AosError(
        "HOST_CALL_INVALID",
        `the request body is larger than ${this.#bodyMaxBytes} bytes`,
        { details: { function: "aos_http", limit_bytes: this.#bodyMaxBytes } },
      );
    }
    return {
      method: requestMethod(request.method),
      url: request.url,
      headers: requestHeaders(request.headers, {
        "user-agent": this.#userAgent,
        "accept-encoding": "gzip, deflate, br",
      }),
      body,
    };
  }

  async #exchange(
    target: CheckedTarget,
    hop: Hop,
    signal: AbortSignal,
  ): Promise<Exchange> {
    const { request: sendRequest } = await undici();
    const agent = await pinnedAgent(
      target,
      this.#ca === undefined ? {} : { ca: this.#ca },
    );
    const details = { url: describeUrl(target.url), host: target.host };
    try {
      const response = await sendRequest(target.url, {
        dispatcher: agent,
        method: hop.method as "GET",
        headers: hop.headers,
        body: hop.body,
        signal,
      });
      const status = response.statusCode;
      const location = first(response.headers.location);
      if (REDIRECT_STATUSES.has(status) && location !== undefined) {
        discard(response.body);
        return {
          kind: "redirect",
          status,
          location: redirectUrl(location, target.url, status),
        };
      }
      return {
        kind: "response",
        response: await this.#readResponse(response, hop, target, details),
      };
    } catch (error) {
      throw exchangeError(error, details);
    } finally {
      await agent.destroy().catch(() => {});
    }
  }

  async #readResponse(
    response: Dispatcher.ResponseData,
    hop: Hop,
    target: CheckedTarget,
    details: { url: string; host: string },
  ): Promise<OutboundResponse> {
    const status = response.statusCode;
    const codings = decodingPlan(first(response.headers["content-encoding"]));
    const decoded = codings !== undefined && codings.length > 0;
    // A HEAD answer announces the length of a body it does not carry.
    const announcedBytes = hop.method === "HEAD"
      ? 0
      : Number(first(response.headers["content-length"]));
    if (!decoded && announcedBytes > this.#bodyMaxBytes) {
      discard(response.body);
      throw new AosError(
        "HTTP_RESPONSE_TOO_LARGE",
        `the response announces ${announcedBytes} bytes, more than ${this.#bodyMaxBytes}`,
        { details: { ...details, status, limit_bytes: this.#bodyMaxBytes } },
      );
    }
    const bytes = await readBody(response.body, {
      codings: codings ?? [],
      limitBytes: this.#bodyMaxBytes,
      details: { ...details, status },
    });
    return {
      status,
      headers: responseHeaders(response.headers, { decoded }),
      ...encodeBody(bytes),
      url: target.url.href,
    };
  }
}

function safeDescribeUrl(url: string): string | null {
  try {
    return describeUrl(new URL(url));
  } catch {
    return null;
  }
}
