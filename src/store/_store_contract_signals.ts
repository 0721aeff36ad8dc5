import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
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

function signalsWaiting(runId: string, waiting: number) {
  return (error: unknown) => {
    assert.ok(error instanceof AosError, `expected AosError, got ${error}`);
    assert.equal(error.code, "STORE_SIGNALS_WAITING");
    assert.deepEqual(error.details, {
      run_id: runId,
      signals_waiting: waiting,
    });
    return true;
  };
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
        // The run ends only once its requests are delivered.
        await assert.rejects(
          store.append([heldEnd], { status: "succeeded" }),
          signalsWaiting("held", 1),
        );
        assert.deepEqual(await other.waitingSignals("held"), [
          request("s2", "held", [1, "two"]),
        ]);
        assert.equal(await other.dropSignalRequest("s2"), true);
        await store.append([heldEnd], { status: "succeeded" });
        assert.deepEqual(await store.pendingSignals("a"), []);
        assert.deepEqual(await other.waitingSignals("held"), []);
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

  test("an append that ends a run is refused while a signal request waits, and writes nothing; other appends and runs go on", async (store) => {
    const [first] = firstAndEnd("waits");
    await store.createRun(first, { tenant: "t" });
    // Other runs' ends around it: on PostgreSQL the first two go alone
    // and the rest in one statement (`PgBatcher`), on SQLite in one group.
    const others = ["free1", "free2", "free3"].map(firstAndEnd);
    for (const [otherFirst] of others) {
      await store.createRun(otherFirst, { tenant: "t" });
    }
    const lease = (await store.claimRuns("a", { ...timing(4000), limit: 5 }))
      .find((claimed) => claimed.run_id === "waits");
    assert.ok(lease !== undefined);
    assert.equal(await store.requestSignal(request("s1", "waits", 1)), true);
    assert.equal(await store.requestSignal(request("s2", "waits", 2)), true);
    // A step's record goes in; the end does not, fenced or not, alone or
    // beside another run's end in one group.
    const step = sealRecord(headAfter(first), {
      type: "StepStarted",
      body: {},
      at: 1001,
    });
    await store.append([step], {});
    const stepEnd = sealRecord(headAfter(step), {
      type: "RunFailed",
      body: {},
      at: 1002,
    });
    const settled = await Promise.allSettled([
      ...others.map(([, otherEnd]) =>
        store.append([otherEnd], { status: "succeeded" })
      ),
      store.append([stepEnd], { status: "failed", epoch: lease!.epoch }),
    ]);
    const refused = settled.pop();
    assert.equal(refused?.status, "rejected");
    if (refused?.status === "rejected") {
      signalsWaiting("waits", 2)(refused.reason);
    }
    assert.deepEqual(settled.map((ended) => ended.status), [
      "fulfilled",
      "fulfilled",
      "fulfilled",
    ]);
    for (const [otherFirst] of others) {
      assert.equal(
        (await store.getRun(otherFirst.run_id))?.status,
        "succeeded",
      );
    }
    const head = await store.getRun("waits");
    assert.equal(head?.status, "running");
    assert.equal(head?.last_seq, step.seq);
    assert.deepEqual(
      (await store.readLog("waits")).map((record) => record.type),
      ["RunSubmitted", "StepStarted"],
    );
    assert.deepEqual(await store.getLease("waits"), lease);
    assert.deepEqual(
      (await store.waitingSignals("waits")).map((waiting) => waiting.id),
      ["s1", "s2"],
    );
    // Given up by its sender, one waits still: still refused.
    assert.equal(await store.dropSignalRequest("s1"), true);
    await assert.rejects(
      store.append([stepEnd], { status: "failed", epoch: lease!.epoch }),
      signalsWaiting("waits", 1),
    );
    // An end that delivers the one waiting goes in, and drops it.
    await store.append([stepEnd], {
      status: "failed",
      epoch: lease!.epoch,
      delivers: ["s2", "s1", "elsewhere"],
    });
    assert.equal(await store.signalRequestWaiting("s2"), false);
    assert.equal((await store.getRun("waits"))?.status, "failed");
    assert.equal((await store.getLease("waits"))?.owner ?? "", "");
  });

  test("an append delivers the signal requests it names: they stop waiting with it, and only they", async (store) => {
    const runs = ["r1", "r2", "r3", "r4"].map(firstAndEnd);
    for (const [first] of runs) await store.createRun(first, { tenant: "t" });
    await store.claimRuns("a", { ...timing(5000), limit: 5 });
    for (const [first] of runs) {
      for (const n of [1, 2]) {
        assert.equal(
          await store.requestSignal(
            request(`${first.run_id}.${n}`, first.run_id),
          ),
          true,
        );
      }
    }
    const received = (first: LogRecord, id: string) =>
      sealRecord(headAfter(first), {
        type: "SignalReceived",
        body: { name: "go", payload: null, request: id },
        at: 1001,
      });
    // Four appends at once (on PostgreSQL two alone, two in one
    // statement): each delivers its run's first request, and names one of
    // another run's, which stays.
    await Promise.all(
      runs.map(([first], index) =>
        store.append([received(first, `${first.run_id}.1`)], {
          delivers: [
            `${first.run_id}.1`,
            `${runs[(index + 1) % 4]![0].run_id}.2`,
          ],
        })
      ),
    );
    for (const [first] of runs) {
      assert.deepEqual(
        (await store.waitingSignals(first.run_id)).map((waiting) => waiting.id),
        [`${first.run_id}.2`],
      );
    }
    // Delivering the last one lets the run park, and end.
    const [first] = runs[0]!;
    const second = sealRecord(headAfter(received(first, "r1.1")), {
      type: "SignalReceived",
      body: { name: "go", payload: null, request: "r1.2" },
      at: 1002,
    });
    await store.append([second], { delivers: ["r1.2"] });
    assert.deepEqual(await store.waitingSignals("r1"), []);
    const lease = await store.getLease("r1");
    assert.equal(await store.parkRun(lease!, { wakeAt: null }), true);
    const end = sealRecord(headAfter(second), {
      type: "RunSucceeded",
      body: {},
      at: 1003,
    });
    await store.append([end], { status: "succeeded" });
    assert.equal((await store.getRun("r1"))?.status, "succeeded");
  });
}
