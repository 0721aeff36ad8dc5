/**
 * A signal left in the store for a run whose holder has not recorded it
 * yet (its sender answered `queued`) is not lost when the run ends: the
 * store refuses the end while the request waits, and the run's actor
 * records the signal first, in the same append as the end. A signal the
 * run can no longer take (its log is full) is dropped with the end, and
 * its sender hears that the run ended without it.
 */
import assert from "node:assert/strict";
import { MemoryLogger, SimulatedClock } from "../../src/deps/mod.ts";
import { RelayedSignals } from "../../actors/relayed_signals.ts";
import { AosError } from "../../src/errors/mod.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import { requestJson } from "../support/test_node.ts";
import { openSharedStoreNode, runNapping, senderTiming } from "./_cluster.ts";

const PLAN = {
  steps: [
    { id: "nap", sleep_ms: 3_600_000, params: {} },
    {
      id: "shape",
      skill: "json_transform",
      params: { op: "extract", path: "$.a", input: { a: 1 } },
    },
  ],
};

/**
 * Two nodes on one SQLite store: `holder`, on a simulated clock, looks for
 * requests every ten minutes of the live clock, so it has not found a
 * request when its run ends; `other` leaves them.
 */
async function holderAndOther(hardRecords?: number) {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-signal-end-" });
  const clock = new SimulatedClock(1_800_000_000_000);
  const log = new MemoryLogger();
  const holder = await openSharedStoreNode(dataDir, "holder", {
    clock,
    log,
    pollMs: 600_000,
    ...(hardRecords === undefined ? {} : { hardRecords }),
  });
  const other = await openSharedStoreNode(dataDir, "other");
  return { clock, log, holder, other };
}

Deno.test("a signal waiting in the store when its run ends is recorded before the end, and the log replays", async () => {
  const { clock, log, holder, other } = await holderAndOther();
  try {
    const { runId, timer } = await runNapping(holder, PLAN);
    assert.equal(
      await other.store.requestSignal({
        id: "sig_late",
        run_id: runId,
        name: "note",
        payload: { n: 1 },
      }),
      true,
    );
    assert.deepEqual(await holder.store.pendingSignals("holder"), [{
      id: "sig_late",
      run_id: runId,
      name: "note",
      payload: { n: 1 },
    }]);
    clock.advanceTo(Number(timer.body.due_at));
    await holder.runtime.waitForEnd(runId, 60_000);

    const records = await other.store.readLog(runId);
    const types = records.map((record) => record.type);
    assert.equal(types.at(-1), "RunSucceeded");
    const received = records.filter((record) =>
      record.type === "SignalReceived"
    );
    assert.deepEqual(received.map((record) => record.body), [{
      name: "note",
      payload: { n: 1 },
      request: "sig_late",
    }]);
    // In the last append, before the step outcome that ended the run.
    assert.ok(
      received[0]!.seq <
        records.findLastIndex((record) => record.type === "StepSucceeded"),
      types.join(" "),
    );
    assert.equal(await other.store.signalRequestWaiting("sig_late"), false);
    assert.deepEqual(await other.store.waitingSignals(runId), []);
    const view = await requestJson(other, "GET", `/v1/runs/${runId}`);
    assert.equal(view.body.status, "succeeded");
    assert.deepEqual(view.body.signals_pending, [
      { name: "note", seq: received[0]!.seq },
    ]);
    assert.equal(
      log.lines.filter((entry) => entry.event === "signal_request_dropped")
        .length,
      0,
    );
    await assertLogsReplay(holder.registry, [records]);
  } finally {
    await other.close();
    await holder.close();
  }
});

Deno.test("a signal waiting when a run with a full log ends is dropped with the end, and its sender hears RUN_ALREADY_FINISHED", async () => {
  // Room for the run's own six records (RunSubmitted, the nap's
  // TimerScheduled and TimerFired, the shaping step's StepStarted and
  // StepSucceeded, RunSucceeded), not for one more.
  const { clock, log, holder, other } = await holderAndOther(6);
  const timing = senderTiming();
  const senderClock = timing.clock;
  const relay = new RelayedSignals({ ...timing, store: other.store });
  try {
    const { runId, timer } = await runNapping(holder, PLAN);
    const sent = relay.send(runId, "note", { n: 2 });
    await senderClock.delaysPending(1);
    assert.equal((await holder.store.pendingSignals("holder")).length, 1);
    clock.advanceTo(Number(timer.body.due_at));
    await holder.runtime.waitForEnd(runId, 60_000);

    const records = await other.store.readLog(runId);
    assert.equal(records.at(-1)?.type, "RunSucceeded");
    assert.equal(records.length, 6);
    assert.ok(
      !records.some((record) => record.type === "SignalReceived"),
      records.map((r) => r.type).join(" "),
    );
    assert.deepEqual(await other.store.waitingSignals(runId), []);
    const dropped = log.lines.filter((entry) =>
      entry.event === "signal_request_dropped"
    );
    assert.equal(dropped.length, 1);
    assert.equal(dropped[0]!.run_id, runId);
    assert.equal(dropped[0]!.signal, "note");
    const { text } = await holder.metrics.exposition();
    assert.match(text, /^nova_signal_requests_dropped_total 1$/m);

    senderClock.advance(200);
    await assert.rejects(
      sent,
      (error) =>
        error instanceof AosError && error.code === "RUN_ALREADY_FINISHED",
    );
    await assertLogsReplay(holder.registry, [records]);
  } finally {
    await other.close();
    await holder.close();
  }
});
