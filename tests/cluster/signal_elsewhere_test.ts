/**
 * A signal sent to a node that does not hold the run, while the node that
 * does is running it: the request waits in the store, the holder records it
 * (without giving the run up), and the node asked answers once it is in the
 * log. Each request is recorded once, even when found again.
 */
import assert from "node:assert/strict";
import { SimulatedClock } from "../../src/deps/mod.ts";
import { requestJson, TEST_TENANT_KEY } from "../support/test_node.ts";
import { signalRequestId } from "../../src/api/signal_idempotency.ts";
import { openSharedStoreNode, runNapping } from "./_cluster.ts";

const PLAN = {
  steps: [
    { id: "nap", sleep_ms: 3_600_000, params: {} },
    { id: "gate", params: {}, wait_signal: { name: "go" } },
  ],
};

Deno.test("a signal on a node that does not hold the run: the holder records it while running the run, once", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-signal-" });
  const clock = new SimulatedClock(1_800_000_000_000);
  const holder = await openSharedStoreNode(dataDir, "holder", { clock });
  const other = await openSharedStoreNode(dataDir, "other");
  try {
    const { runId, timer } = await runNapping(holder, PLAN);
    const lease = await other.store.getLease(runId);
    assert.equal(lease?.owner, "holder");

    const answer = await requestJson(
      other,
      "POST",
      `/v1/runs/${runId}/signals/go`,
      { n: 1 },
    );
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, {
      run_id: runId,
      signal: "go",
      status: "running",
      queued: false,
    });
    // Recorded by the holder, which kept the run all along.
    assert.deepEqual(await other.store.getLease(runId), lease);
    const log = await other.store.readLog(runId);
    const received = log.filter((record) => record.type === "SignalReceived");
    assert.equal(received.length, 1);
    const request = received[0]!.body.request as string;
    assert.match(request, /^sig_[0-9a-f]{24}$/);
    assert.deepEqual(received[0]!.body, {
      name: "go",
      payload: { n: 1 },
      request,
    });
    assert.equal(await other.store.signalRequestWaiting(request), false);
    const { text } = await other.metrics.exposition();
    assert.match(text, /^nova_signals_relayed_total\{outcome="recorded"\} 1$/m);

    // The same request found again (as after a holder that died between
    // recording it and dropping it) is dropped without a second record.
    assert.equal(
      await other.store.requestSignal({
        id: request,
        run_id: runId,
        name: "go",
        payload: { n: 1 },
      }),
      true,
    );
    const second = await requestJson(
      other,
      "POST",
      `/v1/runs/${runId}/signals/go`,
      { n: 2 },
    );
    assert.equal(second.status, 202, JSON.stringify(second.body));
    assert.equal(await other.store.signalRequestWaiting(request), false);
    const both = (await other.store.readLog(runId))
      .filter((record) => record.type === "SignalReceived");
    assert.deepEqual(both.map((record) => record.body.payload), [
      { n: 1 },
      { n: 2 },
    ]);

    // The nap ends: the gate takes the oldest signal, and the run ends.
    clock.advanceTo(Number(timer.body.due_at));
    await holder.runtime.waitForEnd(runId, 60_000);
    const view = await requestJson(other, "GET", `/v1/runs/${runId}`);
    assert.equal(view.body.status, "succeeded");
    assert.deepEqual(view.body.output, { name: "go", payload: { n: 1 } });
    assert.deepEqual(view.body.signals_pending, [
      { name: "go", seq: both[1]!.seq },
    ]);
  } finally {
    await other.close();
    await holder.close();
  }
});

Deno.test("a signal with an Idempotency-Key, sent twice through a node that does not hold the run, is recorded once", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-signal-key-" });
  const holder = await openSharedStoreNode(dataDir, "holder");
  const other = await openSharedStoreNode(dataDir, "other");
  try {
    const { runId } = await runNapping(holder, PLAN);
    const send = async () => {
      const response = await other.app.request(
        `/v1/runs/${runId}/signals/go`,
        {
          method: "POST",
          headers: {
            authorization: `Bearer ${TEST_TENANT_KEY}`,
            "idempotency-key": "approve-9",
          },
          body: JSON.stringify({ n: 9 }),
        },
      );
      return { status: response.status, body: await response.json() };
    };
    const first = await send();
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.body.queued, false);
    assert.deepEqual(await send(), first);
    const received = (await other.store.readLog(runId))
      .filter((record) => record.type === "SignalReceived")
      .map((record) => record.body);
    assert.deepEqual(received, [{
      name: "go",
      payload: { n: 9 },
      request: signalRequestId("default", "approve-9"),
    }]);
    assert.equal((await other.store.getLease(runId))?.owner, "holder");
  } finally {
    await other.close();
    await holder.close();
  }
});
