import assert from "node:assert/strict";
import { join } from "node:path";
import { MemoryLogger, SimulatedClock } from "../deps/mod.ts";
import {
  emptyHead,
  headAfter,
  type LogHead,
  type LogRecord,
  sealRecord,
  SqliteStore,
} from "../store/mod.ts";
import { BudgetLedger } from "./ledger.ts";
import { utcDay } from "./utc_day.ts";

function log(
  runId: string,
  messages: { type: string; body: Record<string, never> | object }[],
): LogRecord[] {
  let head: LogHead = emptyHead(runId);
  return messages.map((message, index) => {
    const record = sealRecord(head, {
      type: message.type,
      body: message.body as Record<string, never>,
      at: 1000 + index,
    });
    head = headAfter(record);
    return record;
  });
}

Deno.test("utcDay() names the UTC day of an instant", () => {
  assert.equal(utcDay(Date.UTC(2026, 0, 2, 23, 59, 59, 999)), "2026-01-02");
  assert.equal(utcDay(Date.UTC(2026, 0, 3)), "2026-01-03");
  // Asked again around midnight, both ways, and before 1970.
  assert.equal(utcDay(Date.UTC(2026, 0, 2, 23, 59, 59, 999)), "2026-01-02");
  assert.equal(utcDay(Date.UTC(2026, 0, 3, 12)), "2026-01-03");
  assert.equal(utcDay(Date.UTC(2026, 0, 4) - 1), "2026-01-03");
  assert.equal(utcDay(Date.UTC(2026, 0, 4)), "2026-01-04");
  assert.equal(utcDay(Date.UTC(1969, 11, 31, 12)), "1969-12-31");
  assert.equal(utcDay(Date.UTC(1970, 0, 1)), "1970-01-01");
  assert.equal(utcDay(-1), "1969-12-31");
});

Deno.test("BudgetLedger.reconcile() settles what a crash left open, as the logs say", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "aos-ledger-" });
  const store = SqliteStore.open(join(dir, "aos.db"), {
    synchronous: "NORMAL",
  });
  const clock = new SimulatedClock(Date.UTC(2026, 0, 2, 8));
  const ledger = new BudgetLedger(store, {
    dailyBudgetCentsDefault: 100,
    clock,
    log: new MemoryLogger(),
  });
  try {
    const submitted = { type: "RunSubmitted", body: { tenant: "t" } };
    // r1 recorded its release, but the process died before settling it.
    const r1 = log("r1", [
      submitted,
      { type: "BudgetCharged", body: { step: "a", attempt: 1, cents: 2 } },
      { type: "BudgetReleased", body: { step: "a", attempt: 1, cents: 3 } },
    ]);
    // r2 still holds b's reservation and is running.
    const r2 = log("r2", [submitted]);
    // r3 ended while its reservation was being granted.
    const r3 = log("r3", [submitted, { type: "RunCancelled", body: {} }]);
    await store.createRun(r1[0]!, { tenant: "t" });
    await store.append(r1.slice(1));
    await store.createRun(r2[0]!, { tenant: "t" });
    await store.createRun(r3[0]!, { tenant: "t" });
    await store.append(r3.slice(1), { status: "cancelled" });
    for (const [run_id, step] of [["r1", "a"], ["r2", "b"], ["r3", "c"]]) {
      const answer = await ledger.reserve({
        run_id: run_id!,
        tenant: "t",
        step: step!,
        attempt: 1,
        cents: 5,
      });
      assert.equal(answer.granted, true);
    }
    assert.equal(await ledger.reconcile(), 2);
    assert.deepEqual(
      (await store.openBudgetEntries()).map((entry) => entry.key),
      ["r2/b/1"],
    );
    const today = await ledger.today("t");
    assert.equal(today.spent_cents, 2);
    assert.equal(today.reserved_cents, 5);
    assert.equal(today.remaining_cents, 93);
    assert.equal(
      await ledger.reconcile(),
      0,
      "reconciling twice changes nothing",
    );
  } finally {
    await store.close();
  }
});
