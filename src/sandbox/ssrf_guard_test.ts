import assert from "node:assert/strict";
import { refusal } from "../../tests/support/refusal.ts";
import { AosError } from "../errors/mod.ts";
import {
  type AddressClass,
  canonicalAddress,
  type CheckOptions,
  checkTarget,
  classifyAddress,
  isHostAllowed,
  liveResolver,
  type ResolvedAddress,
  type Resolver,
} from "./ssrf_guard.ts";
import { startDnsServer } from "../../tests/support/dns_server.ts";

/** A resolver answering from a map, recording every name it is asked. */
function mapResolver(
  map: Record<string, string[]>,
): { resolver: Resolver; calls: string[] } {
  const calls: string[] = [];
  const resolver: Resolver = (host) => {
    calls.push(host);
    const addresses = map[host];
    if (addresses === undefined) {
      return Promise.reject(new Error(`${host}: no such name`));
    }
    return Promise.resolve(addresses.map((address): ResolvedAddress => ({
      address,
      family: address.includes(":") ? 6 : 4,
    })));
  };
  return { resolver, calls };
}

const ANY_HOST = { allowedHosts: ["*"] };

// [address, class]: each range at its first and last address, and the
// addresses just outside it.
const CLASSIFICATION: [string, AddressClass][] = [
  ["0.0.0.0", "unspecified"],
  ["0.255.255.255", "unspecified"],
  ["1.0.0.0", "public"],
  ["8.8.8.8", "public"],
  ["9.255.255.255", "public"],
  ["10.0.0.0", "private"],
  ["10.255.255.255", "private"],
  ["11.0.0.0", "public"],
  ["100.63.255.255", "public"],
  ["100.64.0.0", "cgnat"],
  ["100.100.100.199", "cgnat"],
  ["100.100.100.200", "metadata"],
  ["100.100.100.201", "cgnat"],
  ["100.127.255.255", "cgnat"],
  ["100.128.0.0", "public"],
  ["126.255.255.255", "public"],
  ["127.0.0.0", "loopback"],
  ["127.0.0.1", "loopback"],
  ["127.255.255.255", "loopback"],
  ["128.0.0.0", "public"],
  ["169.253.255.255", "public"],
  ["169.254.0.0", "link_local"],
  ["169.254.169.253", "link_local"],
  ["169.254.169.254", "metadata"],
  ["169.254.169.255", "link_local"],
  ["169.254.255.255", "link_local"],
  ["169.255.0.0", "public"],
  ["172.15.255.255", "public"],
  ["172.16.0.0", "private"],
  ["172.31.255.255", "private"],
  ["172.32.0.0", "public"],
  ["191.255.255.255", "public"],
  ["192.0.0.0", "reserved"],
  ["192.0.0.255", "reserved"],
  ["192.0.1.0", "public"],
  ["192.0.2.0", "reserved"],
  ["192.0.2.255", "reserved"],
  ["192.0.3.0", "public"],
  ["192.88.98.255", "public"],
  ["192.88.99.0", "6to4"],
  ["192.88.99.255", "6to4"],
  ["192.88.100.0", "public"],
  ["192.167.255.255", "public"],
  ["192.168.0.0", "private"],
  ["192.168.255.255", "private"],
  ["192.169.0.0", "public"],
  ["198.17.255.255", "public"],
  ["198.18.0.0", "reserved"],
  ["198.19.255.255", "reserved"],
  ["198.20.0.0", "public"],
  ["198.51.99.255", "public"],
  ["198.51.100.0", "reserved"],
  ["198.51.100.255", "reserved"],
  ["198.51.101.0", "public"],
  ["203.0.112.255", "public"],
  ["203.0.113.0", "reserved"],
  ["203.0.113.255", "reserved"],
  ["203.0.114.0", "public"],
  ["223.255.255.255", "public"],
  ["224.0.0.0", "multicast"],
  ["239.255.255.255", "multicast"],
  ["240.0.0.0", "reserved"],
  ["255.255.255.254", "reserved"],
  ["255.255.255.255", "broadcast"],
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["::2", "ipv4_compatible"],
  ["::7f00:1", "ipv4_compatible"],
  ["::127.0.0.1", "ipv4_compatible"],
  ["::ffff:ffff", "ipv4_compatible"],
  ["::1:0:0", "reserved"],
  ["::fffe:ffff:ffff", "reserved"],
  ["::ffff:0:0", "ipv4_mapped"],
  ["::ffff:127.0.0.1", "ipv4_mapped"],
  ["::ffff:8.8.8.8", "ipv4_mapped"],
  ["::ffff:ffff:ffff", "ipv4_mapped"],
  ["::1:0:0:0", "reserved"],
  ["64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"],
  ["64:ff9b::", "nat64"],
  ["64:ff9b::8.8.8.8", "nat64"],
  ["64:ff9b::ffff:ffff", "nat64"],
  ["64:ff9b::1:0:0", "reserved"],
  ["64:ff9b:0:ffff:ffff:ffff:ffff:ffff", "reserved"],
  ["64:ff9b:1::", "nat64"],
  ["64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "nat64"],
  ["64:ff9b:2::", "reserved"],
  ["100::", "reserved"],
  ["100::ffff:ffff:ffff:ffff", "reserved"],
  ["1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"],
  ["2000::", "public"],
  ["2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "public"],
  ["2001::", "teredo"],
  ["2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "teredo"],
  ["2001:1::", "reserved"],
  ["2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"],
  ["2001:200::", "public"],
  ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "public"],
  ["2001:db8::", "reserved"],
  ["2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"],
  ["2001:db9::", "public"],
  ["2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "public"],
  ["2002::", "6to4"],
  ["2002:7f00:1::", "6to4"],
  ["2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "6to4"],
  ["2003::", "public"],
  ["2606:4700:4700::1111", "public"],
  ["3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "public"],
  ["3fff::", "reserved"],
  ["3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"],
  ["3fff:1000::", "public"],
  ["3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "public"],
  ["4000::", "reserved"],
  ["fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"],
  ["fc00::", "private"],
  ["fd00:ec2::253", "private"],
  ["fd00:ec2::254", "metadata"],
  ["fd00:ec2::255", "private"],
  ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"],
  ["fe00::", "reserved"],
  ["fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"],
  ["fe80::", "link_local"],
  ["fe80::1%eth0", "link_local"],
  ["febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link_local"],
  ["fec0::", "private"],
  ["feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"],
  ["ff00::", "multicast"],
  ["ff02::1", "multicast"],
  ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"],
];

Deno.test("classifyAddress() classifies every range at its boundaries", () => {
  for (const [address, expected] of CLASSIFICATION) {
    assert.equal(classifyAddress(address), expected, address);
  }
});

Deno.test("classifyAddress() canonicalises before it classifies", () => {
  for (
    const [address, expected] of [
      ["::FFFF:7F00:1", "ipv4_mapped"],
      ["0:0:0:0:0:ffff:127.0.0.1", "ipv4_mapped"],
      ["[::1]", "loopback"],
      ["0000:0000:0000:0000:0000:0000:0000:0001", "loopback"],
      ["FD00:EC2:0:0:0:0:0:254", "metadata"],
      ["1:2:3:4:5:6:7::", "reserved"],
    ] as const
  ) {
    assert.equal(classifyAddress(address), expected, address);
  }
});

Deno.test("classifyAddress() refuses what is not an address literal", () => {
  for (
    const text of [
      "",
      "localhost",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "127.1",
      "0x7f.0.0.1",
      "017.0.0.1",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      ":1::",
      "12345::",
      "::1%",
      "::ffff:1.2.3",
    ]
  ) {
    assert.throws(
      () => classifyAddress(text),
      (error: unknown) =>
        error instanceof AosError && error.code === "HTTP_URL_INVALID",
      JSON.stringify(text),
    );
  }
});

Deno.test("canonicalAddress() writes IPv6 the way RFC 5952 and the URL parser do", () => {
  assert.equal(canonicalAddress("2001:DB8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(canonicalAddress("2001:db8:0:0:0:0:2:1"), "2001:db8::2:1");
  assert.equal(
    canonicalAddress("2001:db8:0:1:1:1:1:1"),
    "2001:db8:0:1:1:1:1:1",
  );
  assert.equal(canonicalAddress("::ffff:127.0.0.1"), "::ffff:7f00:1");
  assert.equal(canonicalAddress("010.0.0.1"), undefined);
  // Random addresses, with runs of zero groups, agree with WHATWG's serializer.
  const seed = Date.now() >>> 0;
  let state = seed || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  for (let round = 0; round < 2000; round++) {
    const groups = Array.from(
      { length: 8 },
      () => next() % 3 === 0 ? "0" : (next() % 0x10000).toString(16),
    );
    const text = groups.join(":");
    assert.equal(
      `[${canonicalAddress(text)}]`,
      new URL(`http://[${text}]/`).hostname,
      `seed ${seed}: ${text}`,
    );
  }
});

Deno.test("checkTarget() refuses numeric and encoded tricks for internal addresses", async () => {
  const { resolver, calls } = mapResolver({});
  const cases: [string, AddressClass][] = [
    ["http://127.0.0.1/", "loopback"],
    ["http://2130706433/", "loopback"],
    ["http://0x7f.1/", "loopback"],
    ["http://0x7f000001/", "loopback"],
    ["http://017700000001/", "loopback"],
    ["http://0177.0.0.1/", "loopback"],
    ["http://127.1/", "loopback"],
    ["http://%31%32%37.0.0.1/", "loopback"],
    ["http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "loopback"],
    ["https://[::1]:8443/", "loopback"],
    ["http://[0:0:0:0:0:0:0:1]/", "loopback"],
    ["http://[::ffff:127.0.0.1]/", "ipv4_mapped"],
    ["http://[::7f00:1]/", "ipv4_compatible"],
    ["http://[::127.0.0.1]/", "ipv4_compatible"],
    ["http://[64:ff9b::7f00:1]/", "nat64"],
    ["http://[2002:7f00:1::]/", "6to4"],
    ["http://[2001::1]/", "teredo"],
    ["http://169.254.169.254/latest/meta-data/", "metadata"],
    ["http://[fd00:ec2::254]/", "metadata"],
    ["http://100.100.100.200/", "metadata"],
    ["http://0/", "unspecified"],
    ["http://[::]/", "unspecified"],
    ["http://10.0.0.1/", "private"],
    ["http://[fc00::1]/", "private"],
    ["http://[fe80::1]/", "link_local"],
    ["http://100.64.0.1/", "cgnat"],
    ["http://224.0.0.1/", "multicast"],
    ["http://255.255.255.255/", "broadcast"],
    ["http://192.0.2.1/", "reserved"],
    ["http://localhost/", "loopback"],
    ["http://LOCALHOST:8080/", "loopback"],
    ["http://localhost./", "loopback"],
    ["http://api.localhost/", "loopback"],
    ["http://metadata/", "metadata"],
    ["http://metadata.google.internal/computeMetadata/v1/", "metadata"],
    ["http://metadata.google.internal./", "metadata"],
    ["http://service.corp.internal/", "private"],
  ];
  for (const [url, expected] of cases) {
    const error = await refusal(
      checkTarget(url, ANY_HOST, { resolver }),
      "HTTP_ADDRESS_FORBIDDEN",
    );
    assert.equal(error.details.class, expected, url);
    assert.equal(typeof error.details.host, "string");
  }
  assert.deepEqual(calls, [], "names refused by name are never resolved");
});

Deno.test("checkTarget() refuses URLs that are not plain http(s)", async () => {
  const { resolver } = mapResolver({ "example.com": ["93.184.216.34"] });
  for (
    const url of [
      "not a url",
      "/relative/path",
      "ftp://example.com/",
      "file:///etc/passwd",
      "javascript:alert(1)",
      "gopher://example.com:70/",
      "http://user:secret@example.com/",
      "http://user@example.com/",
      "http://example.com:0/",
      `http://example.com/${"a".repeat(9000)}`,
    ]
  ) {
    const error = await refusal(
      checkTarget(url, ANY_HOST, { resolver }),
      "HTTP_URL_INVALID",
    );
    assert.ok(!JSON.stringify(error.toJSON()).includes("secret"), url);
  }
});

Deno.test("isHostAllowed() matches exact hosts, subdomain wildcards and *", () => {
  const cases: [string, string[], boolean][] = [
    ["api.example.com", ["api.example.com"], true],
    ["api.example.com", ["API.Example.COM"], true],
    ["api.example.com", ["api.example.com."], true],
    ["api.example.com", ["example.com"], false],
    ["example.com.evil.net", ["example.com"], false],
    ["a.example.com", ["*.example.com"], true],
    ["a.b.example.com", ["*.example.com"], true],
    ["example.com", ["*.example.com"], false],
    ["badexample.com", ["*.example.com"], false],
    ["anything.net", ["*"], true],
    ["203.0.113.7", ["*"], true],
    ["anything.net", [], false],
    ["203.0.113.7", ["203.0.113.7"], true],
    ["3.0.0.4", ["*.0.4"], false],
    ["2606:4700::1111", ["[2606:4700::1111]"], true],
    ["2606:4700::1111", ["2606:4700:0:0:0:0:0:1111"], true],
    ["xn--bcher-kva.example", ["bücher.example"], true],
    ["api.example.com", ["api.example.com:443"], false],
    ["api.example.com", ["https://api.example.com"], false],
    ["afoo.com", ["*foo.com"], false],
    ["a.foo.com", ["a.*.com"], false],
  ];
  for (const [host, patterns, expected] of cases) {
    assert.equal(
      isHostAllowed(host, patterns),
      expected,
      `${host} ${JSON.stringify(patterns)}`,
    );
  }
});

Deno.test("checkTarget() refuses a host outside allowed_hosts without resolving it", async () => {
  const { resolver, calls } = mapResolver({
    "api.example.com": ["93.184.216.34"],
  });
  const policy = { allowedHosts: ["api.example.com", "*.cdn.example.net"] };
  for (
    const url of [
      "https://evil.example.org/",
      "https://example.com/",
      "https://cdn.example.net/",
      "http://10.0.0.1/",
    ]
  ) {
    const error = await refusal(
      checkTarget(url, policy, { resolver }),
      "HTTP_HOST_NOT_ALLOWED",
    );
    assert.equal(typeof error.details.host, "string");
  }
  assert.deepEqual(calls, []);
  await refusal(
    checkTarget("https://evil.example.org/", { allowedHosts: [] }, {
      resolver,
    }),
    "HTTP_HOST_NOT_ALLOWED",
  );
  const target = await checkTarget(
    "https://API.example.com./v1?q=1",
    policy,
    { resolver },
  );
  assert.equal(target.host, "api.example.com");
  assert.equal(target.port, 443);
  assert.deepEqual(target.addresses, [
    { address: "93.184.216.34", family: 4 },
  ]);
  assert.deepEqual(calls, ["api.example.com"]);
});

Deno.test("checkTarget() refuses a name when any of its addresses is not public", async () => {
  const { resolver } = mapResolver({
    "mixed.example": ["93.184.216.34", "10.1.2.3"],
    "mixed6.example": ["93.184.216.34", "fd12:3456::1"],
    "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "empty.example": [],
    "garbage.example": ["not-an-address"],
  });
  const mixed = await refusal(
    checkTarget("http://mixed.example/", ANY_HOST, { resolver }),
    "HTTP_ADDRESS_FORBIDDEN",
  );
  assert.deepEqual(
    [mixed.details.host, mixed.details.address, mixed.details.class],
    ["mixed.example", "10.1.2.3", "private"],
  );
  const mixed6 = await refusal(
    checkTarget("http://mixed6.example/", ANY_HOST, { resolver }),
    "HTTP_ADDRESS_FORBIDDEN",
  );
  assert.equal(mixed6.details.address, "fd12:3456::1");
  const target = await checkTarget("http://public.example/", ANY_HOST, {
    resolver,
  });
  assert.deepEqual(target.addresses.map((entry) => entry.family), [4, 6]);
  for (const host of ["empty.example", "garbage.example", "unknown.example"]) {
    await refusal(
      checkTarget(`http://${host}/`, ANY_HOST, { resolver }),
      "HTTP_DNS_FAILED",
    );
  }
});

Deno.test("checkTarget() opens only exact loopback allowlist entries, and only to loopback", async () => {
  const { resolver } = mapResolver({
    "localhost": ["127.0.0.1", "::1"],
    "dev.test": ["127.0.0.1"],
    "lan.test": ["10.0.0.5"],
  });
  const options: CheckOptions = {
    resolver,
    loopbackAllowlist: [
      { host: "127.0.0.1", port: 8080 },
      { host: "localhost", port: 8081 },
      { host: "::1", port: 8082 },
      { host: "[::1]", port: 8083 },
      { host: "dev.test", port: 8084 },
      { host: "lan.test", port: 8085 },
      { host: "169.254.169.254", port: 80 },
    ],
  };
  for (
    const url of [
      "http://127.0.0.1:8080/",
      "http://localhost:8081/",
      "http://localhost.:8081/",
      "http://[::1]:8082/",
      "http://[0::1]:8083/",
      "http://dev.test:8084/",
    ]
  ) {
    const target = await checkTarget(url, ANY_HOST, options);
    assert.ok(target.addresses.length > 0, url);
  }
  for (
    const url of [
      "http://127.0.0.1:8081/",
      "http://127.0.0.1/",
      "http://localhost:8080/",
      "http://127.0.0.2:8080/",
      "http://[::1]:8080/",
      "http://lan.test:8085/",
      "http://169.254.169.254/",
    ]
  ) {
    await refusal(
      checkTarget(url, ANY_HOST, options),
      "HTTP_ADDRESS_FORBIDDEN",
    );
  }
  // The allowlist opens addresses, not hosts: allowed_hosts still applies.
  await refusal(
    checkTarget(
      "http://127.0.0.1:8080/",
      { allowedHosts: ["x.test"] },
      options,
    ),
    "HTTP_HOST_NOT_ALLOWED",
  );
});

Deno.test("liveResolver() asks a real DNS server on loopback for A and AAAA", async () => {
  await using dns = await startDnsServer({
    "both.test": { A: ["93.184.216.34"], AAAA: ["2606:2800:220:1::1"] },
    "v4only.test": { A: ["93.184.216.34", "93.184.216.35"] },
    "v6only.test": { AAAA: ["2606:2800:220:1::1"] },
  });
  const resolve = liveResolver({ nameServer: dns.nameServer });
  assert.deepEqual(await resolve("both.test"), [
    { address: "93.184.216.34", family: 4 },
    { address: "2606:2800:220:1::1", family: 6 },
  ]);
  assert.deepEqual(
    (await resolve("v4only.test")).map((entry) => entry.address),
    ["93.184.216.34", "93.184.216.35"],
  );
  assert.deepEqual(await resolve("v6only.test"), [
    { address: "2606:2800:220:1::1", family: 6 },
  ]);
  await refusal(resolve("missing.test"), "HTTP_DNS_FAILED");
  assert.ok(dns.queries.includes("both.test A"));
  assert.ok(dns.queries.includes("both.test AAAA"));
});

Deno.test("checkTarget() refuses names a real DNS server answers with internal addresses", async () => {
  await using dns = await startDnsServer({
    "rebind.test": { A: ["127.0.0.1"] },
    "mixed.test": { A: ["93.184.216.34"], AAAA: ["fd12:3456::1"] },
    "mapped.test": { AAAA: ["::ffff:7f00:1"] },
    "public.test": { A: ["93.184.216.34"] },
  });
  const options = { resolver: liveResolver({ nameServer: dns.nameServer }) };
  const cases: [string, string, AddressClass][] = [
    ["http://rebind.test/", "127.0.0.1", "loopback"],
    ["http://rebind.test./", "127.0.0.1", "loopback"],
    ["http://mixed.test/", "fd12:3456::1", "private"],
    ["http://mapped.test/", "::ffff:7f00:1", "ipv4_mapped"],
  ];
  for (const [url, address, kind] of cases) {
    const error = await refusal(
      checkTarget(url, ANY_HOST, options),
      "HTTP_ADDRESS_FORBIDDEN",
    );
    assert.deepEqual([error.details.address, error.details.class], [
      address,
      kind,
    ]);
  }
  const target = await checkTarget("http://public.test/", ANY_HOST, options);
  assert.deepEqual(target.addresses, [{ address: "93.184.216.34", family: 4 }]);
  await refusal(
    checkTarget("http://missing.test/", ANY_HOST, options),
    "HTTP_DNS_FAILED",
  );
  const before = dns.queries.length;
  await refusal(
    checkTarget(
      "http://rebind.test/",
      { allowedHosts: ["public.test"] },
      options,
    ),
    "HTTP_HOST_NOT_ALLOWED",
  );
  assert.equal(dns.queries.length, before, "no query for a disallowed host");
});
