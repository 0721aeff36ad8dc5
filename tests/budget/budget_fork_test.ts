import assert from "node:assert/strict";
import { join } from "node:path";
import { SimulatedClock } from "../../src/deps/mod.ts";
import {
  FIXTURE_SKILLS,
  openTestNode,
  requestJson,
  TEST_ADMIN_KEY,
} from "../support/test_node.ts";
import { fixtureVariant } from "../support/skill_variants.ts";

Deno.test("a fork of a ledger run holds the reservations of its copied prefix under its own id, and settles them when it ends", async () => {
  const node = await openTestNode({
    clock: new SimulatedClock(Date.UTC(2026, 0, 2, 12)),
    config: {
      extraSkillDirs: ["priced", "spin"].map((name) =>
        join(FIXTURE_SKILLS, name)
      ),
    },
  });
  try {
    // A step without an estimate reserves nothing: the slow step has one.
    await node.registry.installDir(
      await fixtureVariant("spin", "priced_spin", { cost_estimate_cents: 2 }),
      { installedAt: 0 },
    );
    const created = await requestJson(node, "POST", "/v1/tenants", {
      id: "forker",
      daily_budget_cents: 100,
    }, { key: TEST_ADMIN_KEY });
    const key = String(created.body.key);
    // "slow" reserves and starts first and is still running when "quick"
    // begins: a fork from "quick" copies slow's open reservation.
    const submitted = await requestJson(node, "POST", "/v1/runs", {
      concurrency: 2,
      steps: [
        {
          id: "slow",
          skill: "priced_spin",
          params: { iterations: 1_000_000_000, value: 1 },
          depends_on: [],
        },
        {
          id: "quick",
          skill: "priced",
          params: { label: "quick" },
          depends_on: [],
        },
      ],
    }, { key });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const parentId = String(submitted.body.run_id);
    await node.runtime.waitForRecord(
      parentId,
      (record) =>
        record.type === "BudgetReleased" && record.body.step === "quick",
    );
    const forked = await requestJson(
      node,
      "POST",
      `/v1/runs/${parentId}/fork`,
      { from_step: "quick" },
      { key },
    );
    assert.equal(forked.status, 202, JSON.stringify(forked.body));
    const forkId = String(forked.body.run_id);
    const day = "2026-01-02";
    const held = (await node.store.budgetEntries("forker", day)).find((
      entry,
    ) => entry.run_id === forkId && entry.key.endsWith("/slow/1"));
    assert.ok(held !== undefined, "the fork holds slow's reservation");
    assert.equal(held.charged_cents, null);
    await node.runtime.waitForRecord(
      forkId,
      (record) =>
        record.type === "BudgetReleased" && record.body.step === "quick",
    );
    for (const runId of [forkId, parentId]) {
      const cancelled = await requestJson(
        node,
        "POST",
        `/v1/runs/${runId}/cancel`,
        undefined,
        { key },
      );
      assert.equal(cancelled.body.status, "cancelled");
    }
    assert.deepEqual(await node.store.openBudgetEntries(), []);
    const entries = await node.store.budgetEntries("forker", day);
    assert.deepEqual(
      entries.filter((entry) => entry.run_id === forkId).map((entry) => [
        entry.key.slice(forkId.length),
        entry.charged_cents,
      ]).sort(),
      [["/quick/1", 3], ["/slow/1", 0]],
    );
    assert.deepEqual(await node.store.budgetDay("forker", day), {
      tenant: "forker",
      day,
      spent_cents: 6,
      reserved_cents: 0,
    });
  } finally {
    await node.close();
  }
});
