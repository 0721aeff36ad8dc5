import assert from "node:assert/strict";
import { refusal } from "../../tests/support/refusal.ts";
import { Buffer } from "node:buffer";
import zlib from "node:zlib";
import { SimulatedClock } from "../deps/mod.ts";
import {
  GuardedHttpClient,
  type GuardedHttpClientOptions,
  type OutboundRequest,
} from "./http_client.ts";
import { liveResolver, type Resolver } from "./ssrf_guard.ts";
import { startDnsServer } from "../../tests/support/dns_server.ts";
import {
  closedPort,
  startRawServer,
  startServer,
  TEST_TLS,
  type TestServer,
} from "../../tests/support/http_servers.ts";

const ANY_HOST = { allowedHosts: ["*"] };

function get(
  url: string,
  extra: Partial<OutboundRequest> = {},
): OutboundRequest {
  return { method: "GET", url, headers: {}, body: null, ...extra };
}

/** A client whose loopback allowlist opens exactly `servers`. */
function clientFor(
  servers: TestServer[],
  options: GuardedHttpClientOptions = {},
): GuardedHttpClient {
  return new GuardedHttpClient({
    loopbackAllowlist: servers.map((server) => ({
      host: server.hostname,
      port: server.port,
    })),
    ...options,
  });
}

/** A server answering with what it received. */
function echoServer(): TestServer & { requests: Request[] } {
  const requests: Request[] = [];
  const server = startServer(async (request) => {
    requests.push(request);
    return Response.json({
      method: request.method,
      path: new URL(request.url).pathname,
      headers: Object.fromEntries(request.headers),
      body: await request.text(),
    }, { headers: { "X-Trace": "abc", "Cache-Control": "no-store" } });
  });
  return Object.assign(server, { requests });
}

Deno.test("request() GETs and POSTs to an allowlisted loopback server", async () => {
  await using server = echoServer();
  const client = clientFor([server]);
  const response = await client.request(
    get(`${server.origin}/items?page=2`, { headers: { "X-Custom": "yes" } }),
    ANY_HOST,
  );
  assert.equal(response.status, 200);
  assert.equal(response.url, `${server.origin}/items?page=2`);
  assert.equal(response.body_encoding, "utf8");
  const echoed = JSON.parse(response.body);
  assert.equal(echoed.method, "GET");
  assert.equal(echoed.headers["user-agent"], "aos/0.1.0");
  assert.equal(echoed.headers["x-custom"], "yes");
  assert.equal(echoed.headers["accept-encoding"], "gzip, deflate, br");
  const names = Object.keys(response.headers);
  assert.deepEqual(names, [...names].sort());
  assert.ok(names.every((name) => name === name.toLowerCase()));
  assert.equal(response.headers["x-trace"], "abc");
  assert.equal(response.headers["content-type"], "application/json");

  const posted = await client.request({
    method: "post",
    url: `${server.origin}/items`,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "ünïcode" }),
  }, { allowedHosts: ["127.0.0.1"] });
  const body = JSON.parse(posted.body);
  assert.equal(body.method, "POST");
  assert.equal(body.body, '{"name":"ünïcode"}');
  assert.equal(body.headers["content-type"], "application/json");
  // The response is a plain JSON value: the caller records it in the log.
  assert.deepEqual(JSON.parse(JSON.stringify(posted)), posted);
});

Deno.test("request() refuses a loopback server that is not allowlisted", async () => {
  await using server = echoServer();
  await using other = echoServer();
  const client = clientFor([other]);
  const error = await refusal(
    client.request(get(`${server.origin}/`), ANY_HOST),
    "HTTP_ADDRESS_FORBIDDEN",
  );
  assert.equal(error.details.class, "loopback");
  await refusal(
    new GuardedHttpClient().request(get(`${server.origin}/`), ANY_HOST),
    "HTTP_ADDRESS_FORBIDDEN",
  );
  await refusal(
    client.request(get(`${other.origin}/`), { allowedHosts: ["x.test"] }),
    "HTTP_HOST_NOT_ALLOWED",
  );
  assert.equal(server.requests.length + other.requests.length, 0);
});

Deno.test("request() reaches [::1] through the allowlist", async () => {
  await using server = startServer(() => new Response("six"), {
    hostname: "::1",
  });
  const client = clientFor([server]);
  const response = await client.request(get(`${server.origin}/`), ANY_HOST);
  assert.equal(response.body, "six");
});

Deno.test("request() connects through the lookup hook to the name's checked address", async () => {
  await using server = echoServer();
  await using dns = await startDnsServer({ "api.test": { A: ["127.0.0.1"] } });
  const client = new GuardedHttpClient({
    resolver: liveResolver({ nameServer: dns.nameServer }),
    loopbackAllowlist: [{ host: "api.test", port: server.port }],
  });
  // No system resolver knows api.test: only the hook can connect it.
  const response = await client.request(
    get(`http://api.test:${server.port}/x`),
    { allowedHosts: ["api.test"] },
  );
  assert.equal(response.status, 200);
  assert.equal(
    JSON.parse(response.body).headers.host,
    `api.test:${server.port}`,
  );
  assert.deepEqual(dns.queries.sort(), ["api.test A", "api.test AAAA"]);
});

Deno.test("request() pins https connections too, and checks the certificate against the name", async () => {
  await using server = startServer(() => new Response("secure"), { tls: true });
  await using dns = await startDnsServer({
    "api.test": { A: ["127.0.0.1"] },
    "other.test": { A: ["127.0.0.1"] },
  });
  const client = new GuardedHttpClient({
    resolver: liveResolver({ nameServer: dns.nameServer }),
    loopbackAllowlist: [
      { host: "api.test", port: server.port },
      { host: "other.test", port: server.port },
    ],
    ca: TEST_TLS.cert,
  });
  const response = await client.request(
    get(`https://api.test:${server.port}/`),
    ANY_HOST,
  );
  assert.equal(response.body, "secure");
  // Same address, but the certificate does not name other.test.
  await refusal(
    client.request(get(`https://other.test:${server.port}/`), ANY_HOST),
    "HTTP_CONNECT_FAILED",
  );
});

Deno.test("request() connects to the address it checked, not to a later DNS answer", async () => {
  await using first = startServer(() => new Response("checked"));
  await using second = startServer(() => new Response("rebound"), {
    hostname: "::1",
    port: first.port,
  });
  assert.equal(second.port, first.port);
  const answers = ["127.0.0.1", "::1"];
  let calls = 0;
  const resolver: Resolver = () => {
    const address = answers[Math.min(calls++, answers.length - 1)]!;
    return Promise.resolve([{
      address,
      family: address.includes(":") ? 6 : 4,
    }]);
  };
  const client = new GuardedHttpClient({
    resolver,
    loopbackAllowlist: [{ host: "rebind.test", port: first.port }],
  });
  const url = `http://rebind.test:${first.port}/`;
  const checked = await client.request(get(url), ANY_HOST);
  assert.equal(checked.body, "checked");
  assert.equal(calls, 1, "one resolution per hop, no second lookup");
  // The next request is checked anew and goes where its own check says.
  const rebound = await client.request(get(url), ANY_HOST);
  assert.equal(rebound.body, "rebound");
  assert.equal(calls, 2);
});

Deno.test("request() follows redirects, re-checking and rewriting each hop", async () => {
  await using target = echoServer();
  await using server = startServer((request) => {
    const url = new URL(request.url);
    const step = Number(url.searchParams.get("n") ?? "0");
    if (url.pathname === "/chain" && step > 0) {
      return new Response(null, {
        status: 302,
        headers: { location: `/chain?n=${step - 1}` },
      });
    }
    if (url.pathname === "/see-other") {
      return new Response(null, { status: 303, headers: { location: "/end" } });
    }
    if (url.pathname === "/temporary") {
      return new Response(null, { status: 307, headers: { location: "/end" } });
    }
    if (url.pathname === "/away") {
      return new Response(null, {
        status: 308,
        headers: { location: `${target.origin}/landed` },
      });
    }
    return Response.json({
      method: request.method,
      path: url.pathname,
      authorization: request.headers.get("authorization"),
      type: request.headers.get("content-type"),
    });
  });
  const client = clientFor([server, target]);
  const chain = await client.request(
    get(`${server.origin}/chain?n=5`),
    ANY_HOST,
  );
  assert.equal(chain.url, `${server.origin}/chain?n=0`);
  const post = {
    method: "POST",
    headers: { authorization: "Bearer s3cret", "content-type": "text/plain" },
    body: "payload",
  };
  const seeOther = await client.request(
    { ...post, url: `${server.origin}/see-other` },
    ANY_HOST,
  );
  assert.deepEqual(JSON.parse(seeOther.body), {
    method: "GET",
    path: "/end",
    authorization: "Bearer s3cret",
    type: null,
  });
  const temporary = await client.request(
    { ...post, url: `${server.origin}/temporary` },
    ANY_HOST,
  );
  assert.equal(JSON.parse(temporary.body).method, "POST");
  const away = await client.request(
    { ...post, url: `${server.origin}/away` },
    ANY_HOST,
  );
  const landed = JSON.parse(away.body);
  assert.equal(landed.body, "payload");
  assert.equal(landed.method, "POST");
  assert.equal(
    landed.headers.authorization,
    undefined,
    "credentials do not follow a redirect to another origin",
  );
  assert.equal(away.url, `${target.origin}/landed`);
});

Deno.test("request() refuses a redirect to an internal address or a closed loopback port", async () => {
  await using hidden = echoServer();
  await using server = startServer((request) => {
    const path = new URL(request.url).pathname;
    const location = path === "/metadata"
      ? "http://169.254.169.254/latest/meta-data/"
      : path === "/hidden"
      ? `${hidden.origin}/`
      : path === "/elsewhere"
      ? "https://elsewhere.example/"
      : "/loop";
    return new Response(null, { status: 301, headers: { location } });
  });
  const client = clientFor([server], { redirectsMax: 3 });
  const metadata = await refusal(
    client.request(get(`${server.origin}/metadata`), ANY_HOST),
    "HTTP_ADDRESS_FORBIDDEN",
  );
  assert.equal(metadata.details.class, "metadata");
  const loopback = await refusal(
    client.request(get(`${server.origin}/hidden`), ANY_HOST),
    "HTTP_ADDRESS_FORBIDDEN",
  );
  assert.equal(loopback.details.class, "loopback");
  assert.equal(hidden.requests.length, 0);
  await refusal(
    client.request(get(`${server.origin}/elsewhere`), {
      allowedHosts: ["127.0.0.1"],
    }),
    "HTTP_HOST_NOT_ALLOWED",
  );
  const loop = await refusal(
    client.request(get(`${server.origin}/loop`), ANY_HOST),
    "HTTP_REDIRECT_LIMIT",
  );
  assert.equal(loop.details.limit, 3);
});

Deno.test("request() times out a server that never answers", async () => {
  const hold = Promise.withResolvers<void>();
  const arrived = Promise.withResolvers<void>();
  await using server = startServer(async () => {
    arrived.resolve();
    await hold.promise;
    return new Response("late");
  });
  try {
    const error = await refusal(
      clientFor([server]).request(
        get(`${server.origin}/`, { timeout_ms: 50 }),
        ANY_HOST,
      ),
      "HTTP_TIMEOUT",
    );
    assert.equal(error.details.timeout_ms, 50);
    // With a simulated clock, the timeout fires exactly when the test says.
    const clock = new SimulatedClock();
    const pending = clientFor([server], { clock, timeoutMsMax: 1000 }).request(
      get(`${server.origin}/`, { timeout_ms: 60_000 }),
      ANY_HOST,
    );
    await arrived.promise;
    clock.advance(1000);
    const capped = await refusal(pending, "HTTP_TIMEOUT");
    assert.equal(capped.details.timeout_ms, 1000);
    // The limit covers name resolution, even by a resolver that ignores it.
    const stuck = new GuardedHttpClient({
      resolver: () => new Promise(() => {}),
    });
    await refusal(
      stuck.request(get("http://stuck.test/", { timeout_ms: 20 }), ANY_HOST),
      "HTTP_TIMEOUT",
    );
  } finally {
    hold.resolve();
  }
});

Deno.test("request() times out a body that stops half way", async () => {
  const hold = Promise.withResolvers<void>();
  await using server = startServer(() => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent) {
          await hold.promise;
          controller.close();
          return;
        }
        sent = true;
        controller.enqueue(new TextEncoder().encode("first half"));
      },
    });
    return new Response(body, {
      headers: { "content-type": "application/octet-stream" },
    });
  });
  try {
    await refusal(
      clientFor([server]).request(
        get(`${server.origin}/`, { timeout_ms: 100 }),
        ANY_HOST,
      ),
      "HTTP_TIMEOUT",
    );
  } finally {
    hold.resolve();
  }
});

Deno.test("request() reports a refused or reset connection as HTTP_CONNECT_FAILED", async () => {
  const port = closedPort();
  const client = new GuardedHttpClient({
    loopbackAllowlist: [{ host: "127.0.0.1", port }],
  });
  await refusal(
    client.request(get(`http://127.0.0.1:${port}/`), ANY_HOST),
    "HTTP_CONNECT_FAILED",
  );
  await using reset = startRawServer(async () => {});
  await refusal(
    clientFor([reset]).request(get(`${reset.origin}/`), ANY_HOST),
    "HTTP_CONNECT_FAILED",
  );
});

Deno.test("request() reports a name that does not resolve as HTTP_DNS_FAILED", async () => {
  await using dns = await startDnsServer({});
  const client = new GuardedHttpClient({
    resolver: liveResolver({ nameServer: dns.nameServer }),
  });
  await refusal(
    client.request(get("http://missing.test/"), ANY_HOST),
    "HTTP_DNS_FAILED",
  );
});

const BINARY = new Uint8Array(
  Array.from({ length: 256 }, (_, index) => index),
);

Deno.test("request() decodes gzip, deflate and br, and returns binary as base64", async () => {
  const text = "héllo ".repeat(1000);
  const bodies: Record<string, [Uint8Array, string | undefined]> = {
    "/gzip": [zlib.gzipSync(text), "gzip"],
    "/deflate": [zlib.deflateSync(text), "deflate"],
    "/raw-deflate": [zlib.deflateRawSync(text), "deflate"],
    "/br": [zlib.brotliCompressSync(text), "br"],
    "/twice": [zlib.gzipSync(zlib.brotliCompressSync(text)), "br, gzip"],
    "/binary": [BINARY, undefined],
    "/bom": [new Uint8Array([0xef, 0xbb, 0xbf, 0x41]), undefined],
    "/unknown": [new Uint8Array([1, 2, 0xff]), "x-custom"],
  };
  await using server = startServer((request) => {
    const [body, encoding] = bodies[new URL(request.url).pathname]!;
    const headers = new Headers({ "content-type": "application/octet-stream" });
    if (encoding !== undefined) headers.set("content-encoding", encoding);
    return new Response(new Uint8Array(body), { headers });
  });
  const client = clientFor([server]);
  const fetched = (path: string) =>
    client.request(get(`${server.origin}${path}`), ANY_HOST);
  for (const path of ["/gzip", "/deflate", "/raw-deflate", "/br", "/twice"]) {
    const response = await fetched(path);
    assert.equal(response.body_encoding, "utf8", path);
    assert.equal(response.body, text, path);
    assert.equal(response.headers["content-encoding"], undefined, path);
    assert.equal(response.headers["content-length"], undefined, path);
  }
  const binary = await fetched("/binary");
  assert.equal(binary.body_encoding, "base64");
  assert.deepEqual(new Uint8Array(Buffer.from(binary.body, "base64")), BINARY);
  assert.equal(binary.headers["content-length"], "256");
  const bom = await fetched("/bom");
  assert.deepEqual([bom.body_encoding, bom.body], ["utf8", "\ufeffA"]);
  const unknown = await fetched("/unknown");
  assert.deepEqual(
    [unknown.body_encoding, unknown.body, unknown.headers["content-encoding"]],
    ["base64", "AQL/", "x-custom"],
  );
});

Deno.test("request() refuses bodies over the cap, counted after decompression", async () => {
  const limitBytes = 64 * 1024;
  // Gzip members concatenate: an endless stream of them is an endless bomb.
  const member = zlib.gzipSync(new Uint8Array(1024 * 1024));
  let membersServed = 0;
  await using server = startServer((request) => {
    const path = new URL(request.url).pathname;
    const octets = { "content-type": "application/octet-stream" };
    if (path === "/exact") {
      return new Response(new Uint8Array(limitBytes), { headers: octets });
    }
    if (path === "/plain") {
      return new Response(new Uint8Array(limitBytes + 1), { headers: octets });
    }
    if (path === "/streamed") {
      const chunks = [new Uint8Array(limitBytes), new Uint8Array(1)];
      return new Response(ReadableStream.from(chunks), { headers: octets });
    }
    if (path === "/gzip") {
      return new Response(
        new Uint8Array(zlib.gzipSync(new Uint8Array(limitBytes + 1))),
        {
          headers: { ...octets, "content-encoding": "gzip" },
        },
      );
    }
    const bomb = new ReadableStream<Uint8Array>({
      pull(controller) {
        membersServed++;
        controller.enqueue(member);
      },
    });
    return new Response(bomb, {
      headers: { ...octets, "content-encoding": "gzip" },
    });
  });
  const client = clientFor([server], { bodyMaxBytes: limitBytes });
  const exact = await client.request(get(`${server.origin}/exact`), ANY_HOST);
  assert.deepEqual([exact.body_encoding, exact.body.length], [
    "utf8",
    limitBytes,
  ]);
  for (const path of ["/plain", "/streamed", "/gzip", "/bomb"]) {
    const error = await refusal(
      client.request(get(`${server.origin}${path}`), ANY_HOST),
      "HTTP_RESPONSE_TOO_LARGE",
    );
    assert.equal(error.details.limit_bytes, limitBytes, path);
    assert.equal(error.details.status, 200, path);
  }
  assert.ok(membersServed > 0);
});

Deno.test("request() refuses smuggling headers, bad values and oversized bodies before sending", async () => {
  await using server = echoServer();
  const client = clientFor([server], { bodyMaxBytes: 16 });
  for (
    const name of ["Host", "content-length", "Transfer-Encoding", "connection"]
  ) {
    const error = await refusal(
      client.request(
        get(`${server.origin}/`, { headers: { [name]: "x" } }),
        ANY_HOST,
      ),
      "HTTP_URL_INVALID",
    );
    assert.match(error.message, new RegExp(name.toLowerCase()));
  }
  for (
    const headers of [
      { "x-a": "one\r\nx-injected: two" },
      { "bad name": "x" },
      { "X-Dup": "1", "x-dup": "2" },
    ]
  ) {
    const error = await refusal(
      client.request(get(`${server.origin}/`, { headers }), ANY_HOST),
      "HTTP_URL_INVALID",
    );
    assert.ok(!JSON.stringify(error.toJSON()).includes("injected"));
  }
  await refusal(
    client.request(get(`${server.origin}/`, { method: "CONNECT" }), ANY_HOST),
    "HTTP_URL_INVALID",
  );
  await refusal(
    client.request(
      { ...get(`${server.origin}/`), method: "POST", body: "x".repeat(17) },
      ANY_HOST,
    ),
    "HOST_CALL_INVALID",
  );
  await refusal(
    client.request(get(`${server.origin}/`, { timeout_ms: 0 }), ANY_HOST),
    "HOST_CALL_INVALID",
  );
  assert.equal(server.requests.length, 0);
});

Deno.test("request() drops hop-by-hop response headers and joins repeated ones", async () => {
  await using server = startRawServer(async (_head, connection) => {
    await connection.write(new TextEncoder().encode(
      "HTTP/1.1 200 OK\r\n" +
        "Connection: close, X-Hop\r\n" +
        "X-Hop: 1\r\n" +
        "Keep-Alive: timeout=5\r\n" +
        "Set-Cookie: a=1\r\n" +
        "Set-Cookie: b=2\r\n" +
        "Content-Type: text/plain\r\n" +
        "Content-Length: 2\r\n\r\nok",
    ));
  });
  const response = await clientFor([server]).request(
    get(`${server.origin}/`),
    ANY_HOST,
  );
  assert.deepEqual(response.headers, {
    "content-length": "2",
    "content-type": "text/plain",
    "set-cookie": "a=1, b=2",
  });
  assert.equal(response.body, "ok");
});

Deno.test("request() takes a HEAD answer's content-length as information, not as a body", async () => {
  await using server = startRawServer(async (_head, connection) => {
    await connection.write(new TextEncoder().encode(
      "HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n",
    ));
  });
  const response = await clientFor([server], { bodyMaxBytes: 1024 }).request(
    get(`${server.origin}/`, { method: "HEAD" }),
    ANY_HOST,
  );
  assert.deepEqual([response.status, response.body], [200, ""]);
  assert.equal(response.headers["content-length"], "999999999");
});
