/**
 * A settlement that moves no cents (a step without a cost, charged
 * nothing) does not hold its run up: the next step starts while it is
 * still at the store. The run's end waits for every settlement, so a
 * finished run's tenant day is settled when its end is observed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SqliteStore, type Store } from "../../src/store/mod.ts";
import { openTestNode, THREE_STEP_PLAN } from "../support/test_node.ts";

/** `store` whose settlements wait until `release()`. */
function heldSettlements(store: Store) {
  const held: { key: string; release: () => void; done: Promise<void> }[] = [];
  let arrived!: () => void;
  let settlementArrived = new Promise<void>((resolve) => arrived = resolve);
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      if (name !== "settleBudget") return value.bind(target);
      return async (key: string, chargedCents: number) => {
        let settled!: () => void;
        const done = new Promise<void>((resolve) => settled = resolve);
        await new Promise<void>((release) => {
          held.push({ key, release, done });
          arrived();
        });
        await target.settleBudget(key, chargedCents);
        settled();
      };
    },
  });
  return {
    store: proxy,
    held,
    async nextSettlement() {
      await settlementArrived;
      settlementArrived = new Promise<void>((resolve) => arrived = resolve);
    },
  };
}

Deno.test("a run goes on past a settlement of no cents, and its end waits for all of them", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "aos-settle-" });
  const settlements = heldSettlements(
    SqliteStore.open(join(dataDir, "aos.db")),
  );
  const node = await openTestNode({ dataDir, store: settlements.store });
  try {
    const { run_id } = await node.runtime.submit(THREE_STEP_PLAN, {
      tenant: "default",
    });
    const steps = THREE_STEP_PLAN.steps.map((step) => step.id);
    // Every step starts while the settlements before it are still held
    // (a run that waited for them would never get there: fail, not hang).
    for (const [index, step] of steps.entries()) {
      const stuck = node.runtime.waitForEnd(run_id, 10_000).then(() => {
        throw new Error(`step ${step} did not start`);
      });
      stuck.catch(() => {});
      await Promise.race([
        node.runtime.waitForRecord(
          run_id,
          (record) =>
            record.type === "StepStarted" &&
            (record.body as { step?: string }).step === step,
        ),
        stuck,
      ]);
      // Its predecessors' settlements were asked for and are still held
      // (a later one may be by now, too: records are heard once durable).
      assert.ok(settlements.held.length >= index);
    }
    await settlements.nextSettlement();
    while (settlements.held.length < steps.length) {
      await settlements.nextSettlement();
    }
    // The last step succeeded and its run is final in the log, yet not
    // observed as ended while its settlements are held.
    await node.runtime.waitForRecord(
      run_id,
      (record) => record.type === "RunSucceeded",
    );
    let ended = false;
    const end = node.runtime.waitForEnd(run_id, 60_000).then(() =>
      ended = true
    );
    // The last settlement done, the end still waits for the earlier ones.
    const last = settlements.held.at(-1)!;
    last.release();
    await last.done;
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(ended, false);
    assert.equal(
      (await node.store.openBudgetEntries()).length,
      steps.length - 1,
    );
    for (const { release } of settlements.held) release();
    await end;
    assert.equal((await node.runtime.view(run_id))?.status, "succeeded");
    assert.deepEqual(await node.store.openBudgetEntries(), []);
  } finally {
    for (const { release } of settlements.held) release();
    await node.close();
  }
});
