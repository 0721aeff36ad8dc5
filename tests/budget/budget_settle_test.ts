/**
 * A step's settlement is made by the append of its BudgetReleased, in the
 * same transaction: the run never waits for a settlement of its own (one
 * that moves no cents used to be sent apart, and the run's end waited for
 * it), and no reader ever sees a release in the log with its reservation
 * still open in the ledger.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AppendOptions,
  type LogRecord,
  SqliteStore,
  type Store,
} from "../../src/store/mod.ts";
import { FIXTURE_SKILLS, openTestNode } from "../support/test_node.ts";

/** Three steps with an estimate each, so each reserves and releases. */
const PRICED_PLAN = {
  steps: ["extract", "pick", "omit"].map((id) => ({
    id,
    skill: "priced",
    params: { label: id },
  })),
};

/** `store`, noting each release appended and whether its entry was open once the append resolved. */
function watchedReleases(store: Store) {
  const releases: { key: string; openAfter: boolean }[] = [];
  let separateSettlements = 0;
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      if (name === "settleBudget") {
        return (key: string, cents: number) => {
          separateSettlements++;
          return target.settleBudget(key, cents);
        };
      }
      if (name !== "append") return value.bind(target);
      return async (records: LogRecord[], options?: AppendOptions) => {
        await target.append(records, options);
        const open = new Set(
          (await target.openBudgetEntries()).map((entry) => entry.key),
        );
        for (const record of records) {
          if (record.type !== "BudgetReleased") continue;
          const body = record.body as { step: string; attempt: number };
          const key = `${record.run_id}/${body.step}/${body.attempt}`;
          releases.push({ key, openAfter: open.has(key) });
        }
      };
    },
  });
  return { store: proxy, releases, separate: () => separateSettlements };
}

Deno.test("a step's settlement is made with the append of its release", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "aos-settle-" });
  const watched = watchedReleases(SqliteStore.open(join(dataDir, "aos.db")));
  const node = await openTestNode({
    dataDir,
    store: watched.store,
    config: { extraSkillDirs: [join(FIXTURE_SKILLS, "priced")] },
  });
  try {
    const { run_id } = await node.runtime.submit(PRICED_PLAN, {
      tenant: "default",
    });
    await node.runtime.waitForEnd(run_id, 60_000);
    assert.equal((await node.runtime.view(run_id))?.status, "succeeded");
    const steps = PRICED_PLAN.steps.map((step) => step.id);
    assert.deepEqual(
      watched.releases,
      steps.map((step) => ({ key: `${run_id}/${step}/1`, openAfter: false })),
    );
    assert.equal(watched.separate(), 0);
    assert.deepEqual(await node.store.openBudgetEntries(), []);
  } finally {
    await node.close();
  }
});
