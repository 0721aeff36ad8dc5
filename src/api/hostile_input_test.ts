import assert from "node:assert/strict";
import {
  openTestNode,
  requestJson,
  TEST_TENANT_KEY,
} from "../../tests/support/test_node.ts";
import { BODY_BYTES_MAX } from "./errors.ts";

function streamOf(
  chunks: number,
  chunkBytes: number,
): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ >= chunks) return controller.close();
      controller.enqueue(new Uint8Array(chunkBytes).fill(0x20));
    },
  });
}

Deno.test("request bodies are bounded by the bytes that arrive, whatever the headers say", async () => {
  const node = await openTestNode();
  try {
    const post = async (init: RequestInit) => {
      const response = await node.app.request("/v1/runs", {
        method: "POST",
        ...init,
        headers: {
          authorization: `Bearer ${TEST_TENANT_KEY}`,
          ...init.headers as Record<string, string>,
        },
      });
      return {
        status: response.status,
        code: (await response.json()).error?.code,
      };
    };
    const declaredTooLarge = await post({
      body: "{}",
      headers: { "content-length": String(BODY_BYTES_MAX + 1) },
    });
    assert.deepEqual(declaredTooLarge, {
      status: 413,
      code: "VALIDATION_BODY_TOO_LARGE",
    });
    // Chunked: no Content-Length at all.
    const chunked = await post({
      body: streamOf(80, 64 * 1024),
      headers: { "content-type": "application/json" },
    });
    assert.deepEqual(chunked, {
      status: 413,
      code: "VALIDATION_BODY_TOO_LARGE",
    });
    // A Content-Length that lies about a larger body.
    const lying = await post({
      body: streamOf(80, 64 * 1024),
      headers: { "content-length": "2" },
    });
    assert.deepEqual(lying, { status: 413, code: "VALIDATION_BODY_TOO_LARGE" });
    const deep = await post({
      body: "[".repeat(10_000) + "]".repeat(10_000),
      headers: { "content-type": "application/json" },
    });
    assert.deepEqual(deep, { status: 400, code: "VALIDATION_JSON_TOO_DEEP" });
    const deepYaml = await post({
      body: "steps: " + "[".repeat(10_000),
      headers: { "content-type": "application/yaml" },
    });
    assert.equal(deepYaml.status, 400);
    const notUtf8 = await post({ body: new Uint8Array([0x7b, 0xff, 0x7d]) });
    assert.deepEqual(notUtf8, {
      status: 400,
      code: "VALIDATION_JSON_MALFORMED",
    });
    // The node still serves, and nothing was stored.
    assert.equal((await requestJson(node, "GET", "/healthz")).status, 200);
    assert.deepEqual(
      (await requestJson(node, "GET", "/v1/runs")).body.runs,
      [],
    );
  } finally {
    await node.close();
  }
});

Deno.test("__proto__ and constructor keys in a body pollute nothing", async () => {
  const node = await openTestNode();
  try {
    const body =
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "steps": []}';
    const response = await requestJson(node, "POST", "/v1/runs", body);
    assert.equal(response.status, 400);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const plan = JSON.stringify({
      steps: [{
        id: "a",
        skill: "json_transform",
        params: JSON.parse(
          '{"op":"pick","input":{"__proto__":{"x":1},"y":2},"keys":["y"]}',
        ),
      }],
    });
    const accepted = await requestJson(node, "POST", "/v1/runs", plan);
    assert.equal(accepted.status, 202);
    const view = (await requestJson(
      node,
      "GET",
      `/v1/runs/${accepted.body.run_id}?wait_ms=30000`,
    )).body;
    assert.deepEqual((view.output as { result: unknown }).result, { y: 2 });
    assert.equal(({} as Record<string, unknown>).x, undefined);
  } finally {
    await node.close();
  }
});
