import assert from "node:assert/strict";
import type { HostCallBody } from "../../actors/run_messages.ts";
import type { HostCallPort } from "../../actors/run_ports.ts";
import { startServer } from "../../tests/support/http_servers.ts";
import { HostCallJournal } from "./host_calls.ts";
import { GuardedHttpClient } from "./http_client.ts";
import { answerHttp } from "./http_host.ts";
import {
  type EffectPosition,
  idempotencyKey,
  withIdempotencyKey,
} from "./idempotency_key.ts";

const BASE: EffectPosition = {
  run_id: "run_01J0000000000000000000000",
  step: "charge",
  attempt: 1,
  index: 2,
};

Deno.test("idempotencyKey() is the same for the same position, on every call", () => {
  const key = idempotencyKey(BASE);
  assert.match(key, /^aos1-[0-9a-f]{64}$/);
  assert.equal(idempotencyKey({ ...BASE }), key);
  // Fixed: a change of derivation would make servers take re-sent calls as new.
  assert.equal(
    idempotencyKey({ run_id: "r1", step: "pay", attempt: 1, index: 0 }),
    "aos1-e96b5346e6a8654eaaec0fbb9d2afa60e72a8e54993c7dc6c05387778a6780b2",
  );
});

Deno.test("idempotencyKey() differs across runs, steps, attempts and indices", () => {
  const variants: EffectPosition[] = [
    BASE,
    { ...BASE, run_id: "run_01J0000000000000000000001" },
    { ...BASE, step: "charge2" },
    { ...BASE, attempt: 2 },
    { ...BASE, index: 3 },
    { ...BASE, index: 0 },
    // Parts cannot run into each other, whatever a step id holds.
    { ...BASE, run_id: "a/b", step: "c" },
    { ...BASE, run_id: "a", step: "b/c" },
    { ...BASE, step: "12", attempt: 1 },
    { ...BASE, step: "1", attempt: 21 },
  ];
  const keys = new Set(variants.map(idempotencyKey));
  assert.equal(keys.size, variants.length);
});

Deno.test("idempotencyKey() refuses positions no call can have", () => {
  for (
    const position of [{ ...BASE, attempt: 0 }, { ...BASE, index: -1 }, {
      ...BASE,
      index: 1.5,
    }]
  ) {
    assert.throws(() => idempotencyKey(position), RangeError);
  }
});

Deno.test("withIdempotencyKey() adds the header and keeps a key the guest set, in any case", () => {
  const request = { method: "POST", url: "http://x.test/", body: null };
  assert.deepEqual(
    withIdempotencyKey({ ...request, headers: { a: "1" } }, "k1").headers,
    { a: "1", "Idempotency-Key": "k1" },
  );
  const own = { ...request, headers: { "idempotency-key": "theirs" } };
  assert.equal(withIdempotencyKey(own, "k1"), own);
});

function memoryPort(recorded: HostCallBody[] = []): HostCallPort & {
  persisted: HostCallBody[];
} {
  const persisted: HostCallBody[] = [];
  return {
    recorded,
    persisted,
    persist(call) {
      persisted.push(call);
      return Promise.resolve();
    },
  };
}

Deno.test("answerHttp() sends the position's key live, records the guest's request without it, and sends the same key when the attempt runs again", async () => {
  const received: (string | null)[] = [];
  await using server = startServer((request) => {
    received.push(request.headers.get("idempotency-key"));
    return Response.json({ ok: true });
  });
  const context = {
    policy: { allowedHosts: ["127.0.0.1"], permissions: [] },
    gateway: {
      client: new GuardedHttpClient({
        loopbackAllowlist: [{ host: server.hostname, port: server.port }],
      }),
      secrets: {},
    },
    effect: { run_id: "r1", step: "pay", attempt: 1 },
  };
  const request = {
    method: "POST",
    url: `${server.origin}/pay`,
    headers: {},
    body: "{}",
  };
  const attempt = async (port: HostCallPort) => {
    const journal = new HostCallJournal("pay", 1, port);
    // A clock read first: the HTTP call is the attempt's second host call.
    await journal.answer("now", null, () => 1);
    return await answerHttp(journal, request, context);
  };

  const first = memoryPort();
  const answer = await attempt(first);
  assert.equal(answer.ok, true, JSON.stringify(answer));
  const expected = idempotencyKey({ ...context.effect, index: 1 });
  assert.deepEqual(received, [expected]);
  const call = first.persisted[1]!;
  assert.deepEqual(call.request, request);
  assert.doesNotMatch(JSON.stringify(call), /idempotency|aos1-/i);

  // The node died after sending, before recording: the clock answer is in
  // the log, the HTTP one is not. The re-execution sends the same key.
  const again = memoryPort([first.persisted[0]!]);
  await attempt(again);
  assert.deepEqual(received, [expected, expected]);
  // Recorded: served from the log, nothing is sent.
  await attempt(memoryPort(first.persisted));
  assert.equal(received.length, 2);

  // A key the guest set is its own.
  const own = { ...request, headers: { "Idempotency-Key": "order-42" } };
  await answerHttp(new HostCallJournal("pay", 1, memoryPort()), own, context);
  assert.equal(received[2], "order-42");
  // Another attempt is another effect.
  const retry = new HostCallJournal("pay", 2, memoryPort());
  await answerHttp(retry, request, {
    ...context,
    effect: { ...context.effect, attempt: 2 },
  });
  assert.equal(
    received[3],
    idempotencyKey({ ...context.effect, attempt: 2, index: 0 }),
  );
  assert.notEqual(received[3], expected);
});
