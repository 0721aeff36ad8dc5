import assert from "node:assert/strict";
import { join } from "node:path";
import { SimulatedClock } from "../../src/deps/mod.ts";
import type { LogRecord, Store } from "../../src/store/mod.ts";
import { parseExposition, seriesKey } from "./metrics_text.ts";
import { assertLogsReplay } from "./replay_check.ts";
import {
  FIXTURE_SKILLS,
  openTestNode,
  requestJson,
  TEST_ADMIN_KEY,
} from "./test_node.ts";

/** Runs racing for a tenant's day, and how many of them its budget fits. */
const RUNS = 50;
const FITS = 49;
/** What one `priced` step reserves and is charged (its manifest estimate and its output). */
const STEP_CENTS = 3;

/**
 * The budget race, against any store: `RUNS` runs of one `priced` step are
 * submitted at once by a tenant whose daily budget fits exactly `FITS` of
 * them. Exactly `FITS` succeed, one fails with BUDGET_EXCEEDED, the tenant's
 * day and the ledger agree with the logs to the cent, and every log replays.
 * `openStore` gives a fresh, empty store (undefined: the node's own SQLite).
 */
export function budgetRaceTest(
  name: string,
  openStore: () => Promise<Store | undefined>,
): void {
  Deno.test(`${name}: ${RUNS} runs racing for a day that fits ${FITS}: ${FITS} succeed, one is BUDGET_EXCEEDED, the ledger adds up`, async () => {
    const store = await openStore();
    const node = await openTestNode({
      clock: new SimulatedClock(Date.UTC(2026, 0, 2, 12)),
      ...(store === undefined ? {} : { store }),
      config: {
        extraSkillDirs: [join(FIXTURE_SKILLS, "priced")],
        poolSizeMax: 4,
      },
    });
    try {
      const created = await requestJson(node, "POST", "/v1/tenants", {
        id: "racer",
        daily_budget_cents: FITS * STEP_CENTS,
      }, { key: TEST_ADMIN_KEY });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const key = String(created.body.key);
      const submitted = await Promise.all(
        Array.from(
          { length: RUNS },
          (_, index) =>
            requestJson(node, "POST", "/v1/runs", {
              steps: [{
                id: "pay",
                skill: "priced",
                params: { label: `run ${index}` },
              }],
            }, { key }),
        ),
      );
      assert.ok(submitted.every((answer) => answer.status === 202));
      const views = await Promise.all(submitted.map((answer) =>
        requestJson(
          node,
          "GET",
          `/v1/runs/${answer.body.run_id}?wait_ms=60000`,
          undefined,
          { key },
        )
      ));
      const statuses = views.map((view) => String(view.body.status));
      assert.equal(statuses.filter((s) => s === "succeeded").length, FITS);
      const failed = views.filter((view) => view.body.status === "failed");
      assert.deepEqual(failed.map((view) => view.body.code), [
        "BUDGET_EXCEEDED",
      ]);

      const logs: LogRecord[][] = await Promise.all(
        submitted.map((answer) =>
          node.store.readLog(String(answer.body.run_id))
        ),
      );
      const of = (type: string) =>
        logs.flat().filter((record) => record.type === type);
      const cents = (records: LogRecord[]) =>
        records.reduce((sum, record) => sum + Number(record.body.cents), 0);
      assert.equal(of("BudgetReserved").length, FITS);
      assert.equal(of("BudgetRefused").length, 1);
      assert.equal(cents(of("BudgetCharged")), FITS * STEP_CENTS);
      assert.equal(cents(of("BudgetReleased")), 0);
      const day = String(of("BudgetReserved")[0]!.body.day);
      assert.equal(day, "2026-01-02");
      assert.deepEqual(await node.store.budgetDay("racer", day), {
        tenant: "racer",
        day,
        spent_cents: FITS * STEP_CENTS,
        reserved_cents: 0,
      });
      const entries = await node.store.budgetEntries("racer", day);
      assert.equal(entries.length, FITS);
      assert.equal(
        entries.reduce((sum, entry) => sum + (entry.charged_cents ?? -1e9), 0),
        FITS * STEP_CENTS,
      );
      const budget = await requestJson(
        node,
        "GET",
        "/v1/tenants/me/budget",
        undefined,
        { key },
      );
      assert.deepEqual(budget.body, {
        tenant: "racer",
        day,
        limit_cents: FITS * STEP_CENTS,
        spent_cents: FITS * STEP_CENTS,
        reserved_cents: 0,
        remaining_cents: 0,
      });
      // The spend gauge reads the same ledger, to the cent.
      const scraped = parseExposition(
        await (await node.app.request("/metrics")).text(),
      );
      assert.equal(
        scraped.get(
          seriesKey("nova_tenant_daily_spend_cents", { tenant: "racer" }),
        ),
        FITS * STEP_CENTS,
      );
      await assertLogsReplay(node.registry, logs);
    } finally {
      await node.close();
    }
  });
}
