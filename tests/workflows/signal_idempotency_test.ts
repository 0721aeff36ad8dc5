/**
 * `Idempotency-Key` on `POST /v1/runs/:id/signals/:name`: a retried signal
 * is recorded once, even when the try that recorded it died before its
 * answer (and its key's completion) got out.
 */
import assert from "node:assert/strict";
import { SimulatedClock } from "../../src/deps/mod.ts";
import { signalRequestId } from "../../src/api/signal_idempotency.ts";
import { IDEMPOTENCY_LOCK_MS } from "../../src/api/idempotency.ts";
import { requestFingerprint } from "../../src/api/idempotency.ts";
import { openTestNode, TEST_TENANT_KEY } from "../support/test_node.ts";

type Node = Awaited<ReturnType<typeof openTestNode>>;

async function signal(
  node: Node,
  runId: string,
  payload: unknown,
  key?: string,
): Promise<
  { status: number; body: Record<string, unknown>; headers: Headers }
> {
  const response = await node.app.request(`/v1/runs/${runId}/signals/go`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${TEST_TENANT_KEY}`,
      "content-type": "application/json",
      ...(key === undefined ? {} : { "idempotency-key": key }),
    },
    body: JSON.stringify(payload),
  });
  return {
    status: response.status,
    body: await response.json(),
    headers: response.headers,
  };
}

async function received(node: Node, runId: string) {
  return (await node.store.readLog(runId))
    .filter((record) => record.type === "SignalReceived")
    .map((record) => record.body);
}

/**
 * A first try of `key` that claimed it (and may have recorded its signal)
 * and died before completing it: the claim stays pending until its lock.
 */
async function claimedByDiedTry(
  node: Node,
  clock: SimulatedClock,
  runId: string,
  key: string,
  payload: unknown,
): Promise<void> {
  await node.store.claimIdempotencyKey({
    tenant: "default",
    key,
    fingerprint: requestFingerprint({ signal: "go", run_id: runId, payload }),
    nowMs: clock.nowMs(),
    lockedUntilMs: clock.nowMs() + IDEMPOTENCY_LOCK_MS,
    expiresAtMs: clock.nowMs() + 86_400_000,
  });
}

const GATES = {
  steps: [
    { id: "first", params: {}, wait_signal: { name: "go" } },
    { id: "second", params: {}, wait_signal: { name: "go" } },
  ],
};

/**
 * A node whose clock is simulated (so a key's lock can be passed) holding
 * a run of GATES, closed after `body`.
 */
async function withGatedRun(
  body: (node: Node, clock: SimulatedClock, runId: string) => Promise<void>,
): Promise<void> {
  const clock = new SimulatedClock(1_800_000_000_000);
  const node = await openTestNode({ clock });
  try {
    const { run_id: runId } = await node.runtime.submit(GATES, {
      tenant: "default",
    });
    await body(node, clock, runId);
  } finally {
    await node.close();
  }
}

Deno.test("a signal retried with its Idempotency-Key is recorded once and answered as the first time", async () => {
  await withGatedRun(async (node, _clock, runId) => {
    const first = await signal(node, runId, { n: 1 }, "approve-7");
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const again = await signal(node, runId, { n: 1 }, "approve-7");
    assert.equal(again.status, 202);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    const request = signalRequestId("default", "approve-7");
    assert.deepEqual(await received(node, runId), [
      { name: "go", payload: { n: 1 }, request },
    ]);

    // The key belongs to that signal: another payload is refused.
    const reused = await signal(node, runId, { n: 2 }, "approve-7");
    assert.equal(reused.status, 422);
    assert.equal(
      (reused.body.error as { code: string }).code,
      "IDEMPOTENCY_KEY_REUSED",
    );
    const badKey = await signal(node, runId, { n: 2 }, "two words");
    assert.equal(badKey.status, 400);
    assert.equal(
      (badKey.body.error as { code: string }).code,
      "VALIDATION_HEADER_INVALID",
    );
    // Without a key, each request is a signal.
    assert.equal((await signal(node, runId, { n: 3 })).status, 202);
    assert.equal((await received(node, runId)).length, 2);
    await node.runtime.waitForEnd(runId, 30_000);
    assert.equal((await node.store.getRun(runId))?.status, "succeeded");
  });
});

Deno.test("a try that takes over the key of one that recorded the signal and died records nothing more", async () => {
  await withGatedRun(async (node, clock, runId) => {
    // The first try claimed the key and recorded the signal, then its node
    // died before completing the key or answering.
    const payload = { n: 1 };
    await claimedByDiedTry(node, clock, runId, "approve-8", payload);
    await node.runtime.signal(runId, "go", payload, {
      request: signalRequestId("default", "approve-8"),
    });
    assert.equal((await received(node, runId)).length, 1);

    const early = await signal(node, runId, payload, "approve-8");
    assert.equal(early.status, 409);
    assert.equal(
      (early.body.error as { code: string }).code,
      "IDEMPOTENCY_KEY_IN_PROGRESS",
    );
    clock.advance(IDEMPOTENCY_LOCK_MS);
    const retry = await signal(node, runId, payload, "approve-8");
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.equal(retry.headers.get("idempotent-replayed"), null);
    assert.deepEqual(await received(node, runId), [
      { name: "go", payload, request: signalRequestId("default", "approve-8") },
    ]);
    // From then on the key answers as completed.
    const replayed = await signal(node, runId, payload, "approve-8");
    assert.equal(replayed.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(replayed.body, retry.body);
    assert.equal((await received(node, runId)).length, 1);
  });
});

Deno.test("a keyed retry after the run ended answers 202 when an earlier try recorded the signal, and 409 when none did", async () => {
  await withGatedRun(async (node, clock, runId) => {
    const payload = { n: 1 };
    for (const key of ["recorded-then-died", "never-sent"]) {
      await claimedByDiedTry(node, clock, runId, key, payload);
    }
    await node.runtime.signal(runId, "go", payload, {
      request: signalRequestId("default", "recorded-then-died"),
    });
    await node.runtime.cancel(runId, "no longer needed");
    await node.runtime.waitForEnd(runId, 30_000);
    assert.equal((await node.store.getRun(runId))?.status, "cancelled");
    clock.advance(IDEMPOTENCY_LOCK_MS);
    const retry = await signal(node, runId, payload, "recorded-then-died");
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.deepEqual(retry.body, {
      run_id: runId,
      signal: "go",
      status: "cancelled",
      queued: false,
    });
    const late = await signal(node, runId, payload, "never-sent");
    assert.equal(late.status, 409);
    assert.equal(
      (late.body.error as { code: string }).code,
      "RUN_ALREADY_FINISHED",
    );
    assert.equal((await received(node, runId)).length, 1);
  });
});
