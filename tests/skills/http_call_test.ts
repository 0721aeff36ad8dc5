// http_call through a real node: plans submitted over the API, real
// loopback servers and DNS, the real guarded client. Every output and error
// code of the contract is produced for real here; the contract's own cases
// (which need no server) run at the end.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { liveClock, liveRandom } from "../../src/deps/mod.ts";
import type { AosNode } from "../../src/node/mod.ts";
import { replayLog } from "../../src/replay/mod.ts";
import { GuardedHttpClient, Sandbox } from "../../src/sandbox/mod.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { readContract, runContract } from "../../src/skills/contract.ts";
import { parseManifest } from "../../src/skills/manifest.ts";
import { startDnsServer } from "../support/dns_server.ts";
import { closedPort, startServer } from "../support/http_servers.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";
import { skillModule } from "./_harness.ts";

const SECRET = "s3cr3t-token-0123456789";
const MIB = 1024 * 1024;

interface StepView {
  status: string;
  output: Record<string, unknown> | null;
  error: { code: string; message: string; details: Record<string, unknown> };
}

interface RunView {
  run_id: string;
  status: string;
  steps: StepView[];
}

// Every run submitted, in order; the first test replays its own.
const submittedRuns: string[] = [];

async function runSteps(
  node: AosNode,
  params: Record<string, unknown>[],
): Promise<RunView> {
  const submitted = await requestJson(node, "POST", "/v1/runs", {
    steps: params.map((step, index) => ({
      id: `call${index}`,
      skill: "http_call",
      params: step,
    })),
  });
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  submittedRuns.push(String(submitted.body.run_id));
  const view = await requestJson(
    node,
    "GET",
    `/v1/runs/${submitted.body.run_id}?wait_ms=30000`,
  );
  return view.body as unknown as RunView;
}

/** Runs one http_call step; its output, or its error. */
async function call(
  node: AosNode,
  params: Record<string, unknown>,
): Promise<StepView & { runId: string }> {
  const view = await runSteps(node, [params]);
  assert.notEqual(view.status, "running");
  return { ...view.steps[0]!, runId: view.run_id };
}

async function expectError(
  node: AosNode,
  params: Record<string, unknown>,
  code: string,
): Promise<Record<string, unknown>> {
  const step = await call(node, params);
  assert.equal(step.status, "failed", JSON.stringify(step.output));
  assert.equal(step.error.code, code, JSON.stringify(step.error));
  return step.error.details;
}

async function expectOutput(
  node: AosNode,
  params: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const step = await call(node, params);
  assert.equal(step.status, "succeeded", JSON.stringify(step.error));
  return step.output!;
}

interface LogRecord {
  type: string;
  body: { kind?: string; result?: unknown };
}

async function hostCalls(
  node: AosNode,
  runId: string,
  kind: string,
): Promise<LogRecord[]> {
  const { body } = await requestJson(node, "GET", `/v1/runs/${runId}/events`);
  return (body.events as LogRecord[]).filter((record) =>
    record.type === "HostCall" && record.body.kind === kind
  );
}

function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

// The three forms of an HTTP date (RFC 9110 §5.6.7) of `date`.
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS = [
  "Sunday",
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
];
const MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
function httpDates(date: Date): string[] {
  const two = (value: number) => String(value).padStart(2, "0");
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${
    two(date.getUTCSeconds())
  }`;
  const month = MONTHS[date.getUTCMonth()];
  const day = date.getUTCDate();
  const year = date.getUTCFullYear();
  return [
    date.toUTCString(),
    `${LONG_DAYS[date.getUTCDay()]}, ${two(day)}-${month}-${
      two(year % 100)
    } ${time} GMT`,
    `${DAYS[date.getUTCDay()]} ${month} ${
      String(day).padStart(2, " ")
    } ${time} ${year}`,
  ];
}

// SHA-256 vectors: FIPS 180-2 examples, and lengths around the padding
// boundaries (55 and 56 bytes fit one or two final blocks).
const KNOWN_VECTORS: [string, string][] = [
  ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  [
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  ],
  [
    "a".repeat(1_000_000),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
  ],
];
const VECTOR_BODIES = [
  ...KNOWN_VECTORS.map(([body]) => body),
  ...[55, 56, 63, 64, 65, 119, 120, 1000].map((length) =>
    "0123456789abcdef".repeat(64).slice(0, length)
  ),
  "Zoë 😀 — ünïcödé",
];

Deno.test("http_call maps every answer of real loopback servers to its output or catalog error", async (t) => {
  const hits = new Map<string, number>();
  const received: { contentType: string | null; body: string }[] = [];
  let releaseHanging!: () => void;
  const hanging = new Promise<void>((resolve) => releaseHanging = resolve);
  let retryAfterDate = "";
  await using dns = await startDnsServer({
    "known.test": { A: ["127.0.0.1"] },
  });
  let internalHits = 0;
  await using internal = startServer(() => {
    internalHits++;
    return new Response("internal");
  });
  await using server = startServer(async (request) => {
    const url = new URL(request.url);
    const path = url.pathname;
    const count = (hits.get(path) ?? 0) + 1;
    hits.set(path, count);
    switch (path) {
      case "/json":
        return Response.json({ hello: "world", list: [1, 2.5, null] });
      case "/problem":
        return new Response('{"title":"x"}', {
          headers: {
            "content-type": "application/problem+json; charset=utf-8",
          },
        });
      case "/not-json":
        return new Response("{oops", {
          headers: { "content-type": "application/json" },
        });
      case "/text":
        return new Response("plain text");
      case "/binary":
        return new Response(new Uint8Array([0xff, 0x00, 0xfe, 0x80]));
      case "/vector":
        return new Response(VECTOR_BODIES[Number(url.searchParams.get("i"))]);
      case "/echo":
        received.push({
          contentType: request.headers.get("content-type"),
          body: await request.text(),
        });
        return Response.json({ method: request.method }, { status: 201 });
      case "/to-metadata":
        return Response.redirect(
          "http://169.254.169.254/latest/meta-data/",
          302,
        );
      case "/hang":
        await hanging;
        return new Response("too late");
      case "/missing":
        return new Response("no such thing ".repeat(200), { status: 404 });
      case "/broken":
        return new Response("boom", { status: 500 });
      case "/limited":
        return new Response("slow down", {
          status: 429,
          headers: { "retry-after": "7" },
        });
      case "/limited-date":
        return new Response("slow down", {
          status: 429,
          headers: { "retry-after": retryAfterDate },
        });
      case "/flaky":
        return count <= 2
          ? new Response("try again", { status: 503 })
          : Response.json({ attempt: count });
      case "/huge":
        return new Response(new Uint8Array(12 * MIB).fill(0x61));
      case "/over-ten":
        return new Response(new Uint8Array(10 * MIB + 1).fill(0x61));
      default:
        return new Response("unexpected", { status: 418 });
    }
  });
  const refusedPort = closedPort();
  const node = await openTestNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [
          { host: "127.0.0.1", port: server.port },
          { host: "127.0.0.1", port: refusedPort },
          { host: "known.test", port: server.port },
        ],
        dnsServer: dns.nameServer,
        bodyBytesMax: 11 * MIB,
        externalEnabled: true,
      },
      secrets: { API_TOKEN: SECRET },
    },
  });
  const origin = server.origin;
  try {
    await t.step("a JSON response is parsed and described", async () => {
      const output = await expectOutput(node, { url: `${origin}/json` });
      const raw = '{"hello":"world","list":[1,2.5,null]}';
      assert.deepEqual(output.body, { hello: "world", list: [1, 2.5, null] });
      assert.equal(output.status, "ok");
      assert.equal(output.code, 200);
      assert.equal(output.body_encoding, "utf8");
      assert.equal(output.response_sha256, sha256(raw));
      assert.equal(
        (output.headers as Record<string, string>)["content-type"],
        "application/json",
      );
      assert.deepEqual(output.side_effects, [{
        kind: "http",
        method: "GET",
        url: `${origin}/json`,
        response_sha256: sha256(raw),
      }]);
    });

    await t.step(
      "a name resolved by the configured DNS server is reached",
      async () => {
        const output = await expectOutput(node, {
          url: `http://known.test:${server.port}/json`,
        });
        assert.deepEqual(output.body, { hello: "world", list: [1, 2.5, null] });
      },
    );

    await t.step(
      "+json types are parsed; text, bad JSON and binary stay text",
      async () => {
        const problem = await expectOutput(node, { url: `${origin}/problem` });
        assert.deepEqual(problem.body, { title: "x" });
        const notJson = await expectOutput(node, { url: `${origin}/not-json` });
        assert.equal(notJson.body, "{oops");
        const text = await expectOutput(node, { url: `${origin}/text` });
        assert.equal(text.body, "plain text");
        const binary = await expectOutput(node, { url: `${origin}/binary` });
        const base64 = Buffer.from([0xff, 0x00, 0xfe, 0x80]).toString("base64");
        assert.equal(binary.body_encoding, "base64");
        assert.equal(binary.body, base64);
        assert.equal(binary.response_sha256, sha256(base64));
      },
    );

    await t.step(
      "response_sha256 matches SHA-256 test vectors and node:crypto",
      async () => {
        const view = await runSteps(
          node,
          VECTOR_BODIES.map((_, index) => ({
            url: `${origin}/vector?i=${index}`,
          })),
        );
        assert.equal(view.status, "succeeded");
        const hashes = view.steps.map((step) => step.output!.response_sha256);
        KNOWN_VECTORS.forEach(([, expected], index) =>
          assert.equal(hashes[index], expected, `known vector ${index}`)
        );
        VECTOR_BODIES.forEach((body, index) =>
          assert.equal(hashes[index], sha256(body), `${body.length} characters`)
        );
      },
    );

    await t.step(
      "a POST with a JSON body reaches the server as JSON",
      async () => {
        const sent = { name: "Zoë", tags: ["a", "b"], nested: { n: 1 } };
        const output = await expectOutput(node, {
          method: "post",
          url: `${origin}/echo`,
          headers: { "X-Request-Id": "abc-123" },
          body: sent,
        });
        assert.equal(output.code, 201);
        assert.deepEqual(output.body, { method: "POST" });
        assert.deepEqual(
          (output.side_effects as { method: string }[])[0]!.method,
          "POST",
        );
        const last = received[received.length - 1]!;
        assert.equal(last.contentType, "application/json");
        assert.deepEqual(JSON.parse(last.body), sent);
        await expectOutput(node, {
          method: "PUT",
          url: `${origin}/echo`,
          headers: { "content-type": "text/csv" },
          body: "a,b\n1,2\n",
        });
        assert.deepEqual(received[received.length - 1], {
          contentType: "text/csv",
          body: "a,b\n1,2\n",
        });
      },
    );

    await t.step("a server that never answers is ERR_TIMEOUT", async () => {
      const details = await expectError(
        node,
        { url: `${origin}/hang`, timeout_ms: 200 },
        "ERR_TIMEOUT",
      );
      assert.equal(details.host_code, "HTTP_TIMEOUT");
      assert.equal(details.timeout_ms, 200);
      assert.equal(details.attempts, 1);
    });

    await t.step("a closed port is ERR_CONNECTION", async () => {
      const details = await expectError(
        node,
        { url: `http://127.0.0.1:${refusedPort}/` },
        "ERR_CONNECTION",
      );
      assert.equal(details.host_code, "HTTP_CONNECT_FAILED");
    });

    await t.step("a name the DNS server does not know is ERR_DNS", async () => {
      const details = await expectError(
        node,
        { url: "http://nowhere.test/" },
        "ERR_DNS",
      );
      assert.equal(details.host_code, "HTTP_DNS_FAILED");
      assert.ok(dns.queries.some((query) => query.startsWith("nowhere.test")));
    });

    await t.step(
      "404 is ERR_HTTP_4XX with a 512-character excerpt, never retried",
      async () => {
        const details = await expectError(
          node,
          { url: `${origin}/missing`, max_retries: 3 },
          "ERR_HTTP_4XX",
        );
        assert.equal(details.status, 404);
        assert.equal(
          details.body_excerpt,
          "no such thing ".repeat(200).slice(0, 512),
        );
        assert.equal(details.attempts, 1);
        assert.equal(hits.get("/missing"), 1);
      },
    );

    await t.step("500 is ERR_HTTP_5XX after every retry", async () => {
      const details = await expectError(
        node,
        { url: `${origin}/broken`, max_retries: 1 },
        "ERR_HTTP_5XX",
      );
      assert.deepEqual([details.status, details.body_excerpt], [500, "boom"]);
      assert.equal(details.attempts, 2);
      assert.equal(hits.get("/broken"), 2);
    });

    await t.step(
      "429 is ERR_RATE_LIMITED with Retry-After seconds in ms",
      async () => {
        const details = await expectError(
          node,
          { url: `${origin}/limited` },
          "ERR_RATE_LIMITED",
        );
        assert.equal(details.status, 429);
        assert.equal(details.retry_after_ms, 7000);
      },
    );

    await t.step(
      "a Retry-After date in each HTTP date form is measured against aos_now",
      async () => {
        const due = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000);
        for (const form of httpDates(due)) {
          retryAfterDate = form;
          const step = await call(node, { url: `${origin}/limited-date` });
          assert.equal(step.error.code, "ERR_RATE_LIMITED", form);
          const [now] = await hostCalls(node, step.runId, "now");
          const expected = due.getTime() - (now!.body.result as number);
          assert.equal(step.error.details.retry_after_ms, expected, form);
        }
        retryAfterDate = new Date(0).toUTCString();
        const past = await expectError(
          node,
          { url: `${origin}/limited-date` },
          "ERR_RATE_LIMITED",
        );
        assert.equal(past.retry_after_ms, 0);
        retryAfterDate = "soon";
        const malformed = await expectError(
          node,
          { url: `${origin}/limited-date` },
          "ERR_RATE_LIMITED",
        );
        assert.equal(malformed.retry_after_ms, null);
      },
    );

    await t.step(
      "a body over the host's cap is ERR_HTTP_BODY_TOO_LARGE",
      async () => {
        const details = await expectError(
          node,
          { url: `${origin}/huge` },
          "ERR_HTTP_BODY_TOO_LARGE",
        );
        assert.equal(details.host_code, "HTTP_RESPONSE_TOO_LARGE");
      },
    );

    await t.step(
      "a body over 10 MiB is ERR_HTTP_BODY_TOO_LARGE under a larger host cap",
      async () => {
        const details = await expectError(
          node,
          { url: `${origin}/over-ten` },
          "ERR_HTTP_BODY_TOO_LARGE",
        );
        assert.deepEqual([details.bytes, details.limit_bytes], [
          10 * MIB + 1,
          10 * MIB,
        ]);
      },
    );

    await t.step(
      "a metadata URL, or a redirect to one, fails with FORBIDDEN_URL",
      async () => {
        for (
          const url of [
            "http://169.254.169.254/latest/meta-data/",
            `${origin}/to-metadata`,
          ]
        ) {
          const details = await expectError(node, { url }, "FORBIDDEN_URL");
          assert.equal(details.class, "metadata", url);
        }
      },
    );

    await t.step(
      "a loopback port outside the allowlist answers forbidden, unsent",
      async () => {
        const url = `${internal.origin}/`;
        const output = await expectOutput(node, { url });
        assert.deepEqual(output, {
          status: "forbidden",
          code: 403,
          error_code: "LOCAL_URL_FORBIDDEN",
          url,
        });
        assert.equal(internalHits, 0);
      },
    );

    await t.step(
      "a secret reference fails: the built-in skill is granted no secrets",
      async () => {
        const echoed = hits.get("/echo");
        const details = await expectError(node, {
          url: `${origin}/echo`,
          headers: { authorization: "Bearer {{secret:API_TOKEN}}" },
        }, "ERR_HTTP_INVALID_REQUEST");
        assert.equal(details.host_code, "HTTP_SECRET_UNKNOWN");
        assert.equal(details.secret, "API_TOKEN");
        assert.equal(details.field, "headers");
        assert.equal(hits.get("/echo"), echoed, "the request was sent");
      },
    );

    await t.step("invalid params name their field", async () => {
      const method = await expectError(
        node,
        { url: `${origin}/json`, method: "TRACE" },
        "ERR_HTTP_INVALID_REQUEST",
      );
      assert.equal(method.field, "method");
      const header = await expectError(node, {
        url: `${origin}/json`,
        headers: { "x-a": "1\r\nx-b: 2" },
      }, "ERR_HTTP_INVALID_REQUEST");
      assert.equal(header.field, "headers.x-a");
      const url = await expectError(
        node,
        { url: "file:///etc/passwd" },
        "ERR_HTTP_INVALID_REQUEST",
      );
      assert.equal(url.field, "url");
      // The host checks params against input_schema before the skill runs.
      await expectError(node, { method: "GET" }, "VALIDATION_INPUT_SCHEMA");
    });

    await t.step(
      "max_retries 2 outlasts two 503s: three recorded calls, then ok",
      async () => {
        const step = await call(node, {
          url: `${origin}/flaky`,
          max_retries: 2,
          timeout_ms: 5000,
        });
        assert.equal(step.status, "succeeded", JSON.stringify(step.error));
        assert.deepEqual(step.output!.body, { attempt: 3 });
        assert.equal(hits.get("/flaky"), 3);
        assert.equal((await hostCalls(node, step.runId, "http")).length, 3);
      },
    );

    await t.step(
      "every run replays identically from its log, sending nothing",
      async () => {
        const sandbox = new Sandbox({
          modules: node.registry,
          clock: liveClock,
          random: liveRandom,
        });
        const before = [...hits.values()].reduce((sum, count) => sum + count);
        try {
          for (const runId of submittedRuns) {
            const report = await replayLog(
              await node.store.readLog(runId),
              sandbox,
            );
            assert.equal(
              report.verdict,
              "identical",
              `${runId}: ${JSON.stringify(report.divergence)}`,
            );
          }
        } finally {
          await sandbox.close();
        }
        const after = [...hits.values()].reduce((sum, count) => sum + count);
        assert.equal(after, before);
      },
    );
  } finally {
    releaseHanging();
    await node.close();
  }
});

Deno.test("http_call answers stubbed while the node has external calls disabled", async () => {
  const node = await openTestNode();
  try {
    const url = "http://93.184.216.34/v1/items?page=2";
    assert.deepEqual(await expectOutput(node, { url }), {
      status: "stubbed",
      code: 501,
      error_code: "HTTP_EXTERNAL_DISABLED",
      url,
    });
    const local = await expectOutput(node, { url: "http://127.0.0.1:9/" });
    assert.equal(local.error_code, "LOCAL_URL_FORBIDDEN");
    await expectError(
      node,
      { url: "http://metadata.google.internal/" },
      "FORBIDDEN_URL",
    );
  } finally {
    await node.close();
  }
});

Deno.test("http_call passes its contract in a sandbox with external calls disabled", async () => {
  const dir = join(PROJECT_ROOT, "skills-wasm", "http_call");
  const bytes = await skillModule("skills-wasm/http_call");
  const manifest = parseManifest(
    await Deno.readTextFile(join(dir, "manifest.yaml")),
  );
  const contract = await readContract(
    join(PROJECT_ROOT, "contracts", "http_call.yaml"),
  );
  const results = await runContract(contract, { bytes, manifest }, {
    http: {
      client: new GuardedHttpClient({ externalEnabled: false }),
      secrets: {},
    },
  });
  const failed = results.filter((result) => !result.pass);
  assert.deepEqual(
    failed.map((result) => `${result.name}: ${result.reason}`),
    [],
  );
  assert.ok(
    results.every((result) =>
      result.hostCalls.every((call) => call.kind === "http")
    ),
  );
});
