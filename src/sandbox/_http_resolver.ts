import { AosError } from "../errors/mod.ts";

/** One address a host name resolved to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Options a resolver receives for one lookup. */
export interface ResolveOptions {
  /** Aborts the lookup (the client's whole-exchange timeout). */
  signal?: AbortSignal;
}

/**
 * Resolves a host name to every address it has (A and AAAA). The seam the
 * SSRF guard checks names through: tests inject a map, production uses
 * `liveResolver`.
 */
export type Resolver = (
  host: string,
  options?: ResolveOptions,
) => Promise<ResolvedAddress[]>;

/** Options of `liveResolver`. */
export interface LiveResolverOptions {
  /** Ask this server instead of the system's; tests point it at loopback. */
  nameServer?: { ipAddr: string; port: number };
}

function isNotFound(result: PromiseSettledResult<string[]>): boolean {
  return result.status === "rejected" &&
    result.reason instanceof Deno.errors.NotFound;
}

/**
 * A resolver on `Deno.resolveDns`, asking for A and AAAA records at once. A
 * name with only one of the two is fine (the other fails with `NotFound`);
 * any other failure of either query fails the lookup, so the guard never
 * decides on half an answer it did not expect.
 *
 * @throws {AosError} `HTTP_DNS_FAILED` when the name has no address or a
 * query fails; an aborted lookup rejects with the signal's reason.
 */
export function liveResolver(options: LiveResolverOptions = {}): Resolver {
  return async (host, resolveOptions = {}) => {
    const query = {
      ...(options.nameServer === undefined
        ? {}
        : { nameServer: options.nameServer }),
      ...(resolveOptions.signal === undefined
        ? {}
        : { signal: resolveOptions.signal }),
    };
    const [ipv4, ipv6] = await Promise.allSettled([
      Deno.resolveDns(host, "A", query),
      Deno.resolveDns(host, "AAAA", query),
    ]);
    resolveOptions.signal?.throwIfAborted();
    const failed = [ipv4, ipv6].find((result) =>
      result.status === "rejected" && !isNotFound(result)
    );
    if (failed !== undefined || (isNotFound(ipv4) && isNotFound(ipv6))) {
      const reason = (failed ?? ipv4) as PromiseRejectedResult;
      throw new AosError(
        "HTTP_DNS_FAILED",
        `${host} did not resolve: ${String(reason.reason)}`,
        { details: { host }, cause: reason.reason },
      );
    }
    const addresses = (family: 4 | 6, result: PromiseSettledResult<string[]>) =>
      result.status === "fulfilled"
        ? result.value.map((address) => ({ address, family }))
        : [];
    return [...addresses(4, ipv4), ...addresses(6, ipv6)];
  };
}
