/**
 * Ledger 2 on both stores: a step without an estimate reserves nothing, so a
 * run of free steps writes no budget record and no ledger entry; one that
 * reports a cost all the same is charged it, booked on its tenant's day with
 * the record that says so.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SimulatedClock } from "../../src/deps/mod.ts";
import type { AosNode } from "../../src/node/mod.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import { fixtureVariant } from "../support/skill_variants.ts";
import { storeFlavours } from "../support/store_flavours.ts";
import {
  FIXTURE_SKILLS,
  openTestNode,
  requestJson,
  submitAndWait,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";

const DAY = "2026-01-02";
const { flavours, stop } = storeFlavours();

async function runToSuccess(node: AosNode, plan: unknown): Promise<string> {
  const { runId, view } = await submitAndWait(node, plan);
  assert.equal(view.status, "succeeded", JSON.stringify(view));
  return runId;
}

for (const flavour of flavours) {
  Deno.test(`${flavour.name}: free steps hold no budget; a step without an estimate that reports a cost is booked on its tenant's day`, async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "aos-free-steps-" });
    const node = await openTestNode({
      dataDir,
      store: await flavour.open(dataDir),
      clock: new SimulatedClock(Date.UTC(2026, 0, 2, 12)),
      config: { extraSkillDirs: [join(FIXTURE_SKILLS, "priced")] },
    });
    try {
      // priced's module (it reports 3 cents) with no estimate in its manifest.
      await node.registry.installDir(
        await fixtureVariant("priced", "reporting", { cost_estimate_cents: 0 }),
        { installedAt: 0 },
      );
      const freeId = await runToSuccess(node, THREE_STEP_PLAN);
      const freeLog = await node.store.readLog(freeId);
      assert.deepEqual(
        freeLog.filter((record) => record.type.startsWith("Budget")),
        [],
      );
      assert.equal(freeLog[0]!.body.ledger, 2);
      assert.deepEqual(await node.store.budgetEntries("default", DAY), []);

      const reportingId = await runToSuccess(node, {
        steps: [{ id: "report", skill: "reporting", params: { label: "x" } }],
      });
      const reportingLog = await node.store.readLog(reportingId);
      assert.deepEqual(reportingLog.map((record) => record.type), [
        "RunSubmitted",
        "StepStarted",
        "StepSucceeded",
        "BudgetCharged",
        "RunSucceeded",
      ]);
      assert.deepEqual(reportingLog[3]!.body, {
        step: "report",
        attempt: 1,
        cents: 3,
        day: DAY,
      });
      assert.deepEqual(await node.store.budgetEntries("default", DAY), [{
        key: `${reportingId}/report/1`,
        run_id: reportingId,
        tenant: "default",
        day: DAY,
        reserved_cents: 0,
        charged_cents: 3,
      }]);
      const budget = await requestJson(node, "GET", "/v1/tenants/me/budget");
      assert.equal(budget.body.spent_cents, 3, JSON.stringify(budget.body));
      assert.equal(budget.body.reserved_cents, 0);
      assert.deepEqual(await node.store.openBudgetEntries(), []);
      await assertLogsReplay(node.registry, [freeLog, reportingLog]);
    } finally {
      await node.close();
    }
  });
}

Deno.test("free-steps tests: stop the test database", async () => {
  await stop();
});
