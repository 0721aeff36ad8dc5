import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import type { LogRecord } from "./record.ts";
import type { ContractTest } from "./_store_contract_idempotency.ts";

const RUNS = 24;

function codeOf(outcome: PromiseSettledResult<void>): string {
  if (outcome.status === "fulfilled") return "ok";
  const error = outcome.reason;
  return error instanceof AosError ? error.code : String(error);
}

/**
 * The part of the conformance suite about appends of many runs at once,
 * which a store may commit together: each append is still checked, and
 * fails or lands, on its own.
 */
export function concurrentAppendsContract(
  test: ContractTest,
  fakeLog: (runId: string, count: number) => LogRecord[],
): void {
  test("concurrent appends of many runs: each is checked alone, and two of one run land in order", async (store) => {
    const logs = Array.from(
      { length: RUNS },
      (_, index) => fakeLog(`c${String(index).padStart(2, "0")}`, 4),
    );
    for (const log of logs) await store.createRun(log[0]!, { tenant: "t" });
    const timing = { nowMs: 1_000, leaseMs: 100 };
    const leases = await store.claimRuns("a", { ...timing, limit: RUNS });
    assert.equal(leases.length, RUNS);
    // c00 is taken over by node b: a's append must be refused.
    await store.releaseLease({ run_id: "c00", epoch: 1 });
    assert.equal(
      (await store.claimRuns("b", { ...timing, limit: 1 })).length,
      1,
    );
    // The plain appends go first, so that a store committing appends
    // together gets the refused ones in the same group as others.
    const appends = logs.map((log, index) => {
      if (index === 0) return () => [store.append([log[1]!], { epoch: 1 })];
      // c01 skips a record: its sequence is wrong.
      if (index === 1) return () => [store.append([log[2]!], { epoch: 1 })];
      // c02 sends two appends at once: the second follows the first.
      if (index === 2) {
        return () => [
          store.append([log[1]!], { epoch: 1 }),
          store.append([log[2]!, log[3]!], { epoch: 1 }),
        ];
      }
      // c03 ends: its lease is cleared with the append.
      if (index === 3) {
        return () => [
          store.append(log.slice(1), { epoch: 1, status: "succeeded" }),
        ];
      }
      return () => [store.append(log.slice(1, 3), { epoch: 1 })];
    });
    const started = [...appends.slice(4), ...appends.slice(0, 4)].map((
      start,
    ) => Promise.allSettled(start()));
    const outcomes = await Promise.all(started);
    const codes = [...outcomes.slice(-4), ...outcomes.slice(0, -4)].map((
      settled,
    ) => settled.map(codeOf).join("+"));
    assert.deepEqual(codes.slice(0, 5), [
      "STORE_LEASE_LOST",
      "STORE_SEQUENCE_CONFLICT",
      "ok+ok",
      "ok",
      "ok",
    ]);
    assert.ok(codes.slice(5).every((code) => code === "ok"), codes.join());
    assert.deepEqual(await store.readLog("c00"), logs[0]!.slice(0, 1));
    assert.deepEqual(await store.readLog("c01"), logs[1]!.slice(0, 1));
    assert.deepEqual(await store.readLog("c02"), logs[2]!.slice(0, 4));
    assert.deepEqual(await store.readLog("c03"), logs[3]);
    assert.equal((await store.getRun("c03"))?.status, "succeeded");
    assert.equal((await store.getLease("c03"))?.owner, "");
    for (const log of logs.slice(4)) {
      const runId = log[0]!.run_id;
      assert.deepEqual(await store.readLog(runId), log.slice(0, 3));
      const summary = await store.getRun(runId);
      assert.equal(summary?.last_seq, 2);
      assert.equal(summary?.digest, log[2]!.hash);
      assert.equal((await store.getLease(runId))?.owner, "a");
    }
  });
}

/**
 * The part of the conformance suite about appends that resolve at commit
 * (`durable: false`) and the barrier that makes them durable.
 */
export function commitOnlyAppendsContract(
  test: ContractTest,
  fakeLog: (runId: string, count: number) => LogRecord[],
): void {
  test("an append with durable: false is committed at once, and the barrier makes it durable", async (store) => {
    const log = fakeLog("d1", 4);
    await store.createRun(log[0]!, { tenant: "t" });
    await store.append([log[1]!], { durable: false });
    await store.append(log.slice(2), { durable: false });
    assert.deepEqual(
      (await store.readLog("d1")).map((record) => record.hash),
      log.map((record) => record.hash),
      "readers see what was committed",
    );
    const committed = store.durability().committed;
    const durable = store.whenDurable(committed);
    const last = log[log.length - 1]!;
    await store.syncBarrier({ run_id: "d1", seq: last.seq, hash: last.hash });
    await durable;
    assert.ok(store.durability().durable >= committed);
    // Nothing new: a run's barrier answers without a sync.
    const syncs = store.durability().syncs;
    await store.syncBarrier({ run_id: "d1", seq: last.seq, hash: last.hash });
    assert.equal(store.durability().syncs, syncs);
    // A reader's barrier (which may also cover other writers' commits).
    await store.syncBarrier();
    assert.ok(store.durability().durable >= store.durability().committed);
  });
}
