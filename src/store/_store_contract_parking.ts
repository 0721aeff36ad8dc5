import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import { emptyHead, headAfter, type LogRecord, sealRecord } from "./record.ts";
import type { Store } from "./store.ts";

type ContractTest = (
  title: string,
  body: (store: Store, second: () => Promise<Store>) => Promise<void>,
) => void;

const timing = (nowMs: number) => ({ nowMs, leaseMs: 100 });

/** A run's first record and one more, at `at`. */
function twoRecords(runId: string, at: number): [LogRecord, LogRecord] {
  const first = sealRecord(emptyHead(runId), {
    type: "RunSubmitted",
    body: {},
    at,
  });
  const second = sealRecord(headAfter(first), {
    type: "Note",
    body: {},
    at: at + 1,
  });
  return [first, second];
}

/** Parked runs: no lease, claimed when due or for a message. */
export function parkingContract(test: ContractTest): void {
  test("parkRun() gives the lease up and raises the epoch; the run is claimed only once due", async (store) => {
    const [first, second] = twoRecords("sleeper", 1000);
    await store.createRun(first, { tenant: "t" });
    const [lease] = await store.claimRuns("a", { ...timing(2000), limit: 5 });
    assert.equal(lease?.epoch, 1);
    assert.equal(await store.nextWakeAt(), undefined);
    assert.equal(await store.parkRun(lease!, { wakeAt: 9000 }), true);
    assert.deepEqual(await store.getLease("sleeper"), {
      run_id: "sleeper",
      owner: "",
      epoch: 2,
      expires_at: 0,
    });
    assert.equal(await store.nextWakeAt(), 9000);
    // Nothing written under the parked epoch lands.
    await assert.rejects(
      store.append([second], { epoch: 1 }),
      (error) => error instanceof AosError && error.code === "STORE_LEASE_LOST",
    );
    // Lease time passing does not make it claimable; its wake time does,
    // read on the runs' clock.
    assert.deepEqual(
      await store.claimRuns("b", { ...timing(8999), limit: 5 }),
      [],
    );
    assert.deepEqual(
      await store.claimRuns("b", { ...timing(1), wakeNowMs: 8999, limit: 5 }),
      [],
    );
    const woken = await store.claimRuns("b", {
      ...timing(5000),
      wakeNowMs: 9000,
      limit: 5,
    });
    assert.deepEqual(woken, [
      { run_id: "sleeper", owner: "b", epoch: 3, expires_at: 5100 },
    ]);
    assert.equal(await store.nextWakeAt(), undefined);
    await store.append([second], { epoch: 3 });
  });

  test("a run parked without a wake time waits for a message: claimRun() or requestCancel()", async (store) => {
    for (const runId of ["signal", "cancel"]) {
      await store.createRun(twoRecords(runId, 1000)[0], { tenant: "t" });
    }
    const leases = await store.claimRuns("a", { ...timing(2000), limit: 5 });
    for (const lease of leases) {
      assert.equal(await store.parkRun(lease, { wakeAt: null }), true);
    }
    assert.equal(await store.nextWakeAt(), undefined);
    assert.deepEqual(
      await store.claimRuns("b", {
        ...timing(1e12),
        wakeNowMs: 1e12,
        limit: 5,
      }),
      [],
    );
    const claimed = await store.claimRun("b", "signal", timing(3000));
    assert.deepEqual(claimed, {
      run_id: "signal",
      owner: "b",
      epoch: 3,
      expires_at: 3100,
    });
    // Held: neither the holder nor another node claims it again.
    assert.equal(await store.claimRun("b", "signal", timing(3000)), undefined);
    assert.equal(await store.claimRun("c", "signal", timing(3099)), undefined);
    assert.equal(await store.claimRun("c", "missing", timing(3000)), undefined);
    // A cancel request makes a parked run claimable at once.
    assert.equal(await store.requestCancel("cancel", "enough"), true);
    const taken = await store.claimRuns("c", { ...timing(3000), limit: 5 });
    assert.deepEqual(taken.map((lease) => lease.run_id), ["cancel"]);
  });

  test("parkRun() is refused while a cancel request waits or after the lease moved", async (store) => {
    await store.createRun(twoRecords("asked", 1000)[0], { tenant: "t" });
    await store.createRun(twoRecords("moved", 1001)[0], { tenant: "t" });
    const [asked, moved] = await store.claimRuns("a", {
      ...timing(2000),
      limit: 5,
    });
    assert.equal(await store.requestCancel("asked", "stop"), true);
    assert.equal(await store.parkRun(asked!, { wakeAt: 5000 }), false);
    assert.deepEqual(await store.getLease("asked"), asked);
    await store.releaseLease(moved!);
    await store.claimRuns("b", { ...timing(2000), limit: 5 });
    assert.equal(await store.parkRun(moved!, { wakeAt: null }), false);
    assert.equal((await store.getLease("moved"))?.owner, "b");
  });

  test(
    "parkRun() with a wake time wakes the nodes, which read it back",
    async (store, second) => {
      const other = await second();
      try {
        await store.createRun(twoRecords("napper", 1000)[0], { tenant: "t" });
        const [lease] = await store.claimRuns("a", {
          ...timing(2000),
          limit: 1,
        });
        let heard!: () => void;
        const woken = new Promise<void>((resolve) => heard = resolve);
        const stop = store.onRunnable(() => heard());
        try {
          assert.equal(await store.parkRun(lease!, { wakeAt: 7000 }), true);
          await woken;
        } finally {
          stop();
        }
        assert.equal(await other.nextWakeAt(), 7000);
      } finally {
        if (other !== store) await other.close();
      }
    },
  );
}
