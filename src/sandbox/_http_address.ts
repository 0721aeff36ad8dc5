import { AosError } from "../errors/mod.ts";

/** What an IP address is for; only `public` addresses may be reached. */
export const ADDRESS_CLASSES = [
  "public",
  "loopback",
  "private",
  "link_local",
  "cgnat",
  "multicast",
  "unspecified",
  "broadcast",
  "reserved",
  "metadata",
  "ipv4_mapped",
  "ipv4_compatible",
  "nat64",
  "6to4",
  "teredo",
] as const;

/** The class of an IP address; see `classifyAddress`. */
export type AddressClass = typeof ADDRESS_CLASSES[number];

/** An IP address as a number, with its family. */
export interface ParsedAddress {
  family: 4 | 6;
  value: bigint;
}

const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-f]{1,4}$/i;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // Leading zeros are refused: some stacks read them as octal.
    if (!IPV4_OCTET.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  let rest = text;
  let embedded = 0n;
  if (rest.includes(".")) {
    const lastColon = rest.lastIndexOf(":");
    const ipv4 = parseIpv4(rest.slice(lastColon + 1));
    if (lastColon < 0 || ipv4 === undefined) return undefined;
    embedded = ipv4;
    rest = `${rest.slice(0, lastColon + 1)}0:0`;
  }
  const halves = rest.split("::");
  if (halves.length > 2) return undefined;
  const split = (half: string) => half === "" ? [] : half.split(":");
  const head = split(halves[0]!);
  const tail = halves.length === 2 ? split(halves[1]!) : [];
  const given = head.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const groups = [...head, ...Array(8 - given).fill("0"), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!IPV6_GROUP.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value | embedded;
}

/**
 * Parses an IPv4 or IPv6 literal. Accepts `[...]` brackets and an IPv6 zone
 * (`fe80::1%eth0`, dropped); refuses the numeric shorthands (`127.1`,
 * `0x7f.0.0.1`, leading zeros) that URLs may carry, since the WHATWG URL
 * parser has already turned those into dotted quads.
 */
export function parseAddress(text: string): ParsedAddress | undefined {
  let literal = text;
  if (literal.startsWith("[") && literal.endsWith("]")) {
    literal = literal.slice(1, -1);
  }
  if (!literal.includes(":")) {
    const value = parseIpv4(literal);
    return value === undefined ? undefined : { family: 4, value };
  }
  const zone = literal.indexOf("%");
  if (zone === 0 || zone === literal.length - 1) return undefined;
  if (zone > 0) literal = literal.slice(0, zone);
  const value = parseIpv6(literal);
  return value === undefined ? undefined : { family: 6, value };
}

/** The canonical text of an address: dotted quad, or RFC 5952 IPv6 (no brackets). */
export function formatAddress(address: ParsedAddress): string {
  if (address.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => (address.value >> shift) & 0xffn)
      .join(".");
  }
  const groups = [...Array(8).keys()].map((index) =>
    Number((address.value >> BigInt(112 - 16 * index)) & 0xffffn)
  );
  // RFC 5952: compress the first longest run of two or more zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8;) {
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end === start ? start + 1 : end;
  }
  const hex = (part: number[]) => part.map((group) => group.toString(16));
  if (bestStart < 0) return hex(groups).join(":");
  return `${hex(groups.slice(0, bestStart)).join(":")}::${
    hex(groups.slice(bestStart + bestLength)).join(":")
  }`;
}

/** The canonical text of an address literal, or undefined for anything else. */
export function canonicalAddress(text: string): string | undefined {
  const parsed = parseAddress(text);
  return parsed === undefined ? undefined : formatAddress(parsed);
}

interface Range {
  value: bigint;
  shift: bigint;
}

function range(cidr: string): Range {
  const [text, lengthText] = cidr.split("/");
  const parsed = parseAddress(text!);
  if (parsed === undefined) throw new Error(`bad range ${cidr}`);
  const width = parsed.family === 4 ? 32n : 128n;
  const shift = width - BigInt(lengthText!);
  return { value: parsed.value >> shift, shift };
}

function rules(
  table: [AddressClass, string[]][],
): [AddressClass, Range[]][] {
  return table.map(([kind, cidrs]) => [kind, cidrs.map(range)]);
}

// First match wins, so the narrow ranges come before the ones holding them
// (metadata inside link-local, CGNAT and ULA; broadcast inside 240/4).
const IPV4_RULES = rules([
  ["metadata", ["169.254.169.254/32", "100.100.100.200/32"]],
  ["unspecified", ["0.0.0.0/8"]],
  ["broadcast", ["255.255.255.255/32"]],
  ["loopback", ["127.0.0.0/8"]],
  ["private", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]],
  ["link_local", ["169.254.0.0/16"]],
  ["cgnat", ["100.64.0.0/10"]],
  ["multicast", ["224.0.0.0/4"]],
  ["6to4", ["192.88.99.0/24"]],
  ["reserved", [
    "240.0.0.0/4",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "198.18.0.0/15",
  ]],
]);

const IPV6_RULES = rules([
  ["metadata", ["fd00:ec2::254/128"]],
  ["unspecified", ["::/128"]],
  ["loopback", ["::1/128"]],
  ["ipv4_mapped", ["::ffff:0:0/96"]],
  ["ipv4_compatible", ["::/96"]],
  ["nat64", ["64:ff9b::/96", "64:ff9b:1::/48"]],
  ["teredo", ["2001::/32"]],
  ["6to4", ["2002::/16"]],
  ["private", ["fc00::/7", "fec0::/10"]],
  ["link_local", ["fe80::/10"]],
  ["multicast", ["ff00::/8"]],
  // 2001::/23 holds IETF protocol assignments (benchmarking, ORCHID, ...);
  // 3fff::/20 is the second documentation prefix (RFC 9637).
  ["reserved", ["100::/64", "2001:db8::/32", "2001::/23", "3fff::/20"]],
]);

// Only 2000::/3 is global unicast; the rest of IPv6 is unassigned or special.
const IPV6_GLOBAL_UNICAST = range("2000::/3");

function within(value: bigint, candidate: Range): boolean {
  return value >> candidate.shift === candidate.value;
}

/** The class of a parsed address. */
export function classifyParsed(address: ParsedAddress): AddressClass {
  const table = address.family === 4 ? IPV4_RULES : IPV6_RULES;
  for (const [kind, ranges] of table) {
    if (ranges.some((candidate) => within(address.value, candidate))) {
      return kind;
    }
  }
  if (address.family === 6 && !within(address.value, IPV6_GLOBAL_UNICAST)) {
    return "reserved";
  }
  return "public";
}

/**
 * Classifies an IPv4 or IPv6 literal (canonicalised first, so `::FFFF:7f00:1`
 * and `::ffff:127.0.0.1` are the same address). Every class but `public` is
 * refused by the SSRF guard.
 *
 * @throws {AosError} `HTTP_URL_INVALID` when `ip` is not an address literal.
 * @example
 * ```ts
 * classifyAddress("169.254.169.254"); // "metadata"
 * classifyAddress("::7f00:1"); // "ipv4_compatible"
 * classifyAddress("8.8.8.8"); // "public"
 * ```
 */
export function classifyAddress(ip: string): AddressClass {
  const parsed = parseAddress(ip);
  if (parsed === undefined) {
    throw new AosError("HTTP_URL_INVALID", `${ip} is not an IP address`, {
      details: { address: ip },
    });
  }
  return classifyParsed(parsed);
}
