import assert from "node:assert/strict";
import { ServerProcess } from "../support/server_process.ts";
import { THREE_STEP_PLAN } from "../support/test_node.ts";

// Hostile input against a real `aos serve`: every bad request gets its
// status and catalog code, the server keeps serving, and what it stores is
// the same afterwards. Framing attacks go over a raw socket, because fetch
// will not send a request with two lengths.

interface Answer {
  status: number;
  code: string | undefined;
  pointers: string[];
}

async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: {
    error?: { code?: string; details?: { issues?: { pointer: string }[] } };
  } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // framing errors are answered by the HTTP layer without a JSON body
  }
  return {
    status: response.status,
    code: body.error?.code,
    pointers: (body.error?.details?.issues ?? []).map((issue) => issue.pointer),
  };
}

/**
 * Sends a request on a fresh connection, writing the body while reading the
 * answer (a server that refuses a body stops reading it), and returns the
 * answer's status (0 when the server closed without one).
 */
async function rawStatus(
  port: number,
  head: string,
  body: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>,
): Promise<{ status: number; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const write = async (bytes: Uint8Array) => {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await conn.write(bytes.subarray(offset));
    }
  };
  const sending = (async () => {
    await write(new TextEncoder().encode(head));
    await body(write);
  })().catch(() => {
    // the server may close the connection before the body is sent
  });
  let text = "";
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const read = await conn.read(buffer).catch(() => null);
    if (read === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, read));
    const split = text.indexOf("\r\n\r\n");
    const length = /\r\ncontent-length: (\d+)/i.exec(text)?.[1];
    if (
      split >= 0 && length !== undefined &&
      text.length >= split + 4 + Number(length)
    ) break;
  }
  conn.close();
  await sending;
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text };
}

/** Everything the server holds that a bad request might change. */
async function snapshot(server: ServerProcess) {
  const runs = (await server.request("GET", "/v1/runs?limit=1000")).body
    .runs as { run_id: string }[];
  const logs: Record<string, unknown> = {};
  for (const run of runs) {
    logs[run.run_id] =
      (await server.request("GET", `/v1/runs/${run.run_id}/events`)).body;
  }
  const skills = (await server.request("GET", "/v1/skills")).body;
  return { runs, logs, skills };
}

Deno.test("hostile requests get their status and code; the server keeps serving and its data is unchanged", async () => {
  const server = await ServerProcess.start({
    dataDir: Deno.makeTempDirSync({ prefix: "aos-hostile-" }),
  });
  try {
    const port = Number(new URL(server.url).port);
    const seeded = await server.request("POST", "/v1/runs", THREE_STEP_PLAN);
    assert.equal(seeded.status, 202);
    const runId = String(seeded.body.run_id);
    await server.request("GET", `/v1/runs/${runId}?wait_ms=30000`);
    // The seeded run took the key "seed"; retries with another body must fail.
    const keyed = await fetch(`${server.url}/v1/runs`, {
      method: "POST",
      body: JSON.stringify(THREE_STEP_PLAN),
      headers: {
        "content-type": "application/json",
        "idempotency-key": "seed",
      },
    });
    assert.equal(keyed.status, 202);
    const keyedId = (await keyed.json()).run_id;
    await server.request("GET", `/v1/runs/${keyedId}?wait_ms=30000`);
    const before = await snapshot(server);

    const post = (body: BodyInit, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/v1/runs`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", ...headers },
      }).then(answerOf);
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, { headers }).then(answerOf);
    const step = THREE_STEP_PLAN.steps[0]!;
    const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
    const chunked = (chunks: number, chunkBytes: number) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"steps": "'));
        },
        pull(controller) {
          if (chunks-- <= 0) return controller.close();
          controller.enqueue(new Uint8Array(chunkBytes).fill(0x61));
        },
      });

    const cases: [string, () => Promise<Answer>, number, string][] = [
      [
        "malformed JSON",
        () => post('{"steps": ['),
        400,
        "VALIDATION_JSON_MALFORMED",
      ],
      ["an empty body", () => post(""), 400, "VALIDATION_JSON_MALFORMED"],
      [
        "JSON that is not UTF-8",
        () => post(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])),
        400,
        "VALIDATION_JSON_MALFORMED",
      ],
      [
        "a body that is not an object",
        () => post("[1, 2, 3]"),
        400,
        "VALIDATION_BODY_INVALID",
      ],
      [
        "steps of the wrong type",
        () => post('{"steps": "all of them"}'),
        400,
        "VALIDATION_BODY_INVALID",
      ],
      [
        "a nested field of the wrong type",
        () =>
          post(JSON.stringify({ steps: [{ ...step, timeout_ms: "soon" }] })),
        400,
        "VALIDATION_BODY_INVALID",
      ],
      [
        "an unknown top-level field",
        () => post(JSON.stringify({ ...THREE_STEP_PLAN, colour: "red" })),
        400,
        "VALIDATION_BODY_INVALID",
      ],
      [
        "an unknown step field",
        () => post(JSON.stringify({ steps: [{ ...step, run_as: "root" }] })),
        400,
        "VALIDATION_BODY_INVALID",
      ],
      [
        "__proto__ as a key",
        () => post('{"steps": [], "__proto__": {"admin": true}}'),
        400,
        "VALIDATION_BODY_INVALID",
      ],
      [
        "a huge step id",
        () =>
          post(
            JSON.stringify({ steps: [{ ...step, id: "s".repeat(100_000) }] }),
          ),
        400,
        "VALIDATION_BODY_INVALID",
      ],
      [
        "a huge goal",
        () => post(JSON.stringify({ goal: "g".repeat(1_000_000) })),
        400,
        "VALIDATION_BODY_INVALID",
      ],
      [
        "a huge string past the body limit",
        () =>
          post(
            JSON.stringify({
              steps: [{
                ...step,
                params: { input: "x".repeat(5 * 1024 * 1024) },
              }],
            }),
          ),
        413,
        "VALIDATION_BODY_TOO_LARGE",
      ],
      [
        "10k-deep JSON",
        () => post(deep(10_000)),
        400,
        "VALIDATION_JSON_TOO_DEEP",
      ],
      [
        "10k-deep JSON inside a valid plan",
        () =>
          post(
            `{"steps": [{"id": "a", "skill": "json_transform", "params": {"input": ${
              deep(10_000)
            }}}]}`,
          ),
        400,
        "VALIDATION_JSON_TOO_DEEP",
      ],
      [
        "10k-deep YAML",
        () =>
          post("steps: " + deep(10_000), {
            "content-type": "application/yaml",
          }),
        400,
        "VALIDATION_JSON_TOO_DEEP",
      ],
      [
        "a YAML alias bomb",
        () =>
          post(
            [
              "a: &a [x, x, x, x, x, x, x, x, x]",
              ..."bcdefghijklmnop".split("").map((name, index) =>
                `${name}: &${name} [${
                  Array(9).fill(`*${"abcdefghijklmnop"[index]}`).join(", ")
                }]`
              ),
              "steps: *p",
            ].join("\n"),
            { "content-type": "application/yaml" },
          ),
        400,
        "VALIDATION_JSON_MALFORMED",
      ],
      [
        "a chunked body past the limit",
        () => post(chunked(80, 64 * 1024)),
        413,
        "VALIDATION_BODY_TOO_LARGE",
      ],
      [
        "a reused Idempotency-Key with another body",
        () =>
          post(JSON.stringify({ steps: [step] }), {
            "idempotency-key": "seed",
          }),
        422,
        "IDEMPOTENCY_KEY_REUSED",
      ],
      [
        "an Idempotency-Key with spaces",
        () =>
          post(JSON.stringify(THREE_STEP_PLAN), { "idempotency-key": "a b" }),
        400,
        "VALIDATION_HEADER_INVALID",
      ],
      [
        "an Idempotency-Key of 10k characters",
        () =>
          post(JSON.stringify(THREE_STEP_PLAN), {
            "idempotency-key": "k".repeat(10_000),
          }),
        400,
        "VALIDATION_HEADER_INVALID",
      ],
      [
        "a list query of the wrong type",
        () => get("/v1/runs?limit=lots"),
        400,
        "VALIDATION_QUERY_INVALID",
      ],
      [
        "an unknown list filter",
        () => get("/v1/runs?tenant=other"),
        400,
        "VALIDATION_QUERY_INVALID",
      ],
      [
        "a forged cursor",
        () =>
          get("/v1/runs?cursor=" + encodeURIComponent(btoa('[1,{"$gt":""}]'))),
        400,
        "VALIDATION_QUERY_INVALID",
      ],
      [
        "a negative from_seq",
        () => get(`/v1/runs/${runId}/events?from_seq=-1`),
        400,
        "VALIDATION_QUERY_INVALID",
      ],
      [
        "a garbage Last-Event-ID",
        () =>
          get(`/v1/runs/${runId}/events?follow=1`, {
            "last-event-id": "1; DROP TABLE runs",
          }),
        400,
        "VALIDATION_HEADER_INVALID",
      ],
      [
        "a path-traversal run id",
        () => get("/v1/runs/..%2F..%2Fetc%2Fpasswd"),
        404,
        "RUN_NOT_FOUND",
      ],
      [
        "a 10k-character run id",
        () => get(`/v1/runs/${"r".repeat(10_000)}/events`),
        404,
        "RUN_NOT_FOUND",
      ],
      ["an unknown route", () => get("/v1/admin/drop"), 404, "ROUTE_NOT_FOUND"],
      [
        "a wrong method",
        () =>
          fetch(`${server.url}/v1/runs`, { method: "DELETE" }).then(answerOf),
        404,
        "ROUTE_NOT_FOUND",
      ],
    ];
    for (const [name, send, status, code] of cases) {
      const answer = await send();
      assert.equal(answer.status, status, `${name}: ${JSON.stringify(answer)}`);
      assert.equal(answer.code, code, name);
    }

    // Validation errors point at the offending field with JSON pointers.
    assert.deepEqual(
      (await post(JSON.stringify({ steps: [{ ...step, timeout_ms: "soon" }] })))
        .pointers,
      ["/steps/0/timeout_ms"],
    );
    assert.deepEqual((await post('{"steps": 7}')).pointers, ["/steps"]);

    // Framing attacks: the HTTP layer refuses them before the API sees a byte.
    const framing: [string, string, string][] = [
      [
        "two different Content-Lengths",
        "Content-Length: 2\r\nContent-Length: 900\r\n",
        "{}",
      ],
      ["a list of Content-Lengths", "Content-Length: 2, 900\r\n", "{}"],
      [
        "Content-Length with Transfer-Encoding",
        "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
        "2\r\n{}\r\n0\r\n\r\n",
      ],
      ["a negative Content-Length", "Content-Length: -1\r\n", "{}"],
    ];
    for (const [name, headers, body] of framing) {
      const answer = await rawStatus(
        port,
        `POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n${headers}\r\n`,
        (write) => write(new TextEncoder().encode(body)),
      );
      assert.equal(answer.status, 400, `${name}: ${answer.text}`);
    }
    // A declared length past the limit is refused before the body is read.
    const declared = await rawStatus(
      port,
      `POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${
        64 * 1024 * 1024
      }\r\n\r\n`,
      (write) => write(new TextEncoder().encode('{"steps": [')),
    );
    assert.equal(declared.status, 413, declared.text.slice(0, 200));
    assert.match(declared.text, /VALIDATION_BODY_TOO_LARGE/);
    // A chunked body that never ends is cut off at the limit with a 413.
    const endless = await rawStatus(
      port,
      "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
      async (write) => {
        const chunk = new TextEncoder().encode(
          `10000\r\n${"a".repeat(0x10000)}\r\n`,
        );
        for (let sent = 0; sent < 200; sent++) await write(chunk);
      },
    );
    assert.equal(endless.status, 413, endless.text.slice(0, 200));
    assert.match(endless.text, /VALIDATION_BODY_TOO_LARGE/);

    // Still serving, nothing changed, and a good request still works.
    assert.equal((await server.request("GET", "/healthz")).status, 200);
    assert.deepEqual(await snapshot(server), before);
    const replayed = await fetch(`${server.url}/v1/runs`, {
      method: "POST",
      body: JSON.stringify(THREE_STEP_PLAN),
      headers: {
        "content-type": "application/json",
        "idempotency-key": "seed",
      },
    });
    assert.equal(replayed.status, 202);
    assert.equal((await replayed.json()).run_id, keyedId);
    assert.deepEqual(await snapshot(server), before);
    const fresh = await server.request("POST", "/v1/runs", THREE_STEP_PLAN);
    assert.equal(fresh.status, 202);
  } finally {
    await server.stop();
  }
});
