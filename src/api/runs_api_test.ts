import assert from "node:assert/strict";
import { SimulatedClock } from "../deps/mod.ts";
import { planSchema } from "../plan/mod.ts";
import { AosError } from "../errors/mod.ts";
import { recordFromLine, SqliteStore, type Store } from "../store/mod.ts";
import {
  openTestNode,
  requestJson,
  TEST_TENANT_KEY,
} from "../../tests/support/test_node.ts";

const AUTH = { authorization: `Bearer ${TEST_TENANT_KEY}` };
import { requestFingerprint } from "./idempotency.ts";

const SLEEPING_PLAN = { steps: [{ id: "nap", sleep_ms: 3_600_000 }] };

function pickPlan(keys: string[]) {
  return {
    steps: [{
      id: "p",
      skill: "json_transform",
      params: { op: "pick", input: { a: 1, b: 2 }, keys },
    }],
  };
}

async function submit(
  node: Awaited<ReturnType<typeof openTestNode>>,
  body: unknown,
  headers: Record<string, string> = {},
  query = "",
) {
  const response = await node.app.request(`/v1/runs${query}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { ...AUTH, "content-type": "application/json", ...headers },
  });
  return {
    status: response.status,
    headers: response.headers,
    body: await response.json() as Record<string, unknown> & {
      error?: { code: string; details: Record<string, unknown> };
    },
  };
}

async function runIds(node: Awaited<ReturnType<typeof openTestNode>>) {
  const page = await requestJson(node, "GET", "/v1/runs?limit=1000");
  return (page.body.runs as { run_id: string }[]).map((run) => run.run_id);
}

Deno.test("Idempotency-Key: the same request gets the same run, another request 422", async () => {
  const node = await openTestNode();
  try {
    const first = await submit(node, pickPlan(["a"]), {
      "idempotency-key": "order-17",
    });
    assert.equal(first.status, 202);
    // Same request written differently (key order, whitespace, the
    // Structured Fields string form of the key): the same response.
    const again = await submit(
      node,
      '{ "steps": [ { "skill": "json_transform", "id": "p", "params": {"keys": ["a"], "input": {"b": 2, "a": 1}, "op": "pick"} } ] }',
      { "idempotency-key": '"order-17"' },
    );
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, first.body);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(
      again.headers.get("location"),
      `/v1/runs/${first.body.run_id}`,
    );
    const reused = await submit(node, pickPlan(["b"]), {
      "idempotency-key": "order-17",
    });
    assert.equal(reused.status, 422);
    assert.equal(reused.body.error?.code, "IDEMPOTENCY_KEY_REUSED");
    // Without a key every submission is a new run.
    const plain = await submit(node, pickPlan(["a"]));
    assert.equal(plain.status, 202);
    assert.notEqual(plain.body.run_id, first.body.run_id);
    assert.deepEqual(
      (await runIds(node)).sort(),
      [first.body.run_id, plain.body.run_id].sort(),
    );
    for (const bad of ["", " ", "has space", "x".repeat(256), '"a\\"b"']) {
      const refused = await submit(node, pickPlan(["a"]), {
        "idempotency-key": bad,
      });
      assert.equal(refused.status, 400, `key ${JSON.stringify(bad)}`);
      assert.equal(refused.body.error?.code, "VALIDATION_HEADER_INVALID");
      assert.equal(refused.body.error?.details.header, "Idempotency-Key");
    }
  } finally {
    await node.close();
  }
});

Deno.test("Idempotency-Key: a retry while the first request is being accepted is 409 with Retry-After", async () => {
  const node = await openTestNode();
  try {
    const plan = pickPlan(["a"]);
    // The first request holds the claim and has not created its run yet.
    const claim = await node.store.claimIdempotencyKey({
      tenant: "default",
      key: "k-409",
      fingerprint: requestFingerprint(planSchema.parse(plan)),
      nowMs: Date.now(),
      lockedUntilMs: Date.now() + 60_000,
      expiresAtMs: Date.now() + 3_600_000,
    });
    assert.deepEqual(claim, { claimed: true });
    const retry = await submit(node, plan, { "idempotency-key": "k-409" });
    assert.equal(retry.status, 409);
    assert.equal(retry.body.error?.code, "IDEMPOTENCY_KEY_IN_PROGRESS");
    assert.equal(retry.headers.get("retry-after"), "1");
    const other = await submit(node, pickPlan(["b"]), {
      "idempotency-key": "k-409",
    });
    assert.equal(other.body.error?.code, "IDEMPOTENCY_KEY_REUSED");
    assert.deepEqual(await runIds(node), []);
    // Racing retries of one request: one run, every answer names it or is 409.
    const answers = await Promise.all(
      Array.from(
        { length: 8 },
        () => submit(node, plan, { "idempotency-key": "k-race" }),
      ),
    );
    const ids = new Set(
      answers.filter((answer) => answer.status === 202).map((answer) =>
        answer.body.run_id
      ),
    );
    assert.equal(ids.size, 1);
    for (const answer of answers.filter((answer) => answer.status !== 202)) {
      assert.equal(answer.status, 409);
      assert.equal(answer.body.error?.code, "IDEMPOTENCY_KEY_IN_PROGRESS");
    }
    assert.deepEqual(await runIds(node), [...ids]);
  } finally {
    await node.close();
  }
});

Deno.test("Idempotency-Key: keys expire after the retention and can then be used afresh", async () => {
  const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
  const node = await openTestNode({
    clock,
    config: { idempotencyRetentionHours: 2 },
  });
  try {
    const first = await submit(node, pickPlan(["a"]), {
      "idempotency-key": "daily",
    });
    assert.equal(first.status, 202);
    clock.advance(2 * 3_600_000 - 1);
    const kept = await submit(node, pickPlan(["b"]), {
      "idempotency-key": "daily",
    });
    assert.equal(kept.body.error?.code, "IDEMPOTENCY_KEY_REUSED");
    clock.advance(1);
    const fresh = await submit(node, pickPlan(["b"]), {
      "idempotency-key": "daily",
    });
    assert.equal(fresh.status, 202);
    assert.notEqual(fresh.body.run_id, first.body.run_id);
  } finally {
    await node.close();
  }
});

Deno.test("a full node answers 429 with Retry-After and keeps every run it accepted", async () => {
  const node = await openTestNode({ config: { runsActiveMax: 3 } });
  try {
    // A burst never gets past the bound.
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => submit(node, SLEEPING_PLAN)),
    );
    const accepted = burst.filter((answer) => answer.status === 202);
    assert.ok(
      accepted.length >= 1 && accepted.length <= 3,
      `${accepted.length}`,
    );
    for (const answer of burst.filter((answer) => answer.status !== 202)) {
      assert.equal(answer.status, 429);
      assert.equal(answer.body.error?.code, "RUN_QUEUE_FULL");
      assert.equal(answer.body.error?.details.limit, 3);
      assert.equal(answer.headers.get("retry-after"), "1");
    }
    // One at a time, submissions fill the node exactly to the bound.
    for (;;) {
      const answer = await submit(node, SLEEPING_PLAN);
      if (answer.status !== 202) {
        assert.equal(answer.body.error?.code, "RUN_QUEUE_FULL");
        break;
      }
      accepted.push(answer);
    }
    assert.equal(accepted.length, 3);
    const acceptedIds = accepted.map((answer) => String(answer.body.run_id));
    assert.deepEqual((await runIds(node)).sort(), [...acceptedIds].sort());
    // A refused request with a key leaves the key free for its retry.
    const keyed = await submit(node, SLEEPING_PLAN, {
      "idempotency-key": "later",
    });
    assert.equal(keyed.body.error?.code, "RUN_QUEUE_FULL");
    const ended = acceptedIds[0]!;
    const cancel = await requestJson(node, "POST", `/v1/runs/${ended}/cancel`);
    assert.equal(cancel.status, 202);
    const retried = await submit(node, SLEEPING_PLAN, {
      "idempotency-key": "later",
    });
    assert.equal(retried.status, 202);
    // Every accepted run is still there, the sleeping ones still running.
    for (const runId of [...acceptedIds, String(retried.body.run_id)]) {
      const view = await requestJson(node, "GET", `/v1/runs/${runId}`);
      assert.equal(view.body.status, runId === ended ? "cancelled" : "running");
    }
  } finally {
    await node.close();
  }
});

Deno.test("GET /v1/runs filters by status, skill and creation time", async () => {
  const clock = new SimulatedClock(Date.UTC(2026, 10, 25, 8));
  const node = await openTestNode({ clock });
  try {
    const sleeping = await submit(node, SLEEPING_PLAN);
    clock.advance(60_000);
    const picked = await submit(node, pickPlan(["a"]));
    await requestJson(
      node,
      "GET",
      `/v1/runs/${picked.body.run_id}?wait_ms=30000`,
    );
    clock.advance(60_000);
    const nonce = await submit(node, {
      steps: [{ id: "n", skill: "nonce", params: {} }],
    });
    const list = async (query: string) =>
      ((await requestJson(node, "GET", `/v1/runs?${query}`)).body.runs as {
        run_id: string;
      }[]).map((run) => run.run_id);
    assert.deepEqual(await list("skill=json_transform"), [picked.body.run_id]);
    assert.deepEqual(await list("status=succeeded&skill=nonce"), []);
    assert.deepEqual(
      await list(
        "created_from=2026-11-25T08:01:00Z&created_before=2026-11-25T08:02:00.000Z",
      ),
      [picked.body.run_id],
    );
    assert.deepEqual(
      await list(`created_before=${Date.UTC(2026, 10, 25, 8, 1)}`),
      [sleeping.body.run_id],
    );
    assert.deepEqual(await list("created_from=2026-11-25T09:01:00%2B01:00"), [
      nonce.body.run_id,
      picked.body.run_id,
    ]);
    const pages: string[] = [];
    let cursor = "";
    for (let page = 0; page < 5; page++) {
      const answer = await requestJson(
        node,
        "GET",
        `/v1/runs?limit=1${cursor}`,
      );
      pages.push(
        ...(answer.body.runs as { run_id: string }[]).map((run) => run.run_id),
      );
      if (answer.body.next_cursor === null) break;
      cursor = `&cursor=${encodeURIComponent(String(answer.body.next_cursor))}`;
    }
    assert.deepEqual(pages, [
      nonce.body.run_id,
      picked.body.run_id,
      sleeping.body.run_id,
    ]);
    for (
      const bad of [
        "status=sleeping",
        "skill=Not%20A%20Skill",
        "created_from=yesterday",
        "limit=0",
        "colour=red",
      ]
    ) {
      const refused = await requestJson(node, "GET", `/v1/runs?${bad}`);
      assert.equal(refused.status, 400, bad);
      const error = refused.body.error as {
        code: string;
        details: { issues: { pointer: string }[] };
      };
      assert.equal(error.code, "VALIDATION_QUERY_INVALID");
      assert.match(error.details.issues[0]!.pointer, /^\/[a-z_]*$/);
    }
  } finally {
    await node.close();
  }
});

type SseEvent = { event: string; id: string | undefined; data: string };

function parseBlock(block: string): SseEvent | undefined {
  const lines = block.split("\n").filter((line) =>
    line !== "" && !line.startsWith(":")
  );
  if (lines.length === 0) return undefined;
  const field = (name: string) =>
    lines.filter((line) => line.startsWith(`${name}: `)).map((line) =>
      line.slice(name.length + 2)
    );
  return {
    event: field("event")[0] ?? "message",
    id: field("id")[0],
    data: field("data").join("\n"),
  };
}

/** Reads server-sent events as they arrive, until `until` holds or the stream ends. */
async function readEvents(
  reader: ReadableStreamDefaultReader<string>,
  until: (event: SseEvent) => boolean = () => false,
): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return events;
    buffer += value;
    let split: number;
    while ((split = buffer.indexOf("\n\n")) >= 0) {
      const event = parseBlock(buffer.slice(0, split));
      buffer = buffer.slice(split + 2);
      if (event === undefined) continue;
      events.push(event);
      if (until(event)) return events;
    }
  }
}

function eventReader(response: Response) {
  return response.body!.pipeThrough(new TextDecoderStream()).getReader();
}

Deno.test("GET /v1/runs/:id/events?follow=1 streams records until the run ends, and resumes", async () => {
  const node = await openTestNode();
  try {
    const plan = {
      steps: [
        { id: "nap", sleep_ms: 3_600_000 },
        { ...pickPlan(["a"]).steps[0]!, depends_on: ["nap"] },
      ],
    };
    const { body } = await submit(node, plan);
    const runId = String(body.run_id);
    const response = await node.app.request(
      `/v1/runs/${runId}/events?follow=1`,
      { headers: AUTH },
    );
    assert.equal(response.status, 200);
    assert.match(
      response.headers.get("content-type") ?? "",
      /^text\/event-stream/,
    );
    // Records arrive while the run sleeps; cancelling then ends the stream.
    const reader = eventReader(response);
    const live = await readEvents(
      reader,
      (event) => event.data.includes('"type":"TimerScheduled"'),
    );
    assert.deepEqual(
      live.map((event) => event.event),
      live.map(() => "record"),
    );
    await requestJson(node, "POST", `/v1/runs/${runId}/cancel`);
    const events = [...live, ...await readEvents(reader)];
    const end = events[events.length - 1]!;
    assert.equal(end.event, "end");
    const ending = JSON.parse(end.data);
    assert.equal(ending.status, "cancelled");
    const records = events.slice(0, -1).map((event) => {
      assert.equal(event.event, "record");
      return recordFromLine(event.data, "event");
    });
    assert.deepEqual(
      records.map((record) => record.seq),
      records.map((_, i) => i),
    );
    assert.deepEqual(
      records.map((record) => String(record.seq)),
      events.slice(0, -1).map((event) => event.id),
    );
    const log = await requestJson(node, "GET", `/v1/runs/${runId}/events`);
    assert.deepEqual(records, log.body.events);
    assert.equal(ending.digest, log.body.digest);
    // Reconnecting after seq 1 (Last-Event-ID) sends the rest only, then ends.
    const resumed = await readEvents(eventReader(
      await node.app.request(`/v1/runs/${runId}/events`, {
        headers: { ...AUTH, accept: "text/event-stream", "last-event-id": "1" },
      }),
    ));
    assert.deepEqual(
      resumed.map((event) => event.id ?? event.event),
      [...records.slice(2).map((record) => String(record.seq)), "end"],
    );
    const fromSeq = await readEvents(eventReader(
      await node.app.request(
        `/v1/runs/${runId}/events?follow=1&from_seq=${records.length - 1}`,
        { headers: AUTH },
      ),
    ));
    assert.equal(fromSeq.length, 2);
    const refused = await node.app.request(
      `/v1/runs/${runId}/events?follow=1`,
      {
        headers: { ...AUTH, "last-event-id": "soon" },
      },
    );
    assert.equal(refused.status, 400);
    assert.equal(
      (await refused.json()).error.code,
      "VALIDATION_HEADER_INVALID",
    );
    const unknown = await node.app.request(
      "/v1/runs/run_nope/events?follow=1",
      { headers: AUTH },
    );
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.code, "RUN_NOT_FOUND");
  } finally {
    await node.close();
  }
});

Deno.test("GET /openapi.json is an OpenAPI 3.1 document built from the request schemas", async () => {
  const node = await openTestNode();
  try {
    const { status, body } = await requestJson(node, "GET", "/openapi.json");
    assert.equal(status, 200);
    assert.equal(body.openapi, "3.1.0");
    const paths = body.paths as Record<
      string,
      Record<string, {
        parameters?: { name: string; in: string }[];
        responses: Record<string, unknown>;
      }>
    >;
    for (
      const path of [
        "/v1/runs",
        "/v1/runs/{id}",
        "/v1/runs/{id}/cancel",
        "/v1/runs/{id}/events",
      ]
    ) assert.ok(paths[path], path);
    assert.deepEqual(
      paths["/v1/runs"]!.get!.parameters!.map((parameter) => parameter.name),
      ["status", "skill", "created_from", "created_before", "limit", "cursor"],
    );
    assert.ok(paths["/v1/runs"]!.post!.responses["429"]);
    assert.ok(paths["/v1/runs"]!.post!.responses["422"]);
    const schemas = (body.components as { schemas: Record<string, unknown> })
      .schemas;
    const plan = schemas.Plan as {
      properties: Record<string, unknown>;
      additionalProperties: boolean;
      required: string[];
    };
    assert.equal(plan.additionalProperties, false);
    assert.deepEqual(plan.required, ["steps"]);
    // Every $ref points into the document.
    const refs = JSON.stringify(body).match(/"\$ref":"[^"]*"/g) ?? [];
    assert.ok(refs.length > 0);
    for (const ref of refs) {
      const name = /#\/components\/schemas\/([A-Za-z]+)"$/.exec(ref)?.[1];
      assert.ok(name !== undefined && name in schemas, ref);
    }
    const errorCodes = (schemas.Error as {
      properties: { error: { properties: { code: { enum: string[] } } } };
    }).properties.error.properties.code.enum;
    assert.ok(errorCodes.includes("IDEMPOTENCY_KEY_REUSED"));
  } finally {
    await node.close();
  }
});

Deno.test("POST /v1/runs?wait_ms answers the run's view once it ended, or paused, and 202 when it did not end in time", async () => {
  const node = await openTestNode();
  try {
    const ended = await node.app.request("/v1/runs?wait_ms=30000", {
      method: "POST",
      body: JSON.stringify(pickPlan(["a"])),
      headers: { ...AUTH, "content-type": "application/json" },
    });
    assert.equal(ended.status, 200);
    const view = await ended.json();
    assert.equal(view.status, "succeeded");
    assert.deepEqual(view.output.result, { a: 1 });
    assert.equal(ended.headers.get("location"), `/v1/runs/${view.run_id}`);
    // The same view a GET gives.
    const got = await requestJson(node, "GET", `/v1/runs/${view.run_id}`);
    assert.deepEqual(got.body, view);

    const paused = await submit(
      node,
      {
        steps: [{
          id: "total",
          skill: "json_transform",
          params: {
            op: "extract",
            input: { order: {} },
            path: "$.order.total",
          },
          on_exhausted: "pause",
        }],
      },
      {},
      "?wait_ms=30000",
    );
    assert.equal(paused.status, 200);
    assert.equal(paused.body.status, "paused");

    // A run that sleeps an hour: the wait ends first, and the answer is the
    // 202 of a submission without one. The run goes on.
    const sleeping = await submit(node, SLEEPING_PLAN, {}, "?wait_ms=20");
    assert.equal(sleeping.status, 202);
    assert.deepEqual(Object.keys(sleeping.body).sort(), [
      "links",
      "run_id",
      "status",
    ]);
    assert.equal(sleeping.body.status, "running");
    await node.runtime.waitForRecord(
      String(sleeping.body.run_id),
      (record) => record.type === "TimerScheduled",
    );
  } finally {
    await node.close();
  }
});

Deno.test("POST /v1/runs?wait_ms with an Idempotency-Key: a retry waits on the same run and gets its view", async () => {
  const node = await openTestNode();
  try {
    const headers = { "idempotency-key": "wait-1" };
    const first = await submit(
      node,
      pickPlan(["b"]),
      headers,
      "?wait_ms=30000",
    );
    assert.equal(first.status, 200);
    assert.equal(first.body.status, "succeeded");
    const again = await submit(
      node,
      pickPlan(["b"]),
      headers,
      "?wait_ms=30000",
    );
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    // Without waiting, the replay is the first 202 as it was.
    const plain = await submit(node, pickPlan(["b"]), headers);
    assert.equal(plain.status, 202);
    assert.equal(plain.body.run_id, first.body.run_id);
    assert.deepEqual(await runIds(node), [first.body.run_id]);
  } finally {
    await node.close();
  }
});

Deno.test("POST /v1/runs refuses a bad wait_ms or an unknown query parameter before accepting anything", async () => {
  const node = await openTestNode();
  try {
    for (
      const query of [
        "?wait_ms=-1",
        "?wait_ms=60001",
        "?wait_ms=soon",
        "?wait=5",
      ]
    ) {
      const refused = await submit(node, pickPlan(["a"]), {}, query);
      assert.equal(refused.status, 400, query);
      assert.equal(refused.body.error?.code, "VALIDATION_QUERY_INVALID", query);
    }
    assert.deepEqual(await runIds(node), []);
  } finally {
    await node.close();
  }
});

Deno.test("POST /v1/runs?wait_ms answers 202 when the store fails during the wait: the run was accepted, and a retry would make a second", async () => {
  const real = SqliteStore.open(":memory:", { synchronous: "NORMAL" });
  // The real store, whose reads of logs fail once a run has been created,
  // as when the database goes away in the middle of the wait.
  let readsFail = false;
  const store = new Proxy(real, {
    get(target, property) {
      if (property === "createRun") {
        return async (...args: Parameters<Store["createRun"]>) => {
          await target.createRun(...args);
          readsFail = true;
        };
      }
      if (property === "readLog") {
        return (...args: Parameters<Store["readLog"]>) =>
          readsFail
            ? Promise.reject(
              new AosError("STORE_UNAVAILABLE", "the store is away"),
            )
            : target.readLog(...args);
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const node = await openTestNode({ store });
  try {
    const answer = await submit(node, SLEEPING_PLAN, {}, "?wait_ms=20");
    assert.equal(answer.status, 202);
    assert.ok(readsFail, "the wait met the failing store");
    const runId = String(answer.body.run_id);
    assert.equal(answer.headers.get("location"), `/v1/runs/${runId}`);
    readsFail = false;
    assert.equal((await real.getRun(runId))?.status, "running");
  } finally {
    readsFail = false;
    await node.close();
  }
});
