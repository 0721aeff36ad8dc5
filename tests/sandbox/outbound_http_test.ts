import { assertRunsReplay } from "../support/replay_check.ts";
import assert from "node:assert/strict";
import { startDnsServer } from "../support/dns_server.ts";
import { startServer } from "../support/http_servers.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";

const SECRET = "s3cr3t-token-0123456789";

// Every form of an internal address a skill might try; none may be reached.
const BLOCKED = [
  "http://localhost:1/",
  "http://localhost./",
  "http://2130706433/",
  "http://0x7f.1/",
  "http://017700000001/",
  "http://127.1/",
  "http://[::1]/",
  "http://[::ffff:127.0.0.1]/",
  "http://[::7f00:1]/",
  "http://169.254.169.254/latest/meta-data/",
  "http://metadata.google.internal/computeMetadata/v1/",
  "http://100.100.100.200/",
  "http://10.0.0.1/",
  "http://172.16.0.1/",
  "http://192.168.1.1/",
  "http://100.64.0.1/",
  "http://[fe80::1]/",
  "http://[fc00::1]/",
  "http://224.0.0.1/",
  "http://0.0.0.0/",
  "http://[::]/",
  "http://[64:ff9b::7f00:1]/",
  "http://[2002:7f00:1::]/",
  "http://[2001::1]/",
  "http://public-looking.example/",
  "http://mixed.example/",
];

Deno.test("skills reach the network only through the guarded, recorded path", async () => {
  let hits = 0;
  let receivedAuthorization = "";
  await using dns = await startDnsServer({
    "public-looking.example": { A: ["127.0.0.1"] },
    "mixed.example": { A: ["93.184.216.34", "10.1.2.3"] },
  });
  await using internal = startServer(() => new Response("internal secret"));
  await using allowed = startServer((request) => {
    hits++;
    const path = new URL(request.url).pathname;
    if (path === "/ok") return Response.json({ hello: "world" });
    if (path === "/to-metadata") {
      return Response.redirect("http://169.254.169.254/latest/meta-data/", 302);
    }
    if (path === "/to-internal") {
      return Response.redirect(`${internal.origin}/`, 302);
    }
    receivedAuthorization = request.headers.get("authorization") ?? "";
    return new Response(`you sent: ${receivedAuthorization}`);
  });
  const node = await openTestNode({
    config: {
      http: {
        loopbackAllowlist: [{ host: "127.0.0.1", port: allowed.port }],
        dnsServer: dns.nameServer,
        bodyBytesMax: 1 << 20,
        externalEnabled: true,
      },
      secrets: { TEST_TOKEN: SECRET },
    },
  });
  const runs: string[] = [];
  const run = async (params: Record<string, unknown>) => {
    const { body } = await requestJson(node, "POST", "/v1/runs", {
      steps: [{ id: "call", skill: "fetcher", params }],
    });
    runs.push(String(body.run_id));
    return (await requestJson(
      node,
      "GET",
      `/v1/runs/${body.run_id}?wait_ms=30000`,
    )).body;
  };
  try {
    for (const url of [...BLOCKED, `${internal.origin}/`]) {
      const view = await run({ request: { url } });
      const answer =
        (view.output as { answer: { ok: boolean; error?: { code: string } } })
          .answer;
      assert.equal(answer.ok, false, url);
      assert.equal(
        answer.error?.code,
        "HTTP_ADDRESS_FORBIDDEN",
        `${url}: ${JSON.stringify(answer)}`,
      );
    }
    for (const url of ["ftp://example.com/", "http://user:pw@example.com/"]) {
      const answer = ((await run({ request: { url } })).output as {
        answer: { error: { code: string } };
      }).answer;
      assert.equal(answer.error.code, "HTTP_URL_INVALID", url);
    }
    for (const path of ["/to-metadata", "/to-internal"]) {
      const answer =
        ((await run({ request: { url: `${allowed.origin}${path}` } }))
          .output as {
            answer: { error: { code: string } };
          }).answer;
      assert.equal(answer.error.code, "HTTP_ADDRESS_FORBIDDEN", path);
    }
    const ok = await run({ request: { url: `${allowed.origin}/ok` } });
    const answer =
      (ok.output as { answer: { ok: boolean; status: number; body: string } })
        .answer;
    assert.deepEqual([answer.ok, answer.status, JSON.parse(answer.body)], [
      true,
      200,
      { hello: "world" },
    ]);

    const viaExtism = await run({
      mode: "extism",
      request: { url: `${allowed.origin}/ok` },
    });
    assert.deepEqual(viaExtism.output, {
      body: '{"hello":"world"}',
      status: 200,
    });
    const blockedViaExtism = await run({
      mode: "extism",
      request: { url: "http://169.254.169.254/" },
    });
    assert.equal(
      (blockedViaExtism.error as { code: string }).code,
      "HTTP_ADDRESS_FORBIDDEN",
    );

    const withSecret = await run({
      request: {
        url: `${allowed.origin}/echo`,
        headers: { authorization: "Bearer {{secret:TEST_TOKEN}}" },
      },
    });
    assert.equal(
      receivedAuthorization,
      `Bearer ${SECRET}`,
      JSON.stringify(withSecret),
    );
    assert.equal(
      (withSecret.output as { answer: { body: string } }).answer.body,
      "you sent: Bearer {{secret:TEST_TOKEN}}",
    );
    const events = JSON.stringify(
      (await requestJson(
        node,
        "GET",
        `/v1/runs/${runs[runs.length - 1]}/events`,
      )).body,
    );
    assert.ok(!events.includes(SECRET), "a secret reached the log");
    assert.match(events, /"kind":"http"/);
  } finally {
    await node.close();
  }
  // Replay with every server gone: the answers come from the logs, nothing is sent.
  const hitsBeforeReplay = hits;
  await allowed.close();
  await internal.close();
  await assertRunsReplay(node.dataDir, runs);
  assert.equal(hits, hitsBeforeReplay);
});

Deno.test("with external calls disabled (the embedded default), public hosts are refused before any connection", async () => {
  const node = await openTestNode();
  try {
    const call = async (url: string) => {
      const { body } = await requestJson(node, "POST", "/v1/runs", {
        steps: [{ id: "call", skill: "fetcher", params: { request: { url } } }],
      });
      const view = await requestJson(
        node,
        "GET",
        `/v1/runs/${body.run_id}?wait_ms=30000`,
      );
      return (view.body.output as { answer: { error: { code: string } } })
        .answer.error.code;
    };
    assert.equal(await call("http://93.184.216.34/"), "HTTP_EXTERNAL_DISABLED");
    assert.equal(await call("http://127.0.0.1:9/"), "HTTP_ADDRESS_FORBIDDEN");
    assert.equal(
      await call("http://169.254.169.254/"),
      "HTTP_ADDRESS_FORBIDDEN",
    );
  } finally {
    await node.close();
  }
});
