import assert from "node:assert/strict";
import { emptyHead, headAfter, type LogRecord, sealRecord } from "./record.ts";
import type { ResumeRequest, Store } from "./store.ts";

type ContractTest = (
  title: string,
  body: (store: Store, second: () => Promise<Store>) => Promise<void>,
) => void;

const timing = (nowMs: number) => ({ nowMs, leaseMs: 100 });

/** A run, paused: its first record and its RunPaused. */
async function pausedRun(
  store: Store,
  runId: string,
): Promise<[LogRecord, LogRecord]> {
  const first = sealRecord(emptyHead(runId), {
    type: "RunSubmitted",
    body: {},
    at: 1000,
  });
  const paused = sealRecord(headAfter(first), {
    type: "RunPaused",
    body: {},
    at: 1001,
  });
  await store.createRun(first, { tenant: "t" });
  await store.append([paused], { status: "paused" });
  return [first, paused];
}

function resume(id: string, runId: string): ResumeRequest {
  return { id, run_id: runId, body: { step: "s", params: { n: 1 } } };
}

/** Resumes left in the store for the node that holds their paused run. */
export function resumeRequestsContract(test: ContractTest): void {
  test(
    "requestResume() leaves one resume per paused run for its holder, through another connection too",
    async (store, second) => {
      const other = await second();
      try {
        await pausedRun(store, "paused");
        const first = sealRecord(emptyHead("running"), {
          type: "RunSubmitted",
          body: {},
          at: 1000,
        });
        await store.createRun(first, { tenant: "t" });
        await store.claimRuns("a", { ...timing(1), limit: 5 });
        assert.deepEqual(await store.pendingResumes("a"), []);
        let heard!: () => void;
        const woken = new Promise<void>((resolve) => heard = resolve);
        const stop = other.onRunnable(() => heard());
        try {
          assert.equal(
            await other.requestResume(resume("r1", "paused")),
            true,
          );
          await woken;
        } finally {
          stop();
        }
        // One at a time; none for a run that is not paused, or unknown.
        assert.equal(await other.requestResume(resume("r2", "paused")), false);
        assert.equal(
          await other.requestResume(resume("r3", "running")),
          false,
        );
        assert.equal(
          await other.requestResume(resume("r4", "missing")),
          false,
        );
        assert.deepEqual(await store.pendingResumes("a"), [
          resume("r1", "paused"),
        ]);
        assert.deepEqual(await store.pendingResumes("b"), []);
        assert.equal(await other.resumeRequestWaiting("paused", "r1"), true);
        assert.equal(await other.resumeRequestWaiting("paused", "r2"), false);
        assert.equal(await store.dropResumeRequest("paused", "r2"), false);
        assert.equal(await store.dropResumeRequest("paused", "r1"), true);
        assert.equal(await other.resumeRequestWaiting("paused", "r1"), false);
        assert.deepEqual(await store.pendingResumes("a"), []);
        assert.equal(await other.requestResume(resume("r5", "paused")), true);
      } finally {
        if (other !== store) await other.close();
      }
    },
  );

  test("a resume request keeps its run from parking, makes a parked run claimable, and is delivered by the append that records it", async (store) => {
    const [, paused] = await pausedRun(store, "held");
    await pausedRun(store, "parked");
    const leases = await store.claimRuns("a", { ...timing(2000), limit: 5 });
    const held = leases.find((lease) => lease.run_id === "held")!;
    const parked = leases.find((lease) => lease.run_id === "parked")!;
    assert.equal(await store.requestResume(resume("r1", "held")), true);
    assert.equal(await store.parkRun(held, { wakeAt: null }), false);
    assert.deepEqual(await store.getLease("held"), held);

    assert.equal(await store.parkRun(parked, { wakeAt: null }), true);
    assert.deepEqual(
      await store.claimRuns("b", { ...timing(2050), limit: 5 }),
      [],
    );
    assert.equal(await store.requestResume(resume("r2", "parked")), true);
    const taken = await store.claimRuns("b", { ...timing(2050), limit: 5 });
    assert.deepEqual(taken.map((lease) => lease.run_id), ["parked"]);
    assert.deepEqual(await store.pendingResumes("b"), [
      resume("r2", "parked"),
    ]);

    // Its RunResumed's append delivers it; another id delivers nothing.
    const resumed = sealRecord(headAfter(paused), {
      type: "RunResumed",
      body: { request: "r1" },
      at: 1002,
    });
    await store.append([resumed], {
      status: "running",
      epoch: held.epoch,
      delivers: ["other"],
    });
    assert.equal(await store.resumeRequestWaiting("held", "r1"), true);
    const again = sealRecord(headAfter(resumed), {
      type: "RunPaused",
      body: {},
      at: 1003,
    });
    // Beside other runs' appends: on PostgreSQL the first two go alone and
    // the rest in one statement (`PgBatcher`).
    const others = ["x1", "x2", "x3"].map((runId) =>
      sealRecord(emptyHead(runId), { type: "RunSubmitted", body: {}, at: 1 })
    );
    for (const first of others) await store.createRun(first, { tenant: "t" });
    await Promise.all([
      ...others.map((first) =>
        store.append([
          sealRecord(headAfter(first), {
            type: "StepStarted",
            body: {},
            at: 2,
          }),
        ], {})
      ),
      store.append([again], {
        status: "paused",
        epoch: held.epoch,
        delivers: ["r1"],
      }),
    ]);
    assert.equal(await store.resumeRequestWaiting("held", "r1"), false);
    assert.deepEqual(await store.pendingResumes("a"), []);
    assert.equal(await store.parkRun(held, { wakeAt: null }), true);
  });
}
