import assert from "node:assert/strict";
import { emptyHead, headAfter, type LogRecord, sealRecord } from "./record.ts";
import type { SignalRequest, Store } from "./store.ts";

type ContractTest = (
  title: string,
  body: (store: Store, second: () => Promise<Store>) => Promise<void>,
) => void;

const timing = (nowMs: number) => ({ nowMs, leaseMs: 100 });

/** A run's first record and its last (with `status`). */
function firstAndEnd(runId: string): [LogRecord, LogRecord] {
  const first = sealRecord(emptyHead(runId), {
    type: "RunSubmitted",
    body: {},
    at: 1000,
  });
  const end = sealRecord(headAfter(first), {
    type: "RunSucceeded",
    body: {},
    at: 1001,
  });
  return [first, end];
}

function request(id: string, runId: string, payload: unknown = null) {
  return { id, run_id: runId, name: "go", payload } as SignalRequest;
}

/** Signals left in the store for the node that holds their run. */
export function signalRequestsContract(test: ContractTest): void {
  test(
    "requestSignal() leaves requests the run's holder finds, oldest first, through another connection too",
    async (store, second) => {
      const other = await second();
      try {
        const [held, heldEnd] = firstAndEnd("held");
        await store.createRun(held, { tenant: "t" });
        const [done, doneEnd] = firstAndEnd("done");
        await store.createRun(done, { tenant: "t" });
        await store.append([doneEnd], { status: "succeeded" });
        await store.claimRuns("a", { ...timing(1), limit: 5 });
        assert.deepEqual(await store.pendingSignals("a"), []);
        let heard!: () => void;
        const woken = new Promise<void>((resolve) => heard = resolve);
        const stop = other.onRunnable(() => heard());
        try {
          assert.equal(
            await other.requestSignal(request("s1", "held", { n: 1 })),
            true,
          );
          await woken;
        } finally {
          stop();
        }
        assert.equal(
          await other.requestSignal(request("s2", "held", [1, "two"])),
          true,
        );
        assert.equal(await other.requestSignal(request("s3", "done")), false);
        assert.equal(
          await other.requestSignal(request("s4", "missing")),
          false,
        );
        // A request id is stored once.
        await assert.rejects(other.requestSignal(request("s1", "held")));
        assert.deepEqual(await store.pendingSignals("a"), [
          request("s1", "held", { n: 1 }),
          request("s2", "held", [1, "two"]),
        ]);
        assert.deepEqual(await store.pendingSignals("b"), []);
        assert.equal(await other.signalRequestWaiting("s1"), true);
        assert.equal(await other.signalRequestWaiting("s3"), false);
        assert.equal(await store.dropSignalRequest("s1"), true);
        assert.equal(await store.dropSignalRequest("s1"), false);
        assert.equal(await other.signalRequestWaiting("s1"), false);
        assert.deepEqual(await store.pendingSignals("a"), [
          request("s2", "held", [1, "two"]),
        ]);
        // An ended run's requests are nobody's to deliver.
        await store.append([heldEnd], { status: "succeeded" });
        assert.deepEqual(await store.pendingSignals("a"), []);
        assert.equal(await other.signalRequestWaiting("s2"), true);
        assert.equal(await other.dropSignalRequest("s2"), true);
      } finally {
        if (other !== store) await other.close();
      }
    },
  );

  test("parkRun() is refused while a signal request waits; a request makes a parked run claimable", async (store) => {
    await store.createRun(firstAndEnd("asked")[0], { tenant: "t" });
    await store.createRun(firstAndEnd("parked")[0], { tenant: "t" });
    const [asked, parked] = await store.claimRuns("a", {
      ...timing(2000),
      limit: 5,
    });
    assert.equal(await store.requestSignal(request("s1", "asked")), true);
    assert.equal(await store.parkRun(asked!, { wakeAt: null }), false);
    assert.deepEqual(await store.getLease("asked"), asked);
    // Once delivered, the run parks as before.
    assert.equal(await store.dropSignalRequest("s1"), true);
    assert.equal(await store.parkRun(asked!, { wakeAt: null }), true);

    assert.equal(await store.parkRun(parked!, { wakeAt: null }), true);
    assert.deepEqual(
      await store.claimRuns("b", { ...timing(3000), limit: 5 }),
      [],
    );
    assert.equal(await store.requestSignal(request("s2", "parked")), true);
    const taken = await store.claimRuns("b", { ...timing(3000), limit: 5 });
    assert.deepEqual(taken.map((lease) => lease.run_id), ["parked"]);
    assert.deepEqual(await store.pendingSignals("b"), [
      request("s2", "parked"),
    ]);
  });
}
