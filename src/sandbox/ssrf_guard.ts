/**
 * The SSRF guard: decides whether a skill may call a URL, and which addresses
 * the connection may go to. The HTTP client connects only to the addresses a
 * `CheckedTarget` holds, so a DNS answer that changes between the check and
 * the connect (DNS rebinding) cannot reach anything the guard did not see.
 *
 * @module
 */
import { AosError, type ErrorDetails } from "../errors/mod.ts";
import {
  type AddressClass,
  classifyParsed,
  formatAddress,
  parseAddress,
} from "./_http_address.ts";
import type { ResolvedAddress, Resolver } from "./_http_resolver.ts";

export {
  ADDRESS_CLASSES,
  type AddressClass,
  canonicalAddress,
  classifyAddress,
} from "./_http_address.ts";
export {
  liveResolver,
  type LiveResolverOptions,
  type ResolvedAddress,
  type ResolveOptions,
  type Resolver,
} from "./_http_resolver.ts";

/** What the skill's manifest lets it call. */
export interface HttpPolicy {
  /**
   * Exact hosts (`api.example.com`, `203.0.113.7`, `[2001:db8::1]`), or
   * `*.example.com` for any subdomain (not `example.com` itself); `*` alone
   * allows any host. Empty allows none.
   */
  allowedHosts: readonly string[];
}

/** A host and port the host side opens to loopback addresses. */
export interface LoopbackTarget {
  host: string;
  port: number;
}

/** Options of `checkTarget`. */
export interface CheckOptions {
  /** How host names become addresses. */
  resolver: Resolver;
  /**
   * Host-side exceptions, off by default: an exact host and port listed here
   * may reach loopback addresses (tests, local development). Nothing else
   * ever reaches a non-public address.
   */
  loopbackAllowlist?: readonly LoopbackTarget[];
  /**
   * Whether public hosts may be called (default true). When false, a target
   * that passes every other check is refused with HTTP_EXTERNAL_DISABLED,
   * after resolution, so a local target is still reported as forbidden.
   */
  externalEnabled?: boolean;
  /** Aborts name resolution. */
  signal?: AbortSignal;
}

/** A URL the guard let through, with the only addresses it may connect to. */
export interface CheckedTarget {
  url: URL;
  /** Lower-case name or canonical address, without brackets or trailing dot. */
  host: string;
  port: number;
  /** Every address of `host`, each checked; connect to one of these only. */
  addresses: ResolvedAddress[];
}

/** Longest URL a skill may ask for, in characters. */
export const URL_LENGTH_MAX = 8192;

// Names that reach a cloud metadata service or this machine without any DNS
// answer we could check; refused before resolving.
const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "instance-data",
  "instance-data.ec2.internal",
]);

function classifyName(host: string): AddressClass | undefined {
  if (METADATA_NAMES.has(host)) return "metadata";
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback";
  if (host.endsWith(".internal")) return "private";
  return undefined;
}

/**
 * A URL as error details show it: origin and path, without user info, query
 * or fragment, which may carry secrets.
 */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function hostOfUrl(hostname: string): string {
  const literal = parseAddress(hostname);
  if (literal !== undefined) return formatAddress(literal);
  return hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
}

/**
 * The canonical form of a host as written in a policy or allowlist (through
 * the same WHATWG parser as URLs, so IDN, case and IP forms agree), or
 * undefined when it is not a bare host.
 */
function canonicalHost(text: string): string | undefined {
  const bracketed = text.includes(":") && !text.startsWith("[")
    ? `[${text}]`
    : text;
  try {
    const url = new URL(`http://${bracketed}/`);
    const bare = url.username === "" && url.password === "" &&
      url.port === "" && url.pathname === "/" && url.search === "" &&
      url.hash === "";
    return bare ? hostOfUrl(url.hostname) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `host` (canonical, as in `CheckedTarget.host`) matches one of the
 * manifest's `allowed_hosts` patterns. A wildcard never matches an address.
 */
export function isHostAllowed(
  host: string,
  allowedHosts: readonly string[],
): boolean {
  return allowedHosts.some((pattern) => {
    if (pattern === "*") return true;
    if (pattern.startsWith("*.")) {
      const suffix = canonicalHost(pattern.slice(2));
      return suffix !== undefined && parseAddress(host) === undefined &&
        parseAddress(suffix) === undefined && host.endsWith(`.${suffix}`);
    }
    return canonicalHost(pattern) === host;
  });
}

function parseTargetUrl(text: string): URL {
  const invalid = (message: string, details: ErrorDetails = {}) =>
    new AosError("HTTP_URL_INVALID", message, { details });
  if (text.length > URL_LENGTH_MAX) {
    throw invalid(`the URL is longer than ${URL_LENGTH_MAX} characters`, {
      length: text.length,
      limit: URL_LENGTH_MAX,
    });
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The text is not echoed: it may hold a secret.
    throw invalid("the URL is not a valid absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(`the URL scheme ${url.protocol} is not http: or https:`, {
      scheme: url.protocol,
    });
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid(
      "the URL carries user info (user:pass@); send credentials in a header",
      {
        url: describeUrl(url),
      },
    );
  }
  if (url.port === "0") {
    throw invalid("the URL names port 0", { url: describeUrl(url) });
  }
  return url;
}

// A resolver that ignores the signal must not hold the request past it.
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

async function resolveAll(
  host: string,
  options: CheckOptions,
  details: ErrorDetails,
): Promise<ResolvedAddress[]> {
  let answers: ResolvedAddress[];
  const signal = options.signal;
  try {
    const lookup = options.resolver(
      host,
      signal === undefined ? {} : { signal },
    );
    answers = await (signal === undefined ? lookup : abortable(lookup, signal));
  } catch (error) {
    if (options.signal?.aborted || error instanceof AosError) throw error;
    throw new AosError("HTTP_DNS_FAILED", `${host} did not resolve`, {
      details,
      cause: error,
    });
  }
  const seen = new Map<string, ResolvedAddress>();
  for (const answer of answers) {
    const parsed = parseAddress(answer.address);
    if (parsed === undefined || parsed.family !== answer.family) {
      throw new AosError(
        "HTTP_DNS_FAILED",
        `the resolver answered ${host} with ${answer.address}, which is not an IPv${answer.family} address`,
        { details },
      );
    }
    const address = formatAddress(parsed);
    seen.set(address, { address, family: parsed.family });
  }
  if (seen.size === 0) {
    throw new AosError("HTTP_DNS_FAILED", `${host} has no address`, {
      details,
    });
  }
  return [...seen.values()];
}

/**
 * Checks a URL a skill wants to call: the URL itself, the manifest's
 * `allowed_hosts` (before any DNS query, so a host the skill may not call is
 * never looked up), then every A and AAAA address of the host. One address
 * that is not public refuses the whole target, unless the exact host and
 * port are in the loopback allowlist and the address is loopback.
 *
 * @throws {AosError} `HTTP_URL_INVALID`, `HTTP_HOST_NOT_ALLOWED`,
 * `HTTP_ADDRESS_FORBIDDEN` (details: host, address, class) or
 * `HTTP_DNS_FAILED`; an aborted lookup rejects with the signal's reason.
 * @example
 * ```ts
 * const target = await checkTarget("https://api.example.com/v1", {
 *   allowedHosts: ["*.example.com"],
 * }, { resolver: liveResolver() });
 * target.addresses; // [{ address: "93.184.215.14", family: 4 }, ...]
 * ```
 */
export async function checkTarget(
  url: string,
  policy: HttpPolicy,
  options: CheckOptions,
): Promise<CheckedTarget> {
  const parsed = parseTargetUrl(url);
  const host = hostOfUrl(parsed.hostname);
  const port = parsed.port === ""
    ? (parsed.protocol === "https:" ? 443 : 80)
    : Number(parsed.port);
  const details = { url: describeUrl(parsed), host };
  if (!isHostAllowed(host, policy.allowedHosts)) {
    throw new AosError(
      "HTTP_HOST_NOT_ALLOWED",
      `${host} is not in the skill's allowed_hosts`,
      { details },
    );
  }
  const loopbackOpen = (options.loopbackAllowlist ?? []).some((entry) =>
    entry.port === port && canonicalHost(entry.host) === host
  );
  const permitted = (kind: AddressClass) =>
    kind === "public" || (loopbackOpen && kind === "loopback");
  const refuse = (address: string | null, kind: AddressClass) =>
    new AosError(
      "HTTP_ADDRESS_FORBIDDEN",
      address === null
        ? `${host} names a ${kind} host, which skills may not reach`
        : address === host
        ? `${host} is a ${kind} address, which skills may not reach`
        : `${host} resolves to ${address}, a ${kind} address, which skills may not reach`,
      { details: { ...details, address, class: kind } },
    );

  const external = () => {
    if (options.externalEnabled === false && !loopbackOpen) {
      return new AosError(
        "HTTP_EXTERNAL_DISABLED",
        `calls to external hosts are disabled on this host (${host})`,
        {
          details,
        },
      );
    }
    return undefined;
  };
  const literal = parseAddress(host);
  if (literal !== undefined) {
    const kind = classifyParsed(literal);
    if (!permitted(kind)) throw refuse(host, kind);
    const disabled = external();
    if (disabled !== undefined) throw disabled;
    return {
      url: parsed,
      host,
      port,
      addresses: [{ address: host, family: literal.family }],
    };
  }
  const nameKind = classifyName(host);
  if (nameKind !== undefined && !permitted(nameKind)) {
    throw refuse(null, nameKind);
  }
  const addresses = await resolveAll(host, options, details);
  for (const { address } of addresses) {
    const kind = classifyParsed(parseAddress(address)!);
    if (!permitted(kind)) throw refuse(address, kind);
  }
  const disabled = external();
  if (disabled !== undefined) throw disabled;
  return { url: parsed, host, port, addresses };
}
