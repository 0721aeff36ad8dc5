import assert from "node:assert/strict";
import type { BudgetReservationRequest } from "./budget_records.ts";
import type { LogRecord } from "./record.ts";
import { ReservationNotGranted } from "./store.ts";
import type { ContractTest } from "./_store_contract_idempotency.ts";

function ask(
  runId: string,
  step: string,
  cents: number,
  day = "2026-01-02",
): BudgetReservationRequest {
  return {
    key: `${runId}/${step}/1`,
    run_id: runId,
    tenant: "t",
    day,
    cents,
    default_limit_cents: 100,
  };
}

/** The answer an append refused for its reservation carried. */
async function refusedWith(append: Promise<void>) {
  const error = await append.then(
    () => assert.fail("the append was written"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ReservationNotGranted, String(error));
  return error.answer;
}

/**
 * The part of the conformance suite about appends that carry budget writes
 * (`AppendOptions.reservation`, `settlements`, `charges`): made with the
 * records, and a reservation not granted on its day writes no record.
 */
export function budgetAppendsContract(
  test: ContractTest,
  fakeLog: (runId: string, count: number) => LogRecord[],
): void {
  for (const cents of [0, 30]) {
    test(`append() with a reservation of ${cents} cents writes both, or neither when refused`, async (store) => {
      const logs = ["a", "b", "c", "d"].map((id) => fakeLog(id, 2));
      for (const log of logs) await store.createRun(log[0]!, { tenant: "t" });
      assert.equal(
        (await store.reserveBudget(ask("x", "s", 60))).granted,
        true,
      );
      const [a, b, c, d] = logs as [
        LogRecord[],
        LogRecord[],
        LogRecord[],
        LogRecord[],
      ];
      await store.append([a[1]!], { reservation: ask("a", "s", cents) });
      assert.deepEqual(await store.readLog("a"), a.slice(0, 2));
      assert.equal(
        (await store.budgetEntries("t", "2026-01-02")).some((entry) =>
          entry.key === "a/s/1" && entry.reserved_cents === cents
        ),
        true,
      );
      // Past the limit (a zero-cent ask only once the day is over it).
      const over = cents === 0
        ? { ...ask("b", "s", 0), default_limit_cents: 50 }
        : ask("b", "s", cents);
      const refused = await refusedWith(
        store.append([b[1]!], { reservation: over }),
      );
      assert.deepEqual(refused, {
        granted: false,
        tenant: "t",
        day: "2026-01-02",
        limit_cents: over.default_limit_cents,
        spent_cents: 0,
        reserved_cents: 60 + cents,
      });
      assert.deepEqual(await store.readLog("b"), b.slice(0, 1));
      assert.equal(
        (await store.budgetEntries("t", "2026-01-02")).some((entry) =>
          entry.key === "b/s/1"
        ),
        false,
      );
      // A key held already on the day asked: written, reserved once.
      assert.equal(
        (await store.reserveBudget(ask("c", "s", 0))).granted,
        true,
      );
      await store.append([c[1]!], { reservation: ask("c", "s", cents) });
      assert.deepEqual(await store.readLog("c"), c.slice(0, 2));
      // Held on another day: nothing written, and the answer says that day.
      assert.equal(
        (await store.reserveBudget(ask("d", "s", 0, "2026-01-01"))).granted,
        true,
      );
      const held = await refusedWith(
        store.append([d[1]!], { reservation: ask("d", "s", 0) }),
      );
      assert.equal(held.granted, true);
      assert.equal(held.day, "2026-01-01");
      assert.deepEqual(await store.readLog("d"), d.slice(0, 1));
    });
  }

  test("append() with settlements settles them with the records, only when written", async (store) => {
    const logs = ["a", "b"].map((id) => fakeLog(id, 2));
    for (const log of logs) await store.createRun(log[0]!, { tenant: "t" });
    for (const run of ["a", "b"]) {
      for (const step of ["s", "z"]) {
        await store.reserveBudget(ask(run, step, step === "s" ? 40 : 0));
      }
    }
    const [a, b] = logs as [LogRecord[], LogRecord[]];
    // b's append is refused (a stale sequence): its settlement is not made.
    await store.append([b[1]!]);
    await Promise.all([
      store.append([a[1]!], {
        durable: false,
        settlements: [{ key: "a/s/1", charged_cents: 25 }, {
          key: "a/z/1",
          charged_cents: 0,
        }],
      }),
      assert.rejects(() =>
        store.append([b[1]!], {
          settlements: [{ key: "b/s/1", charged_cents: 10 }],
        })
      ),
    ]);
    const entries = await store.budgetEntries("t", "2026-01-02");
    const charged = Object.fromEntries(
      entries.map((entry) => [entry.key, entry.charged_cents]),
    );
    assert.deepEqual(charged, {
      "a/s/1": 25,
      "a/z/1": 0,
      "b/s/1": null,
      "b/z/1": null,
    });
    assert.deepEqual(await store.budgetDay("t", "2026-01-02"), {
      tenant: "t",
      day: "2026-01-02",
      spent_cents: 25,
      reserved_cents: 40,
    });
  });

  test("append() with charges books each settled on its day, once per key", async (store) => {
    const log = fakeLog("a", 3);
    await store.createRun(log[0]!, { tenant: "t" });
    await store.reserveBudget(ask("x", "s", 10));
    const charge = {
      key: "a/s/1",
      run_id: "a",
      tenant: "t",
      day: "2026-01-02",
      cents: 7,
    };
    await store.append([log[1]!], { durable: false, charges: [charge] });
    assert.deepEqual(await store.readLog("a"), log.slice(0, 2));
    // Booked again (a run that appends its charge again): nothing changes.
    await store.append([log[2]!], { charges: [{ ...charge, cents: 9 }] });
    assert.deepEqual(await store.budgetEntries("t", "2026-01-02"), [
      {
        key: "a/s/1",
        run_id: "a",
        tenant: "t",
        day: "2026-01-02",
        reserved_cents: 0,
        charged_cents: 7,
      },
      {
        key: "x/s/1",
        run_id: "x",
        tenant: "t",
        day: "2026-01-02",
        reserved_cents: 10,
        charged_cents: null,
      },
    ]);
    assert.deepEqual(
      (await store.openBudgetEntries()).map((entry) => entry.key),
      ["x/s/1"],
    );
    assert.deepEqual(await store.budgetDay("t", "2026-01-02"), {
      tenant: "t",
      day: "2026-01-02",
      spent_cents: 7,
      reserved_cents: 10,
    });
  });
}
