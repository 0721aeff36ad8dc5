import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import type { LogRecord } from "./record.ts";
import type { ContractTest } from "./_store_contract_idempotency.ts";

function queueFull(unfinished: number): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof AosError, `expected AosError, got ${error}`);
    assert.equal(error.code, "RUN_QUEUE_FULL");
    assert.equal(error.details.unfinished, unfinished);
    return true;
  };
}

/** The back-pressure part of the conformance suite (`RunMeta.unfinishedMax`). */
export function admissionContract(
  test: ContractTest,
  fakeLog: (runId: string, count: number) => LogRecord[],
): void {
  test("createRun() with unfinishedMax refuses a run past the bound and writes nothing", async (store) => {
    const [a, b, c, d] = ["a", "b", "c", "d"].map((id) => fakeLog(id, 1));
    const bounded = { tenant: "t", unfinishedMax: 2 };
    await store.createRun(a![0]!, bounded);
    await store.createRun(b![0]!, bounded);
    await assert.rejects(store.createRun(c![0]!, bounded), queueFull(2));
    assert.equal(await store.getRun("c"), undefined);
    assert.deepEqual(await store.readLog("c"), []);
    // A paused run still counts; a finished one does not.
    await store.append([a![1]!], { status: "paused" });
    await assert.rejects(store.createRun(c![0]!, bounded), queueFull(2));
    await store.append([b![1]!], { status: "succeeded" });
    await store.createRun(c![0]!, bounded);
    // Without a bound nothing is counted or refused.
    await store.createRun(d![0]!, { tenant: "t" });
    assert.equal(await store.countUnfinishedRuns(), 3);
    // A taken id is still that, whatever the bound.
    await assert.rejects(
      store.createRun(d![0]!, { tenant: "t", unfinishedMax: 10 }),
      (error) => error instanceof AosError && error.code === "STORE_RUN_EXISTS",
    );
  });

  test("createRun() refused by unfinishedMax leaves its idempotency claim pending", async (store) => {
    const [a, b] = ["a", "b"].map((id) => fakeLog(id, 1));
    await store.createRun(a![0]!, { tenant: "t" });
    const claim = {
      tenant: "t",
      key: "k",
      fingerprint: "f".repeat(64),
      nowMs: 1_000,
      lockedUntilMs: 61_000,
      expiresAtMs: 86_401_000,
    };
    assert.deepEqual(await store.claimIdempotencyKey(claim), { claimed: true });
    await assert.rejects(
      store.createRun(b![0]!, {
        tenant: "t",
        unfinishedMax: 1,
        idempotency: { key: "k", fingerprint: claim.fingerprint, response: {} },
      }),
      queueFull(1),
    );
    assert.equal(await store.getRun("b"), undefined);
    const again = await store.claimIdempotencyKey({ ...claim, nowMs: 2_000 });
    assert.equal(again.claimed, false);
    if (!again.claimed) assert.equal(again.entry.state, "pending");
  });

  test(
    "createRun() holds unfinishedMax across connections",
    async (store, second) => {
      const other = await second();
      try {
        const logs = Array.from(
          { length: 6 },
          (_, index) => fakeLog(`r${index}`, 0),
        );
        // One at a time, alternating between the two: exactly the bound.
        const answers = [];
        for (const [index, log] of logs.entries()) {
          answers.push(
            await (index % 2 === 0 ? store : other).createRun(log[0]!, {
              tenant: "t",
              unfinishedMax: 3,
            }).then(() => true, (error) => {
              assert.equal((error as AosError).code, "RUN_QUEUE_FULL");
              return false;
            }),
          );
        }
        assert.deepEqual(answers, [true, true, true, false, false, false]);
        assert.equal(await other.countUnfinishedRuns(), 3);
      } finally {
        await other.close();
      }
    },
  );
}
