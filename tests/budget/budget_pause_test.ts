import assert from "node:assert/strict";
import { join } from "node:path";
import { SimulatedClock } from "../../src/deps/mod.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import {
  FIXTURE_SKILLS,
  openTestNode,
  requestJson,
  TEST_ADMIN_KEY,
} from "../support/test_node.ts";

/** What one `priced` step reserves and is charged (its estimate and its output). */
const STEP_CENTS = 3;
const DAY_MS = 24 * 60 * 60 * 1000;

type Body = Record<string, unknown>;

Deno.test("a ledger run with on_budget_exhausted: pause pauses when the tenant's day refuses a step, completes after a resume on a day with room, and the ledger adds up to the cent", async () => {
  const clock = new SimulatedClock(Date.UTC(2026, 0, 2, 12));
  const node = await openTestNode({
    clock,
    config: { extraSkillDirs: [join(FIXTURE_SKILLS, "priced")] },
  });
  try {
    // The day fits two of the run's three steps.
    const created = await requestJson(node, "POST", "/v1/tenants", {
      id: "pauser",
      daily_budget_cents: 2 * STEP_CENTS,
    }, { key: TEST_ADMIN_KEY });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const key = String(created.body.key);
    const submitted = await requestJson(node, "POST", "/v1/runs", {
      on_budget_exhausted: "pause",
      steps: ["a", "b", "c"].map((id) => ({
        id,
        skill: "priced",
        params: { label: id },
      })),
    }, { key });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const runId = String(submitted.body.run_id);
    await node.runtime.waitForRecord(
      runId,
      (record) => record.type === "RunPaused",
    );
    const paused = await requestJson(
      node,
      "GET",
      `/v1/runs/${runId}`,
      undefined,
      { key },
    );
    assert.equal(paused.body.status, "paused", JSON.stringify(paused.body));
    const pause = paused.body.pause as {
      step: string;
      error: { code: string; details: Body };
    };
    assert.equal(pause.step, "c");
    assert.equal(pause.error.code, "BUDGET_EXCEEDED");
    assert.equal(pause.error.details.scope, "tenant_day");
    const firstDay = "2026-01-02";
    assert.deepEqual(await node.store.budgetDay("pauser", firstDay), {
      tenant: "pauser",
      day: firstDay,
      spent_cents: 2 * STEP_CENTS,
      reserved_cents: 0,
    });

    // A resume on the same day would be refused again; the next UTC day has room.
    clock.advance(DAY_MS);
    const resumed = await requestJson(
      node,
      "POST",
      `/v1/runs/${runId}/resume`,
      undefined,
      { key },
    );
    assert.equal(resumed.status, 202, JSON.stringify(resumed.body));
    const done = await requestJson(
      node,
      "GET",
      `/v1/runs/${runId}?wait_ms=30000`,
      undefined,
      { key },
    );
    assert.equal(done.body.status, "succeeded", JSON.stringify(done.body));

    const records = await node.store.readLog(runId);
    const types = records.map((record) => record.type);
    const refused = types.indexOf("BudgetRefused");
    assert.deepEqual(types.slice(refused, refused + 3), [
      "BudgetRefused",
      "RunPaused",
      "RunResumed",
    ]);
    const of = (type: string) =>
      records.filter((record: LogRecord) => record.type === type);
    const cents = (list: LogRecord[]) =>
      list.reduce((sum, record) => sum + Number(record.body.cents), 0);
    assert.equal(of("BudgetReserved").length, 3);
    assert.equal(cents(of("BudgetReserved")), 3 * STEP_CENTS);
    assert.equal(cents(of("BudgetCharged")), 3 * STEP_CENTS);
    assert.equal(cents(of("BudgetReleased")), 0);
    const nextDay = "2026-01-03";
    assert.deepEqual(
      of("BudgetReserved").map((record) => record.body.day),
      [firstDay, firstDay, nextDay],
    );
    assert.deepEqual(await node.store.budgetDay("pauser", nextDay), {
      tenant: "pauser",
      day: nextDay,
      spent_cents: STEP_CENTS,
      reserved_cents: 0,
    });
    const entries = [
      ...await node.store.budgetEntries("pauser", firstDay),
      ...await node.store.budgetEntries("pauser", nextDay),
    ];
    assert.equal(entries.length, 3);
    assert.equal(
      entries.reduce((sum, entry) => sum + (entry.charged_cents ?? -1e9), 0),
      3 * STEP_CENTS,
    );
    await assertLogsReplay(node.registry, [records]);
  } finally {
    await node.close();
  }
});
