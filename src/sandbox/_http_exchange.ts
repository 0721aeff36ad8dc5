import { Buffer } from "node:buffer";
import type { LookupAddress, LookupOptions } from "node:dns";
import type { Agent, Dispatcher } from "undici";
import { AosError } from "../errors/mod.ts";
import {
  BODY_HEADERS,
  CREDENTIAL_HEADERS,
  withoutHeaders,
} from "./_http_headers.ts";
import { type CheckedTarget, describeUrl } from "./ssrf_guard.ts";

/** One request of an exchange: the first, or one a redirect asks for. */
export interface Hop {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

/** Statuses the client follows when they carry a `location`. */
export const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const TIMEOUT_CODES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ETIMEDOUT",
]);
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

let undiciModule: Promise<typeof import("undici")> | undefined;

/**
 * undici, loaded at the first outbound request: about 20 MB of a server's
 * memory that a node whose skills make no HTTP calls never needs.
 */
export function undici(): Promise<typeof import("undici")> {
  undiciModule ??= import("undici");
  return undiciModule;
}

/**
 * An undici agent for one hop whose DNS lookup answers with the guard's
 * checked addresses. Address literals never reach `lookup` (node:net skips
 * it for them), and the guard checked the literal itself.
 */
export async function pinnedAgent(
  target: CheckedTarget,
  options: { ca?: string | readonly string[] } = {},
): Promise<Agent> {
  const { Agent } = await undici();
  const lookup = (
    hostname: string,
    options: LookupOptions,
    callback: (
      error: Error | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ) => {
    const name = hostname.toLowerCase().replace(/\.$/, "");
    const family = options.family === 4 || options.family === 6
      ? options.family
      : undefined;
    const addresses = target.addresses.filter((address) =>
      family === undefined || address.family === family
    );
    const chosen = addresses[0];
    if (name !== target.host || chosen === undefined) {
      // A connect to a name the guard did not check would be a bug here.
      callback(
        new AosError("INTERNAL", `no checked address for ${hostname}`),
        [],
      );
    } else if (options.all) callback(null, addresses);
    else callback(null, chosen.address, chosen.family);
  };
  const tls = options.ca === undefined ? {} : { ca: [options.ca].flat() };
  // undici's own timeouts are off (0): the client's whole-exchange timeout,
  // read through the clock seam, is the only one. It also keeps undici's
  // process-wide timer wheel idle, which test leak sanitizers would report.
  return new Agent({
    connections: 1,
    allowH2: false,
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { lookup, timeout: 0, ...tls },
  });
}

/**
 * The next hop after a redirect: 303 (and 301/302 after a POST) becomes a
 * body-less GET, as in browsers; credentials stay behind when the redirect
 * leaves the origin.
 */
export function redirected(
  hop: Hop,
  redirect: { status: number; location: URL },
  from: URL,
): Hop {
  const toGet = (redirect.status === 303 && hop.method !== "HEAD") ||
    ((redirect.status === 301 || redirect.status === 302) &&
      hop.method === "POST");
  let headers = toGet ? withoutHeaders(hop.headers, BODY_HEADERS) : hop.headers;
  if (redirect.location.origin !== from.origin) {
    headers = withoutHeaders(headers, CREDENTIAL_HEADERS);
  }
  return {
    method: toGet ? "GET" : hop.method,
    url: redirect.location.href,
    headers,
    body: toGet ? null : hop.body,
  };
}

/** A `location` resolved against the URL that sent it. */
export function redirectUrl(location: string, base: URL, status: number): URL {
  try {
    return new URL(location, base);
  } catch {
    throw new AosError(
      "HTTP_URL_INVALID",
      "the server redirected to an invalid URL",
      { details: { url: describeUrl(base), status } },
    );
  }
}

/** Maps what undici or node:net threw to a catalog error. */
export function exchangeError(
  error: unknown,
  details: { url: string; host: string },
): AosError {
  if (error instanceof AosError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const reason = typeof code === "string" ? code : String(error);
  const message = error instanceof Error ? error.message : String(error);
  const errorCode = typeof code === "string" && TIMEOUT_CODES.has(code)
    ? "HTTP_TIMEOUT"
    : code === "UND_ERR_INVALID_ARG"
    ? "HTTP_URL_INVALID"
    : "HTTP_CONNECT_FAILED";
  return new AosError(
    errorCode,
    `${details.host}: ${message}`,
    { details: { ...details, reason }, cause: error },
  );
}

/** Drops a body unread; undici reports that as an abort nobody needs to see. */
export function discard(body: Dispatcher.ResponseData["body"]): void {
  body.on("error", () => {});
  body.destroy();
}

/** The first value of a header undici may give as a list. */
export function first(
  value: string | string[] | undefined,
): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A body as recorded: UTF-8 text when it decodes as such, else base64. */
export function encodeBody(
  bytes: Uint8Array,
): { body: string; body_encoding: "utf8" | "base64" } {
  try {
    return { body: UTF8.decode(bytes), body_encoding: "utf8" };
  } catch {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    return { body: buffer.toString("base64"), body_encoding: "base64" };
  }
}
